"""MLflow's side of the ingest comparison: log N metric points with
MlflowClient.log_batch (1,000 per request, MLflow's limit) into MLflow's
own SQLite store, and print points per second from the first call to the
last return. Run by benches/ingest_vs_mlflow.sh in a throwaway virtualenv."""
import sys
import tempfile
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
with tempfile.TemporaryDirectory() as tmp:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    experiment = client.create_experiment("bench", artifact_location=f"{tmp}/artifacts")
    run = client.create_run(experiment)
    ts = int(time.time() * 1000)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        batch = [Metric("loss", 1.0 / (1.0 + i), ts, i) for i in range(start, min(start + 1000, n))]
        client.log_batch(run.info.run_id, metrics=batch)
    elapsed = time.perf_counter() - started
    assert len(client.get_metric_history(run.info.run_id, "loss")) == n
    print(f"{n / elapsed:.0f}")
