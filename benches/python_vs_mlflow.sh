#!/usr/bin/env bash
# The Python package's benchmark, side by side in one run:
#
# 1. 1,000,000 `log_metric` calls from Python into the record, points per
#    second until the last row is committed: expman (a release wheel),
#    MLflow's `log_metric` and `log_batch` into its SQLite store, W&B in
#    offline mode; each tool in a throwaway virtualenv (BENCH_VENVS, default
#    /tmp/expman-bench-*), installed with pip.
# 2. The runs table of a generated record (RUNS, default 100,000 runs x 20
#    params x 10 metrics) into a DataFrame: `expman.runs()` into polars
#    beside `mlflow.search_runs` into pandas, the same runs.
#
# MLflow's `log_metric` and W&B are slower by orders of magnitude: they log
# fewer points (MLFLOW_POINTS, WANDB_POINTS); their rate does not depend on
# the total. PARTS=logging or PARTS=table runs one half.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${BENCH_VENVS:-/tmp/expman-bench}"
points="${POINTS:-1000000}"
runs="${RUNS:-100000}"
parts="${PARTS:-logging table}"

venv() { # NAME PACKAGE...: a virtualenv with these packages
  local dir="$base-$1"; shift
  if [[ ! -x "$dir/bin/python" ]]; then
    python3 -m venv "$dir"
  fi
  "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2
  echo "$dir"
}

echo "building the release wheel ..." >&2
rm -rf target/wheels-release
maturin=$(venv maturin maturin)/bin/maturin
"$maturin" build --release --locked -m python/Cargo.toml -o target/wheels-release >&2
expman_venv=$(venv expman target/wheels-release/expman-*.whl)
mlflow_venv=$(venv mlflow mlflow)
wandb_venv=$(venv wandb wandb)

if [[ " $parts " == *" logging "* ]]; then
echo "== logging from Python: points per second to rows committed"
"$expman_venv/bin/python" benches/python_logging.py expman "$points"
"$expman_venv/bin/python" benches/python_logging.py expman-batch "$points"
"$mlflow_venv/bin/python" benches/python_logging.py mlflow-batch "$points"
"$mlflow_venv/bin/python" benches/python_logging.py mlflow "${MLFLOW_POINTS:-5000}"
"$wandb_venv/bin/python" benches/python_logging.py wandb "${WANDB_POINTS:-100000}"
fi

if [[ " $parts " == *" table "* ]]; then
echo "== the runs table of $runs runs"
record=$(mktemp -d)
trap 'rm -rf "$record"' EXIT
cargo bench -q -p expman-query --bench query -- --build "$record/ws" --runs "$runs" 2>/dev/null
"$expman_venv/bin/python" benches/python_runs_table.py "$record/ws"
RUNS="$runs" SEARCH_ONLY=1 "$mlflow_venv/bin/python" benches/mlflow_query.py 2>/dev/null
fi
