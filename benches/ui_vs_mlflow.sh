#!/usr/bin/env bash
# The web UI benchmark, in one run, in the same headless Chromium: a
# generated record of RUNS runs (default 100,000) x 50 params x 10 metrics
# plus a run with a 1,000,000-point metric, served by `expman ui` (release
# build), then the same record bulk-loaded into MLflow's own SQLite store and
# served by `mlflow server` (MLflow in a throwaway virtualenv, MLFLOW_VENV,
# default /tmp/expman-bench-mlflow; MLFLOW_RUNS runs, default RUNS).
#
#   cargo build --release && benches/ui_vs_mlflow.sh
#
# Needs chromium and chromedriver (apt-get install chromium chromium-driver)
# and .venv-test (tests/run.sh makes it; Selenium). Both servers listen on
# 127.0.0.1 and are stopped by their PIDs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-100000}"
mlflow_runs="${MLFLOW_RUNS:-$runs}"
expman="${EXPMAN:-target/release/expman}"
venv="${MLFLOW_VENV:-/tmp/expman-bench-mlflow}"
work="$(mktemp -d /tmp/expman-bench-ui.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "generating $runs runs x 50 params x 10 metrics + a 1,000,000-point run ..." >&2
# QUERY_BENCH: the query benchmark's binary, when already built.
if [[ -n "${QUERY_BENCH:-}" ]]; then
  long_run="$("$QUERY_BENCH" --build "$work/expman" --runs "$runs" --params 50 --long 1000000)"
else
  long_run="$(cargo bench -q -p expman-query --bench query -- --build "$work/expman" --runs "$runs" --params 50 --long 1000000)"
fi

"$expman" ui --workspace "$work/expman" --port 0 >"$work/expman-ui.url" 2>/dev/null &
pids+=($!)
until [[ -s "$work/expman-ui.url" ]]; do sleep 0.1; done
url="$(head -n 1 "$work/expman-ui.url")"
# The first read of a workspace builds the runs frame; the page then finds
# it built (as for everyone after the first visitor).
curl -s -o /dev/null "${url}api/runs?limit=1"
.venv-test/bin/python benches/ui_browser.py --expman "$url" --long-run "$long_run"

if [[ ! -x "$venv/bin/mlflow" ]]; then
  echo "installing mlflow into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2"
fi
mkdir -p "$work/mlflow"
echo "loading $mlflow_runs runs into MLflow's SQLite store ..." >&2
experiment="$(cd benches && "$venv/bin/python" mlflow_record.py "$work/mlflow" "$mlflow_runs" 50 1000000 2>/dev/null | tail -n 1)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$venv/bin/mlflow" server --backend-store-uri "sqlite:///$work/mlflow/mlflow.db" --default-artifact-root "$work/mlflow/artifacts" \
  --host 127.0.0.1 --port "$port" --workers 1 >"$work/mlflow.log" 2>&1 &
pids+=($!)
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
echo "mlflow $("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)'), $mlflow_runs runs:"
.venv-test/bin/python benches/ui_browser.py --mlflow "http://127.0.0.1:$port" --mlflow-experiment "$experiment" --repeat 3
