"""The package in its own processes: hardware sampling of a process that
allocates 200 MB, kill -9 in the middle of logging (what is lost is
bounded, nothing with `durable=True`, the run is LOST), and a script
launched by `expman run` that reports into the run expman launched."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest


def test_log_hardware_samples_the_process(workdir, py, db):
    done = py(
        """
        import time, expman
        with expman.start_experiment(name="alloc", log_hardware=True, hardware_interval=0.1) as run:
            ballast = bytearray(200 * 1024 * 1024)
            for i in range(0, len(ballast), 4096):
                ballast[i] = 1
            time.sleep(1.0)
            run.log_metric("x", 1.0)
        """,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    con = db(workdir / "outputs")
    peak_rss, samples = con.execute("SELECT peak_rss, samples FROM run_resources").fetchone()
    assert samples >= 3
    assert peak_rss >= 200 * 1024 * 1024, peak_rss
    assert con.execute("SELECT COUNT(*) FROM hardware_samples WHERE run_id IS NOT NULL").fetchone()[0] >= 3


LOGGER = """
import sys, time, expman
durable = sys.argv[1] == "durable"
run = expman.start_experiment(name="victim", durable=durable)
print(run.id, flush=True)
step = 0
while True:
    run.log_metric("x", float(step), step=step)
    if step % 200 == 0:
        # The time this step was logged, for the loss bound.
        print(step, time.time(), flush=True)
    step += 1
    if step % 50 == 0:
        time.sleep(0.001)
"""


@pytest.mark.parametrize("mode", ["buffered", "durable"])
def test_kill_9_loses_at_most_the_last_100_ms(workdir, db, cli, mode):
    script = workdir / "logger.py"
    script.write_text(LOGGER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPMAN_")}
    proc = subprocess.Popen([sys.executable, str(script), mode], cwd=workdir, stdout=subprocess.PIPE, text=True, env=env)
    run_id = proc.stdout.readline().strip()
    marks = []
    deadline = time.time() + 1.5
    while time.time() < deadline:
        step, at = proc.stdout.readline().split()
        marks.append((int(step), float(at)))
    proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    proc.wait()
    rest = proc.stdout.read().split()
    last_reported = int(rest[-2]) if len(rest) >= 2 else marks[-1][0]
    # Reading the record recovers the run: LOST, with what was committed.
    shown = cli("show", run_id, cwd=workdir)
    assert "status     LOST" in shown, shown
    con = db(workdir / "outputs")
    (count, top) = con.execute("SELECT COUNT(*), MAX(step) FROM metrics").fetchone()
    assert count == top + 1, "every recorded point once, none missing in between"
    if mode == "durable":
        assert count >= last_reported + 1, (count, last_reported)
    else:
        # Every step logged more than 100 ms (plus scheduling slack) before
        # the kill is recorded.
        safe = [step for step, at in marks if at <= killed_at - 0.15]
        assert safe and count >= safe[-1] + 1, (count, safe[-1:])


def test_a_script_launched_by_expman_reports_into_its_run(workdir, db, expman_bin):
    config = workdir / "exp"
    config.mkdir()
    (config / "experiment.yaml").write_text("name: launched\n")
    (config / "env.yaml").write_text("workspace: out\nhardware: {enabled: false}\n")
    (config / "base.yaml").write_text(f"pipeline:\n  command: [{sys.executable}, {config / 'train.py'}]\n")
    (config / "trials.yaml").write_text("- name: main\n")
    (config / "train.py").write_text(
        textwrap.dedent(
            """
            import expman
            with expman.start_experiment(name="ignored when launched") as run:
                assert run.attached, run
                run.log_parameters({"lr": 0.1})
                for epoch in range(3):
                    with run.epoch(epoch):
                        run.log_metric("loss", 1.0 / (epoch + 1))
                with run.start_experiment(name="probe") as child:
                    child.log_metric("p", 1.0)
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPMAN_")}
    done = subprocess.run([str(expman_bin), "run", str(config)], cwd=workdir, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    con = db(config / "out")
    rows = con.execute("SELECT r.uid, t.name, r.status FROM runs r JOIN trials t ON t.id = r.trial_id ORDER BY r.id").fetchall()
    assert [(name, status) for _, name, status in rows] == [("main", "SUCCESS"), ("probe", "SUCCESS")]
    main_uid = rows[0][0]
    losses = con.execute("SELECT step, epoch FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.uid = ? AND key = 'loss'", (main_uid,)).fetchall()
    assert losses == [(0, 0), (1, 1), (2, 2)]
    assert con.execute("SELECT value FROM tags WHERE key = 'expman.parent'").fetchone() == (main_uid,)
