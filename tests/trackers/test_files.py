"""TensorBoard, CSV and log trackers, read back as their users read them:
TensorBoard's own EventAccumulator finds every scalar with its step and
wall time, and the HParams plugin's session records with each run's params
and status; runs.csv and metrics.csv hold the record; expman.log has a line
per point. A runner killed mid-way, then `expman sync`: every point once."""

import csv
import os
import signal
import subprocess
import time

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from tracker_helpers import EXPMAN, expman, params, points, record, runs, write_experiment

FILE_TRACKERS = "  - type: tensorboard\n  - type: csv\n  - type: log\n"
TRIALS = "- name: a\n  repeat: 2\n- name: b\n  settings: {model: {width: 8}}\n"


def tensorboard_dir(directory, experiment, run):
    return directory / "out" / "tensorboard" / experiment / run["trial"] / run["uid"]


def check_tensorboard(directory, experiment):
    db = record(directory)
    for run in runs(db):
        acc = EventAccumulator(str(tensorboard_dir(directory, experiment, run)), size_guidance={"scalars": 0})
        acc.Reload()
        expected = points(db, run["id"])
        keys = {p[0] for p in expected}
        assert keys <= set(acc.Tags()["scalars"]), acc.Tags()
        for key in keys:
            want = [(step, value, ts) for k, step, value, ts in expected if k == key]
            got = acc.Scalars(key)
            assert len(got) == len(want), f"{run['uid']} {key}: {len(got)} scalars, {len(want)} points"
            for g, (step, value, ts) in zip(got, want):
                assert g.step == step
                assert abs(g.value - value) <= 1e-6 * max(1.0, abs(value))  # float32
                assert abs(g.wall_time - ts / 1000) < 1e-3
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        assert set(start.session_start_info.hparams) == set(params(db, run["id"]))
        assert start.session_start_info.group_name == run["trial"]
        end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
        assert end.session_end_info.status == (1 if run["status"] == "SUCCESS" else 2)


def test_tensorboard_csv_and_log_hold_the_record(workdir):
    directory = write_experiment(workdir / "exp", "files", TRIALS, FILE_TRACKERS, epochs=7)
    out = expman("run", ".", cwd=directory)
    assert out.returncode == 0, out.stdout + out.stderr
    for tracker in ("tensorboard", "csv", "log"):
        assert f"{tracker}: sent 3 run(s)" in out.stdout and "up to date" in out.stdout, out.stdout
    check_tensorboard(directory, "files")

    db = record(directory)
    recorded = runs(db)
    with open(directory / "out" / "csv" / "files" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [r["uid"] for r in recorded]
    assert all(r["status"] == "SUCCESS" and r["loss"] for r in rows)
    for run in recorded:
        expected = points(db, run["id"])
        with open(directory / "out" / "csv" / "files" / run["trial"] / run["uid"] / "metrics.csv") as f:
            table = list(csv.DictReader(f))
        steps = sorted({step for _, step, _, _ in expected})
        assert [int(r["step"]) for r in table] == steps
        for key, step, value, _ in expected:
            assert float(table[steps.index(step)][key]) == value
        log = (directory / "out" / "files" / run["trial"] / run["uid"] / "expman.log").read_text().splitlines()
        assert sum(" metric " in line for line in log) == len(expected)
        assert log[0].split(" ", 3)[2] == "start" and log[-1].split(" ")[2:5] == ["end", run["uid"], "SUCCESS"]


def test_a_killed_runner_then_sync_writes_every_point_once(workdir):
    directory = write_experiment(workdir / "exp", "killed", "- name: slow\n  repeat: 2\n", FILE_TRACKERS,
                                 epochs=40, sleep_ms=50)
    runner = subprocess.Popen([str(EXPMAN), "run", ".", "--parallel", "2"], cwd=directory,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = directory / "out" / "tensorboard" / "killed"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.stat().st_size > 2000 for p in events.rglob("events.out.*")):
        time.sleep(0.1)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    time.sleep(0.5)
    out = expman("sync", cwd=directory)  # also recovers the LOST runs first
    assert out.returncode == 0, out.stdout + out.stderr
    assert all(r["status"] == "LOST" for r in runs(record(directory)))
    check_tensorboard_lost(directory)


def check_tensorboard_lost(directory):
    db = record(directory)
    for run in runs(db):
        acc = EventAccumulator(str(tensorboard_dir(directory, "killed", run)), size_guidance={"scalars": 0})
        acc.Reload()
        expected = [(step, value) for k, step, value, _ in points(db, run["id"]) if k == "loss"]
        got = [(s.step, s.value) for s in acc.Scalars("loss")] if "loss" in acc.Tags()["scalars"] else []
        assert [s for s, _ in got] == [s for s, _ in expected], "every point once, in order"
