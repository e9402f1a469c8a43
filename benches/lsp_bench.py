"""Language servers side by side: `expman lsp` and yaml-language-server,
driven over stdio by the same minimal LSP client, on generated trials.yaml
files of about 5,000 and 50,000 lines (the shape of
schema/benches/config_load.rs: flow mappings, dotted keys, sweeps).

For each server and size it prints, in milliseconds unless noted:
  open->diag   didOpen until the first diagnostics for the file
  edit->diag   median of 10 edits (one value changed each time) until the
               diagnostics that follow
  completion   median of 10 completion requests at the end of the file
               (inside the last trial's `settings`)
  rss / peak   resident memory after open, after the 10 edits, and the
               peak (VmHWM), from /proc

yaml-language-server gets the same JSON Schema (schema/json/trials.schema.json)
through its `yaml.schemas` setting.

usage: lsp_bench.py EXPMAN_BINARY YAML_LANGUAGE_SERVER_JS [sizes...]
"""
import json
import os
import pathlib
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

BASE = """seed: 42
model: {type: transformer, embedding_dim: 512, layers: 6, dropout: 0.1}
training: {epochs: 100, optimizer: adam, lr: 0.001, batch_size: 64}
data: {path: /data/corpus, shuffle: true}
output: runs/${experiment.name}/${trial.name}
pipeline:
  type: process
  command: [python, train.py]
  timeout: 2h
  callbacks:
    - {type: early_stopping, metric: val_loss, mode: min, patience: 5, min_delta: 0.001}
"""


def trials_yaml(trials: int) -> str:
    out = []
    for i in range(trials):
        out.append(f"- name: trial_{i:05}\n  repeat: {1 + i % 3}\n  desc: generated trial number {i}\n  settings:\n")
        out.append(f"    model: {{embedding_dim: {128 + (i % 8) * 64}, layers: {2 + i % 6}}}\n")
        out.append(f"    training.lr: 0.{1 + i % 999:04}\n")
        out.append(f"    training:\n      batch_size: {16 << (i % 4)}\n")
        if i % 10 == 0:
            out.append("  sweep:\n    training.optimizer: [adam, sgd]\n")
        else:
            out.append("  tags: {generated: yes}\n  # a comment line\n")
    # The end of the file: a trial whose settings are being typed.
    out.append("- name: last\n  settings:\n    training:\n      ")
    return "".join(out)


class Client:
    """A minimal LSP client over a child's stdio: requests with ids,
    notifications into a queue, server-to-client requests answered."""

    def __init__(self, command, settings):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.settings = settings
        self.next_id = 0
        self.responses = {}
        self.cond = threading.Condition()
        self.notifications = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self):
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})
            elif "method" in message:
                self.notifications.put((time.perf_counter(), message))
            else:
                with self.cond:
                    self.responses[message["id"]] = (time.perf_counter(), message)
                    self.cond.notify_all()

    def _answer(self, message):
        if message["method"] == "workspace/configuration":
            return [self.settings.get(item.get("section") or "", None) for item in message["params"]["items"]]
        return None

    def request(self, method, params, timeout=120):
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.responses, timeout):
                raise TimeoutError(method)
            return self.responses.pop(rid)[1].get("result")

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics_for(self, uri, after, timeout=120):
        """Waits for diagnostics of `uri` published after `after`."""
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("diagnostics")
            at, message = self.notifications.get(timeout=left)
            if (
                message["method"] == "textDocument/publishDiagnostics"
                and message["params"]["uri"] == uri
                and at >= after
            ):
                return at, message["params"]["diagnostics"]

    def drain(self):
        while not self.notifications.empty():
            self.notifications.get_nowait()

    def memory(self):
        fields = {}
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        kib = lambda k: int(fields[k].split()[0]) / 1024  # noqa: E731
        return kib("VmRSS"), kib("VmHWM")

    def close(self):
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def measure(name, command, settings, directory, text):
    path = directory / "trials.yaml"
    uri = path.as_uri()
    client = Client(command, settings)
    client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": directory.as_uri(),
            "capabilities": {
                "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": False}},
                "textDocument": {"publishDiagnostics": {}, "completion": {"completionItem": {"snippetSupport": True}}},
            },
            "initializationOptions": {},
        },
    )
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": settings})
    time.sleep(0.5)  # let both settle their settings before timing
    client.drain()

    start = time.perf_counter()
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
    )
    at, diagnostics = client.diagnostics_for(uri, start)
    open_ms = (at - start) * 1000
    rss_open, _ = client.memory()

    # Edits: one value in the middle of the file, changed back and forth.
    lines = text.split("\n")
    target = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith("  repeat: "))
    edit_ms = []
    for k in range(int(os.environ.get("LSP_BENCH_EDITS", "10"))):
        time.sleep(0.05)
        client.drain()
        new = f"  repeat: {2 + k % 2}"
        start = time.perf_counter()
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 2 + k},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": target, "character": 0},
                            "end": {"line": target, "character": len(lines[target])},
                        },
                        "text": new,
                    }
                ],
            },
        )
        lines[target] = new
        at, _ = client.diagnostics_for(uri, start)
        edit_ms.append((at - start) * 1000)
    rss_edits, peak = client.memory()

    end = {"line": len(lines) - 1, "character": len(lines[-1])}
    completion_ms, items = [], 0
    for _ in range(10):
        start = time.perf_counter()
        result = client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": end})
        completion_ms.append((time.perf_counter() - start) * 1000)
        items = len(result["items"] if isinstance(result, dict) else (result or []))
    client.close()
    print(
        f"  {name:<22} open->diag {open_ms:8.1f}   edit->diag {statistics.median(edit_ms):8.1f}   "
        f"completion {statistics.median(completion_ms):7.1f} ({items} items)   "
        f"rss {rss_open:6.1f} -> {rss_edits:6.1f} MiB, peak {peak:6.1f} MiB   ({len(diagnostics)} diagnostics on open)",
        flush=True,
    )


def main():
    expman, yamlls = sys.argv[1], sys.argv[2]
    sizes = [int(s) for s in sys.argv[3:]] or [500, 5000]
    schema = (REPO / "schema" / "json" / "trials.schema.json").as_uri()
    yaml_settings = {
        "yaml": {"validate": True, "completion": True, "hover": True, "schemas": {schema: ["trials.yaml"]}},
        "http": {"proxy": "", "proxyStrictSSL": False},
        "[yaml]": {},
        "editor": {"tabSize": 2},
    }
    for trials in sizes:
        text = trials_yaml(trials)
        with tempfile.TemporaryDirectory(prefix="expman-lsp-bench-") as tmp:
            directory = pathlib.Path(tmp)
            (directory / "base.yaml").write_text(BASE)
            (directory / "experiment.yaml").write_text("name: bench\n")
            (directory / "trials.yaml").write_text(text)
            print(f"trials.yaml of {text.count(chr(10)) + 1} lines ({len(text) // 1024} KiB), {trials} trials:")
            measure("expman lsp", [expman, "lsp"], {}, directory, text)
            measure("yaml-language-server", ["node", yamlls, "--stdio"], yaml_settings, directory, text)


if __name__ == "__main__":
    main()
