"""The %expman magics as a notebook user meets them, through a real
Jupyter client: usage errors that name the problem and show the usage;
`%expman runs` as an HTML and text result; `%expman compare` stating its
verdict in words; `%expman plot` as Vega-Lite with an SVG fallback;
completion of trial names and metric keys from the record; help with `?`;
`%%expman run --background` with `%expman status` and `%expman stop`
(runs end KILLED in the record); a YAML error in a run cell's body as a
ConfigError that points at the line.

The read-only tests share one kernel that has run a small experiment
(`recorded`): alpha (2 epochs, final loss 0.5) and beta (4 epochs, final
loss 0.25), two repeats each. The others start their own kernel."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

RECORDED_TRIALS = """\
- name: alpha
  repeat: 2
  settings: {{pipeline.command: [{fake}, --epochs, "2", --sleep-ms, "20"]}}
- name: beta
  repeat: 2
"""


@pytest.fixture(scope="module")
def recorded(start_kernel, helpers):
    """A kernel whose session has run the experiment `exp` (4 runs, all SUCCESS)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="expman-magics-"))
    try:
        helpers.write_experiment(work / "exp", RECORDED_TRIALS.format(fake=helpers.fake_trial), epochs=4, sleep_ms=20)
        kernel = start_kernel(work)
        ex = kernel.execute("%%expman run --dir exp", timeout=60)
        assert ex.content["status"] == "ok", ex.describe()
        assert "experiment `exp`: 4 SUCCESS" in ex.stream()
        yield kernel
        kernel.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def complete(kernel, code, cursor_pos=None):
    msg_id = kernel.kc.complete(code, cursor_pos=len(code) if cursor_pos is None else cursor_pos)
    return kernel.reply(msg_id, timeout=10)["content"]


# --- usage errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, ename, says, shows",
    [
        # A misspelled flag: named, the right one suggested, the usage line shown.
        ("%expman runs --limt 3", "UsageError", ["--limt"], ["--limit", "Usage: %expman runs", "%expman help runs"]),
        # Missing arguments: each one named, with the usage.
        (
            "%expman compare alpha",
            "UsageError",
            ["required arguments were not provided"],
            ["--metric <METRIC>", "<TRIAL_B>", "Usage: %expman compare --metric <METRIC> <TRIAL_A> <TRIAL_B>"],
        ),
        # An unknown magic.
        ("%expman frobnicate", "UsageError", ["frobnicate"], ["Usage: %expman <COMMAND>"]),
        # Something that is not a magic, on the line it is on.
        ("%expman status\nhello there", "UsageError", ["line 2 is not a magic", "hello there"], ["%expman help"]),
        ("%matplotlib inline", "UsageError", ["line 1 is not a magic"], ["only the %expman and %%expman magics"]),
        ('%expman runs "open', "UsageError", ["line 1", "quote is not closed"], ["%expman help"]),
        ("%%expman run", "UsageError", ["nothing to run"], ["--dir CONFIG_DIR"]),
        ("%expman help frobnicate", "UsageError", ["no magic `frobnicate`"], ["runs", "compare", "plot"]),
        ("%expman hw --interval 1ms", "UsageError", ["--interval 1ms", "at least 200ms"], []),
    ],
    ids=["misspelled-flag", "missing-arguments", "unknown-magic", "not-a-magic", "other-magic", "open-quote",
         "run-without-config", "help-on-nothing", "bad-value"],
)
def test_usage_errors_name_the_problem_and_show_the_usage(kernel, code, ename, says, shows):
    ex = kernel.execute(code)
    assert ex.content["status"] == "error"
    error = ex.error()
    assert (ex.content["ename"], ex.content["evalue"]) == (error["ename"], error["evalue"])
    assert error["ename"] == ename
    for words in says:
        assert words in error["evalue"], error
    # The traceback front ends show: `ename: evalue`, then usage and hints.
    assert error["traceback"][0] == f"{ename}: {error['evalue']}"
    below = "\n".join(error["traceback"][1:])
    for words in shows:
        assert words in below, error["traceback"]
    # An error is the cell's only output.
    assert [m["msg_type"] for m in ex.outputs] == ["error"]


def test_a_magic_after_a_failing_one_does_not_run(kernel):
    ex = kernel.execute("%expman frobnicate\n%expman help status")
    assert ex.content["status"] == "error"
    assert ex.of_type("execute_result") == []


def test_help_with_question_marks(kernel):
    # `%expman help X` is the cell's result; `?` and `??` go to the pager,
    # a `page` payload in the reply and no output, as IPython's `?` does.
    ex = kernel.execute("%expman help runs")
    assert ex.content["status"] == "ok" and ex.content["payload"] == [], ex.describe()
    texts = [ex.result()["text/plain"]]
    for code in ("%expman runs?", "%expman? runs", "?%expman runs", "%expman runs??"):
        ex = kernel.execute(code)
        assert ex.content["status"] == "ok", ex.describe()
        assert ex.outputs == [], ex.describe()
        (page,) = ex.content["payload"]
        assert page["source"] == "page" and page["start"] == 0, page
        texts.append(page["data"]["text/plain"])
    assert all(t == texts[0] for t in texts)
    assert "Usage: %expman runs [OPTIONS] [FILTER]" in texts[0]
    overview = kernel.execute("%expman help").result()["text/plain"]
    for magic in ("run", "runs", "compare", "plot", "status", "stop", "help"):
        assert re.search(rf"^  {magic}\s", overview, re.M), f"`{magic}` not listed in\n{overview}"


# --- the record: runs, compare, plot, completion -------------------------------------------


def test_runs_is_the_cells_result_as_html_and_text(recorded):
    ex = recorded.execute("%expman runs")
    assert ex.content["status"] == "ok", ex.describe()
    data = ex.result()
    assert {"text/html", "text/plain"} <= set(data)
    text = data["text/plain"]
    assert text.count("SUCCESS") == 4
    assert text.count("alpha") == 2 and text.count("beta") == 2
    assert "metrics.loss" in text and "4 rows" in text
    html = data["text/html"]
    assert "<table" in html and html.count("<tr") == 5  # header + 4 runs
    result = ex.of_type("execute_result")[0]["content"]
    assert result["execution_count"] == ex.content["execution_count"]


def test_runs_filters_and_limits_like_the_cli(recorded):
    text = recorded.execute("%expman runs \"trial = 'beta'\"").result()["text/plain"]
    assert text.count("beta") == 2 and "alpha" not in text
    best = recorded.execute("%expman runs --order-by metrics.loss --limit 1").result()["text/plain"]
    assert "1 row" in best and "beta" in best and "alpha" not in best


def test_compare_states_the_verdict_in_words(recorded):
    ex = recorded.execute("%expman compare alpha beta --metric loss")
    assert ex.content["status"] == "ok", ex.describe()
    data = ex.result()
    verdict = data["text/plain"].splitlines()[0]
    # loss: lower is better; beta ends at 0.25, alpha at 0.5, in every repeat.
    assert verdict.startswith("beta is better than alpha on loss"), verdict
    assert "n = 2 vs 2" in verdict
    assert "lower is better" in data["text/plain"]
    # The verdict stands out in Markdown.
    assert data["text/markdown"].startswith("**beta is better than alpha on loss")


def test_compare_needs_repeats_and_says_so(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n- name: beta\n", epochs=2, sleep_ms=10)
    assert kernel.execute("%%expman run --dir exp", timeout=60).content["status"] == "ok"
    ex = kernel.execute("%expman compare alpha beta --metric loss")
    assert ex.content["status"] == "error"
    assert "at least 2 runs" in ex.content["evalue"] and "repeat" in ex.content["evalue"]
    typo = kernel.execute("%expman compare alpah beta --metric loss")
    assert typo.content["evalue"].startswith("no trial `alpah`"), typo.content
    assert "alpha" in typo.content["evalue"].split("`alpah`", 1)[1], typo.content


def test_plot_gives_vegalite_with_an_svg_fallback(recorded):
    ex = recorded.execute("%expman plot loss")
    assert ex.content["status"] == "ok", ex.describe()
    data = ex.result()
    spec = data["application/vnd.vegalite.v5+json"]
    # A JSON object (not a string holding JSON), for Vega-Lite v5.
    assert isinstance(spec, dict)
    assert "vega-lite/v5" in spec["$schema"]
    json.dumps(spec)
    series = {v.get("series") for v in spec["data"]["values"]}
    assert {"alpha", "beta"} <= series, series
    svg = data["image/svg+xml"]
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "loss" in data["text/plain"]


def test_plot_of_an_unknown_metric_is_an_error(recorded):
    ex = recorded.execute("%expman plot no_such_metric")
    assert ex.content["status"] == "error"
    assert "no_such_metric" in ex.content["evalue"]


def test_completion_offers_the_trials_and_metrics_of_the_record(recorded):
    assert complete(recorded, "%expman compare al")["matches"] == ["alpha"]
    reply = complete(recorded, "%expman compare alpha b")
    assert reply["matches"] == ["beta"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (len("%expman compare alpha "), len("%expman compare alpha b"))
    assert set(complete(recorded, "%expman summary ")["matches"]) == {"alpha", "beta"}
    assert set(complete(recorded, "%expman plot ")["matches"]) == {"acc", "loss"}
    assert set(complete(recorded, "%expman compare alpha beta --metric ")["matches"]) == {"acc", "loss"}
    stop = complete(recorded, "%expman stop ")["matches"]
    assert {"alpha", "beta"} <= set(stop) and len(stop) == 2 + 4  # trials, then the 4 run ids


def test_order_by_completions_are_keys_runs_accepts(recorded):
    # Whatever `--order-by` completes to must be a sort key `%expman runs` takes.
    matches = complete(recorded, "%expman runs --order-by ")["matches"]
    assert matches, "no completion for --order-by"
    for key in matches:
        ex = recorded.execute(f"%expman runs --order-by {key} --limit 1")
        assert ex.content["status"] == "ok", f"`--order-by {key}` was offered but fails: {ex.content.get('evalue')}"


# --- background runs ------------------------------------------------------------------------


def wait_for_table(kernel, cell_id, text, timeout=30):
    """The live table of cell `cell_id` once an update of it shows `text`."""
    return kernel.wait_iopub(
        lambda m: m["parent_header"].get("msg_id") == cell_id
        and m["msg_type"] == "update_display_data"
        and text in m["content"]["data"]["text/plain"],
        timeout=timeout,
    )


def status_table(kernel):
    ex = kernel.execute("%expman status")
    assert ex.content["status"] == "ok", ex.describe()
    (table,) = ex.of_type("display_data")
    return table["content"]["data"]["text/plain"]


def test_background_runs_status_and_stop_all(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n- name: beta\n", epochs=200, sleep_ms=100)
    started = time.monotonic()
    cell = kernel.execute("%%expman run --dir exp --background")
    # Returns at once, although its runs take 20 s.
    assert time.monotonic() - started < 5
    assert cell.content["status"] == "ok", cell.describe()
    assert "running in the background as job 1" in cell.stream()
    assert len(cell.of_type("display_data")) == 1

    # Another cell runs meanwhile.
    assert kernel.execute("!echo meanwhile").stream() == "meanwhile\n"
    wait_for_table(kernel, cell.msg_id, "2 running")
    status = status_table(kernel)
    assert status.count("RUNNING") == 2 and "alpha" in status and "beta" in status, status
    assert "running" in status

    stop = kernel.execute("%expman stop --all")
    assert stop.content["status"] == "ok", stop.describe()
    assert "stopping every run of job 1" in stop.stream()
    final = wait_for_table(kernel, cell.msg_id, "2 of 2 done")["content"]["data"]["text/plain"]
    # One row per run (then, under the table, the per-trial summary of a background cell).
    assert len(re.findall(r"^\w{8}\s+(?:alpha|beta)\s+1/1\s+KILLED\b", final, re.M)) == 2, final
    assert "RUNNING" not in final

    runs = helpers.record_runs(kernel.cwd / "exp" / "out" / "expman.db")
    assert sorted((r["trial"], r["status"]) for r in runs) == [("alpha", "KILLED"), ("beta", "KILLED")]
    status = status_table(kernel)
    assert "finished" in status and status.count("KILLED") == 2, status
    # Nothing left to stop.
    again = kernel.execute("%expman stop --all")
    assert again.content["status"] == "error" and "no runs are running" in again.content["evalue"]


def test_stop_one_trial_by_name(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n- name: beta\n", epochs=200, sleep_ms=100)
    cell = kernel.execute("%%expman run --dir exp --background")
    wait_for_table(kernel, cell.msg_id, "2 running")
    stop = kernel.execute("%expman stop alpha")
    assert "stopping trial `alpha` in job 1" in stop.stream(), stop.describe()
    wait_for_table(kernel, cell.msg_id, "1 of 2 done")
    db = kernel.cwd / "exp" / "out" / "expman.db"
    assert {r["trial"]: r["status"] for r in helpers.record_runs(db)} == {"alpha": "KILLED", "beta": "RUNNING"}
    kernel.execute("%expman stop --all")
    wait_for_table(kernel, cell.msg_id, "2 of 2 done")
    assert {r["trial"]: r["status"] for r in helpers.record_runs(db)} == {"alpha": "KILLED", "beta": "KILLED"}


def test_status_without_background_runs_says_so(kernel):
    ex = kernel.execute("%expman status")
    assert ex.content["status"] == "ok"
    assert "no runs in this kernel" in ex.stream()


# --- config errors ------------------------------------------------------------------------------


def test_yaml_error_in_a_run_cell_is_a_config_error_that_points_at_the_line(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n", epochs=2, sleep_ms=10)
    bad_line = "  settings: {seed: [1, 2}"
    ex = kernel.execute(f"%%expman run --dir exp\n- name: extra\n{bad_line}\n")
    assert ex.content["status"] == "error"
    error = ex.error()
    assert error["ename"] == "ConfigError"
    assert error["evalue"] == "not running: the config has 1 error(s)"
    tb = error["traceback"]
    text = "\n".join(tb)
    assert "YAML syntax error" in text
    # A location in the cell's YAML (`--> exp/cell-N.yaml:LINE:COL`), then that line quoted.
    locations = [re.search(r"--> (\S*cell-\d+\.yaml):(\d+):(\d+)", line) for line in tb]
    locations = [m for m in locations if m]
    assert locations, text
    line = locations[0].group(2)
    assert f"{line} | {bad_line}" in tb, text
    assert "never closed" in text
    # Nothing ran.
    db = kernel.cwd / "exp" / "out" / "expman.db"
    assert not db.exists() or helpers.record_runs(db) == []


def test_unknown_key_in_a_run_cell_warns_and_still_runs(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n", epochs=2, sleep_ms=10)
    ex = kernel.execute("%%expman run --dir exp\n- name: extra\n  repeats: 2\n", timeout=60)
    assert ex.content["status"] == "ok", ex.describe()
    warning = ex.stream("stderr")
    assert "unknown key `repeats`" in warning and "did you mean `repeat`" in warning, warning


# --- the other magics on the record ------------------------------------------------------------


def run_ids(kernel):
    """The full run ids of the record, from `%expman runs` as CSV."""
    ex = kernel.execute("%expman runs --columns id,trial --format csv")
    assert ex.content["status"] == "ok", ex.describe()
    lines = ex.stream().strip().splitlines()
    assert lines[0] == "id,trial", lines
    return [line.split(",") for line in lines[1:]]


def test_metrics_show_experiments_diff_and_rank(recorded):
    ids = run_ids(recorded)
    assert len(ids) == 4
    alpha = next(i for i, t in ids if t == "alpha")
    points = recorded.execute("%expman metrics alpha --keys loss").result()["text/plain"]
    # alpha: 2 runs x 2 epochs of `loss`.
    assert "4 rows" in points and "acc" not in points.split("\n", 1)[0], points
    shown = recorded.execute(f"%expman show {alpha[:8]}").result()["text/plain"]
    assert alpha in shown and "alpha" in shown and "SUCCESS" in shown, shown
    experiments = recorded.execute("%expman experiments").result()["text/plain"]
    assert "exp" in experiments and "1 row" in experiments, experiments
    diff = recorded.execute("%expman diff alpha beta")
    assert diff.content["status"] == "ok", diff.describe()
    assert "pipeline.command" in diff.result()["text/plain"]
    rank = recorded.execute("%expman rank --metric loss").result()["text/plain"]
    assert "metrics.loss.z" in rank and "4 rows" in rank, rank


def test_export_writes_csv_and_parquet_files(recorded, tmp_path):
    csv = tmp_path / "runs.csv"
    ex = recorded.execute(f"%expman export --format csv --out {csv}")
    assert ex.content["status"] == "ok", ex.describe()
    assert ex.result()["text/plain"].startswith("wrote 4 row(s)") and str(csv) in ex.result()["text/plain"]
    assert csv.read_text().splitlines()[0].startswith("id,")
    parquet = tmp_path / "runs.parquet"
    assert recorded.execute(f"%expman export --format parquet --out {parquet}").content["status"] == "ok"
    assert parquet.read_bytes()[:4] == b"PAR1"
    binary = recorded.execute("%expman runs --format parquet")
    assert binary.content["status"] == "error" and "--out" in binary.content["evalue"]


def test_plot_by_trial_has_bands_and_out_writes_the_chart(recorded, tmp_path):
    out = tmp_path / "loss.svg"
    ex = recorded.execute(f"%expman plot loss --by trial --out {out}")
    assert ex.content["status"] == "ok", ex.describe()
    assert out.read_text().lstrip().startswith("<svg")
    spec = ex.result()["application/vnd.vegalite.v5+json"]
    values = spec["data"]["values"]
    # Mean ± std across the two repeats: a band per trial.
    assert all({"lo", "hi"} <= set(v) for v in values if v.get("series") in ("alpha", "beta")), values[:3]
    marks = json.dumps(spec["layer"])
    assert '"area"' in marks and '"line"' in marks, marks
    # One legend: no layer turns it off (Vega-Lite would then hide the merged legend).
    assert all(layer["encoding"]["color"].get("legend") is not None for layer in spec["layer"]), marks


def test_a_cell_may_mix_magics_and_shell_commands(recorded):
    ex = recorded.execute("!echo first\n%expman runs --limit 1 --columns trial\n!echo last")
    assert ex.content["status"] == "ok", ex.describe()
    assert ex.stream() == "first\nlast\n"
    assert "1 row" in ex.result()["text/plain"]
    complete_reply = recorded.kc.is_complete("!ls\n%expman runs")
    assert recorded.reply(complete_reply, timeout=10)["content"]["status"] == "complete"


def test_completion_inside_a_quoted_filter_and_of_run_ids(recorded):
    reply = complete(recorded, "%expman runs \"metrics.lo")
    assert reply["matches"] == ["metrics.loss"] or set(reply["matches"]) >= {"metrics.loss"}, reply
    assert reply["cursor_start"] == len('%expman runs "'), reply
    ids = [i[:8] for i, _ in run_ids(recorded)]
    shown = complete(recorded, "%expman show ")["matches"]
    assert sorted(shown) == sorted(ids), "show takes a run, not a trial"
    assert complete(recorded, "%%expman ")["matches"] == ["run", "sql"]
    assert complete(recorded, "%expman metrics alpha --keys ")["matches"] == ["acc", "loss"]


def test_hw_watch_updates_one_display_in_place(kernel):
    ex = kernel.execute("%expman hw --watch 1.2 --interval 300ms", timeout=30)
    assert ex.content["status"] == "ok", ex.describe()
    (shown,) = ex.of_type("display_data")
    display_id = shown["content"]["transient"]["display_id"]
    updates = ex.of_type("update_display_data")
    assert len(updates) >= 2, [m["msg_type"] for m in ex.outputs]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    assert "cpu" in updates[-1]["content"]["data"]["text/plain"]


# --- the team database --------------------------------------------------------------


def fresh_team_database(name):
    """A fresh database `expman_<name>` on the MariaDB tests/run.sh started; its URL."""
    server = os.environ["EXPMAN_TEST_MARIADB"]
    host, port = re.match(r"mysql://[^@]+@([^:/]+):(\d+)/", server).groups()
    user = re.match(r"mysql://([^@]+)@", server).group(1)
    database = f"expman_{name}"
    subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", user,
         "-e", f"DROP DATABASE IF EXISTS `{database}`; CREATE DATABASE `{database}`"],
        env={**os.environ, "MYSQL_PWD": os.environ["EXPMAN_DB_PASSWORD"]},
        check=True,
    )
    return f"{server.rsplit('/', 1)[0]}/{database}"


def team_env(directory, url):
    (directory / "env.yaml").write_text(
        f'workspace: out\nhardware: {{interval: 500ms, gpu: off}}\n'
        f'database: {{type: mysql, url: "{url}", password: "${{env:EXPMAN_DB_PASSWORD}}"}}\n'
    )


@pytest.mark.skipif(not os.environ.get("EXPMAN_TEST_MARIADB"), reason="needs the MariaDB tests/run.sh starts")
def test_a_run_cell_records_into_the_team_database_and_another_workspace_reads_it(kernel, helpers):
    url = fresh_team_database("kernel")
    exp = helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n  repeat: 2\n", epochs=3, sleep_ms=20)
    team_env(exp, url)
    ex = kernel.execute("%%expman run --dir exp", timeout=60)
    assert ex.content["status"] == "ok", ex.describe()
    assert "experiment `exp`: 2 SUCCESS" in ex.stream()
    # A second config directory that has run nothing reads the team's runs.
    other = helpers.write_experiment(kernel.cwd / "other", "- name: x\n")
    team_env(other, url)
    ex = kernel.execute("%expman runs --dir other --all-experiments")
    assert ex.content["status"] == "ok", ex.describe()
    text = ex.result()["text/plain"]
    assert text.count("SUCCESS") == 2 and text.count("alpha") == 2, text
    ids = [r["uid"] for r in helpers.record_runs(exp / "out" / "expman.db")]
    assert all(i[:8] in text for i in ids), (ids, text)
    assert (other / "out" / ".expman" / "team.db").is_file()


def test_artifacts_and_lineage_magics_use_the_cli_s_commands(kernel, helpers, tmp_path):
    trials = """\
    - name: made
      settings: {pipeline.command: [%s, --epochs, "1", --artifact, "model.txt"]}
    """ % helpers.fake_trial
    helpers.write_experiment(kernel.cwd / "art", trials)
    ran = kernel.execute("%%expman run --dir art", timeout=60)
    assert ran.content["status"] == "ok", ran.describe()
    ids = kernel.execute("%expman runs --dir art --columns id,trial --format csv").stream().strip().splitlines()[1:]
    run_id = next(line.split(",")[0] for line in ids if line.endswith(",made"))
    listed = kernel.execute(f"%expman artifacts list {run_id} --dir art").result()["text/plain"]
    assert "model.txt" in listed and "stored" in listed, listed
    out = tmp_path / "model.txt"
    got = kernel.execute(f"%expman artifacts get {run_id} model.txt --out {out} --dir art")
    assert got.content["status"] == "ok", got.describe()
    assert "SHA-256 checked" in got.result()["text/plain"]
    assert out.is_file()
    refused = kernel.execute(f"%expman artifacts get {run_id} model.txt --out - --dir art")
    assert refused.content["status"] == "error" and "standard output" in refused.error()["evalue"], refused.describe()
    missing = kernel.execute(f"%expman artifacts get {run_id} ../../secret --out {tmp_path / 'x'} --dir art")
    assert missing.content["status"] == "error" and "recorded no artifact" in missing.error()["evalue"]
    lineage = kernel.execute(f"%expman lineage {run_id} --dir art").result()["text/plain"]
    assert run_id in lineage and "used by:" in lineage, lineage
