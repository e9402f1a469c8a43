"""`expman.start_experiment()` and the logging API: statuses from the
`with` block, child runs, the module-level shortcuts, values refused with
the right exception, artifacts, continuing a run, and runs still active
when the interpreter ends."""

import math

import pytest

import expman


def test_a_with_block_ends_success_failed_or_killed(workdir, db):
    with expman.start_experiment(name="ok", experiment="e") as run:
        run.log_metric("loss", 0.5)
        assert expman.active_run() is not None
    assert run.ended and expman.active_run() is None

    with pytest.raises(ValueError, match="boom"):
        with expman.start_experiment(name="bad", experiment="e"):
            raise ValueError("boom")

    with pytest.raises(KeyboardInterrupt):
        with expman.start_experiment(name="stopped", experiment="e"):
            raise KeyboardInterrupt

    with expman.start_experiment(name="exit0", experiment="e"):
        try:
            raise SystemExit(0)
        except SystemExit:
            pass

    rows = dict(db(workdir / "outputs").execute("SELECT t.name, r.status || ':' || COALESCE(r.error, '') FROM runs r JOIN trials t ON t.id = r.trial_id"))
    assert rows == {
        "ok": "SUCCESS:",
        "bad": "FAILED:ValueError: boom",
        "stopped": "KILLED:interrupted (KeyboardInterrupt)",
        "exit0": "SUCCESS:",
    }


def test_everything_logged_reaches_the_record(workdir, db):
    (workdir / "weights.bin").write_bytes(b"w" * 100)
    (workdir / "plots").mkdir()
    (workdir / "plots" / "a.png").write_bytes(b"png")
    with expman.start_experiment(name="train", experiment="mnist", tags={"team": "vision"}) as run:
        run.log_parameters({"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}, "none": None, "flag": True, "big": 2**70})
        run.log_param("seed", 7)
        for epoch in range(3):
            with run.epoch(epoch):
                run.log_metrics({"loss": 1.0 / (epoch + 1), "acc": 0.5 + epoch / 10})
        run.log_metric("lr", 0.1, step=100, timestamp=1_700_000_000.5)
        run.set_tag("stage", "dev")
        run.set_tags({"n": 3})
        assert run.log_artifact(workdir / "weights.bin", kind="model") == ["artifacts/weights.bin"]
        assert run.log_artifacts(workdir / "plots") == ["artifacts/plots/a.png"]
        run.note("switched to cosine schedule")
        assert not run.should_stop()
        run_id, run_dir = run.id, run.run_dir
    con = db(workdir / "outputs")
    (rid,) = con.execute("SELECT id FROM runs WHERE uid = ?", (run_id,)).fetchone()
    params = dict(con.execute("SELECT key, value_type || '=' || COALESCE(value_text, '') FROM params WHERE run_id = ?", (rid,)))
    assert params == {
        "lr": "float=0.01",
        "layers": "json=[64,32]",
        "opt": 'json={"name":"adam"}',
        "none": "null=",
        "flag": "bool=true",
        "big": "str=1180591620717411303424",
        "seed": "int=7",
    }
    points = con.execute("SELECT key, step, epoch FROM metrics WHERE run_id = ? AND key = 'loss' ORDER BY step", (rid,)).fetchall()
    assert points == [("loss", 0, 0), ("loss", 1, 1), ("loss", 2, 2)]
    assert con.execute("SELECT step, timestamp FROM metrics WHERE key = 'lr'").fetchone() == (100, 1_700_000_000_500)
    tags = dict(con.execute("SELECT key, value FROM tags WHERE run_id = ?", (rid,)))
    assert tags == {"team": "vision", "stage": "dev", "n": "3"}
    artifacts = con.execute("SELECT path, size, kind FROM artifacts WHERE run_id = ? ORDER BY path", (rid,)).fetchall()
    assert artifacts == [("artifacts/plots/a.png", 3, "file"), ("artifacts/weights.bin", 100, "model")]
    assert (run_dir / "artifacts" / "weights.bin").read_bytes() == b"w" * 100
    assert con.execute("SELECT detail FROM events WHERE run_id = ? AND kind = 'note'", (rid,)).fetchone() == ("switched to cosine schedule",)


def test_child_runs_are_recorded_with_their_parent(workdir, db, cli):
    with expman.start_experiment(name="search", experiment="e") as parent:
        for fold in range(2):
            with parent.start_experiment(name=f"fold-{fold}") as child:
                assert child.parent_id == parent.id
                assert expman.active_run().id == child.id
                expman.log_metric("score", fold)  # the shortcut logs to the active child
        other = expman.start_experiment(name="extra", parent=parent)
        other.end("FAILED", "diverged")
    con = db(workdir / "outputs")
    children = con.execute(
        "SELECT t.name, r.status FROM tags g JOIN runs r ON r.id = g.run_id JOIN trials t ON t.id = r.trial_id "
        "WHERE g.key = 'expman.parent' AND g.value = ? ORDER BY r.id",
        (parent.id,),
    ).fetchall()
    assert children == [("fold-0", "SUCCESS"), ("fold-1", "SUCCESS"), ("extra", "FAILED")]
    shown = cli("show", parent.id, cwd=workdir)
    assert "children   3" in shown and "fold-1" in shown
    listed = cli("runs", cwd=workdir)
    assert "parent" in listed.splitlines()[0]
    assert parent.id[:8] in listed.split("fold-0")[1].splitlines()[0]
    assert f"parent     {parent.id} (search)" in cli("show", child.id, cwd=workdir)


def test_the_shortcuts_need_an_active_run(workdir):
    with pytest.raises(expman.ExpmanError, match="no active run"):
        expman.log_metric("loss", 1.0)
    run = expman.start_experiment(name="plain")
    expman.log_metrics({"a": 1.0})
    expman.log_params({"x": 1})
    expman.set_tag("k", "v")
    expman.end()
    assert run.ended
    with pytest.raises(expman.ExpmanError, match="has ended"):
        run.log_metric("a", 2.0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda r: r.log_metric("loss", math.nan), ValueError, "metric `loss`: NaN is not a finite number"),
        (lambda r: r.log_metric("loss", math.inf), ValueError, "metric `loss`: inf is not a finite number"),
        (lambda r: r.log_metric("loss", "0.5"), TypeError, "metric `loss`: '0.5' (str) is not a number"),
        (lambda r: r.log_metric("loss", None), TypeError, "metric `loss`: None"),
        (lambda r: r.log_metrics({"ok": 1.0, "bad": [1]}), TypeError, "metric `bad`"),
        (lambda r: r.log_metrics({1: 1.0}), TypeError, "metric names are strings"),
        (lambda r: r.log_metric("", 1.0), ValueError, "an empty name"),
        (lambda r: r.log_metric("k" * 300, 1.0), ValueError, "longer than 250 bytes"),
        (lambda r: r.set_tag("notes", "x" * 100_000), ValueError, "tag `notes`: the value is 100000 bytes"),
        (lambda r: r.log_param("blob", "x" * 100_000), ValueError, "param `blob`"),
        (lambda r: r.log_metric("loss", 1.0, timestamp=math.nan), ValueError, "timestamp"),
        (lambda r: r.end("DONE"), ValueError, "SUCCESS"),
    ],
)
def test_bad_values_raise_naming_the_key_and_record_nothing(workdir, db, call, error, message):
    with expman.start_experiment(name="t") as run:
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            call(run)
    con = db(workdir / "outputs")
    assert con.execute("SELECT COUNT(*) FROM metrics").fetchone() == (0,)
    assert con.execute("SELECT COUNT(*) FROM tags").fetchone() == (0,)
    assert con.execute("SELECT COUNT(*) FROM params").fetchone() == (0,)
    assert con.execute("SELECT status FROM runs").fetchone() == ("SUCCESS",)


def test_numpy_like_scalars_are_numbers(workdir, db):
    class Scalar:  # what numpy and torch scalars offer
        def __float__(self):
            return 0.25

    with expman.start_experiment(name="t") as run:
        run.log_metric("loss", Scalar())
        run.log_metric("count", 3)
        run.log_metric("flag", True)
    values = db(workdir / "outputs").execute("SELECT key, value FROM metrics ORDER BY key").fetchall()
    assert values == [("count", 3.0), ("flag", 1.0), ("loss", 0.25)]


def test_a_run_continues_by_its_id(workdir, db):
    with expman.start_experiment(name="long", experiment="e") as first:
        first.log_metric("loss", 1.0)
        first.log_metric("loss", 0.9)
    with expman.start_experiment(experiment_uid=first.id) as again:
        assert again.id == first.id and again.name == "long"
        again.log_metric("loss", 0.8)
    con = db(workdir / "outputs")
    assert con.execute("SELECT step FROM metrics ORDER BY step").fetchall() == [(0,), (1,), (2,)]
    assert con.execute("SELECT COUNT(*), MIN(status) FROM runs").fetchone() == (1, "SUCCESS")
    with pytest.raises(expman.ExpmanError, match="no run `nope`"):
        expman.start_experiment(experiment_uid="nope")


def test_repeats_of_a_trial_and_the_default_name(workdir, py, db):
    script = """
        import expman
        with expman.start_experiment(experiment="e") as run:
            print(run.name, run.repeat)
    """
    (workdir / "train.py").write_text(__import__("textwrap").dedent(script))
    import subprocess, sys

    outs = [subprocess.run([sys.executable, "train.py"], cwd=workdir, capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert outs == ["train 0\n", "train 1\n"]


def test_runs_left_active_end_with_the_interpreter(workdir, py, db):
    done = py(
        """
        import expman
        run = expman.start_experiment(name="forgotten")
        run.log_metric("x", 1.0)
        """,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    crashed = py(
        """
        import expman
        run = expman.start_experiment(name="crashed")
        raise RuntimeError("out of memory")
        """,
        cwd=workdir,
    )
    assert crashed.returncode == 1 and "RuntimeError: out of memory" in crashed.stderr
    rows = dict(db(workdir / "outputs").execute("SELECT t.name, r.status || ':' || COALESCE(r.error, '') FROM runs r JOIN trials t ON t.id = r.trial_id"))
    assert rows == {"forgotten": "SUCCESS:", "crashed": "FAILED:RuntimeError: out of memory"}


def test_code_and_git_state_are_captured(workdir, db):
    import subprocess

    code = workdir / "project"
    code.mkdir()
    (code / "model.py").write_text("W = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=code, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"], cwd=code, check=True)
    with expman.start_experiment(name="t", code_dir=code) as run:
        pass
    con = db(workdir / "outputs")
    (commit, dirty) = con.execute("SELECT git_commit, git_dirty FROM runs").fetchone()
    assert len(commit) == 40 and dirty == 0
    kinds = [k for (k,) in con.execute("SELECT kind FROM artifacts")]
    assert "code-snapshot" in kinds
    assert run.run_dir.exists()
