#!/usr/bin/env bash
# The artifact store beside MLflow's log_artifact(s), in one run, to the
# same S3-compatible server (s3rver, started here with
# tests/engines/s3-start.sh on a port and directory of its own):
#
#   one 1 GiB file      expman: a trial copies it into its run directory
#                       and reports it; the runner stores it (SHA-256, a hard
#                       link into .expman/blobs) when the run ends and uploads
#                       it (8 MiB parts); timed from `expman run` to the
#                       runner's exit plus `expman artifacts push` (which
#                       must find nothing left). MLflow: `mlflow.log_artifact`
#                       in a run whose artifact location is the bucket.
#   10,000 files of 1 KiB   the same with a directory: the trial reports each
#                       file; MLflow: `mlflow.log_artifacts`.
#
# Peak resident memory: the runner's (GNU time's %M), the MLflow client
# process's (ru_maxrss). ROUNDS (default 3) alternate the two; medians.
# EXPMAN names a binary (default: a release build); MLFLOW_VENV a virtualenv
# with mlflow and boto3 (default /tmp/expman-bench-mlflow, made here).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"
venv="${MLFLOW_VENV:-/tmp/expman-bench-mlflow}"
if ! "$venv/bin/python" -c 'import mlflow, boto3' 2>/dev/null; then
  echo "installing mlflow and boto3 into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mlflow boto3
fi
expman="${EXPMAN:-}"
if [[ -z "$expman" ]]; then
  cargo build -q --release --bin expman
  expman=target/release/expman
fi
expman="$(realpath "$expman")"
scratch="$(mktemp -d /tmp/expman-bench-artifacts.XXXXXX)"
export S3_STATE="$scratch/s3" S3_PORT="${S3_PORT:-45699}"
cleanup() { tests/engines/s3-stop.sh 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
shared="/tmp/expman-s3/server"
if [[ -d "$shared" ]]; then mkdir -p "$S3_STATE" && cp -a "$shared" "$S3_STATE/server"; fi
endpoint="$(tests/engines/s3-start.sh 2>/dev/null | tail -n 1)"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export MLFLOW_S3_ENDPOINT_URL="$endpoint"

echo "generating 1 GiB and 10,000 x 1 KiB of random data in $scratch ..." >&2
head -c $((1 << 30)) /dev/urandom >"$scratch/big.bin"
mkdir -p "$scratch/small"
python3 - "$scratch/small" <<'PY'
import os, sys
for i in range(10000):
    with open(os.path.join(sys.argv[1], f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(1024))
PY

# expman_case NAME TRIAL_SCRIPT: one `expman run` (its trial: the shell
# script) with a remote, then a push; prints "seconds peak_mib".
expman_case() {
  local name="$1" dir="$scratch/exp-$1-$RANDOM"
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/trial.sh"
  cat >"$dir/env.yaml" <<YAML
workspace: out
hardware: {gpu: off}
artifacts: {store: "s3://expman/bench-$name-$RANDOM", endpoint: "$endpoint", region: us-east-1}
YAML
  echo "name: bench" >"$dir/experiment.yaml"
  printf 'pipeline:\n  command: [sh, %s]\n' "$dir/trial.sh" >"$dir/base.yaml"
  echo "- name: t" >"$dir/trials.yaml"
  local t0 t1 peak
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/time" "$expman" run "$dir" >/dev/null 2>"$dir/run.log"
  "$expman" artifacts push --dir "$dir" >"$dir/push.out" 2>&1
  t1=$(date +%s.%N)
  grep -q "^sent 0 blob" "$dir/push.out" || echo "  (the runner left some for push: $(cat "$dir/push.out" | tail -n 1))" >&2
  peak=$(tail -n 1 "$dir/time")
  python3 -c "print(f'{$t1 - $t0:.2f} {$peak / 1024:.1f}')"
}

mlflow_case() {
  local source="$1" dir="$scratch/mlflow-$RANDOM"
  mkdir -p "$dir"
  "$venv/bin/python" benches/mlflow_artifacts.py "$dir" "s3://expman/mlflow-$RANDOM" "$source" 2>"$dir/err" \
    | python3 -c "import json,sys; r=json.loads(sys.stdin.read()); print(f\"{r['seconds']:.2f} {r['peak_mib']:.1f}\")"
}

big_cmd="cp $scratch/big.bin \"\$EXPMAN_RUN_DIR/big.bin\"
echo '{\"type\":\"artifact\",\"path\":\"big.bin\"}' >>\"\$EXPMAN_EVENTS\""
small_cmd="cp -r $scratch/small \"\$EXPMAN_RUN_DIR/small\"
for f in \"\$EXPMAN_RUN_DIR\"/small/*; do echo \"{\\\"type\\\":\\\"artifact\\\",\\\"path\\\":\\\"small/\${f##*/}\\\"}\"; done >>\"\$EXPMAN_EVENTS\""

declare -A results
for r in $(seq "$rounds"); do
  results[expman_big]+="$(expman_case big "$big_cmd");"
  results[mlflow_big]+="$(mlflow_case "$scratch/big.bin");"
  results[expman_small]+="$(expman_case small "$small_cmd");"
  results[mlflow_small]+="$(mlflow_case "$scratch/small");"
  echo "round $r/$rounds (seconds, peak MiB): 1 GiB expman $(echo "${results[expman_big]%;}" | sed 's/.*;//'), MLflow $(echo "${results[mlflow_big]%;}" | sed 's/.*;//'); 10,000 files expman $(echo "${results[expman_small]%;}" | sed 's/.*;//'), MLflow $(echo "${results[mlflow_small]%;}" | sed 's/.*;//')" >&2
done

median() { tr ';' '\n' | awk 'NF' | sort -n -k"$1" | awk -v k="$1" '{v[NR]=$k} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.2f\n", m}'; }
printf '\n%-34s %12s %12s %8s\n' "what (median of $rounds)" expman MLflow ratio
for case in big small; do
  es=$(printf '%s' "${results[expman_$case]}" | median 1); ms=$(printf '%s' "${results[mlflow_$case]}" | median 1)
  em=$(printf '%s' "${results[expman_$case]}" | median 2); mm=$(printf '%s' "${results[mlflow_$case]}" | median 2)
  label=$([[ $case == big ]] && echo "1 GiB file" || echo "10,000 files of 1 KiB")
  printf '%-34s %10ss %10ss %7.1fx\n' "$label: to S3, seconds" "$es" "$ms" "$(python3 -c "print($ms / $es)")"
  printf '%-34s %9sMiB %9sMiB %7.1fx\n' "$label: peak memory" "$em" "$mm" "$(python3 -c "print($mm / $em)")"
done
echo "(1 GiB: expman copies it into the run directory first, as a trial writing it would; MLflow reads it where it is)"
