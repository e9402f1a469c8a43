"""Fixtures for the kernel's end-to-end tests: the real `expman` binary
behind a kernelspec installed into a scratch Jupyter path, so that
jupyter_client, nbclient and jupyter_kernel_test find the kernel by name
("expman") exactly as a user's Jupyter does.

The binary is `$EXPMAN_BIN`, else `target/debug/expman` (tests/run.sh
builds it first); trials in tests are the `fake-trial` program next to it."""

import os
import pathlib
import queue
import shutil
import sqlite3
import subprocess
import tempfile
import textwrap
import time

import pytest
from jupyter_client.manager import KernelManager

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPMAN = pathlib.Path(os.environ.get("EXPMAN_BIN") or REPO / "target" / "debug" / "expman")
FAKE_TRIAL = EXPMAN.parent / "fake-trial"
KERNEL_NAME = "expman"

# Installed at import time: jupyter_kernel_test's classes look the kernel up
# in setUpClass, before any fixture could run.
_JUPYTER_DIR = pathlib.Path(tempfile.mkdtemp(prefix="expman-jupyter-"))
subprocess.run(
    [str(EXPMAN), "kernel", "install", "--prefix", str(_JUPYTER_DIR)],
    check=True,
    stdout=subprocess.DEVNULL,
)
os.environ["JUPYTER_PATH"] = str(_JUPYTER_DIR / "share" / "jupyter")
# Keep the user's own kernels and runtime files out of the tests.
os.environ["JUPYTER_DATA_DIR"] = str(_JUPYTER_DIR / "data")
os.environ["JUPYTER_RUNTIME_DIR"] = str(_JUPYTER_DIR / "runtime")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_JUPYTER_DIR, ignore_errors=True)


def write_experiment(directory: pathlib.Path, trials: str, epochs: int = 5, sleep_ms: int = 50) -> pathlib.Path:
    """A config directory whose trials are `fake-trial` runs (`epochs`
    epochs, `sleep_ms` each), recording into `directory/out`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "env.yaml").write_text("workspace: out\nhardware: {interval: 500ms, gpu: off}\n")
    (directory / "experiment.yaml").write_text(f"name: {directory.name}\n")
    (directory / "base.yaml").write_text(
        textwrap.dedent(
            f"""\
            seed: 1
            pipeline:
              command: [{FAKE_TRIAL}, --epochs, "{epochs}", --sleep-ms, "{sleep_ms}"]
            """
        )
    )
    (directory / "trials.yaml").write_text(textwrap.dedent(trials))
    return directory


@pytest.fixture
def workdir():
    """A scratch directory, the kernel's working directory in a test."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="expman-kernel-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# A kernel per test and a jupyter_client client on it (test_protocol.py,
# test_magics.py). Tests reach these through fixtures, not `import conftest`:
# tests/lsp has a conftest.py too, so that name is ambiguous.

WAIT = 30.0
"""The longest any single wait of these tests may take, in seconds: no test
can hang, a slow CI machine still has room."""


class Execution:
    """What one request produced: its reply and its IOPub messages (status
    and execute_input included), in the order they came."""

    def __init__(self, msg_id, reply, iopub):
        self.msg_id = msg_id
        self.reply = reply
        self.iopub = iopub

    @property
    def content(self):
        return self.reply["content"]

    @property
    def outputs(self):
        """The cell's outputs: every IOPub message but status and execute_input."""
        return [m for m in self.iopub if m["msg_type"] not in ("status", "execute_input")]

    def of_type(self, *msg_types):
        return [m for m in self.iopub if m["msg_type"] in msg_types]

    def stream(self, name="stdout"):
        return "".join(m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == name)

    def result(self):
        """The data of the one execute_result."""
        results = self.of_type("execute_result")
        assert len(results) == 1, f"expected one execute_result, got {self.describe()}"
        return results[0]["content"]["data"]

    def error(self):
        """The content of the one error output."""
        errors = self.of_type("error")
        assert len(errors) == 1, f"expected one error output, got {self.describe()}"
        return errors[0]["content"]

    def describe(self):
        return f"reply {self.content!r}; iopub {[m['msg_type'] for m in self.iopub]}"


class KernelSession:
    """A running `expman` kernel (started by name, as Jupyter does) and a
    blocking client. Every IOPub message and reply read is kept, so a test
    can wait for one message and still look at those read before it."""

    def __init__(self, cwd):
        self.cwd = pathlib.Path(cwd)
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(cwd=str(self.cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=WAIT)
        self.iopub_log = []
        self._replies = {"shell": {}, "control": {}}
        self._stopped = False

    @property
    def process(self):
        """The kernel's subprocess.Popen."""
        return self.km.provisioner.process

    # -- sending ------------------------------------------------------------

    def send(self, msg_type, content, channel="shell"):
        """Sends a request (signed with the session's key); its msg_id."""
        msg = self.kc.session.msg(msg_type, content)
        getattr(self.kc, f"{channel}_channel").send(msg)
        return msg["header"]["msg_id"]

    # -- receiving ----------------------------------------------------------

    def wait_iopub(self, until, timeout=WAIT, since=0):
        """The first IOPub message from index `since` of `iopub_log` for
        which `until(msg)` is true, reading more as they come."""
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.iopub_log):
                msg = self.iopub_log[i]
                i += 1
                if until(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(m["msg_type"], m["parent_header"].get("msg_type")) for m in self.iopub_log[since:]]
                raise TimeoutError(f"no such IOPub message within {timeout}s; saw {seen}")
            try:
                self.iopub_log.append(self.kc.get_iopub_msg(timeout=min(left, 0.5)))
            except queue.Empty:
                pass

    def drain_iopub(self, quiet=0.3, timeout=WAIT):
        """Reads IOPub until nothing comes for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.iopub_log.append(self.kc.get_iopub_msg(timeout=quiet))
            except queue.Empty:
                return
        raise TimeoutError(f"IOPub did not go quiet within {timeout}s")

    def iopub_of(self, msg_id):
        """The IOPub messages read so far whose parent is `msg_id`."""
        return [m for m in self.iopub_log if m["parent_header"].get("msg_id") == msg_id]

    def idle(self, msg_id, timeout=WAIT):
        """Waits for the `idle` status that ends request `msg_id`."""
        return self.wait_iopub(
            lambda m: m["msg_type"] == "status"
            and m["content"]["execution_state"] == "idle"
            and m["parent_header"].get("msg_id") == msg_id,
            timeout,
        )

    def _get(self, channel, timeout):
        get = self.kc.get_shell_msg if channel == "shell" else self.kc.get_control_msg
        msg = get(timeout=timeout)
        self._replies[channel].setdefault(msg["parent_header"].get("msg_id"), []).append(msg)

    def reply(self, msg_id, channel="shell", timeout=WAIT):
        """The reply to `msg_id` (replies to other requests are kept)."""
        deadline = time.monotonic() + timeout
        store = self._replies[channel]
        while not store.get(msg_id):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {channel} reply to {msg_id} within {timeout}s")
            try:
                self._get(channel, min(left, 0.5))
            except queue.Empty:
                pass
        return store[msg_id].pop(0)

    def replies_within(self, seconds, channel="shell"):
        """Every reply that comes on `channel` within `seconds` (kept ones first)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._get(channel, min(left, 0.2))
            except queue.Empty:
                pass
        got = [m for msgs in self._replies[channel].values() for m in msgs]
        self._replies[channel].clear()
        return got

    def finish(self, msg_id, timeout=WAIT):
        """The reply to request `msg_id` and its IOPub messages up to `idle`."""
        reply = self.reply(msg_id, timeout=timeout)
        self.idle(msg_id, timeout=timeout)
        return Execution(msg_id, reply, self.iopub_of(msg_id))

    def execute(self, code, timeout=WAIT, **kwargs):
        """Runs a cell and waits for it: an Execution."""
        return self.finish(self.kc.execute(code, **kwargs), timeout=timeout)

    def kernel_info(self, channel="shell", timeout=10):
        """A kernel_info round trip: the reply's content."""
        return self.reply(self.send("kernel_info_request", {}, channel), channel, timeout)["content"]

    # -- ending ---------------------------------------------------------------

    def stop(self):
        """Asks the kernel to shut down (shutdown_request on control) without
        waiting for it to exit: `reap` does, once every test has run."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.km.is_alive():
                self.kc.shutdown()
        finally:
            self.kc.stop_channels()

    def reap(self, timeout=20):
        """Waits for the kernel to exit (kills it after `timeout`)."""
        self.stop()
        proc = self.km.provisioner.process if self.km.provisioner else None
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.km.has_kernel and self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        else:
            self.km.cleanup_resources()


def record_runs(database):
    """The runs of a record (`out/expman.db`): one dict per run, with its
    trial's name, in the order they were created."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT runs.*, trials.name AS trial FROM runs JOIN trials ON trials.id = runs.trial_id ORDER BY runs.id"
        ).fetchall()
        return [dict(r) for r in rows]
    finally:
        con.close()


@pytest.fixture(scope="session")
def start_kernel():
    """Starts a KernelSession in a directory; kernels a test did not stop
    are stopped at the end, and every kernel is waited for then (shutting
    down takes a kernel a moment: the tests go on meanwhile)."""
    kernels = []

    def start(cwd):
        k = KernelSession(cwd)
        kernels.append(k)
        return k

    yield start
    for k in kernels:
        k.stop()
    for k in kernels:
        k.reap()


@pytest.fixture
def kernel(workdir, start_kernel):
    """A fresh kernel whose working directory is `workdir`."""
    k = start_kernel(workdir)
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture(scope="session")
def helpers():
    """conftest's functions and paths, for test modules (see above)."""

    class Helpers:
        pass

    h = Helpers()
    h.write_experiment = write_experiment
    h.record_runs = record_runs
    h.fake_trial = FAKE_TRIAL
    h.expman = EXPMAN
    h.wait = WAIT
    return h
