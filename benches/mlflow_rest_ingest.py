"""MLflow's own client against a tracking server: log N metric points of one
run with MlflowClient.log_batch (1,000 per request, MLflow's limit) over
HTTP, and print the seconds from the first call until the server holds
them all (get_metric_history returns N). Run by
benches/trackers_vs_mlflow.sh against the server it starts."""
import sys
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

uri, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
client = MlflowClient(tracking_uri=uri)
experiment = client.create_experiment(f"python-client-{time.time_ns()}")
run = client.create_run(experiment)
ts = int(time.time() * 1000)
started = time.perf_counter()
for start in range(0, n, 1000):
    batch = [Metric("loss", 1.0 / (1.0 + i), ts, i) for i in range(start, min(start + 1000, n))]
    client.log_batch(run.info.run_id, metrics=batch)
client.set_terminated(run.info.run_id)
elapsed = time.perf_counter() - started
assert len(client.get_metric_history(run.info.run_id, "loss")) == n
print(f"{elapsed:.2f}")
