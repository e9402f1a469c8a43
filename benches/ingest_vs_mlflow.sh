#!/usr/bin/env bash
# Ingest side by side: expman's runner (1,000,000 points through the event
# protocol into SQLite) and MLflow's log_batch into its SQLite store, in
# the same run on the same machine. MLflow goes into a throwaway
# virtualenv (MLFLOW_VENV, default /tmp/expman-bench-mlflow) installed
# with pip; its run logs MLFLOW_POINTS points (default 200,000: its rate
# does not depend on the total, and a million takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MLFLOW_VENV:-/tmp/expman-bench-mlflow}"
points="${MLFLOW_POINTS:-200000}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import mlflow' 2>/dev/null; then
  echo "installing mlflow into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mlflow
fi
mlflow_version=$("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)')
expman_out=$(cargo bench -q -p expman-runner --bench runner -- ingest 2>/dev/null)
echo "$expman_out"
expman_rate=$(echo "$expman_out" | grep 'one per line' | grep -o '[0-9]\+ points/s' | grep -o '[0-9]\+')
mlflow_rate=$("$venv/bin/python" benches/mlflow_ingest.py "$points" 2>/dev/null)
echo "mlflow $mlflow_version log_batch into SQLite: $mlflow_rate points/s ($points points, 1,000 per batch)"
awk -v a="$expman_rate" -v b="$mlflow_rate" 'BEGIN { printf "ratio: expman ingests %.0fx faster\n", a / b }'
