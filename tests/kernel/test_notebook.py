"""The tutorial notebook, examples/quickstart.ipynb, executed headless with
nbclient against the real kernel, as `jupyter nbconvert --execute` would.

The notebook and a clean copy of examples/quickstart/ (no outputs/) go to a
scratch directory, the kernel's working directory; the notebook runs the
whole quickstart experiment (10 runs of train.py and a search of 12), queries the record,
compares, plots, runs SQL, adds a trial from a YAML cell and lists the
workspace. Each test checks one part of the executed notebook's outputs.

nbclient applies an `update_display_data` to the output that the
`display_data` with the same `display_id` created (it replaces that
output's data in place, nbclient/client.py `_update_display_id`), so the
run cell's first output holds the live table's final state.

Set EXPMAN_KEEP_NOTEBOOK=PATH to keep the executed notebook (docs/screenshots.sh
uses it).
"""

import json
import os
import pathlib
import re
import shutil
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient

# conftest.py (loaded by pytest first) installed the "expman" kernelspec into
# a scratch JUPYTER_PATH; not imported here, as tests/lsp has a conftest too.
REPO = pathlib.Path(__file__).resolve().parents[2]
KERNEL_NAME = "expman"
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
EXPERIMENT = REPO / "examples" / "quickstart"

SWEEP_CHILDREN = [
    "lr_sweep[training.lr=0.1,model.l2=0.0]",
    "lr_sweep[training.lr=0.1,model.l2=0.01]",
    "lr_sweep[training.lr=0.3,model.l2=0.0]",
    "lr_sweep[training.lr=0.3,model.l2=0.01]",
]
FINISHED = {"SUCCESS", "EARLY_STOPPED"}


@pytest.fixture(scope="module")
def executed():
    """The notebook after running every cell (nbclient raises on a cell error)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="expman-notebook-"))
    try:
        shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
        shutil.copytree(
            EXPERIMENT,
            work / EXPERIMENT.name,
            ignore=shutil.ignore_patterns("outputs", "__pycache__", "*.db", "*.db-wal", "*.db-shm"),
        )
        nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name=KERNEL_NAME,
            timeout=300,
            startup_timeout=60,
            resources={"metadata": {"path": str(work)}},
        )
        client.execute()
        keep = os.environ.get("EXPMAN_KEEP_NOTEBOOK")
        if keep:
            pathlib.Path(keep).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, keep)
        yield nb, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cell(nb, source_start):
    """The one code cell whose source starts with `source_start`."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    assert len(found) == 1, f"{len(found)} code cells start with {source_start!r}"
    return found[0]


def cell_exact(nb, source):
    """The one code cell whose source is exactly `source`."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == source]
    assert len(found) == 1, f"{len(found)} code cells are {source!r}"
    return found[0]


def outputs(c, output_type):
    return [o for o in c.outputs if o.output_type == output_type]


def stdout(c):
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def body_rows(html):
    """The rows of the (first) HTML table's body, each a list of cell texts."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def header(html):
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [re.sub(r"<small>.*?</small>|<[^>]+>", "", th) for th in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


def column(html, name):
    cols = header(html)
    assert name in cols, f"no column {name!r} in {cols}"
    i = cols.index(name)
    return [row[i] for row in body_rows(html)]


def test_the_stored_notebook_is_clean_and_names_the_kernel():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "expman"
    assert nb.metadata.kernelspec.display_name == "expman"
    assert nb.metadata.language_info.name == "expman"
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"stored with outputs: {c.source[:40]!r}"


def test_every_cell_ran_without_errors(executed):
    nb, _ = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    for c in code:
        assert not outputs(c, "error"), c.source
        stderr = [o.text for o in outputs(c, "stream") if o.name == "stderr"]
        assert not stderr, f"{c.source.splitlines()[0]}: stderr {stderr}"


def test_the_run_cell_live_table_ends_with_every_run_finished(executed):
    nb, _ = executed
    c = cell_exact(nb, "%%expman run --dir quickstart")
    displays = outputs(c, "display_data")
    # The live table (updated in place, so one output, not one per update),
    # then the per-trial summary.
    assert len(displays) == 2, [d.data.get("text/plain", "")[:80] for d in displays]
    live = displays[0].data
    # 10 planned runs and the 12 of the `tune` trial's search.
    assert live["text/plain"].startswith("experiment `quickstart`: 22 of 22 done, 0 running, 0 queued"), live[
        "text/plain"
    ][:200]
    html = live["text/html"]
    assert "22 of 22 done, 0 running, 0 queued" in html
    # The search's line: how far it is, its best so far.
    assert re.search(r"search `tune`: 12 of 12 suggested \(\d+ complete, \d+ pruned\); best val_loss", html), html[-2000:]
    rows = body_rows(html)
    assert len(rows) == 22
    statuses = column(html, "status")
    assert set(statuses) <= FINISHED | {"PRUNED"}, statuses
    trials = column(html, "trial")
    assert len([t for t in trials if t.startswith("tune[")]) == 12
    assert trials.count("baseline") == 3 and trials.count("small_model") == 3
    assert sorted(t for t in trials if t.startswith("lr_sweep[")) == sorted(SWEEP_CHILDREN)
    repeats = [r for t, r in zip(trials, column(html, "repeat")) if t == "baseline"]
    assert sorted(repeats) == ["1/3", "2/3", "3/3"]
    # No intermediate state was left behind in any output.
    for o in c.outputs:
        text = o.get("text") or o.get("data", {}).get("text/plain", "")
        assert "running" not in text or "0 running" in text, text[:200]


def test_the_live_table_ends_with_each_runs_final_metrics(executed):
    nb, _ = executed
    live = outputs(cell_exact(nb, "%%expman run --dir quickstart"), "display_data")[0].data["text/html"]
    runs = outputs(cell_exact(nb, "%expman runs"), "execute_result")[0].data["text/html"]
    final = dict(zip(column(runs, "id"), column(runs, "metrics.val_loss")))
    shown = dict(zip(column(live, "run"), column(live, "val_loss")))
    assert shown == final


def test_the_run_cell_ends_with_a_per_trial_summary(executed):
    nb, _ = executed
    c = cell_exact(nb, "%%expman run --dir quickstart")
    summary = outputs(c, "display_data")[1].data
    html = summary["text/html"]
    assert header(html)[:3] == ["trial", "runs", "status"]
    assert {"val_loss", "val_acc", "train_loss", "train_acc"} <= set(header(html))
    trials = column(html, "trial")
    assert trials[:6] == ["baseline", "small_model", *SWEEP_CHILDREN]
    assert column(html, "runs")[:6] == ["3", "3", "1", "1", "1", "1"]
    assert len([t for t in trials[6:] if t.startswith("tune[")]) == 12
    # Repeated trials show mean ± std.
    assert "±" in column(html, "val_loss")[0]
    out = stdout(c)
    assert re.search(r"^best run: \w+ \(.+, repeat \d\) with val_loss = [0-9.]+ \(lower is better\)$", out, re.M), out
    final = re.search(r"^experiment `quickstart`: (.*); record: (.*)$", out, re.M)
    assert final, out
    counts = dict((status, int(n)) for n, status in re.findall(r"(\d+) ([A-Z_]+)", final.group(1)))
    assert set(counts) <= FINISHED | {"PRUNED"} and sum(counts.values()) == 22, final.group(1)
    assert re.search(r"^search `tune`: 12 of 12 suggested", out, re.M), out
    assert final.group(2).endswith("expman.db")


def test_runs_is_an_html_table_as_the_cell_result(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman runs")
    (result,) = outputs(c, "execute_result")
    assert result.execution_count == c.execution_count
    html = result.data["text/html"]
    assert len(body_rows(html)) == 22
    assert {"id", "trial", "status", "metrics.val_loss"} <= set(header(html))
    assert set(column(html, "status")) <= FINISHED | {"PRUNED"}
    assert "22 rows" in result.data["text/plain"]


def test_search_shows_the_best_run_its_history_and_importance(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman search")
    (result,) = outputs(c, "execute_result")
    text = result.data["text/plain"]
    assert text.startswith("search `tune` (experiment `quickstart`): TPE search for min val_loss"), text[:300]
    assert re.search(r"^12 of 12 suggested: \d+ complete, \d+ pruned", text, re.M), text
    assert re.search(r"^best val_loss [0-9.]+: run \w+ \(tune\[training\.lr=", text, re.M), text
    history = text.split("\nhistory\n")[1].split("\n\nimportance")[0]
    assert len([line for line in history.splitlines() if re.match(r"^\s*\d+\s+\w{8}\s", line)]) == 12, history
    assert re.search(r"^  training\.lr\s+[01]\.\d\d", text, re.M), text


def test_plot_history_draws_the_best_so_far(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman plot --history")
    (result,) = outputs(c, "execute_result")
    spec = result.data["application/vnd.vegalite.v5+json"]
    if isinstance(spec, str):
        spec = json.loads(spec)
    values = [v for v in spec["data"]["values"] if v["series"] == "tune"]
    ys = [v["y"] for v in sorted(values, key=lambda v: v["x"])]
    assert ys and all(b <= a for a, b in zip(ys, ys[1:])), ys  # best so far only falls
    assert "best val_loss so far" in result.data["text/plain"]


def test_summary_gives_per_trial_statistics_and_the_best_runs(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman summary --metric val_loss")
    stats = outputs(c, "display_data")[0].data["text/html"]
    assert {"trial", "n", "mean", "std", "ci95_low", "ci95_high"} <= set(header(stats))
    assert column(stats, "trial")[:2] == ["baseline", "small_model"]
    assert column(stats, "n")[:2] == ["3", "3"]
    (best,) = outputs(c, "execute_result")
    assert {"trial", "best run", "val_loss"} <= set(header(best.data["text/html"]))
    assert "lower is better" in stdout(c)
    assert re.search(r"best overall: run \w+ \(.+\) with val_loss = [0-9.]+", stdout(c)), stdout(c)


def test_compare_states_a_verdict_in_words(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman compare baseline small_model --metric val_loss")
    (result,) = outputs(c, "execute_result")
    text = result.data["text/plain"]
    verdict, difference, note = text.splitlines()
    # core/query/src/stats.rs `Comparison::verdict`: "A is better than B on M: ..."
    # when p < 0.05, else "no significant difference between A and B on M: ...".
    assert re.match(
        r"^((baseline|small_model) is better than (baseline|small_model)|no significant difference between "
        r"(baseline|small_model) and (baseline|small_model)) on val_loss: .* vs .*, p (= [0-9.]+|< 0.001), n = 3 vs 3",
        verdict,
    ), verdict
    # The data are deterministic (fixed seeds): a 10x smaller learning rate
    # is clearly worse after 40 epochs.
    assert verdict.startswith("baseline is better than small_model on val_loss"), verdict
    assert difference.startswith("difference of means (baseline − small_model): -") and "95% CI" in difference
    assert "lower is better" in note
    # Front ends that render Markdown show the verdict in bold.
    assert result.data["text/markdown"].startswith("**baseline is better than small\\_model")


def test_plot_is_vega_lite_with_an_svg_fallback(executed):
    nb, _ = executed
    c = cell_exact(nb, "%expman plot val_loss --x epoch")
    (result,) = outputs(c, "execute_result")
    data = result.data
    spec = data["application/vnd.vegalite.v5+json"]
    if isinstance(spec, str):
        spec = json.loads(spec)
    assert "vega-lite/v5" in spec["$schema"]
    series = {v["series"] for v in spec["data"]["values"]}
    assert {"baseline", "small_model"} <= series
    xs = [v["x"] for v in spec["data"]["values"] if v["series"] == "baseline"]
    assert min(xs) == 0 and max(xs) >= 20  # epochs
    svg = data["image/svg+xml"]
    assert svg.lstrip().startswith("<svg") and "val_loss" in svg
    assert "val_loss" in data["text/plain"]


def test_sql_gives_a_table(executed):
    nb, _ = executed
    c = cell(nb, "%%expman sql\n")
    (result,) = outputs(c, "execute_result")
    html = result.data["text/html"]
    assert header(html) == ["trial", "lr", "l2", "runs", "mean_val_loss", "best_val_acc"]
    trials = column(html, "trial")
    assert sorted(t for t in trials if not t.startswith("tune[")) == sorted(["baseline", "small_model", *SWEEP_CHILDREN])
    assert len([t for t in trials if t.startswith("tune[")]) == 12
    means = [float(v) for v in column(html, "mean_val_loss")]
    assert means == sorted(means)  # ORDER BY mean_val_loss
    runs = dict(zip(column(html, "trial"), column(html, "runs")))
    assert runs["baseline"] == "3" and runs["small_model"] == "3"


def test_a_yaml_cell_adds_a_trial_over_the_directory(executed):
    nb, _ = executed
    c = cell(nb, "%%expman run --dir quickstart\n- name: lr_fast")
    live = outputs(c, "display_data")[0].data
    assert live["text/plain"].startswith("experiment `quickstart`: 1 of 1 done"), live["text/plain"][:200]
    assert column(live["text/html"], "trial") == ["lr_fast"]
    assert column(live["text/html"], "status")[0] in FINISHED
    assert re.search(r"^experiment `quickstart`: 1 (SUCCESS|EARLY_STOPPED);", stdout(c), re.M), stdout(c)
    # It joined the same record: the ranking after it lists lr_fast with its settings.
    after = cell(nb, "%expman runs --order-by metrics.val_loss")
    html = outputs(after, "execute_result")[0].data["text/html"]
    rows = dict(zip(column(html, "trial"), zip(column(html, "params.training.lr"), column(html, "params.training.epochs"))))
    assert rows.get("lr_fast") == ("0.3", "15"), rows
    losses = [float(v) for v in column(html, "metrics.val_loss")]
    assert losses == sorted(losses) and len(losses) == 5


def test_shell_lists_the_workspace(executed):
    nb, work = executed
    c = cell(nb, "!ls quickstart/outputs")
    out = stdout(c)
    assert "expman.db" in out
    for trial in ["baseline", "small_model", "lr_fast"]:
        assert trial in out
    # The runs wrote into the scratch copy, not into the repository's example.
    assert (work / "quickstart" / "outputs" / "expman.db").is_file()
