"""The query benchmark's generated record (core/query/benches/query.rs: run
i, param j, metric k by the same formulas), bulk-loaded into MLflow's own
SQLite store, its schema created by MLflow itself. Used by
benches/mlflow_query.py (the client's calls) and benches/ui_vs_mlflow.sh
(`python benches/mlflow_record.py DIR RUNS PARAMS LONG`: writes DIR/mlflow.db
for `mlflow server`, prints the experiment id)."""
import sqlite3
import sys
import uuid

from mlflow.tracking import MlflowClient

METRICS = 10


def param(i, j):
    return f"v{(i * 7 + j) % 13}" if j < 10 else str(((i * 3 + j) % 100) / 10.0)


def metric(i, k):
    return ((i * 31 + k * 17) % 1000) / 1000.0


def load(tmp, runs_n, params_n, long):
    """Writes the record into `tmp`/mlflow.db: returns (client, experiment
    id, the id of the run with the long metric, the tracking URI)."""
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
    for i in range(runs_n):
        rid = uuid.uuid4().hex
        run_ids.append(rid)
        r = dict(row, run_uuid=rid, name=f"trial_{i % 100}", status="FINISHED",
                 start_time=1_700_000_000_000 + i, end_time=1_700_000_000_000 + i + 1000)
        runs.append(tuple(r[c] for c in cols))
        params.extend((f"p{j}", param(i, j), rid) for j in range(params_n))
        tags.append(("mlflow.runName", f"trial_{i % 100}", rid))
        for k in range(METRICS):
            metrics.append((f"m{k}", metric(i, k), 1_700_000_000_000, rid, 0, 0))
            latest.append((f"m{k}", metric(i, k), 1_700_000_000_000, 0, 0, rid))
    long_id = run_ids[0]
    if long:
        metrics.extend(("loss", 1.0 / (1.0 + s), 1_700_000_000_000 + s, long_id, s, 0) for s in range(long))
        latest.append(("loss", 1.0 / long, 1_700_000_000_000 + long - 1, long - 1, 0, long_id))
    db.executemany(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", runs)
    db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
    db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
    db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics)
    db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", latest)
    db.commit()
    db.close()
    return client, exp, long_id, uri


if __name__ == "__main__":
    directory, runs_n, params_n, long = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    _, experiment, _, _ = load(directory, runs_n, params_n, long)
    print(experiment)
