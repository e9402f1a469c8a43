"""MLflow's side of benches/artifacts_vs_mlflow.sh: `mlflow.log_artifact`
of one file, or `mlflow.log_artifacts` of a directory, in a run of an
experiment whose artifact location is an S3 bucket (boto3, with
MLFLOW_S3_ENDPOINT_URL pointing at the same server expman uses). Prints
one JSON line: seconds to log (the upload included), peak resident memory.

  python mlflow_artifacts.py TRACKING_DIR s3://BUCKET/PREFIX FILE_OR_DIR
"""

import json
import os
import resource
import sys
import time

import mlflow


def main():
    tracking, location, source = sys.argv[1], sys.argv[2], sys.argv[3]
    mlflow.set_tracking_uri(f"sqlite:///{tracking}/mlflow.db")
    name = f"bench-{os.getpid()}"
    experiment = mlflow.create_experiment(name, artifact_location=location)
    start = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment):
        if os.path.isdir(source):
            mlflow.log_artifacts(source, artifact_path="data")
        else:
            mlflow.log_artifact(source)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024}))


if __name__ == "__main__":
    main()
