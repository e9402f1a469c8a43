"""Fixtures for the trackers' end-to-end tests: a scratch directory per
test, and a real `mlflow server` per module (see tracker_helpers.py)."""

import pathlib
import shutil
import tempfile

import pytest

from tracker_helpers import MlflowServer


@pytest.fixture
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="expman-trackers-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server():
    root = pathlib.Path(tempfile.mkdtemp(prefix="expman-mlflow-"))
    server = MlflowServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
