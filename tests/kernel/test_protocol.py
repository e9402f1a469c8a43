"""The expman kernel's side of the Jupyter messaging protocol, driven by a
real client (jupyter_client's KernelManager and BlockingKernelClient, and
raw pyzmq sockets for messages no well-behaved client sends). Each test
starts its own kernel in a scratch directory.

Checks: the live table of a run cell (display_data, then
update_display_data with the same display_id, then a summary display, all
children of the execute_request); the stop button (interrupt_request on
the control channel) during runs, also runs that ignore SIGTERM, and
during a shell command; shutdown on the control and the shell channel,
also while trials run; badly signed, malformed and unknown messages;
1,000 requests sent back to back; busy/idle around every request;
execution counts (store_history, silent); history; stop_on_error;
comms; the heartbeat; cursor offsets in code points."""

import json
import os
import pathlib
import queue
import subprocess
import time
import uuid

import pytest
import zmq
from jupyter_client.session import Session

# Trials that run for 20 s unless stopped: long enough that a test stops
# them, never so long that a broken stop leaves them for minutes.
LONG_EPOCHS, LONG_SLEEP_MS = 200, 100


def plain(msg):
    return msg["content"]["data"]["text/plain"]


def display_id(msg):
    return msg["content"]["transient"]["display_id"]


def is_update_showing(text):
    """Predicate: an update_display_data whose text shows `text`."""
    return lambda m: m["msg_type"] == "update_display_data" and text in plain(m)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def trial_process_gone(pid):
    """Whether the process `pid` (a trial) is gone (or the pid reused by another program)."""
    try:
        return b"fake-trial" not in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return True


def raw_socket(kernel, channel, socket_type=zmq.DEALER):
    info = kernel.km.get_connection_info()
    sock = zmq.Context.instance().socket(socket_type)
    sock.linger = 0
    sock.connect(f"tcp://{info['ip']}:{info[channel + '_port']}")
    return sock


def good_session(kernel):
    info = kernel.km.get_connection_info()
    return Session(key=info["key"], signature_scheme=info["signature_scheme"], username="test")


def recv_reply(sock, session, timeout_ms):
    """The next message on a raw socket, deserialized, or None."""
    if not sock.poll(timeout_ms):
        return None
    _, parts = session.feed_identities(sock.recv_multipart())
    return session.deserialize(parts)


# --- the live table -----------------------------------------------------------


def test_run_cell_shows_a_live_table_updated_in_place_then_a_summary(kernel, helpers):
    helpers.write_experiment(
        kernel.cwd / "exp",
        """\
        - name: alpha
          repeat: 2
        - name: beta
        """,
        epochs=4,
        sleep_ms=50,
    )
    ex = kernel.execute("%%expman run --dir exp", timeout=60)
    assert ex.content["status"] == "ok", ex.describe()

    # Every message of the cell is a child of its execute_request, from busy to idle.
    assert all(m["parent_header"]["msg_id"] == ex.msg_id for m in ex.iopub)
    assert ex.iopub[0]["msg_type"] == "status" and ex.iopub[0]["content"]["execution_state"] == "busy"
    assert ex.iopub[-1]["msg_type"] == "status" and ex.iopub[-1]["content"]["execution_state"] == "idle"
    assert ex.of_type("error") == []

    outputs = ex.outputs
    kinds = [m["msg_type"] for m in outputs]
    first = kinds.index("display_data")
    table = outputs[first]
    table_id = display_id(table)
    assert table_id
    assert {"text/plain", "text/html"} <= set(table["content"]["data"])
    assert "experiment `exp`" in plain(table)

    updates = ex.of_type("update_display_data")
    assert updates, f"no update_display_data: {kinds}"
    # Only the live table is updated, always by the id its display_data gave.
    assert {display_id(u) for u in updates} == {table_id}
    # The last state: every run done and a success.
    last = plain(updates[-1])
    assert "3 of 3 done, 0 running, 0 queued" in last, last
    assert last.count("SUCCESS") == 3, last
    assert "RUNNING" not in last
    assert "alpha" in last and "beta" in last
    assert "<table" in updates[-1]["content"]["data"]["text/html"]

    # Then a new display (another id) with the per-trial summary, after the last update.
    last_update = max(i for i, k in enumerate(kinds) if k == "update_display_data")
    summaries = [m for m in outputs[last_update + 1 :] if m["msg_type"] == "display_data"]
    assert len(summaries) == 1, kinds
    summary = summaries[0]
    assert display_id(summary) != table_id
    text = plain(summary)
    assert "alpha" in text and "beta" in text
    assert "2 SUCCESS" in text and "1 SUCCESS" in text, text
    assert "experiment `exp`: 3 SUCCESS" in ex.stream("stdout")


def test_live_table_updates_go_to_a_background_cell_after_it_returned(kernel, helpers):
    helpers.write_experiment(kernel.cwd / "exp", "- name: alpha\n", epochs=6, sleep_ms=50)
    ex = kernel.execute("%%expman run --dir exp --background")
    assert ex.content["status"] == "ok", ex.describe()
    (table,) = ex.of_type("display_data")
    # The cell is over; its table keeps changing, still as its child.
    final = kernel.wait_iopub(is_update_showing("1 of 1 done"), timeout=30)
    assert final["parent_header"]["msg_id"] == ex.msg_id
    assert display_id(final) == display_id(table)
    assert "SUCCESS" in plain(final)


# --- the stop button -------------------------------------------------------------


def start_long_runs(kernel, helpers, trials):
    """Starts a run cell of long trials and waits until the live table shows one RUNNING."""
    helpers.write_experiment(kernel.cwd / "exp", trials, epochs=LONG_EPOCHS, sleep_ms=LONG_SLEEP_MS)
    msg_id = kernel.kc.execute("%%expman run --dir exp")
    kernel.wait_iopub(
        lambda m: m["parent_header"].get("msg_id") == msg_id
        and m["msg_type"] == "update_display_data"
        and "RUNNING" in plain(m),
        timeout=30,
    )
    return msg_id


def test_interrupt_stops_the_runs_and_the_kernel_goes_on(kernel, helpers):
    msg_id = start_long_runs(
        kernel,
        helpers,
        """\
        - name: alpha
          repeat: 2
        - name: beta
        """,
    )
    # The control channel answers at once while the cell runs.
    started = time.monotonic()
    assert kernel.kernel_info(channel="control", timeout=5)["status"] == "ok"
    assert time.monotonic() - started < 5

    interrupt = kernel.send("interrupt_request", {}, channel="control")
    assert kernel.reply(interrupt, "control", timeout=5)["content"]["status"] == "ok"
    stopped = time.monotonic()
    ex = kernel.finish(msg_id, timeout=30)
    # fake-trial ends on SIGTERM: the cell ends well within the 10 s default grace period.
    assert time.monotonic() - stopped < 10
    assert ex.content["status"] == "error"
    assert ex.content["ename"] == "Interrupted"
    assert ex.error()["ename"] == "Interrupted"
    last = plain(ex.of_type("update_display_data")[-1])
    assert "RUNNING" not in last and "KILLED" in last, last

    runs = helpers.record_runs(kernel.cwd / "exp" / "out" / "expman.db")
    assert [r["status"] for r in runs] == ["KILLED"] * 3, runs
    for r in runs:
        if r["pid"]:
            wait_until(lambda: trial_process_gone(r["pid"]), 5, f"trial process {r['pid']} to end")

    # Still serving, with its state: a new cell runs and sees the record.
    assert kernel.kernel_info()["status"] == "ok"
    after = kernel.execute("%expman runs")
    assert after.content["status"] == "ok", after.describe()
    assert plain_result(after).count("KILLED") == 3
    assert after.content["execution_count"] == ex.content["execution_count"] + 1


def plain_result(ex):
    return ex.result()["text/plain"]


@pytest.mark.skipif(
    not os.environ.get("EXPMAN_TEST_SLURM"), reason="needs the Slurm cluster tests/run.sh starts"
)
def test_interrupt_cancels_slurm_jobs(kernel, helpers):
    directory = helpers.write_experiment(
        kernel.cwd / "exp", "- name: on_slurm\n  repeat: 2\n", epochs=LONG_EPOCHS, sleep_ms=LONG_SLEEP_MS
    )
    (directory / "env.yaml").write_text(
        "workspace: out\nresources: {executor: slurm, cpus_per_run: 1}\nhardware: {interval: 500ms, gpu: off}\n"
    )
    msg_id = kernel.kc.execute("%%expman run --dir exp")
    kernel.wait_iopub(
        lambda m: m["parent_header"].get("msg_id") == msg_id
        and m["msg_type"] == "update_display_data"
        and plain(m).count("RUNNING") >= 2,
        timeout=60,
    )
    db = kernel.cwd / "exp" / "out" / "expman.db"
    jobs = [r["job_id"] for r in helpers.record_runs(db)]
    assert all(jobs), jobs

    def slurm_state(job):
        out = subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True, text=True)
        return out.stdout.strip()

    wait_until(lambda: all(slurm_state(j) == "RUNNING" for j in jobs), 60, "both jobs to run on the cluster")
    kernel.send("interrupt_request", {}, channel="control")
    ex = kernel.finish(msg_id, timeout=60)
    assert ex.content["ename"] == "Interrupted", ex.describe()
    runs = helpers.record_runs(db)
    assert [r["status"] for r in runs] == ["KILLED"] * 2, runs
    # Slurm cancelled them: nothing of this cell is left queued or running.
    for job in jobs:
        wait_until(lambda job=job: slurm_state(job) not in ("RUNNING", "PENDING", "COMPLETING"), 30, f"job {job} to end")
    for r in runs:
        # Slurm's step daemon says so in the job's stderr.
        stderr = pathlib.Path(r["run_dir"]) / "stderr.log"
        wait_until(lambda stderr=stderr: "CANCELLED AT" in stderr.read_text(), 10, f"the cancel in {stderr}")
    assert kernel.execute("!echo alive").stream() == "alive\n"


def test_interrupt_kills_runs_that_ignore_sigterm_after_their_grace_period(kernel, helpers):
    stubborn = (
        f'{{pipeline.command: [{helpers.fake_trial}, --epochs, "{LONG_EPOCHS}", --sleep-ms, "{LONG_SLEEP_MS}", '
        "--ignore-sigterm], pipeline.grace_period: 1s}"
    )
    msg_id = start_long_runs(kernel, helpers, f"- name: stubborn\n  settings: {stubborn}\n")
    kernel.send("interrupt_request", {}, channel="control")
    stopped = time.monotonic()
    ex = kernel.finish(msg_id, timeout=30)
    took = time.monotonic() - stopped
    assert ex.content["ename"] == "Interrupted", ex.describe()
    # SIGTERM is ignored; SIGKILL comes after the 1 s grace period, not the default 10 s.
    assert 0.9 <= took < 8, took
    (run,) = helpers.record_runs(kernel.cwd / "exp" / "out" / "expman.db")
    assert run["status"] == "KILLED"
    assert run["signal"] == 9, run
    wait_until(lambda: trial_process_gone(run["pid"]), 5, "the stubborn trial to end")
    assert kernel.execute("!echo alive").stream() == "alive\n"


def test_interrupt_stops_a_shell_command(kernel):
    msg_id = kernel.kc.execute("!echo started; sleep 30; echo never")
    kernel.wait_iopub(lambda m: m["msg_type"] == "stream" and "started" in m["content"]["text"], timeout=10)
    kernel.send("interrupt_request", {}, channel="control")
    stopped = time.monotonic()
    ex = kernel.finish(msg_id, timeout=15)
    # SIGINT to the command's process group (SIGKILL after 2 s at worst).
    assert time.monotonic() - stopped < 5
    assert "never" not in ex.stream()
    assert kernel.execute("!echo next").stream() == "next\n"


def test_interrupt_while_idle_is_answered_and_harmless(kernel):
    interrupt = kernel.send("interrupt_request", {}, channel="control")
    assert kernel.reply(interrupt, "control", timeout=5)["content"] == {"status": "ok"}
    # The flag of an old interrupt does not stop the next cell.
    ex = kernel.execute("!echo one\n!echo two")
    assert ex.content["status"] == "ok"
    assert ex.stream() == "one\ntwo\n"


# --- shutdown --------------------------------------------------------------------


def test_shutdown_on_the_control_channel(kernel):
    proc = kernel.process
    msg_id = kernel.send("shutdown_request", {"restart": False}, channel="control")
    reply = kernel.reply(msg_id, "control", timeout=5)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"] == {"status": "ok", "restart": False}
    kernel.idle(msg_id, timeout=5)
    # The kernel leaves by itself (nobody kills it).
    assert proc.wait(timeout=5) == 0
    assert not kernel.km.is_alive()


def test_shutdown_is_prompt_when_nothing_runs(kernel):
    # Nothing runs: the kernel has nothing to wait for. (Jupyter sets
    # JPY_PARENT_PID for every kernel, so the parent watcher is on here.)
    proc = kernel.process
    kernel.send("shutdown_request", {"restart": False}, channel="control")
    started = time.monotonic()
    proc.wait(timeout=10)
    took = time.monotonic() - started
    assert took < 1.0, f"an idle kernel took {took:.2f}s to exit after shutdown_reply"


def test_shutdown_on_the_shell_channel_echoes_restart(kernel):
    proc = kernel.process
    msg_id = kernel.send("shutdown_request", {"restart": True}, channel="shell")
    assert kernel.reply(msg_id, timeout=5)["content"] == {"status": "ok", "restart": True}
    assert proc.wait(timeout=5) == 0


def test_shutdown_while_trials_run_stops_them(kernel, helpers):
    msg_id = start_long_runs(kernel, helpers, "- name: alpha\n- name: beta\n")
    proc = kernel.process
    shutdown = kernel.send("shutdown_request", {"restart": False}, channel="control")
    assert kernel.reply(shutdown, "control", timeout=5)["content"]["status"] == "ok"
    # The running cell still gets its reply, then the kernel exits.
    assert kernel.reply(msg_id, timeout=15)["content"]["ename"] == "Interrupted"
    assert proc.wait(timeout=15) == 0
    runs = helpers.record_runs(kernel.cwd / "exp" / "out" / "expman.db")
    assert [r["status"] for r in runs] == ["KILLED", "KILLED"], runs
    for r in runs:
        wait_until(lambda: trial_process_gone(r["pid"]), 5, f"trial process {r['pid']} to end")


# --- bad messages ------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_badly_signed_messages_are_dropped(kernel, channel):
    sock = raw_socket(kernel, channel)
    try:
        good = good_session(kernel)
        forged = [
            Session(key=b"not-the-key", username="mallory"),
            Session(key=b"", username="mallory"),  # no signature at all
        ]
        sent = []
        for session in forged:
            msg = session.msg("kernel_info_request", {})
            session.send(sock, msg)
            sent.append(msg["header"]["msg_id"])
        # A signed message whose content was changed after signing.
        msg = good.msg("execute_request", {"code": "!echo signed", "silent": False, "store_history": True,
                                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        parts = good.serialize(msg)
        delim = parts.index(b"<IDS|MSG>")
        parts[delim + 5] = json.dumps({**msg["content"], "code": "!echo tampered"}).encode()
        sock.send_multipart(parts)
        sent.append(msg["header"]["msg_id"])

        assert recv_reply(sock, good, 2000) is None
        # The kernel did not even say busy for them, and ran nothing.
        kernel.drain_iopub(quiet=0.3)
        assert not [m for m in kernel.iopub_log if m["parent_header"].get("msg_id") in sent]

        # Alive, and answering a properly signed request on the same socket.
        good.send(sock, good.msg("kernel_info_request", {}))
        reply = recv_reply(sock, good, 10_000)
        assert reply is not None and reply["msg_type"] == "kernel_info_reply"
        assert kernel.km.is_alive()
    finally:
        sock.close()


def test_malformed_messages_do_not_crash_the_kernel(kernel):
    sock = raw_socket(kernel, "shell")
    try:
        good = good_session(kernel)

        def signed(header, content_bytes, parent=b"{}", metadata=b"{}"):
            parts = [header, parent, metadata, content_bytes]
            return [b"<IDS|MSG>", good.sign(parts)] + parts

        header = lambda t: json.dumps(good.msg_header(t), default=str).encode()  # noqa: E731
        garbage = [
            signed(header("execute_request"), b"{not json"),  # content is not JSON
            signed(b"\xff\xfe not utf-8", b"{}"),  # header is not even text
            signed(header("execute_request"), b'{"code": 5}'),  # JSON of the wrong shape
            signed(header("execute_request"), b"[1, 2, 3]"),
            signed(b'{"msg_type": "execute_request"}', b'{"code": "!echo x"}'),  # header lacks fields
            [b"<IDS|MSG>", b"", b"{}"],  # too few frames
            [b"no delimiter at all"],
            [b"<IDS|MSG>", b"deadbeef", b"{}", b"{}", b"{}", b"{}", b"extra", b"buffers"],
        ]
        for frames in garbage:
            sock.send_multipart(frames)
        good.send(sock, good.msg("kernel_info_request", {}))
        reply = None
        deadline = time.monotonic() + 10
        while reply is None or reply["msg_type"] != "kernel_info_reply":
            assert time.monotonic() < deadline, "no kernel_info_reply after the malformed messages"
            reply = recv_reply(sock, good, 1000)
        assert kernel.km.is_alive()
        # And it still runs cells for the normal client.
        assert kernel.execute("!echo fine").stream() == "fine\n"
    finally:
        sock.close()


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_unknown_request_gets_an_error_reply(kernel, channel):
    msg_id = kernel.send("foo_request", {"anything": [1, 2]}, channel=channel)
    reply = kernel.reply(msg_id, channel, timeout=5)
    assert reply["msg_type"] == "foo_reply"
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "UnknownMessageType"
    assert "foo_request" in content["evalue"]
    # busy/idle as for any request, then business as usual.
    kernel.idle(msg_id, timeout=5)
    assert kernel.kernel_info(channel=channel)["status"] == "ok"


def test_a_message_that_is_not_a_request_gets_no_reply(kernel):
    kernel.send("execute_reply", {"status": "ok", "execution_count": 1}, channel="shell")
    assert kernel.replies_within(1.0) == []
    assert kernel.kernel_info()["status"] == "ok"


@pytest.mark.parametrize(
    "msg_type, content, expect",
    [
        # What jupyter_client's `history(hist_access_type="search", pattern=...)` sends:
        # the spec gives `unique` a default (false) and `n` is for the last n only.
        ("history_request", {"output": False, "raw": True, "hist_access_type": "search", "pattern": "!echo*"}, "history"),
        (
            "history_request",
            {"output": False, "raw": True, "hist_access_type": "search", "pattern": "!echo*", "n": 1},
            "history",
        ),
        # ipykernel defaults silent, store_history, user_expressions, allow_stdin, stop_on_error.
        ("execute_request", {"code": "!echo minimal"}, "execution_count"),
    ],
    ids=["history-search-as-jupyter_client-sends-it", "history-search-without-unique", "execute-with-code-only"],
)
def test_requests_leaving_out_optional_fields_are_answered(kernel, msg_type, content, expect):
    kernel.execute("!echo one")
    msg_id = kernel.send(msg_type, content)
    reply = kernel.reply(msg_id, timeout=3)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert expect in reply["content"]


# --- throughput and ordering ---------------------------------------------------------


def test_a_thousand_requests_back_to_back(kernel):
    kc = kernel.kc
    sent = []
    for i in range(1000):
        kind = ("kernel_info", "is_complete", "complete", "execute")[i % 4]
        if kind == "kernel_info":
            msg_id = kc.kernel_info()
        elif kind == "is_complete":
            msg_id = kc.is_complete("%expman runs")
        elif kind == "complete":
            msg_id = kc.complete("%expman ru")
        else:
            msg_id = kc.execute("%expman help status")
        sent.append((kind, msg_id))

    replies = []
    deadline = time.monotonic() + 60
    while len(replies) < len(sent):
        assert time.monotonic() < deadline, f"only {len(replies)} replies to 1000 requests"
        try:
            replies.append(kc.get_shell_msg(timeout=1))
        except queue.Empty:
            pass
    # One reply each, none twice, none extra, in the order sent (shell requests run one at a time).
    assert [r["parent_header"]["msg_id"] for r in replies] == [m for _, m in sent]
    assert kernel.replies_within(0.5) == []
    expected_type = {
        "kernel_info": "kernel_info_reply",
        "is_complete": "is_complete_reply",
        "complete": "complete_reply",
        "execute": "execute_reply",
    }
    for (kind, _), reply in zip(sent, replies):
        assert reply["msg_type"] == expected_type[kind]
        assert reply["content"]["status"] in ("ok", "complete"), reply["content"]
    counts = [r["content"]["execution_count"] for r in replies if r["msg_type"] == "execute_reply"]
    assert counts == list(range(1, 251))

    # busy and idle for every one of them.
    last = sent[-1][1]
    kernel.idle(last, timeout=60)
    states = {}
    for m in kernel.iopub_log:
        if m["msg_type"] == "status":
            states.setdefault(m["parent_header"].get("msg_id"), []).append(m["content"]["execution_state"])
    assert all(states.get(msg_id) == ["busy", "idle"] for _, msg_id in sent)


# --- busy/idle, counts, history ------------------------------------------------------


@pytest.mark.parametrize(
    "msg_type, content, channel",
    [
        ("kernel_info_request", {}, "shell"),
        ("kernel_info_request", {}, "control"),
        ("complete_request", {"code": "%expman ru", "cursor_pos": 10}, "shell"),
        ("inspect_request", {"code": "%expman runs", "cursor_pos": 10, "detail_level": 0}, "shell"),
        ("is_complete_request", {"code": "%expman runs"}, "shell"),
        ("history_request", {"output": False, "raw": True, "hist_access_type": "tail", "n": 5}, "shell"),
        ("comm_info_request", {}, "shell"),
        ("interrupt_request", {}, "control"),
    ],
)
def test_busy_then_idle_around_every_request(kernel, msg_type, content, channel):
    msg_id = kernel.send(msg_type, content, channel)
    reply = kernel.reply(msg_id, channel, timeout=5)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    kernel.idle(msg_id, timeout=5)
    kernel.drain_iopub(quiet=0.2)
    mine = kernel.iopub_of(msg_id)
    assert [m["content"]["execution_state"] for m in mine if m["msg_type"] == "status"] == ["busy", "idle"]
    assert mine[0]["msg_type"] == "status" and mine[-1]["msg_type"] == "status"


@pytest.mark.parametrize("code", ["!echo hi", "%expman frobnicate", "%expman help runs"])
def test_busy_first_idle_last_around_a_cell(kernel, code):
    ex = kernel.execute(code)
    kernel.drain_iopub(quiet=0.2)
    mine = kernel.iopub_of(ex.msg_id)
    states = [(m["msg_type"], m["content"].get("execution_state")) for m in mine]
    assert states[0] == ("status", "busy") and states[-1] == ("status", "idle"), states
    assert [s for s in states if s[0] == "status"] == [("status", "busy"), ("status", "idle")]
    assert states[1] == ("execute_input", None)
    assert mine[1]["content"] == {"code": code, "execution_count": ex.content["execution_count"]}


def test_execution_count_counts_stored_cells_only(kernel):
    first = kernel.execute("!echo one")
    assert first.content["execution_count"] == 1
    assert first.of_type("execute_input")[0]["content"]["execution_count"] == 1

    silent = kernel.execute("!echo quiet", silent=True)
    assert silent.content["status"] == "ok"
    assert silent.content["execution_count"] == 1
    # silent: nothing but busy and idle.
    assert [m["msg_type"] for m in silent.iopub] == ["status", "status"]

    unstored = kernel.execute("!echo unstored", store_history=False)
    assert unstored.content["execution_count"] == 1
    assert unstored.stream() == "unstored\n"

    silent_error = kernel.execute("%expman frobnicate", silent=True)
    assert silent_error.content["status"] == "error"
    assert silent_error.content["ename"] == "UsageError"
    assert [m["msg_type"] for m in silent_error.iopub] == ["status", "status"]

    second = kernel.execute("%expman frobnicate")
    assert second.content["execution_count"] == 2
    assert second.error()["ename"] == "UsageError"

    # Only stored cells are in the history, numbered by their execution count.
    msg_id = kernel.kc.history(hist_access_type="tail", n=10, output=False, raw=True)
    history = kernel.reply(msg_id, timeout=5)["content"]["history"]
    assert [tuple(h[1:]) for h in history] == [(1, "!echo one"), (2, "%expman frobnicate")]
    session = history[0][0]
    assert all(h[0] == session for h in history)


def test_history_tail_returns_the_last_n_cells(kernel):
    codes = [f"!echo {i}" for i in range(5)]
    for code in codes:
        assert kernel.execute(code).content["status"] == "ok"
    msg_id = kernel.kc.history(hist_access_type="tail", n=3, output=False, raw=True)
    reply = kernel.reply(msg_id, timeout=5)["content"]
    assert reply["status"] == "ok"
    assert [h[1:] for h in reply["history"]] == [[3, "!echo 2"], [4, "!echo 3"], [5, "!echo 4"]]
    msg_id = kernel.kc.history(hist_access_type="tail", n=100, output=True, raw=True)
    history = kernel.reply(msg_id, timeout=5)["content"]["history"]
    assert [h[2][0] for h in history] == codes
    msg_id = kernel.kc.history(hist_access_type="range", session=0, start=2, stop=4, output=False, raw=True)
    assert [h[2] for h in kernel.reply(msg_id, timeout=5)["content"]["history"]] == codes[1:3]


def test_stop_on_error_aborts_the_cells_queued_behind_a_failing_one(kernel):
    # "Run all" in JupyterLab sends every cell at once and relies on the
    # kernel to abort those queued after an error (stop_on_error).
    failing = kernel.kc.execute("%expman hw --watch 0.3\n%expman frobnicate", stop_on_error=True)
    queued = kernel.kc.execute("!echo ran-after-the-error", stop_on_error=True)
    info = kernel.kc.kernel_info()
    assert kernel.reply(failing, timeout=15)["content"]["status"] == "error"
    after = kernel.finish(queued, timeout=15)
    assert after.content["status"] in ("aborted", "error"), after.content
    assert "ran-after-the-error" not in after.stream()
    # Other requests are not aborted, and later cells run again.
    assert kernel.reply(info, timeout=5)["content"]["status"] == "ok"
    assert kernel.execute("!echo later").stream() == "later\n"


def test_without_stop_on_error_queued_cells_still_run(kernel):
    failing = kernel.kc.execute("%expman hw --watch 0.3\n%expman frobnicate", stop_on_error=False)
    queued = kernel.kc.execute("!echo still-ran", stop_on_error=False)
    assert kernel.reply(failing, timeout=15)["content"]["status"] == "error"
    after = kernel.finish(queued, timeout=15)
    assert after.content["status"] == "ok"
    assert after.stream() == "still-ran\n"


def test_two_clients_each_get_their_own_replies_and_both_see_outputs(kernel):
    # A console attached to a notebook's kernel: replies go to the client
    # that asked (ROUTER identities), IOPub goes to everyone.
    other = kernel.km.client(session=good_session(kernel))
    other.start_channels()
    try:
        asked = other.execute("!echo from-the-other-client")
        mine = kernel.kc.kernel_info()
        reply = other.get_shell_msg(timeout=10)
        assert reply["parent_header"]["msg_id"] == asked and reply["content"]["status"] == "ok"
        assert kernel.reply(mine, timeout=10)["msg_type"] == "kernel_info_reply"
        assert kernel.replies_within(0.3) == []
        with pytest.raises(queue.Empty):
            other.get_shell_msg(timeout=0.3)
        stream = kernel.wait_iopub(
            lambda m: m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == asked, timeout=10
        )
        assert stream["content"]["text"] == "from-the-other-client\n"
    finally:
        other.stop_channels()


# --- comms, heartbeat, offsets ----------------------------------------------------------


def test_a_comm_to_an_unknown_target_is_closed(kernel):
    comm_id = uuid.uuid4().hex
    msg_id = kernel.send("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget", "data": {}})
    close = kernel.wait_iopub(lambda m: m["msg_type"] == "comm_close", timeout=5)
    assert close["content"]["comm_id"] == comm_id
    assert close["parent_header"]["msg_id"] == msg_id
    info = kernel.send("comm_info_request", {})
    assert kernel.reply(info, timeout=5)["content"] == {"status": "ok", "comms": {}}
    # comm_open wants no reply: the only shell reply is the comm_info one.
    assert kernel.replies_within(0.3) == []


def test_heartbeat_answers(kernel):
    sock = raw_socket(kernel, "hb", zmq.REQ)
    try:
        for _ in range(3):
            sock.send(b"ping")
            assert sock.poll(5000), "no heartbeat answer"
            sock.recv()
    finally:
        sock.close()


def test_heartbeat_echoes_what_it_gets(kernel):
    # The spec: "ping messages ... are echoed right back from the Kernel's
    # REP socket" (and server.rs says "heartbeat (REP): echoes").
    sock = raw_socket(kernel, "hb", zmq.REQ)
    try:
        for payload in (b"ping", b"\x00\x01 any bytes"):
            sock.send(payload)
            assert sock.poll(5000), "no heartbeat answer"
            assert sock.recv() == payload
    finally:
        sock.close()


def test_cursor_positions_count_code_points(kernel):
    # Characters outside the BMP and accents before the cursor: offsets in
    # code points, as the protocol says (not bytes, not UTF-16 units).
    code = "# naïve 😀 cell\n%expman ru"
    msg_id = kernel.kc.complete(code, cursor_pos=len(code))
    reply = kernel.reply(msg_id, timeout=5)["content"]
    assert set(reply["matches"]) == {"run", "runs"}
    assert (reply["cursor_start"], reply["cursor_end"]) == (len(code) - 2, len(code))
    assert code[reply["cursor_start"] : reply["cursor_end"]] == "ru"

    code = "# 😀😀\n%expman runs --limit 3"
    msg_id = kernel.kc.inspect(code, cursor_pos=code.index("--limit") + 3)
    reply = kernel.reply(msg_id, timeout=5)["content"]
    assert reply["found"] and reply["data"]["text/plain"] == "--limit: Most rows"


def test_kernel_runs_in_the_directory_it_was_started_in(kernel):
    ex = kernel.execute("!pwd")
    assert os.path.realpath(ex.stream().strip()) == os.path.realpath(kernel.cwd)
