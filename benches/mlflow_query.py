"""MLflow's side of the query comparison: the same record as
core/query/benches/query.rs (10,000 runs x 20 params x 10 metrics, plus a run
with a 1,000,000-point metric), bulk-loaded into MLflow's own SQLite store
(its schema created by MLflow itself), then the calls a user would make:
mlflow.search_runs(filter) returning pandas, get_metric_history of the long
metric, and the grouped question answered with search_runs + pandas.
Prints median milliseconds of 3 (MLflow is slow; 7 would take minutes)."""
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

import mlflow
from mlflow.tracking import MlflowClient

RUNS, PARAMS, METRICS = int(os.environ.get("RUNS", 10_000)), 20, 10
# SEARCH_ONLY=1 (benches/python_vs_mlflow.sh): no long metric; only the
# runs table of every run, as `expman.runs()` gives it.
SEARCH_ONLY = os.environ.get("SEARCH_ONLY") == "1"
LONG = 0 if SEARCH_ONLY else 1_000_000


def param(i, j):
    return f"v{(i * 7 + j) % 13}" if j < 10 else str(((i * 3 + j) % 100) / 10.0)


def metric(i, k):
    return ((i * 31 + k * 17) % 1000) / 1000.0


def timed(f, n=3):
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


with tempfile.TemporaryDirectory() as tmp:
    uri = f"sqlite:///{tmp}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench", artifact_location=f"{tmp}/artifacts")
    template = client.create_run(exp)  # Lets MLflow create and migrate its schema.
    db = sqlite3.connect(f"{tmp}/mlflow.db")
    cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
    row = dict(zip(cols, db.execute("SELECT * FROM runs WHERE run_uuid = ?", (template.info.run_id,)).fetchone()))
    db.execute("DELETE FROM runs")
    run_ids = []
    runs, params, metrics, latest, tags = [], [], [], [], []
    for i in range(RUNS):
        rid = uuid.uuid4().hex
        run_ids.append(rid)
        r = dict(row, run_uuid=rid, name=f"trial_{i % 100}", status="FINISHED")
        runs.append(tuple(r[c] for c in cols))
        params.extend((f"p{j}", param(i, j), rid) for j in range(PARAMS))
        tags.append(("mlflow.runName", f"trial_{i % 100}", rid))
        for k in range(METRICS):
            metrics.append((f"m{k}", metric(i, k), 1_700_000_000_000, rid, 0, 0))
            latest.append((f"m{k}", metric(i, k), 1_700_000_000_000, 0, 0, rid))
    long_id = run_ids[0]
    if LONG:
        metrics.extend(("loss", 1.0 / (1.0 + s), 1_700_000_000_000 + s, long_id, s, 0) for s in range(LONG))
        latest.append(("loss", 1.0 / LONG, 1_700_000_000_000 + LONG - 1, LONG - 1, 0, long_id))
    db.executemany(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", runs)
    db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
    db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
    db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics)
    db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", latest)
    db.commit()
    db.close()
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
