"""One tool's side of the Python logging benchmark (benches/python_vs_mlflow.sh):
N metric points logged from a Python loop, then the figures as one JSON line:
calls per second (the loop alone), points per second from the first call
until the last point is recorded (committed to the database, or written to
W&B's offline file), and the cost of one call.

    python benches/python_logging.py expman|expman-batch|mlflow|mlflow-batch|wandb N
"""
import json
import sys
import tempfile
import time

tool, n = sys.argv[1], int(sys.argv[2])


def report(name, loop_s, total_s, points, note=""):
    print(json.dumps({
        "tool": name,
        "points": points,
        "calls_per_s": round(points / loop_s),
        "points_per_s": round(points / total_s),
        "call_ns": round(loop_s / points * 1e9),
        "note": note,
    }))


with tempfile.TemporaryDirectory() as tmp:
    if tool == "expman":
        import expman

        with expman.start_experiment(name="bench", workspace=tmp) as run:
            log = run.log_metric
            started = time.perf_counter()
            for i in range(n):
                log("loss", 1.0 / (1.0 + i), i)
            looped = time.perf_counter()
        done = time.perf_counter()  # the block's end commits the last batch
        assert expman.sql("SELECT COUNT(*) AS n FROM metrics", workspace=tmp)["n"][0] == n
        report(f"expman {expman.__version__} log_metric", looped - started, done - started, n)
    elif tool == "expman-batch":
        import expman

        keys = [f"m{k}" for k in range(10)]
        with expman.start_experiment(name="bench", workspace=tmp) as run:
            log = run.log_metrics
            started = time.perf_counter()
            for i in range(n // 10):
                log({k: 1.0 / (1.0 + i) for k in keys}, step=i)
            looped = time.perf_counter()
        done = time.perf_counter()
        assert expman.sql("SELECT COUNT(*) AS n FROM metrics", workspace=tmp)["n"][0] == n
        report(f"expman {expman.__version__} log_metrics (10 per call)", looped - started, done - started, n)
    elif tool in ("mlflow", "mlflow-batch"):
        import mlflow
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db")
        experiment = client.create_experiment("bench", artifact_location=f"{tmp}/artifacts")
        run_id = client.create_run(experiment).info.run_id
        ts = int(time.time() * 1000)
        started = time.perf_counter()
        if tool == "mlflow":
            for i in range(n):
                client.log_metric(run_id, "loss", 1.0 / (1.0 + i), ts, i)
        else:
            for start in range(0, n, 1000):
                batch = [Metric("loss", 1.0 / (1.0 + i), ts, i) for i in range(start, min(start + 1000, n))]
                client.log_batch(run_id, metrics=batch)
        done = time.perf_counter()
        assert len(client.get_metric_history(run_id, "loss")) == n
        what = "log_metric" if tool == "mlflow" else "log_batch (1,000 per call)"
        report(f"mlflow {mlflow.__version__} {what}", done - started, done - started, n, "into its SQLite store; each call returns once written")
    elif tool == "wandb":
        import os

        os.environ["WANDB_MODE"] = "offline"
        os.environ["WANDB_SILENT"] = "true"
        import wandb

        run = wandb.init(project="bench", dir=tmp, mode="offline")
        started = time.perf_counter()
        for i in range(n):
            run.log({"loss": 1.0 / (1.0 + i)}, step=i)
        looped = time.perf_counter()
        run.finish()
        done = time.perf_counter()
        report(f"wandb {wandb.__version__} log (offline)", looped - started, done - started, n, "until wandb.finish() wrote the offline run file")
    else:
        sys.exit(f"unknown tool {tool}")
