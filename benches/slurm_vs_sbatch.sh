#!/usr/bin/env bash
# Slurm side by side: N short runs through `expman run` with
# `resources.executor: slurm` (config expansion, run directories, the
# record, one sbatch per run, one squeue --json per 2 s, the events
# ingested, every status recorded) against the same N jobs submitted by
# hand (a loop of `sbatch --wrap`, then `squeue` every 2 s until none is
# left), on the one-node cluster tests/engines/slurm-start.sh starts.
# Prints wall times and the ratio.
#
#   N=40 benches/slurm_vs_sbatch.sh
#   EXPMAN=target/release/expman benches/slurm_vs_sbatch.sh   # default: release if built, else debug
set -euo pipefail
cd "$(dirname "$0")/.."
n="${N:-40}"
tests/engines/slurm-start.sh >&2
if [[ -z "${EXPMAN:-}" ]]; then
  if [[ -x target/release/expman ]]; then EXPMAN=target/release/expman; else
    cargo build -q -p expman --bin expman -p expman-tests --bin fake-trial
    EXPMAN=target/debug/expman
  fi
fi
expman="$(realpath "$EXPMAN")"
fake="$(dirname "$expman")/fake-trial"
[[ -x "$fake" ]] || cargo build -q -p expman-tests --bin fake-trial $([[ "$expman" == */release/* ]] && echo --release)

work="$(mktemp -d /tmp/expman-bench-slurm.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/exp" "$work/plain"
cat >"$work/exp/env.yaml" <<YAML
workspace: out
resources: {executor: slurm, cpus_per_run: 1}
hardware: {enabled: false}
YAML
echo "name: slurm_bench" >"$work/exp/experiment.yaml"
echo "pipeline: {command: [$fake, --epochs, 5]}" >"$work/exp/base.yaml"
printf -- "- name: short\n  repeat: %d\n" "$n" >"$work/exp/trials.yaml"

now() { date +%s.%N; }

start=$(now)
(cd "$work/exp" && "$expman" run . >"$work/run.log" 2>&1) || { cat "$work/run.log" >&2; exit 1; }
expman_s=$(awk -v a="$(now)" -v b="$start" 'BEGIN { print a - b }')
recorded=$("$expman" runs --workspace "$work/exp/out" --format csv --columns status | grep -c SUCCESS || true)

start=$(now)
ids=()
for i in $(seq "$n"); do
  ids+=("$(sbatch --parsable --cpus-per-task 1 --chdir "$work/plain" --output "$work/plain/$i.out" --wrap "echo epoch; echo done")")
done
list="$(IFS=,; echo "${ids[*]}")"
while squeue -h -j "$list" -t PENDING,RUNNING,COMPLETING -o %i 2>/dev/null | grep -q .; do sleep 2; done
plain_s=$(awk -v a="$(now)" -v b="$start" 'BEGIN { print a - b }')

echo "slurm $(sinfo --version | cut -d' ' -f2), $(nproc) cores, $n runs, $(basename "$(dirname "$expman")") build"
printf "expman run (executor: slurm): %6.1f s  (%d recorded SUCCESS, with their metrics)\n" "$expman_s" "$recorded"
printf "sbatch loop + squeue polling: %6.1f s  (nothing recorded)\n" "$plain_s"
awk -v a="$expman_s" -v b="$plain_s" -v n="$n" \
  'BEGIN { printf "ratio: %.2fx the hand-written loop; %.0f ms per run on top\n", a / b, (a - b) * 1000 / n }'
