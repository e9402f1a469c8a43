"""Crash chaos: N rounds of an experiment whose trials log fast, each round
with something killed with SIGKILL at a random moment: the runner, one
trial, the tracker's MLflow server, or the team database's MariaDB server
(when tests/engines started one: EXPMAN_TEST_MARIADB). Then the record is
read (recovery), checked, the experiment resumed to its end, trackers and
the team database caught up, and checked again:

- every metric point a trial wrote to its event file is in the record
  once (same count, no (key, step) twice);
- no run is RUNNING without a live process;
- after `--resume`, every planned run has a SUCCESS run;
- MLflow holds exactly the record's points for every run (no duplicates),
  and the team database as many metric rows as the record.

    .venv-test/bin/python tests/chaos/chaos.py --rounds 50 [--seed 1]

Exits 1 at the first round that breaks one of these, saying which and
where its files are; prints a line per round otherwise. The servers it
starts (MLflow) it stops by PID; MariaDB is restarted with the project's
own script after it was killed.
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "trackers"))
from tracker_helpers import MlflowServer  # noqa: E402

EXPMAN = pathlib.Path(os.environ.get("EXPMAN_BIN") or REPO / "target" / "debug" / "expman")
FAKE_TRIAL = EXPMAN.parent / "fake-trial"


class Broken(Exception):
    pass


def expman(*args, cwd, timeout=300, check=True):
    env = {k: v for k, v in os.environ.items() if k != "EXPMAN_WORKSPACE"}
    done = subprocess.run([str(EXPMAN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and done.returncode != 0:
        raise Broken(f"`expman {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def write_config(directory: pathlib.Path, mlflow_url: str, team_url: str | None):
    directory.mkdir(parents=True)
    database = f"database: {{type: mysql, url: {team_url}}}\n" if team_url else ""
    (directory / "env.yaml").write_text(
        "workspace: out\nhardware: {interval: 300ms, gpu: off}\nresources: {max_parallel: 3}\n"
        + database
        + f"trackers:\n  - type: mlflow\n    tracking_uri: {mlflow_url}\n"
    )
    (directory / "experiment.yaml").write_text(f"name: {directory.name}\n")
    (directory / "base.yaml").write_text(
        textwrap.dedent(
            f"""\
            pipeline:
              command: [{FAKE_TRIAL}, --epochs, "80", --sleep-ms, "12"]
            """
        )
    )
    (directory / "trials.yaml").write_text("- name: a\n  repeat: 2\n- name: b\n  repeat: 2\n- name: c\n")


def written_points(run_dir: pathlib.Path) -> int:
    """Metric points in a run's event file (whole lines)."""
    path = run_dir / "events.jsonl"
    if not path.exists():
        return 0
    count = 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "metric":
            count += 1
        elif event.get("type") == "metrics":
            count += len(event.get("values", {}))
    return count


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def check_record(directory: pathlib.Path):
    db = sqlite3.connect(directory / "out" / "expman.db")
    try:
        rows = db.execute("SELECT id, uid, status, pid, run_dir FROM runs").fetchall()
        for run_id, uid, status, pid, run_dir in rows:
            if status in ("RUNNING", "PENDING") and not (pid and alive(pid)):
                raise Broken(f"run {uid} is {status} without a live process")
            (count, distinct) = db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT key || ':' || step) FROM metrics WHERE run_id = ?", (run_id,)
            ).fetchone()
            if count != distinct:
                raise Broken(f"run {uid}: {count - distinct} metric point(s) recorded twice")
            if run_dir and status not in ("RUNNING", "PENDING"):
                written = written_points(pathlib.Path(run_dir))
                if written != count:
                    raise Broken(f"run {uid} ({status}): {written} point(s) written, {count} recorded")
        return rows
    finally:
        db.close()


def local_metric_rows(directory: pathlib.Path) -> int:
    db = sqlite3.connect(directory / "out" / "expman.db")
    try:
        return db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    finally:
        db.close()


def check_mlflow(directory: pathlib.Path, url: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(directory.name)
    if experiment is None:
        raise Broken("no MLflow experiment after `expman sync`")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    by_uid = {r.data.tags["expman.run_id"]: r for r in runs if "expman.run_id" in r.data.tags}
    db = sqlite3.connect(directory / "out" / "expman.db")
    try:
        for run_id, uid in db.execute("SELECT id, uid FROM runs"):
            recorded = db.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ? AND key = 'loss'", (run_id,)).fetchone()[0]
            if uid not in by_uid:
                if recorded:
                    raise Broken(f"run {uid} is not in MLflow")
                continue
            history = client.get_metric_history(by_uid[uid].info.run_id, "loss")
            if len(history) != recorded or len({h.step for h in history}) != len(history):
                raise Broken(f"run {uid}: {recorded} loss points recorded, MLflow has {len(history)}")
    finally:
        db.close()


class MariaDb:
    """The MariaDB of tests/engines (started by tests/run.sh): its pid,
    killing it, starting it again with the project's script, counting rows."""

    def __init__(self, url: str):
        self.url = url
        self.pid_file = pathlib.Path(os.environ.get("MARIADB_STATE", "/tmp/expman-mariadb")) / "ours.pid"
        server = url.rsplit("/", 1)[0]
        self.host, self.port = server.split("@", 1)[1].split(":")
        self.user = server.split("//", 1)[1].split("@", 1)[0]
        self.client = shutil.which("mariadb") or shutil.which("mysql")
        self.server = server

    def pid(self) -> int | None:
        """The server tests/engines/mariadb-start.sh started (its pid file)."""
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self):
        pid = self.pid()
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                if not alive(pid):
                    break
                time.sleep(0.05)

    def start(self):
        done = subprocess.run([str(REPO / "tests" / "engines" / "mariadb-start.sh")], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise Broken(f"cannot start MariaDB again:\n{done.stderr}")

    def sql(self, statement: str) -> str:
        login = ["-h", self.host, "-P", self.port, "-u", self.user, f"-p{os.environ['EXPMAN_DB_PASSWORD']}"]
        done = subprocess.run([self.client, *login, "-N", "-e", statement], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise Broken(f"MariaDB: {statement}: {done.stderr}")
        return done.stdout.strip()


def round_once(number: int, rng: random.Random, base: pathlib.Path, mlflow: MlflowServer, maria: MariaDb | None):
    modes = ["runner", "trial", "mlflow"] + (["mariadb"] if maria else [])
    mode = modes[number % len(modes)] if number < len(modes) else rng.choice(modes)
    try:
        return kill_and_check(number, mode, rng, base, mlflow, maria)
    except Broken as e:
        raise Broken(f"(killed: {mode}) {e}") from None


def kill_and_check(number: int, mode: str, rng: random.Random, base: pathlib.Path, mlflow: MlflowServer, maria: MariaDb | None):
    directory = base / f"chaos{number}"
    team_url = None
    if maria:
        name = f"expman_chaos_{os.getpid()}_{number}"
        maria.sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        team_url = f"{maria.server}/{name}"
    write_config(directory, mlflow.url, team_url)
    runner = subprocess.Popen([str(EXPMAN), "run", "."], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.3, 2.0))
    killed = mode
    if mode == "runner":
        runner.send_signal(signal.SIGKILL)
    elif mode == "trial":
        # The random moment may come before any trial started: wait for one
        # (up to 15 s) so that this round does kill a trial.
        pids = []
        deadline = time.time() + 15
        while not pids and time.time() < deadline and runner.poll() is None:
            try:
                db = sqlite3.connect(f"file:{directory / 'out' / 'expman.db'}?mode=ro", uri=True)
                pids = [p for (p,) in db.execute("SELECT pid FROM runs WHERE status = 'RUNNING' AND pid IS NOT NULL")]
                db.close()
            except sqlite3.OperationalError:
                pass  # no record yet (or not its tables)
            if not pids:
                time.sleep(0.05)
        if pids:
            os.kill(rng.choice(pids), signal.SIGKILL)
        else:
            killed = "nothing (no trial ran)"
    elif mode == "mlflow":
        mlflow.kill()
    elif mode == "mariadb":
        maria.kill()
    runner.wait(timeout=300)
    if mode == "mlflow":
        mlflow.start()
    if mode == "mariadb":
        maria.start()
    # Reading the record recovers what the runner left.
    expman("runs", cwd=directory)
    check_record(directory)
    expman("run", ".", "--resume", cwd=directory)
    rows = check_record(directory)
    db = sqlite3.connect(directory / "out" / "expman.db")
    done = db.execute(
        "SELECT COUNT(DISTINCT t.name || '#' || r.repeat) FROM runs r JOIN trials t ON t.id = r.trial_id WHERE r.status = 'SUCCESS'"
    ).fetchone()[0]
    db.close()
    if done != 5:
        raise Broken(f"after --resume, {done} of 5 planned runs have a SUCCESS run")
    expman("sync", cwd=directory)
    check_mlflow(directory, mlflow.url)
    if maria:
        expman("db", "push", cwd=directory)
        remote = int(maria.sql(f"SELECT COUNT(*) FROM `{team_url.rsplit('/', 1)[1]}`.metrics"))
        local = local_metric_rows(directory)
        if remote != local:
            raise Broken(f"team database: {remote} metric rows, the record {local}")
        maria.sql(f"DROP DATABASE `{team_url.rsplit('/', 1)[1]}`")
    shutil.rmtree(directory, ignore_errors=True)
    return killed, len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    base = pathlib.Path(tempfile.mkdtemp(prefix="expman-chaos-"))
    url = os.environ.get("EXPMAN_TEST_MARIADB")
    maria = MariaDb(url) if url and (shutil.which("mariadb") or shutil.which("mysql")) else None
    print(f"chaos: {args.rounds} round(s), seed {args.seed}, MariaDB {'on' if maria else 'off'}, in {base}", flush=True)
    mlflow = MlflowServer(base / "mlflow")
    (base / "mlflow").mkdir()
    mlflow.start()
    started = time.time()
    try:
        for number in range(args.rounds):
            t = time.time()
            try:
                killed, runs = round_once(number, rng, base, mlflow, maria)
            except Broken as e:
                print(f"chaos: round {number + 1} FAILED (seed {args.seed}): {e}\nfiles kept in {base}", flush=True)
                return 1
            print(f"chaos: round {number + 1}: killed {killed}; {runs} runs recorded, checked, resumed, synced ({time.time() - t:.1f} s)", flush=True)
    finally:
        mlflow.stop()
    print(f"chaos: all {args.rounds} round(s) passed in {time.time() - started:.0f} s", flush=True)
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
