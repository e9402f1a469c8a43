"""`%load_ext expman` in IPython's own kernel (ipykernel), driven by real
Jupyter clients: jupyter_client for the messages (the live run table is one
display updated in place by its id) and nbclient for a whole notebook whose
`runs = %expman runs` cell puts a polars DataFrame in a variable."""

import os
import queue
import textwrap
import time

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

WAIT = 90.0


def write_experiment(directory, fake_trial):
    directory.mkdir()
    (directory / "env.yaml").write_text("workspace: out\nhardware: {interval: 500ms, gpu: off}\n")
    (directory / "experiment.yaml").write_text("name: ipy\n")
    (directory / "base.yaml").write_text(
        f'seed: 1\npipeline:\n  command: [{fake_trial}, --epochs, "6", --sleep-ms, "120"]\n'
    )
    (directory / "trials.yaml").write_text("- name: alpha\n- name: beta\n")


@pytest.fixture
def ipykernel(workdir):
    """IPython's kernel (the `python3` kernel of this virtualenv) in `workdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPMAN_")}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(workdir), env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=WAIT)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code):
    """Runs `code`; returns the reply and the cell's IOPub messages."""
    msg_id = kc.execute(code)
    messages = []
    deadline = time.time() + WAIT
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        messages.append(msg)
    # The reply to this request (not one left over from an earlier one
    # whose wait ran out on a loaded machine).
    while True:
        reply = kc.get_shell_msg(timeout=WAIT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], messages


def test_run_cell_updates_one_display_and_runs_is_a_dataframe(ipykernel, workdir, expman_bin):
    write_experiment(workdir / "exp", expman_bin.parent / "fake-trial")
    reply, _ = execute(ipykernel, "%load_ext expman")
    assert reply["status"] == "ok"

    # IPython refuses a cell magic without a body: without one, it is the line magic.
    reply, messages = execute(ipykernel, "%expman run --dir exp")
    assert reply["status"] == "ok", reply
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    live_id = displays[0]["content"]["transient"]["display_id"]
    live_updates = [u for u in updates if u["content"]["transient"]["display_id"] == live_id]
    assert len(live_updates) >= 2, "the live table is updated in place while the runs go"
    last = live_updates[-1]["content"]["data"]
    assert "text/html" in last and "SUCCESS" in last["text/plain"]
    texts = "".join(str(m["content"].get("data", {}).get("text/plain", "")) + m["content"].get("text", "") for m in messages)
    assert "2 SUCCESS" in texts, texts

    reply, _ = execute(ipykernel, "runs = %expman runs")
    assert reply["status"] == "ok", reply
    reply, messages = execute(ipykernel, "print(type(runs).__module__.split('.')[0], type(runs).__name__, runs.height, sorted(runs['trial']))")
    out = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert out.strip() == "polars DataFrame 2 ['alpha', 'beta']"

    reply, messages = execute(ipykernel, "%expman runs --limt 1")
    assert reply["status"] == "error" and reply["ename"] == "UsageError", (reply, messages)
    assert "--limit" in reply["evalue"]


def test_a_notebook_with_the_extension_runs_under_nbclient(workdir, expman_bin):
    write_experiment(workdir / "exp", expman_bin.parent / "fake-trial")
    cells = [
        "%load_ext expman",
        "%%expman run --dir exp\n- name: gamma\n",
        "runs = %expman runs",
        "best = runs.sort('trial').select('trial', 'status')\nprint(best.rows())",
        textwrap.dedent(
            """\
            import expman
            with expman.start_experiment(name="in-notebook", workspace="exp/out", experiment="ipy") as run:
                run.log_metric("loss", 0.5)
            print(expman.runs(workspace="exp/out").height)
            """
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env_before = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("EXPMAN_")}
    try:
        NotebookClient(nb, kernel_name="python3", timeout=int(WAIT), resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        os.environ.update(env_before)
    run_outputs = nb.cells[1].outputs
    assert any(o.get("output_type") == "display_data" for o in run_outputs)
    printed = "".join(o.get("text", "") for o in nb.cells[3].outputs)
    # The cell's body is the trials to run instead of trials.yaml's.
    assert printed.strip() == "[('gamma', 'SUCCESS')]"
    assert "".join(o.get("text", "") for o in nb.cells[4].outputs).strip() == "2"
