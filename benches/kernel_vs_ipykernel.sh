#!/usr/bin/env bash
# The Jupyter kernel side by side with ipykernel, in the same run, started
# and driven by the same jupyter_client (benches/kernel_bench.py): cold
# start, kernel_info and trivial-cell round trips, resident memory.
# ipykernel and jupyter_client go into a throwaway virtualenv
# (IPYKERNEL_VENV, default /tmp/expman-bench-ipykernel) installed with pip;
# both kernelspecs go into a scratch JUPYTER_PATH. EXPMAN names a binary
# to use instead of building target/release/expman. Arguments go to
# kernel_bench.py: [ROUNDS [REQUESTS]] (default 10 cold starts per kernel,
# 1,000 requests of each kind per start).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${IPYKERNEL_VENV:-/tmp/expman-bench-ipykernel}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import ipykernel, jupyter_client' 2>/dev/null; then
  echo "installing ipykernel and jupyter_client into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q ipykernel jupyter_client
fi
expman="${EXPMAN:-}"
if [[ -z "$expman" ]]; then
  cargo build -q --release --bin expman
  expman=target/release/expman
fi
scratch="$(mktemp -d /tmp/expman-bench-kernel.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
"$expman" kernel install --prefix "$scratch" >/dev/null
"$venv/bin/python" -m ipykernel install --prefix "$scratch" >/dev/null 2>&1
# Only the scratch kernelspecs, runtime files and IPython profile are used.
export JUPYTER_PATH="$scratch/share/jupyter" JUPYTER_DATA_DIR="$scratch/data" \
  JUPYTER_RUNTIME_DIR="$scratch/runtime" IPYTHONDIR="$scratch/ipython"
"$venv/bin/python" benches/kernel_bench.py "$@"
