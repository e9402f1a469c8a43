"""Secrets in every output. A config whose `password`, `token` and `api_key`
come from `${env:...}` (one of them also on the trial's command line) runs
with every tracker on; then none of the three values may appear anywhere
expman writes or shows: any file of the workspace (the SQLite record with
its WAL, run directories, TensorBoard event files, CSV and log files), the
MLflow server's params, tags and run names, the team database on MariaDB
(dumped; when tests/engines started one), `expman show`/`runs`/`preview`/
`validate`, the Jupyter kernel's messages, and the language server's
answers (hover, merge preview, diagnostics)."""

import json
import os
import pathlib
import shutil
import subprocess
import textwrap
import time

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from mlflow.tracking import MlflowClient

from tracker_helpers import EXPMAN, FAKE_TRIAL, expman

SECRETS = {
    "EXPMAN_TEST_DB_PASSWORD": "pw-3f9a1c-hunter2",
    "EXPMAN_TEST_SERVICE_TOKEN": "tok-77e2b0-zebra",
    "EXPMAN_TEST_OPENAI_KEY": "sk-9d41aa-lemur",
}


def leaks(text) -> list[str]:
    """The secret values found in `text` (str or bytes)."""
    data = text if isinstance(text, bytes) else str(text).encode()
    return [v for v in SECRETS.values() if v.encode() in data]


def write_config(directory: pathlib.Path, mlflow_url: str, database: str = "") -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "env.yaml").write_text(
        "workspace: out\nhardware: {interval: 200ms, gpu: off}\n"
        + database
        + f"trackers:\n  - type: mlflow\n    tracking_uri: {mlflow_url}\n  - type: tensorboard\n  - type: csv\n  - type: log\n"
    )
    (directory / "experiment.yaml").write_text("name: secrets\n")
    (directory / "base.yaml").write_text(
        textwrap.dedent(
            f"""\
            seed: 3
            db: {{host: db.internal, password: "${{env:EXPMAN_TEST_DB_PASSWORD}}"}}
            service: {{token: "${{env:EXPMAN_TEST_SERVICE_TOKEN}}"}}
            openai: {{api_key: "${{env:EXPMAN_TEST_OPENAI_KEY}}"}}
            pipeline:
              command: [{FAKE_TRIAL}, --epochs, "3", --sleep-ms, "20", --api-key, "${{openai.api_key}}"]
              env: {{SERVICE_TOKEN: "${{env:EXPMAN_TEST_SERVICE_TOKEN}}"}}
              callbacks:
                - {{type: hook, on_end: "echo ended with $EXPMAN_STATUS"}}
            """
        )
    )
    (directory / "trials.yaml").write_text("- name: a\n  repeat: 2\n- name: b\n  settings: {db: {host: other}}\n")
    return directory


def files_with_leaks(root: pathlib.Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            hit = leaks(path.read_bytes())
            if hit:
                found.append(f"{path.relative_to(root)}: {hit}")
    return found


def kernel_outputs(directory: pathlib.Path, workdir: pathlib.Path) -> list[str]:
    """Everything the expman kernel publishes and replies for a few magics."""
    prefix = workdir / "jupyter"
    subprocess.run([str(EXPMAN), "kernel", "install", "--prefix", str(prefix)], check=True, stdout=subprocess.DEVNULL)
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name="expman", kernel_spec_manager=specs)
    km.start_kernel(cwd=str(directory))
    kc = km.client()
    kc.start_channels()
    seen = []
    try:
        kc.wait_for_ready(timeout=60)
        for code in ["%expman runs", "%expman runs --format json", "%expman show a", "%%expman run --dir . --trial b"]:
            if code == "%expman show a":
                uid = json.loads(expman("runs", "--format", "json", cwd=directory).stdout)[0]["id"]
                code = f"%expman show {uid}"
            reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: seen.append(json.dumps(msg["content"])))
            seen.append(json.dumps(reply["content"]))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return seen


class Lsp:
    """`expman lsp` over stdio, spoken to by hand (JSON-RPC with
    Content-Length frames); keeps every message it sends back."""

    def __init__(self, root: pathlib.Path):
        self.proc = subprocess.Popen([str(EXPMAN), "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.seen: list[str] = []
        self.next_id = 0
        self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        self.notify("initialized", {})

    def send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self):
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        text = self.proc.stdout.read(length).decode()
        self.seen.append(text)
        return json.loads(text)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message
            if "id" in message and "method" in message:  # a request of the server's: answer it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def close(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.wait(timeout=10)


def lsp_outputs(directory: pathlib.Path) -> list[str]:
    lsp = Lsp(directory)
    try:
        for name in ("base.yaml", "trials.yaml"):
            path = directory / name
            lsp.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": path.as_uri(), "languageId": "yaml", "version": 1, "text": path.read_text()}},
            )
        base = (directory / "base.yaml").as_uri()
        trials = (directory / "trials.yaml").as_uri()
        for line, text in enumerate((directory / "base.yaml").read_text().splitlines()):
            for key in ("password", "token", "api_key"):
                if key in text:
                    at = {"line": line, "character": text.index(key) + 1}
                    lsp.request("textDocument/hover", {"textDocument": {"uri": base}, "position": at})
        for trial in ("a", "b"):
            lsp.request("expman/mergePreview", {"textDocument": {"uri": trials}, "trial": trial})
        lsp.request("textDocument/codeLens", {"textDocument": {"uri": trials}})
        time.sleep(1.0)  # diagnostics published meanwhile are read with the next answer
        lsp.request("textDocument/documentSymbol", {"textDocument": {"uri": base}})
    finally:
        lsp.close()
    return lsp.seen


def test_no_secret_value_reaches_any_output(workdir, mlflow_server):
    env = dict(SECRETS)
    for k, v in env.items():
        os.environ[k] = v
    try:
        directory = write_config(workdir / "exp", mlflow_server.url)
        out = expman("run", ".", cwd=directory, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert not leaks(out.stdout + out.stderr), "expman run's own output"

        # Every file of the workspace, the record and its WAL included.
        assert files_with_leaks(directory / "out") == []

        # What the CLI shows.
        uid = json.loads(expman("runs", "--format", "json", cwd=directory).stdout)[0]["id"]
        for args in (["show", uid], ["runs", "--format", "json"], ["runs"], ["preview", ".", "--trial", "a"],
                     ["validate", ".", "--format", "json"], ["sql", "SELECT * FROM runs"]):
            shown = expman(*args, cwd=directory, env=env)
            assert shown.returncode == 0, shown.stderr
            assert not leaks(shown.stdout + shown.stderr), args

        # MLflow: params, tags, names.
        client = MlflowClient(mlflow_server.url)
        experiment = client.get_experiment_by_name("secrets")
        for run in client.search_runs([experiment.experiment_id], max_results=100):
            assert not leaks(json.dumps([run.data.params, run.data.tags, run.info.run_name])), run.info.run_id
        assert any("db.password" in r.data.params for r in client.search_runs([experiment.experiment_id]))

        # The kernel's messages and the language server's answers.
        assert not leaks("\n".join(kernel_outputs(directory, workdir)))
        assert not leaks("\n".join(lsp_outputs(directory)))
    finally:
        for k in SECRETS:
            os.environ.pop(k, None)


def test_no_secret_value_reaches_the_team_database(workdir, mlflow_server):
    url = os.environ.get("EXPMAN_TEST_MARIADB")
    dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    client = shutil.which("mariadb") or shutil.which("mysql")
    if not url or not dump or not client:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs this with the MariaDB of tests/engines/mariadb-start.sh and its dump tool")
        pytest.skip("no MariaDB here (tests/engines/mariadb-start.sh)")
    name = f"expman_secrets_{os.getpid()}"
    server = url.rsplit("/", 1)[0]
    host, port = server.split("@", 1)[1].split(":")
    user = server.split("//", 1)[1].split("@", 1)[0]
    login = ["-h", host, "-P", port, "-u", user, f"-p{os.environ['EXPMAN_DB_PASSWORD']}"]

    def sql(statement):
        done = subprocess.run([client, *login, "-e", statement], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    database = f"database: {{type: mysql, url: {server}/{name}}}\n"
    directory = write_config(workdir / "team", mlflow_server.url, database)
    env = dict(SECRETS)
    out = expman("run", ".", cwd=directory, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    pushed = expman("db", "push", cwd=directory, env=env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    try:
        dumped = subprocess.run([dump, *login, name], capture_output=True, timeout=60)
        assert dumped.returncode == 0, dumped.stderr.decode()
        assert b"db.password" in dumped.stdout, "the dump holds the runs' params"
        assert not leaks(dumped.stdout)
        assert files_with_leaks(directory / "out") == []
    finally:
        sql(f"DROP DATABASE IF EXISTS `{name}`")
