"""Helpers for the trackers' end-to-end tests: the real `expman` binary,
experiments of the `fake-trial` program, the record read with sqlite3, and
a real `mlflow server` on 127.0.0.1 that the tests start and stop by PID
(MLflow from the project's test virtualenv, a SQLite backend and an
artifact store in a scratch directory)."""

import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPMAN = pathlib.Path(os.environ.get("EXPMAN_BIN") or REPO / "target" / "debug" / "expman")
FAKE_TRIAL = EXPMAN.parent / "fake-trial"
MLFLOW = pathlib.Path(sys.executable).parent / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with its store under `root`; it can be
    stopped and started again on the same port and store."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = root / "server.log"

    def start(self, timeout=120):
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            [
                str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", str(self.root / "artifacts"),
                "--workers", "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers, by its PID
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"mlflow server did not answer on {self.url}: {self.log.read_text()[-2000:]}")

    def kill(self):
        """SIGKILL to the server and its workers (its process group): a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        # Until the port is free again.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.2)


def write_experiment(directory: pathlib.Path, name: str, trials: str, trackers: str, epochs=5, sleep_ms=20, extra=""):
    """A config directory of fake-trial runs, recording into `directory/out`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "env.yaml").write_text(f"workspace: out\nhardware: {{interval: 200ms, gpu: off}}\ntrackers:\n{trackers}")
    (directory / "experiment.yaml").write_text(f"name: {name}\ndesc: trackers end to end\n")
    (directory / "base.yaml").write_text(
        textwrap.dedent(
            f"""\
            seed: 3
            model: {{width: 64, kind: mlp}}
            pipeline:
              command: [{FAKE_TRIAL}, --epochs, "{epochs}", --sleep-ms, "{sleep_ms}"{extra}]
            """
        )
    )
    (directory / "trials.yaml").write_text(textwrap.dedent(trials))
    return directory


def expman(*args, cwd, env=None, timeout=300):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(EXPMAN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def record(directory: pathlib.Path) -> sqlite3.Connection:
    db = sqlite3.connect(directory / "out" / "expman.db")
    db.row_factory = sqlite3.Row
    return db


def runs(db):
    return db.execute(
        "SELECT r.id, r.uid, t.name AS trial, r.repeat, r.status, r.config_hash, r.run_dir FROM runs r "
        "JOIN trials t ON t.id = r.trial_id ORDER BY r.id"
    ).fetchall()


def points(db, run_id):
    """(key, step, value, timestamp) of a run, in the order recorded."""
    return [tuple(r) for r in db.execute(
        "SELECT key, step, value, timestamp FROM metrics WHERE run_id = ? ORDER BY rowid", (run_id,)
    )]


def params(db, run_id):
    return {r["key"]: r["value_text"] for r in db.execute("SELECT key, value_text FROM params WHERE run_id = ?", (run_id,))}
