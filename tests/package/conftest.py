"""Fixtures for the Python package's tests (`import expman`): the package
installed into the test virtualenv by tests/run.sh (a wheel built with
maturin), the real `expman` binary for comparing with the CLI, and scripts
run in their own Python processes (for exit statuses, kill -9, launched
runs)."""

import os
import pathlib
import sqlite3
import subprocess
import sys
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPMAN = pathlib.Path(os.environ.get("EXPMAN_BIN") or REPO / "target" / "debug" / "expman")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A scratch directory that is also the current one (where a run
    started from code records by default: ./outputs)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXPMAN_WORKSPACE", raising=False)
    monkeypatch.delenv("EXPMAN_EVENTS", raising=False)
    return tmp_path


def _python(script: str, cwd: pathlib.Path, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs `script` (dedented) in a Python process of the test virtualenv."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EXPMAN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _expman(*args: str, cwd: pathlib.Path) -> str:
    """The CLI's output (it must succeed)."""
    done = subprocess.run([str(EXPMAN), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _record(workspace: pathlib.Path) -> sqlite3.Connection:
    """The workspace's database, read directly."""
    return sqlite3.connect(workspace / "expman.db")


# Tests reach the helpers through fixtures, not `import conftest` (the other
# test folders have a conftest.py too, so that name is ambiguous).


@pytest.fixture
def py():
    return _python


@pytest.fixture
def cli():
    return _expman


@pytest.fixture
def db():
    return _record


@pytest.fixture
def expman_bin():
    return EXPMAN
