#!/usr/bin/env bash
# The query benchmark side by side: expman's query layer and MLflow's
# client on the same generated record, in the same run on the same
# machine. MLflow goes into a throwaway virtualenv (MLFLOW_VENV, default
# /tmp/expman-bench-mlflow) installed with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MLFLOW_VENV:-/tmp/expman-bench-mlflow}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import mlflow' 2>/dev/null; then
  echo "installing mlflow into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mlflow
fi
cargo bench -q -p expman-query --bench query 2>/dev/null
"$venv/bin/python" benches/mlflow_query.py 2>/dev/null
