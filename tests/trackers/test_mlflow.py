"""MLflow as a tracker, against a real `mlflow server` on 127.0.0.1: after
`expman run`, MlflowClient finds the experiment, a parent run per trial and
a child run per repeat, every param, every metric point (same values,
steps, timestamps and count), the tags and the artifacts; a server that
goes down during a run loses nothing (`expman sync` completes it, with no
duplicates); `expman export-mlflow` sends a record made without MLflow."""

import subprocess
import time

from mlflow.tracking import MlflowClient

from tracker_helpers import EXPMAN, FAKE_TRIAL, MlflowServer, expman, params, points, record, runs, write_experiment

TRIALS = """\
- name: wide
  repeat: 2
  settings: {model: {width: 128}}
- name: narrow
  repeat: 2
- name: broken
  settings: {pipeline.command: [FAKE, --epochs, "2", --exit, "3"]}
""".replace("FAKE", str(FAKE_TRIAL))


def trackers(url):
    return f"  - type: mlflow\n    tracking_uri: {url}\n"


def mirrored(client, directory, name):
    """Checks that MLflow holds exactly what the record holds; the MLflow runs by expman id."""
    db = record(directory)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no MLflow experiment `{name}`"
    found = client.search_runs([experiment.experiment_id], max_results=1000)
    children = {r.data.tags["expman.run_id"]: r for r in found if "expman.run_id" in r.data.tags}
    parents = {r.info.run_id: r for r in found if r.data.tags.get("expman.kind") == "trial"}
    recorded = runs(db)
    assert len(children) == len(recorded), "one MLflow run per expman run, none twice"
    assert len(found) == len(recorded) + len(parents)
    assert {p.info.run_name for p in parents.values()} == {r["trial"] for r in recorded}
    for run in recorded:
        child = children[run["uid"]]
        parent = parents[child.data.tags["mlflow.parentRunId"]]
        assert parent.info.run_name == run["trial"]
        assert child.data.tags["expman.config_hash"] == run["config_hash"]
        assert child.data.tags["expman.status"] == run["status"]
        want_params = {k: ("null" if v is None else v) for k, v in params(db, run["id"]).items()}
        assert child.data.params == want_params
        expected = points(db, run["id"])
        for key in {p[0] for p in expected}:
            got = sorted((h.step, h.value, h.timestamp) for h in client.get_metric_history(child.info.run_id, key))
            want = sorted((step, value, ts) for k, step, value, ts in expected if k == key)
            assert got == want, f"{run['uid']} {key}: {len(got)} points in MLflow, {len(want)} recorded"
    return children, parents


def test_a_run_is_mirrored_in_mlflow(workdir, mlflow_server):
    directory = write_experiment(
        workdir / "exp", "mlflow_e2e", TRIALS, trackers(mlflow_server.url), epochs=6, extra=', --artifact, "model.bin"'
    )
    out = expman("run", ".", cwd=directory)
    assert out.returncode == 1, out.stdout + out.stderr  # `broken` fails on purpose
    assert "mlflow: sent 5 run(s)" in out.stdout and "up to date" in out.stdout, out.stdout
    client = MlflowClient(mlflow_server.url)
    children, parents = mirrored(client, directory, "mlflow_e2e")
    statuses = {c.data.tags["expman.trial"]: c.info.status for c in children.values()}
    assert statuses == {"wide": "FINISHED", "narrow": "FINISHED", "broken": "FAILED"}
    assert sorted(p.info.status for p in parents.values()) == ["FAILED", "FINISHED", "FINISHED"]
    wide = next(c for c in children.values() if c.data.tags["expman.trial"] == "wide")
    assert wide.data.params["model.width"] == "128"
    assert wide.data.tags["expman.repeat"] in ("1", "2")
    names = {a.path for a in client.list_artifacts(wide.info.run_id)}
    assert "model.bin" in names, names
    local = client.download_artifacts(wide.info.run_id, "model.bin", str(workdir))
    assert open(local, "rb").read() == b"fake model weights"
    # Syncing again sends nothing and duplicates nothing.
    again = expman("sync", cwd=directory)
    assert again.returncode == 0, again.stderr
    assert "nothing new to send; up to date" in again.stdout, again.stdout
    mirrored(client, directory, "mlflow_e2e")


def test_a_server_down_during_a_run_loses_nothing(workdir):
    server = MlflowServer(workdir / "mlflow")
    server.start()
    try:
        directory = write_experiment(
            workdir / "exp", "outage", "- name: slow\n  repeat: 2\n", trackers(server.url), epochs=30, sleep_ms=100
        )
        runner = subprocess.Popen([str(EXPMAN), "run", ".", "--parallel", "1"], cwd=directory,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        client = MlflowClient(server.url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            experiment = client.get_experiment_by_name("outage")
            if experiment and client.search_runs([experiment.experiment_id], filter_string="tags.`expman.run_id` != ''"):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the first run never reached MLflow")
        server.stop()  # mid-run: the runs go on
        stdout, stderr = runner.communicate(timeout=120)
        assert runner.returncode == 0, stdout + stderr
        assert "`expman sync` sends the rest later" in stderr, stderr
        assert "cannot reach MLflow" in stderr, stderr

        server.start()
        synced = expman("sync", "--tracker", "mlflow", cwd=directory)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert "up to date" in synced.stdout, synced.stdout
        children, _ = mirrored(MlflowClient(server.url), directory, "outage")
        assert all(c.info.status == "FINISHED" for c in children.values())
    finally:
        server.stop()


def test_sync_says_clearly_when_the_server_is_down(workdir):
    directory = write_experiment(workdir / "exp", "nobody", "- name: t\n", trackers("http://127.0.0.1:9"), epochs=2)
    out = expman("run", ".", cwd=directory)
    assert out.returncode == 0, out.stdout + out.stderr  # the runs never wait for or fail because of a tracker
    assert "cannot reach MLflow at http://127.0.0.1:9" in out.stderr, out.stderr
    synced = expman("sync", cwd=directory)
    assert synced.returncode == 1
    assert "cannot reach MLflow at http://127.0.0.1:9" in synced.stdout, synced.stdout
    assert "point(s) and 1 run end(s) wait" in synced.stdout, synced.stdout


def test_export_mlflow_sends_an_existing_record(workdir, mlflow_server):
    directory = write_experiment(workdir / "exp", "exported", "- name: a\n  repeat: 2\n", "  - type: csv\n", epochs=4)
    assert expman("run", ".", cwd=directory).returncode == 0
    out = expman("export-mlflow", "--tracking-uri", mlflow_server.url, cwd=directory)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sent 2 run(s)" in out.stdout, out.stdout
    mirrored(MlflowClient(mlflow_server.url), directory, "exported")
    again = expman("export-mlflow", "--tracking-uri", mlflow_server.url, cwd=directory)
    assert "nothing new to send" in again.stdout, again.stdout
    mirrored(MlflowClient(mlflow_server.url), directory, "exported")


def test_child_runs_from_python_nest_under_their_parent(workdir, mlflow_server):
    import os
    import sys

    directory = write_experiment(workdir / "exp", "py_nested", "- name: main\n", trackers(mlflow_server.url))
    script = (
        "import expman\n"
        "with expman.start_experiment(name='search') as parent:\n"
        "    for fold in range(2):\n"
        "        with parent.start_experiment(name=f'fold-{fold}') as child:\n"
        "            child.log_metric('score', fold)\n"
        "print(parent.id)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPMAN_")}
    done = subprocess.run([sys.executable, "-c", script], cwd=directory, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    parent_uid = done.stdout.strip()
    synced = expman("sync", cwd=directory)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("py_nested")
    found = client.search_runs([experiment.experiment_id], max_results=100)
    by_uid = {r.data.tags["expman.run_id"]: r for r in found if "expman.run_id" in r.data.tags}
    parent = by_uid.pop(parent_uid)
    assert len(by_uid) == 2
    for child in by_uid.values():
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["expman.parent"] == parent_uid
    assert sorted(c.data.metrics["score"] for c in by_uid.values()) == [0.0, 1.0]
