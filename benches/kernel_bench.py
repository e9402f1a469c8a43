"""Jupyter kernels side by side: `expman kernel start` and ipykernel, both
started and driven by the same jupyter_client (KernelManager, its Session
and its client sockets), alternately, in the same run.

Each kernel is started ROUNDS times (after one warm-up start per kernel
that is not counted). Per start it measures:

  cold start      start_kernel() until the first kernel_info_reply. The
                  client (identical for both kernels) offers a
                  kernel_info_request every 1 ms on its shell socket; the
                  socket has ZMQ_IMMEDIATE set, so a request only leaves
                  once the TCP connection to the kernel's shell socket is
                  up (before that the non-blocking send fails and is
                  retried 1 ms later, so requests do not pile up in the
                  kernel), and ZMQ_RECONNECT_IVL 1 ms (ZeroMQ's default of
                  100 ms would round a fast kernel's start up to the next
                  reconnect attempt). Once a request is out, its reply is
                  waited for, polling every 1 ms; with no reply within 1 s
                  it is sent again. jupyter_client's own wait_for_ready()
                  is not used: it ends with a fixed 0.2 s IOPub flush.
  start_kernel()  how long start_kernel() itself took (ports, connection
                  file, fork/exec, and a fixed 10 ms asyncio.sleep that
                  jupyter_client 8 adds after the launch).
  then client+reply  the rest: the client made, its sockets connected, the
                  first reply (the kernel may have got ready during the
                  sleep above).
  cpu to ready    CPU time of the kernel process when ready (the sum of
                  /proc/PID/task/*/schedstat: live threads only).
  cold start, direct  the kernel alone: the kernelspec's argv run with
                  subprocess.Popen (connection file by jupyter_client's
                  write_connection_file, client sockets made before the
                  launch), Popen() until the first kernel_info_reply, by
                  the same client; the kernel is then killed.
  kernel_info rt  median of REQUESTS kernel_info_request -> kernel_info_reply
                  on the shell channel, one at a time.
  execute rt      median of REQUESTS execute_request -> execute_reply and
                  the `idle` status on IOPub (both received), one at a time,
                  of a cell that does nothing: `pass` for ipykernel,
                  `# nothing` for expman (a comment-only cell: parsed, no
                  magic, no output). Both with silent=False and
                  store_history=True as a notebook sends them, so both
                  publish busy, execute_input, idle, and count executions.
  execute->reply  the same requests, until execute_reply only.
  rss ready       VmRSS when ready (first kernel_info_reply).
  rss after       VmRSS after the 2 x REQUESTS requests.
  peak            VmHWM at the end.
  shutdown        shutdown_request on control -> the process has exited
                  (polled every 1 ms).

Messages are built, signed and parsed by jupyter_client's Session for both
kernels (client cost per round trip: see the `client floor` line). The
table shows, per figure, the median over the ROUNDS starts with min..max,
and the ratio ipykernel / expman of the medians.

usage: kernel_bench.py [ROUNDS [REQUESTS]]
  (JUPYTER_PATH must name the directory holding kernels/expman and
  kernels/python3; benches/kernel_vs_ipykernel.sh sets it.)
"""
import os
import pathlib
import statistics
import subprocess
import sys
import time
import uuid

import jupyter_client
import zmq
from jupyter_client import KernelManager
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.session import Session
from jupyter_core.paths import jupyter_runtime_dir

CELLS = {"expman": "# nothing", "python3": "pass"}
NAMES = {"expman": "expman", "python3": "ipykernel"}


def proc_status(pid):
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    mib = lambda k: int(fields[k].split()[0]) / 1024  # noqa: E731
    return mib("VmRSS"), mib("VmHWM"), int(fields["Threads"])


def cpu_ms(pid):
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e6


def recv(session, socket):
    _, parts = session.feed_identities(socket.recv_multipart())
    return session.deserialize(parts)


def first_reply(session, shell, process, name):
    """The cold-start client (the same for both kernels, see the top): a
    kernel_info_request offered every 1 ms until one leaves, then its reply
    (a new request if none comes within 1 s)."""
    pending = set()
    sent_at = None
    deadline = time.perf_counter() + 60
    while True:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{name}: no kernel_info_reply within 60 s")
        if sent_at is None or time.perf_counter() - sent_at > 1.0:
            msg = session.msg("kernel_info_request", {})
            try:
                shell.send_multipart(session.serialize(msg), flags=zmq.NOBLOCK)
                pending.add(msg["header"]["msg_id"])
                sent_at = time.perf_counter()
            except zmq.Again:
                pass  # not connected yet
        if shell.poll(1):
            reply = recv(session, shell)
            if reply["parent_header"].get("msg_id") in pending:
                assert reply["msg_type"] == "kernel_info_reply", reply["msg_type"]
                return reply
        elif process.poll() is not None:
            raise RuntimeError(f"{name} exited (status {process.returncode}) before replying")


def quiet():
    """The kernels' stderr (ipykernel's warning about unencrypted TCP) is
    dropped unless KERNEL_BENCH_STDERR is set."""
    return {} if os.environ.get("KERNEL_BENCH_STDERR") else {"stderr": subprocess.DEVNULL}


def direct_start(name, context):
    """Cold start without KernelManager: the kernelspec's argv run with
    Popen, the client's sockets made (and connecting) before it, the same
    first_reply(). Time from Popen() to the reply; the kernel is killed
    after."""
    spec = KernelSpecManager().get_kernel_spec(name)
    runtime = pathlib.Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    key = uuid.uuid4().hex.encode()
    fname, info = write_connection_file(str(runtime / f"bench-{uuid.uuid4().hex}.json"), ip="127.0.0.1", key=key)
    session = Session(key=key, signature_scheme="hmac-sha256")
    context.setsockopt(zmq.IMMEDIATE, 1)
    try:
        shell = context.socket(zmq.DEALER)
    finally:
        context.setsockopt(zmq.IMMEDIATE, 0)
    shell.connect(f"tcp://127.0.0.1:{info['shell_port']}")
    argv = [a.replace("{connection_file}", fname) for a in spec.argv]
    env = {**os.environ, **spec.env, "JPY_PARENT_PID": str(os.getpid())}
    process = None
    try:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, **quiet())
        first_reply(session, shell, process, name)
        return (time.perf_counter() - start) * 1000
    finally:
        if process is not None:
            process.kill()
            process.wait()
        shell.close(linger=0)
        os.unlink(fname)


class Kernel:
    """One started kernel with a client on the same jupyter_client."""

    def __init__(self, name, context):
        self.name = name
        self.km = KernelManager(kernel_name=name, context=context)
        self.context = context
        self.kc = None
        self.pid = None

    def start(self):
        t0 = time.perf_counter()
        self.km.start_kernel(**quiet())
        t1 = time.perf_counter()
        self.pid = self.km.provisioner.pid
        self.kc = self.km.client(context=self.context)
        # ZMQ_IMMEDIATE on the shell socket only (the context's default for
        # new sockets while it is made): a send blocks without a connection,
        # and the manager's own control socket must not.
        self.context.setsockopt(zmq.IMMEDIATE, 1)
        try:
            self.kc.shell_channel  # creates and connects the shell socket
        finally:
            self.context.setsockopt(zmq.IMMEDIATE, 0)
        self.kc.start_channels(hb=False, stdin=False)
        self.session = self.kc.session
        self.shell = self.kc.shell_channel.socket
        self.iopub = self.kc.iopub_channel.socket
        self.control = self.kc.control_channel.socket
        first_reply(self.session, self.shell, self.km.provisioner.process, self.name)
        t2 = time.perf_counter()
        return (t2 - t0) * 1000, (t1 - t0) * 1000

    def _recv(self, socket):
        return recv(self.session, socket)

    def settle(self, seconds=0.2):
        """Makes sure IOPub is subscribed (a kernel_info_request's `idle`
        arrives on it), then reads what is left on shell and IOPub."""
        deadline = time.perf_counter() + 10
        subscribed = False
        while not subscribed:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.name}: no status on IOPub")
            msg_id = self.session.send(self.shell, "kernel_info_request", {})["header"]["msg_id"]
            until = time.perf_counter() + 0.1
            while not subscribed and time.perf_counter() < until:
                if self.iopub.poll(5):
                    msg = self._recv(self.iopub)
                    subscribed = msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for socket in (self.shell, self.iopub):
                while socket.poll(0):
                    socket.recv_multipart()
            time.sleep(0.005)

    def kernel_info_rt(self):
        start = time.perf_counter()
        msg_id = self.session.send(self.shell, "kernel_info_request", {})["header"]["msg_id"]
        while True:
            if not self.shell.poll(10_000):
                raise TimeoutError(f"{self.name}: no kernel_info_reply in 10 s")
            reply = self._recv(self.shell)
            if reply["parent_header"].get("msg_id") == msg_id:
                return (time.perf_counter() - start) * 1000

    def execute_rt(self, code):
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        start = time.perf_counter()
        msg_id = self.session.send(self.shell, "execute_request", content)["header"]["msg_id"]
        reply_at = idle_at = None
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.iopub, zmq.POLLIN)
        while reply_at is None or idle_at is None:
            events = poller.poll(10_000)
            if not events:
                raise TimeoutError(f"{self.name}: no execute_reply/idle in 10 s")
            for socket, _ in events:
                msg = self._recv(socket)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                now = time.perf_counter()
                if socket is self.shell and msg["msg_type"] == "execute_reply":
                    assert msg["content"]["status"] == "ok", msg["content"]
                    reply_at = now
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle_at = now
        return (reply_at - start) * 1000, (max(reply_at, idle_at) - start) * 1000

    def shutdown(self):
        """shutdown_request on control; ms until the process has exited."""
        process = self.km.provisioner.process
        start = time.perf_counter()
        self.session.send(self.control, "shutdown_request", {"restart": False})
        while process.poll() is None:
            if time.perf_counter() - start > 10:
                return None
            time.sleep(0.001)
        return (time.perf_counter() - start) * 1000

    def close(self):
        """Leaves nothing running: the manager's shutdown, then a kill."""
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            self.km.shutdown_kernel(now=False)
        finally:
            process = getattr(self.km.provisioner, "process", None) if self.km.provisioner else None
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def one_start(name, context, requests):
    kernel = Kernel(name, context)
    try:
        cold, start_call = kernel.start()
        cpu = cpu_ms(kernel.pid)
        rss_ready, _, _ = proc_status(kernel.pid)
        kernel.settle()
        info = [kernel.kernel_info_rt() for _ in range(requests)]
        executes = [kernel.execute_rt(CELLS[name]) for _ in range(requests)]
        rss_after, peak, threads = proc_status(kernel.pid)
        shutdown = kernel.shutdown()
        direct = direct_start(name, context)
        return {
            "cold start (ms)": cold,
            "  start_kernel() (ms)": start_call,
            "  then client+reply (ms)": cold - start_call,
            "  cpu to ready (ms)": cpu,
            "cold start, direct (ms)": direct,
            "kernel_info rt (ms)": statistics.median(info),
            "  kernel_info rt p99 (ms)": sorted(info)[int(len(info) * 0.99) - 1],
            "execute rt (ms)": statistics.median(e[1] for e in executes),
            "  execute->reply (ms)": statistics.median(e[0] for e in executes),
            "  execute rt p99 (ms)": sorted(e[1] for e in executes)[int(len(executes) * 0.99) - 1],
            "rss ready (MiB)": rss_ready,
            "rss after (MiB)": rss_after,
            "peak VmHWM (MiB)": peak,
            "threads": threads,
            "shutdown (ms)": shutdown if shutdown is not None else float("nan"),
        }
    finally:
        kernel.close()


def client_floor(requests):
    """What the client side of one kernel_info round trip costs alone:
    sign + serialize the request, parse + verify a reply-sized message."""
    session = Session(key=b"0123456789abcdef", signature_scheme="hmac-sha256")
    content = {"status": "ok", "banner": "x" * 200, "language_info": {"name": "x"}}
    wires = [session.serialize(session.msg("kernel_info_reply", content)) for _ in range(requests)]
    times = []
    for wire in wires:  # each its own signature: Session refuses replays
        start = time.perf_counter()
        session.serialize(session.msg("kernel_info_request", {}))
        _, parts = session.feed_identities(wire)
        session.deserialize(parts)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    context = zmq.Context()
    context.setsockopt(zmq.RECONNECT_IVL, 1)  # every socket made from here on

    import ipykernel

    print(
        f"jupyter_client {jupyter_client.__version__}, pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}), "
        f"ipykernel {ipykernel.__version__}, python {sys.version.split()[0]}; {os.cpu_count()} cpus"
    )
    print(f"{rounds} cold starts per kernel (after 1 warm-up each), {requests} requests of each kind per start")
    print("cells: expman `# nothing`, ipykernel `pass`")
    specs = KernelSpecManager()
    for name in CELLS:
        spec = specs.get_kernel_spec(name)
        print(f"  {NAMES[name]:<9} {spec.resource_dir}: {' '.join(spec.argv)}")
    sys.stdout.flush()

    kernels = ["expman", "python3"]
    for name in kernels:  # warm-up: page cache, .pyc files
        one_start(name, context, 10)
    results = {name: [] for name in kernels}
    for r in range(rounds):
        for name in kernels:
            results[name].append(one_start(name, context, requests))
        e, p = results["expman"][-1], results["python3"][-1]
        print(
            f"  round {r + 1}/{rounds}: cold start {e['cold start (ms)']:.1f} / {p['cold start (ms)']:.1f} ms, "
            f"kernel_info {e['kernel_info rt (ms)']:.3f} / {p['kernel_info rt (ms)']:.3f} ms, "
            f"execute {e['execute rt (ms)']:.3f} / {p['execute rt (ms)']:.3f} ms (expman / ipykernel)",
            flush=True,
        )

    def cell(values):
        m = statistics.median(values)
        if all(float(v).is_integer() for v in values):
            return f"{m:5.0f}     ({min(values):.0f}..{max(values):.0f})"
        return f"{m:9.3f} ({min(values):.3f}..{max(values):.3f})" if m < 10 else f"{m:9.1f} ({min(values):.1f}..{max(values):.1f})"

    print()
    print(f"{'figure':<26} | {'expman median (min..max)':<30} | {'ipykernel median (min..max)':<30} | ratio")
    print("-" * 26 + "-+-" + "-" * 30 + "-+-" + "-" * 30 + "-+------")
    for key in results["expman"][0]:
        ev = [x[key] for x in results["expman"]]
        pv = [x[key] for x in results["python3"]]
        me, mp = statistics.median(ev), statistics.median(pv)
        ratio = f"{mp / me:6.3g}x" if me else "     -"
        print(f"{key:<26} | {cell(ev):<30} | {cell(pv):<30} | {ratio}")
    print(f"client floor (serialize request + parse reply, no kernel): {client_floor(requests) * 1000:.0f} us")
    context.destroy(linger=0)


if __name__ == "__main__":
    main()
