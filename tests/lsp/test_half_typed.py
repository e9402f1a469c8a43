"""The language server on half-typed text, as an editor sends it: a valid
document typed into character by character (incremental changes), then
completion, hover and diagnostics while the line being typed is not YAML
yet. Each state of the issue: a key with no colon (`  re`), a key and its
colon with nothing after it, an unclosed flow mapping, a list item's dash
with nothing after it."""

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from lsp_helpers import at, diagnostics_until, open_doc, span

TRIAL = "- name: small\n  settings:\n    model: {embedding_dim: 256}\n"


async def typed(client: LanguageClient, path, start: str, text: str, line: int, character: int):
    """Opens `path` with `start` and types `text` at (line, character) one
    character at a time; the document's uri and where the cursor ends."""
    uri = open_doc(client, path, start)
    for version, ch in enumerate(text, start=2):
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangePartial(range=span(line, character, line, character), text=ch)],
            )
        )
        line, character = (line + 1, 0) if ch == "\n" else (line, character + 1)
    return uri, at(line, character)


async def complete(client: LanguageClient, uri: str, position: lsp.Position) -> list[str]:
    result = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=position,
            context=lsp.CompletionContext(trigger_kind=lsp.CompletionTriggerKind.Invoked),
        )
    )
    items = result.items if isinstance(result, lsp.CompletionList) else (result or [])
    return [i.label for i in items]


@pytest.mark.parametrize(
    "start, text, line, character, expected",
    [
        # A key being typed, no colon yet, after a whole trial and before another.
        (TRIAL, "  re", 3, 0, ["repeat"]),
        (TRIAL + "\n- name: other\n  repeat: 2\n", "  re", 3, 0, ["repeat"]),
        # A key and its colon with nothing after it: the base value.
        ("- name: small\n  settings:\n    training:\n", "      lr:", 3, 0, ["0.001"]),
        # An unclosed flow mapping, at a value and at a key.
        ("- name: small\n  settings:\n", "    training: {lr: ", 2, 0, ["0.001"]),
        ("- name: small\n  settings:\n", "    training: {lr: 0.1, opt", 2, 0, ["optimizer"]),
        # A list item's dash with nothing after it: a new trial's keys.
        ("- name: a\n  repeat: 2\n", "- ", 2, 0, ["name", "repeat", "settings", "sweep", "search", "desc", "tags"]),
    ],
)
async def test_completion_while_typing(client: LanguageClient, project, start, text, line, character, expected):
    uri, cursor = await typed(client, project / "trials.yaml", start, text, line, character)
    assert await complete(client, uri, cursor) == expected


async def test_hover_and_diagnostics_while_a_line_is_half_typed(client: LanguageClient, project):
    start = TRIAL + "\n- name: typo\n  settings:\n    model: {embeding_dim: 128}\n"
    uri, cursor = await typed(client, project / "trials.yaml", start, "  re", 3, 0)
    # Hover on the first trial's override still knows base.yaml.
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(2, 16))
    )
    assert hover is not None and "`512`" in hover.contents.value, hover
    # The half-typed line is reported where it is, and the typo further
    # down is still found.
    diags = await diagnostics_until(
        client, uri, lambda ds: any(d.range.start.line == 3 for d in ds) and any(d.code == "unknown-override" for d in ds)
    )
    syntax = [d for d in diags if d.range.start.line == 3]
    assert syntax and syntax[0].severity == lsp.DiagnosticSeverity.Error, diags
    assert await complete(client, uri, cursor) == ["repeat"]
