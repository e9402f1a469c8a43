"""Helpers for the end-to-end tests of `expman lsp` (pytest-lsp over stdio):
the scratch experiment, opening and editing documents, waiting for
diagnostics, positions. In a module of their own (not conftest.py) so that
the test files can import them while tests/kernel has a conftest.py too."""

import asyncio
import os
import pathlib
from typing import Callable, Sequence

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPMAN = os.environ.get("EXPMAN_BIN") or str(REPO / "target" / "debug" / "expman")

BASE = """\
seed: 42
model:
  embedding_dim: 512
  name: "résumé-net"
training:
  lr: 0.001
  optimizer: adam
pipeline:
  command: [python3, train.py]
"""

TRIALS = """\
- name: small
  repeat: 2
  settings:
    model: {embedding_dim: 256}
- name: typo
  settings:
    model:
      embeding_dim: 128
- name: bad_type
  repeat: many
"""


def write_experiment(directory: pathlib.Path, base: str = BASE, trials: str = TRIALS) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "env.yaml").write_text("workspace: out\n")
    (directory / "experiment.yaml").write_text("name: lsp_e2e\n")
    (directory / "base.yaml").write_text(base)
    (directory / "trials.yaml").write_text(trials)
    return directory


def uri(path: pathlib.Path) -> str:
    return path.as_uri()


def open_doc(client: LanguageClient, path: pathlib.Path, text: str | None = None, version: int = 1) -> str:
    """Opens `path` in the server (its text from disk unless given)."""
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri(path),
                language_id="yaml",
                version=version,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri(path)


def replace_all(client: LanguageClient, path: pathlib.Path, text: str, version: int) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def diagnostics_until(
    client: LanguageClient,
    doc_uri: str,
    check: Callable[[Sequence[lsp.Diagnostic]], bool],
    timeout: float = 10.0,
) -> Sequence[lsp.Diagnostic]:
    """Waits until the diagnostics published for `doc_uri` pass `check`;
    fails with the last ones seen otherwise."""

    async def wait():
        while True:
            current = client.diagnostics.get(doc_uri)
            if current is not None and check(current):
                return current
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    try:
        return await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        seen = [(d.range, d.message) for d in client.diagnostics.get(doc_uri, [])]
        pytest.fail(f"no matching diagnostics for {doc_uri} within {timeout} s; last seen: {seen}")


def at(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


def span(l1: int, c1: int, l2: int, c2: int) -> lsp.Range:
    return lsp.Range(start=at(l1, c1), end=at(l2, c2))
