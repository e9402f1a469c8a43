"""A stream of random edits and garbage never kills `expman lsp`: binary
bytes, huge lines, unclosed quotes, deep nesting, tabs, stray positions.
After the storm the server still answers, and a good document gets its
correct diagnostics back.

The stream is random but reproducible: EXPMAN_FUZZ_SEED picks the seed
(printed on failure), EXPMAN_FUZZ_EDITS the number of edits."""

import asyncio
import os
import random

from lsp_helpers import TRIALS, at, diagnostics_until, open_doc, span
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

SEED = int(os.environ.get("EXPMAN_FUZZ_SEED", "20261122"))
EDITS = int(os.environ.get("EXPMAN_FUZZ_EDITS", "300"))

FRAGMENTS = [
    "\x00\x01\x02\xff\xfe",
    "x" * 200_000,
    '"unclosed',
    "'also unclosed",
    "[" * 5_000,
    "{" * 5_000,
    "- " * 2_000,
    "\t\t- name:\t",
    "settings: {model: {embedding_dim: ",
    "${",
    "${model.",
    "&anchor",
    "*alias",
    "<<: *nothing",
    "--- \n...\n---\n",
    "😀é\r\n",
    "\r",
    "%YAML 1.2\n",
    "!!binary |\n  ====",
    "? complex\n: key\n",
    "  " * 300 + "deep: 1\n",
]


def random_text(rng: random.Random) -> str:
    parts = [rng.choice(FRAGMENTS) if rng.random() < 0.5 else TRIALS[: rng.randrange(len(TRIALS))] for _ in range(3)]
    return "\n".join(parts)


def random_position(rng: random.Random) -> lsp.Position:
    return at(rng.choice([0, 1, 5, 50, 10_000]), rng.choice([0, 3, 7, 100, 1_000_000]))


async def test_random_edits_and_garbage_never_kill_the_server(client: LanguageClient, project):
    rng = random.Random(SEED)
    path = project / "trials.yaml"
    doc = open_doc(client, path)
    version = 1
    pending = []
    for i in range(EDITS):
        version += 1
        if rng.random() < 0.3:
            change = lsp.TextDocumentContentChangeWholeDocument(text=random_text(rng))
        else:
            # Ranges may be reversed, past the end or mid-character.
            start, end = random_position(rng), random_position(rng)
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(start=start, end=end), text=rng.choice(FRAGMENTS))
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=doc, version=version), content_changes=[change]
            )
        )
        if i % 10 == 0:
            position = random_position(rng)
            ident = lsp.TextDocumentIdentifier(uri=doc)
            pending += [
                client.text_document_completion_async(lsp.CompletionParams(text_document=ident, position=position)),
                client.text_document_hover_async(lsp.HoverParams(text_document=ident, position=position)),
                client.text_document_definition_async(lsp.DefinitionParams(text_document=ident, position=position)),
                client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=ident)),
                client.text_document_code_lens_async(lsp.CodeLensParams(text_document=ident)),
                client.protocol.send_request_async("expman/mergePreview", {"textDocument": {"uri": doc}, "trial": "x"}),
            ]
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 120)
    # Requests may fail with an LSP error (e.g. no such trial); none may go unanswered.
    unexpected = [r for r in results if isinstance(r, Exception) and "no trial" not in str(r) and "not an expman" not in str(r)]
    assert not unexpected, f"seed {SEED}: {unexpected[:3]}"
    assert client._server.returncode is None, f"seed {SEED}: the server died"

    # A good document again: its diagnostics are right.
    version += 1
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=doc, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=TRIALS)],
        )
    )
    diags = await diagnostics_until(
        client, doc, lambda ds: sorted(d.code for d in ds) == ["unknown-override", "wrong-type"], timeout=30
    )
    assert next(d for d in diags if d.code == "wrong-type").range == span(9, 10, 9, 14)


async def test_files_that_are_not_text_or_not_configs(client: LanguageClient, project):
    # A binary file named trials.yaml, and a YAML file that is no config.
    (project / "trials.yaml").write_bytes(bytes(range(256)) * 64)
    doc = open_doc(client, project / "trials.yaml", (project / "trials.yaml").read_bytes().decode("latin-1"))
    other = project.parent / "docker-compose.yaml"
    other.write_text("services:\n  web: {image: nginx}\n")
    other_doc = open_doc(client, other)
    await diagnostics_until(client, doc, lambda ds: len(ds) >= 1)
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=other_doc), position=at(1, 3))
    )
    assert hover is None, "no opinions about files that are not expman configs"
    assert not client.diagnostics.get(other_doc)
    assert client._server.returncode is None
