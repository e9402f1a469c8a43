"""How `expman lsp` follows the files of a config directory: unsaved edits
of base.yaml re-check trials.yaml, files changed on disk are re-read on
`workspace/didChangeWatchedFiles`, and positions stay exact with non-ASCII
text, CRLF line ends and incremental edits."""

from lsp_helpers import at, diagnostics_until, open_doc, replace_all, span, uri
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient


def codes(diags):
    return sorted(d.code for d in diags)


async def test_an_unsaved_edit_of_base_changes_the_diagnostics_of_trials(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    await diagnostics_until(client, trials, lambda ds: codes(ds) == ["unknown-override", "wrong-type"])

    # Rename base's embedding_dim to the trial's spelling, unsaved: the typo
    # is no longer a typo, but trial `small` now overrides a missing key.
    base_path = project / "base.yaml"
    open_doc(client, base_path)
    replace_all(client, base_path, base_path.read_text().replace("embedding_dim", "embeding_dim"), version=2)

    def small_is_flagged(ds):
        return [d.message.split(",")[0] for d in ds if d.code == "unknown-override"] == [
            "trial `small` sets `embedding_dim`"
        ]

    diags = await diagnostics_until(client, trials, small_is_flagged)
    assert [d.range for d in diags if d.code == "unknown-override"] == [span(3, 12, 3, 25)]

    # Closing base.yaml unsaved: what is on disk counts again.
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri(base_path))))
    await diagnostics_until(client, trials, lambda ds: codes(ds) == ["unknown-override", "wrong-type"])


async def test_a_change_on_disk_is_picked_up_from_watched_files(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    await diagnostics_until(client, trials, lambda ds: "unknown-override" in codes(ds))
    base_path = project / "base.yaml"
    base_path.write_text(base_path.read_text().replace("embedding_dim: 512", "embedding_dim: 512\n  embeding_dim: 1"))
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(changes=[lsp.FileEvent(uri=uri(base_path), type=lsp.FileChangeType.Changed)])
    )
    await diagnostics_until(client, trials, lambda ds: codes(ds) == ["wrong-type"])


async def test_a_broken_base_is_reported_there_and_trials_keep_their_analysis(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    base_path = project / "base.yaml"
    base = open_doc(client, base_path)
    replace_all(client, base_path, base_path.read_text() + "oops: [unclosed\n", version=2)
    diags = await diagnostics_until(client, base, lambda ds: any(d.code == "yaml-syntax" for d in ds))
    syntax = next(d for d in diags if d.code == "yaml-syntax")
    assert syntax.range.start.line >= 9, syntax
    # trials.yaml still has its own problems reported at their places.
    diags = await diagnostics_until(client, trials, lambda ds: "wrong-type" in codes(ds))
    assert next(d for d in diags if d.code == "wrong-type").range == span(9, 10, 9, 14)


async def test_utf16_columns_with_non_ascii_text_and_crlf(client: LanguageClient, project):
    # "😀" is two UTF-16 code units, "é" one; the CRLF must not shift columns.
    text = "- name: \"😀é\"\r\n  repeat: 1\r\n- name: t2\r\n  repeat: \"zwei\"\r\n"
    trials = open_doc(client, project / "trials.yaml", text)
    diags = await diagnostics_until(client, trials, lambda ds: "wrong-type" in codes(ds))
    assert next(d for d in diags if d.code == "wrong-type").range == span(3, 10, 3, 16)

    # An incremental edit after the emoji: replace `1` by `x` on line 2.
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=trials, version=2),
            content_changes=[lsp.TextDocumentContentChangePartial(range=span(1, 10, 1, 11), text="x")],
        )
    )
    diags = await diagnostics_until(client, trials, lambda ds: codes(ds) == ["wrong-type", "wrong-type"])
    assert sorted((d.range.start.line, d.range.start.character, d.range.end.character) for d in diags) == [
        (1, 10, 11),
        (3, 10, 16),
    ]
    # Hover on the key of line 0 after the emoji still finds `name`.
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(0, 3))
    )
    assert hover is not None and "name" in hover.contents.value


async def test_single_file_form_is_recognised_by_content(client: LanguageClient, project):
    path = project.parent / "notebook_cell.yaml"
    text = (
        "experiment: {name: single}\n"
        "base:\n  lr: 0.1\n  pipeline: {command: [python3, t.py]}\n"
        "trials:\n  - name: a\n    settings: {lrr: 0.2}\n"
    )
    path.write_text(text)
    doc = open_doc(client, path)
    diags = await diagnostics_until(client, doc, lambda ds: "unknown-override" in codes(ds))
    assert next(d for d in diags if d.code == "unknown-override").range == span(6, 15, 6, 18)


async def test_single_file_outline_has_sections_and_trials(client: LanguageClient, project):
    path = project.parent / "cell.yaml"
    path.write_text("base:\n  lr: 0.1\ntrials:\n  - name: a\n  - name: b\n    repeat: 2\n")
    doc = open_doc(client, path)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=doc))
    )
    assert [s.name for s in symbols] == ["base", "trials"]
    assert [c.name for c in symbols[1].children] == ["a", "b"]


async def test_a_file_that_base_extends_gets_its_diagnostics(client: LanguageClient, project):
    shared = project / "shared.yaml"
    shared.write_text("pipeline:\n  timeout: [1, 2]\n")
    base = project / "base.yaml"
    base.write_text("extends: shared.yaml\n" + base.read_text())
    open_doc(client, base)
    shared_uri = open_doc(client, shared)
    diags = await diagnostics_until(client, shared_uri, lambda ds: "wrong-type" in codes(ds))
    assert next(d for d in diags if d.code == "wrong-type").range == span(1, 11, 1, 17)

    # Fixing it, unsaved, clears it.
    replace_all(client, shared, "pipeline:\n  timeout: 2h\n", version=2)
    await diagnostics_until(client, shared_uri, lambda ds: "wrong-type" not in codes(ds))


async def test_a_file_on_disk_that_is_not_utf8_is_reported_at_its_byte(client: LanguageClient, project):
    # base.yaml saved as Latin-1 ("é" as the single byte 0xE9), not opened in
    # the editor: the server reads it from disk.
    base_path = project / "base.yaml"
    base_path.write_bytes(base_path.read_bytes().replace(b"r\xc3\xa9sum\xc3\xa9-net", b"r\xe9sum\xe9-net"))
    trials = open_doc(client, project / "trials.yaml")
    base = uri(base_path)
    diags = await diagnostics_until(client, base, lambda ds: any("not UTF-8" in d.message for d in ds))
    bad = next(d for d in diags if "not UTF-8" in d.message)
    assert "byte 0xE9" in bad.message and "1 more" in bad.message, bad.message
    # `  name: "résumé-net"` is line 4 (0-based 3); the first "é" is at column 10.
    assert bad.range == span(3, 10, 3, 11), bad.range
    assert not bad.message.startswith("/"), "the place is the range, not the message"
    # trials.yaml keeps its own analysis.
    await diagnostics_until(client, trials, lambda ds: "wrong-type" in codes(ds))
