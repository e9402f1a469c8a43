"""Fixtures for the end-to-end tests of `expman lsp`: a real language
client (pytest-lsp over stdio) against the real binary, and a scratch
config directory per test.

The binary is `$EXPMAN_BIN`, else `target/debug/expman` (tests/run.sh
builds it before running these tests)."""

import pathlib
import shutil
import tempfile

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_helpers import EXPMAN, write_experiment


@pytest.fixture
def project():
    """A config directory with base.yaml and a trials.yaml with a typo and a
    wrong type (see BASE and TRIALS)."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="expman-lsp-"))
    try:
        yield write_experiment(directory / "exp")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[EXPMAN, "lsp"]))
async def client(lsp_client: LanguageClient):
    registrations = []

    @lsp_client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams):
        registrations.extend(params.registrations)

    lsp_client.registrations = registrations
    await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            # Overrides of keys base.yaml lacks become errors (default: warnings).
            initialization_options={"diagnostics": {"overrides": "error"}},
        )
    )
    yield
    await lsp_client.shutdown_session()
