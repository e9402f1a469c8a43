#!/usr/bin/env bash
# expman's samplers and pruners beside Optuna's, in one run: Optuna 5.1 is
# installed into a throwaway virtualenv (target/bench-optuna), runs its TPE
# (default and multivariate) and random samplers on the same objectives
# (benches/search_optuna.py), then core/search/benches/search.rs runs
# expman's and prints the table (median best after 50 and 200 trials over
# SEEDS seeds, Welch's tests, time per suggestion, ASHA on simulated
# learning curves). Figures go to BENCHMARKS.md, "Search".
#
#   benches/search_vs_optuna.sh            # SEEDS=20 BUDGET=200
set -euo pipefail
cd "$(dirname "$0")/.."

seeds="${SEEDS:-20}"
budget="${BUDGET:-200}"
venv=target/bench-optuna
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check optuna==5.1.0
mkdir -p target/search-bench
"$venv/bin/python" benches/search_optuna.py target/search-bench/optuna.json --seeds "$seeds" --budget "$budget"
cargo bench -p expman-search --bench search -- --seeds "$seeds" --budget "$budget" \
  --optuna "$PWD/target/search-bench/optuna.json"
