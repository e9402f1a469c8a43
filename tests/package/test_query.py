"""The record as polars DataFrames: the same frames, filter language and
answers as the CLI's (`expman runs --format parquet` read back), pandas
through `.to_pandas()`, errors as `ExpmanError` with the CLI's words."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import expman


@pytest.fixture
def record(workdir):
    """Two trials of three runs each, with params, tags and curves."""
    for trial, base in (("small", 0.5), ("large", 0.3)):
        for seed in range(3):
            with expman.start_experiment(name=trial, experiment="e", tags={"seed": seed}) as run:
                run.log_parameters({"width": 64 if trial == "small" else 256, "seed": seed})
                for epoch in range(4):
                    run.log_metric("val_loss", base + 0.01 * seed + 0.1 / (epoch + 1), epoch=epoch)
    return workdir


def cli_frame(cli, workdir, *args):
    out = workdir / "cli.parquet"
    cli(*args, "--format", "parquet", "--out", str(out), cwd=workdir)
    return pl.read_parquet(out)


def test_runs_are_the_cli_s_runs(record, cli):
    frame = expman.runs()
    assert isinstance(frame, pl.DataFrame) and frame.height == 6
    assert_frame_equal(frame, cli_frame(cli, record, "runs"))
    best = expman.runs("metrics.val_loss < 0.4 and params.width = 256", order_by="metrics.val_loss", limit=2)
    assert best["trial"].to_list() == ["large", "large"]
    assert best["metrics.val_loss"].is_sorted()
    assert_frame_equal(
        best,
        cli_frame(cli, record, "runs", "metrics.val_loss < 0.4 and params.width = 256", "--order-by", "metrics.val_loss", "--limit", "2"),
    )
    some = expman.runs(columns=["trial", "params.*"])
    assert some.columns == ["id", "trial", "params.seed", "params.width"]


def test_metrics_sql_summary_and_compare(record, cli):
    curves = expman.metrics(["small"], keys=["val_loss"])
    assert curves.height == 12 and set(curves["trial"]) == {"small"}
    assert_frame_equal(curves, cli_frame(cli, record, "metrics", "small", "--keys", "val_loss"))
    by_runs = expman.metrics(expman.runs("params.width = 256"))
    assert by_runs.height == 12

    counted = expman.sql("SELECT trial, COUNT(*) AS n FROM runs GROUP BY trial ORDER BY trial")
    assert counted.rows() == [("large", 3), ("small", 3)]

    summary = expman.summary("val_loss")
    assert_frame_equal(summary, cli_frame(cli, record, "summary", "--metric", "val_loss"))
    assert summary.height == 2

    compared = expman.compare("large", "small", metric="val_loss")
    assert compared.height == 1
    row = compared.row(0, named=True)
    assert row["trial_a"] == "large" and row["n_a"] == 3 and row["p_value"] < 0.001
    assert row["difference"] == pytest.approx(-0.2)
    assert "large" in row["verdict"]
    said = cli("compare", "large", "small", "--metric", "val_loss", cwd=record)
    assert row["verdict"] in said


def test_to_pandas(record):
    pytest.importorskip("pandas")
    frame = expman.runs().to_pandas()
    assert len(frame) == 6 and "metrics.val_loss" in frame.columns


def test_errors_say_what_the_cli_says(record, tmp_path):
    with pytest.raises(expman.ExpmanError, match=r"(?s)metrics\.val_loss <<.*\^"):
        expman.runs("metrics.val_loss << 1")
    with pytest.raises(expman.ExpmanError, match="no trial `smal`; did you mean `small`"):
        expman.compare("smal", "large", metric="val_loss")
    with pytest.raises(expman.ExpmanError, match="no database"):
        expman.runs(workspace=tmp_path / "empty")


def test_a_large_record_loads_quickly(workdir):
    with expman.start_experiment(name="many", experiment="big") as parent:
        for i in range(300):
            with parent.start_experiment(name=f"child-{i % 10}") as child:
                child.log_metric("loss", float(i))
    frame = expman.runs(experiment="big")
    assert frame.height == 301
    assert frame["tags.expman.parent"].null_count() == 1
