"""Artifacts and lineage from Python (`expman.artifacts`, `get_artifact`,
`lineage`): the CLI's own lookups and checks, on runs logged from code."""

import json
import pathlib

import pytest

import expman


def test_logged_artifacts_are_stored_listed_and_fetched_as_the_cli_does(workdir, cli):
    (workdir / "weights.bin").write_bytes(b"w" * 1000)
    runs = []
    for name in ("a", "b"):
        with expman.start_experiment(name=name, experiment="store") as run:
            run.log_artifact(workdir / "weights.bin", kind="model")
            runs.append((run.id, run.run_dir))
    # Both runs' copies are one blob in the store, linked from each run.
    inodes = {(pathlib.Path(d) / "artifacts" / "weights.bin").stat().st_ino for _, d in runs}
    assert len(inodes) == 1

    listed = expman.artifacts(runs[0][0], workspace=workdir / "outputs")
    assert [a["path"] for a in listed] == ["artifacts/weights.bin"]
    assert listed[0]["where"] == "stored" and listed[0]["kind"] == "model" and listed[0]["size"] == 1000
    from_cli = json.loads(cli("artifacts", "list", runs[0][0], "--format", "json", "--workspace", "outputs", cwd=workdir))
    assert from_cli["artifacts"] == listed

    out = expman.get_artifact(runs[1][0], "artifacts/weights.bin", out=workdir / "back.bin", workspace=workdir / "outputs")
    assert out.read_bytes() == b"w" * 1000
    with pytest.raises(expman.ExpmanError, match="exists"):
        expman.get_artifact(runs[1][0], "artifacts/weights.bin", out=workdir / "back.bin", workspace=workdir / "outputs")
    with pytest.raises(expman.ExpmanError, match="recorded no artifact"):
        expman.get_artifact(runs[1][0], "../../etc/passwd", out=workdir / "x", workspace=workdir / "outputs")

    cli("artifacts", "tag", runs[0][0], "artifacts/weights.bin", "best", "--workspace", "outputs", cwd=workdir)
    named = expman.get_artifact("alias:best", out=workdir / "best.bin", workspace=workdir / "outputs")
    assert named.read_bytes() == b"w" * 1000

    graph = expman.lineage(runs[0][0], workspace=workdir / "outputs")
    assert graph["run"] == runs[0][0] and graph["edges"] == [] and graph["files"] == []


def test_runs_from_code_in_an_encrypting_workspace_encrypt_too(workdir, cli, py, monkeypatch):
    config = workdir / "exp"
    config.mkdir()
    (config / "env.yaml").write_text("workspace: ws\nartifacts: {encrypt: true}\n")
    (config / "experiment.yaml").write_text("name: e\n")
    (config / "base.yaml").write_text("pipeline: {command: [true]}\n")
    (config / "trials.yaml").write_text("- name: t\n")
    key = cli("artifacts", "keygen", cwd=workdir).strip()
    monkeypatch.setenv("EXPMAN_ARTIFACT_KEY", key)
    cli("run", "exp", cwd=workdir)  # the workspace now knows it encrypts
    (workdir / "secret.txt").write_text("launch codes")
    with expman.start_experiment(name="code", experiment="e", workspace=workdir / "exp" / "ws") as run:
        run.log_artifact(workdir / "secret.txt")
        run_id, run_dir = run.id, pathlib.Path(run.run_dir)
    assert not (run_dir / "artifacts" / "secret.txt").exists(), "the plaintext left the run directory"
    assert expman.artifacts(run_id, workspace=workdir / "exp" / "ws")[0]["where"] == "stored, encrypted"
    back = expman.get_artifact(run_id, "artifacts/secret.txt", out=workdir / "back.txt", workspace=workdir / "exp" / "ws")
    assert back.read_text() == "launch codes"

    # Without the key (a process of its own: this one's session has it).
    done = py(
        f"""
        import expman
        try:
            expman.start_experiment(name="nokey", experiment="e", workspace={str(workdir / "exp" / "ws")!r})
        except expman.ExpmanError as e:
            print("refused:", e)
        """,
        workdir,
    )
    assert "refused:" in done.stdout and "EXPMAN_ARTIFACT_KEY" in done.stdout, (done.stdout, done.stderr)
