#!/usr/bin/env bash
# The MLflow tracker, measured against a real `mlflow server` that this
# script starts on 127.0.0.1 (SQLite backend in a scratch directory) and
# stops by its PID: expman's ingest rate without and with the tracker (the
# export catches up beside the run), how long until MLflow holds a
# 100,000-point run, and the same 100,000 points logged by MLflow's own
# Python client with log_batch, in the same run. MLflow goes into a
# throwaway virtualenv (MLFLOW_VENV, default /tmp/expman-bench-mlflow).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MLFLOW_VENV:-/tmp/expman-bench-mlflow}"
if [[ ! -x "$venv/bin/mlflow" ]]; then
  echo "installing mlflow into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mlflow
fi
scratch="$(mktemp -d /tmp/expman-bench-trackers.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
setsid "$venv/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
  --backend-store-uri "sqlite:///$scratch/mlflow.db" --artifacts-destination "$scratch/artifacts" \
  >"$scratch/server.log" 2>&1 &
server_pid=$!
uri="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  curl -sf "$uri/health" >/dev/null && break
  sleep 0.5
done
curl -sf "$uri/health" >/dev/null || { tail -20 "$scratch/server.log" >&2; exit 1; }
echo "mlflow $("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)') server at $uri"
EXPMAN_BENCH_MLFLOW_URI="$uri" cargo bench -q -p expman-runner --bench runner -- mlflow 2>/dev/null
echo "mlflow's Python client, 100,000 points with log_batch over HTTP: $("$venv/bin/python" benches/mlflow_rest_ingest.py "$uri" 100000 2>/dev/null | tail -n1) s"
