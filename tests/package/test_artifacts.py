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
