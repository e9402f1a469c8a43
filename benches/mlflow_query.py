"""MLflow's side of the query comparison: the same record as
core/query/benches/query.rs (10,000 runs x 20 params x 10 metrics, plus a run
with a 1,000,000-point metric), bulk-loaded into MLflow's own SQLite store
(its schema created by MLflow itself), then the calls a user would make:
mlflow.search_runs(filter) returning pandas, get_metric_history of the long
metric, and the grouped question answered with search_runs + pandas.
Prints median milliseconds of 3 (MLflow is slow; 7 would take minutes)."""
import os
import statistics
import sys
import tempfile
import time

import mlflow

from mlflow_record import load

RUNS, PARAMS = int(os.environ.get("RUNS", 10_000)), 20
# SEARCH_ONLY=1 (benches/python_vs_mlflow.sh): no long metric; only the
# runs table of every run, as `expman.runs()` gives it.
SEARCH_ONLY = os.environ.get("SEARCH_ONLY") == "1"
LONG = 0 if SEARCH_ONLY else 1_000_000


def timed(f, n=3):
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


with tempfile.TemporaryDirectory() as tmp:
    client, exp, long_id, uri = load(tmp, RUNS, PARAMS, LONG)
    mlflow.set_tracking_uri(uri)
    if SEARCH_ONLY:
        all_ms, frame = timed(lambda: mlflow.search_runs([exp], max_results=RUNS))
        assert len(frame) == RUNS, len(frame)
        print(f"mlflow {mlflow.__version__}: search_runs of all {RUNS:,} runs -> pandas: {all_ms:.0f} ms")
        sys.exit(0)

    search_ms, frame = timed(lambda: mlflow.search_runs([exp], "metrics.m0 < 0.5 and params.p3 = 'v5'", max_results=100_000))
    history_ms, points = timed(lambda: client.get_metric_history(long_id, "loss"))
    assert len(points) == LONG, len(points)

    def grouped():
        runs = mlflow.search_runs([exp], max_results=100_000)
        return runs.groupby("tags.mlflow.runName")["metrics.m0"].agg(["mean", "count"])

    grouped_ms, g = timed(grouped)
    print(f"mlflow {mlflow.__version__}: search_runs with a filter -> pandas ({len(frame)} rows): {search_ms:.0f} ms")
    print(f"mlflow {mlflow.__version__}: get_metric_history of the 1M-point metric: {history_ms:.0f} ms")
    print(f"mlflow {mlflow.__version__}: grouped question (search_runs + pandas groupby, 10,000 runs): {grouped_ms:.0f} ms")
