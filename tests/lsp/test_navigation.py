"""References, rename, inlay hints, pulled diagnostics and workspace
symbols in the language server over stdio (pytest-lsp): a base key is
found, renamed and annotated wherever a trial sets it (nested settings, a
dotted key, a sweep axis) and wherever `${...}` refers to it; a trial's
name is renamed with its `trial:` references; a rename that would merge
two keys or two trials is refused."""

import pathlib
import shutil
import tempfile

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from lsp_helpers import at, diagnostics_until, open_doc, span, uri, write_experiment

BASE = """\
seed: 42
model:
  embedding_dim: 512
  layers: 2
training:
  lr: 0.001
  note: "dim ${model.embedding_dim}"
pipeline:
  command: [python3, train.py]
"""

TRIALS = """\
- name: small
  settings:
    model: {embedding_dim: 128}
- name: dotted
  settings:
    model.embedding_dim: 64
    data: "trial:small/model.bin"
- name: grid
  sweep:
    model.embedding_dim: [32, 64]
    training.lr: [0.1, 0.01]
"""


@pytest.fixture
def nav():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="expman-lsp-nav-"))
    try:
        yield write_experiment(directory / "exp", BASE, TRIALS)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def places(locations):
    return sorted(
        (pathlib.Path(lsp_uri_path(l.uri)).name, l.range.start.line, l.range.start.character, l.range.end.character)
        for l in locations
    )


def lsp_uri_path(u: str) -> str:
    return u.removeprefix("file://")


async def test_references_of_a_base_key_cover_every_place_it_is_set_or_used(client: LanguageClient, nav):
    base = open_doc(client, nav / "base.yaml")
    found = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=lsp.TextDocumentIdentifier(uri=base),
            position=at(2, 5),
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert places(found) == [
        ("base.yaml", 2, 2, 15),  # the definition
        ("base.yaml", 6, 21, 34),  # ${model.embedding_dim}
        ("trials.yaml", 2, 12, 25),  # model: {embedding_dim: 128}
        ("trials.yaml", 5, 10, 23),  # model.embedding_dim: 64
        ("trials.yaml", 9, 10, 23),  # a sweep axis
    ], found
    without = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=lsp.TextDocumentIdentifier(uri=base),
            position=at(2, 5),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    assert len(without) == 4


async def test_renaming_a_base_key_renames_it_everywhere_in_one_edit(client: LanguageClient, nav):
    trials = open_doc(client, nav / "trials.yaml")
    prepared = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(5, 15))
    )
    assert prepared.range == span(5, 10, 5, 23) and prepared.placeholder == "embedding_dim", prepared
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(5, 15), new_name="width")
    )
    edits = sorted(
        (pathlib.Path(lsp_uri_path(u)).name, e.range.start.line, e.range.start.character, e.range.end.character, e.new_text)
        for u, es in edit.changes.items()
        for e in es
    )
    assert edits == [
        ("base.yaml", 2, 2, 15, "width"),
        ("base.yaml", 6, 21, 34, "width"),
        ("trials.yaml", 2, 12, 25, "width"),
        ("trials.yaml", 5, 10, 23, "width"),
        ("trials.yaml", 9, 10, 23, "width"),
    ], edits
    # The `model` part of a dotted key is its own key.
    prepared = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(5, 6))
    )
    assert prepared.range == span(5, 4, 5, 9) and prepared.placeholder == "model", prepared


async def test_a_rename_that_would_merge_two_keys_or_trials_is_refused(client: LanguageClient, nav):
    base = open_doc(client, nav / "base.yaml")
    with pytest.raises(Exception, match="already exists"):
        await client.text_document_rename_async(
            lsp.RenameParams(text_document=lsp.TextDocumentIdentifier(uri=base), position=at(2, 5), new_name="layers")
        )
    with pytest.raises(Exception, match="cannot be a key name"):
        await client.text_document_rename_async(
            lsp.RenameParams(text_document=lsp.TextDocumentIdentifier(uri=base), position=at(2, 5), new_name="a.b")
        )
    trials = open_doc(client, nav / "trials.yaml")
    with pytest.raises(Exception, match="a trial named `dotted` already exists"):
        await client.text_document_rename_async(
            lsp.RenameParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(0, 9), new_name="dotted")
        )


async def test_renaming_a_trial_renames_its_references(client: LanguageClient, nav):
    trials = open_doc(client, nav / "trials.yaml")
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(0, 9), new_name="tiny")
    )
    edits = sorted(
        (e.range.start.line, e.range.start.character, e.range.end.character, e.new_text)
        for es in edit.changes.values()
        for e in es
    )
    assert edits == [(0, 8, 13, "tiny"), (6, 17, 22, "tiny")], edits
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=lsp.TextDocumentIdentifier(uri=trials),
            position=at(0, 9),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    assert places(refs) == [("trials.yaml", 6, 17, 22)]


async def test_inlay_hints_show_what_an_override_replaces_and_who_overrides(client: LanguageClient, nav):
    trials = open_doc(client, nav / "trials.yaml")
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=lsp.TextDocumentIdentifier(uri=trials), range=span(0, 0, 11, 0))
    )
    shown = sorted((h.position.line, h.position.character, h.label) for h in hints)
    assert shown == [
        (2, 30, "← 512 (base.yaml)"),
        (5, 27, "← 512 (base.yaml)"),
        (9, 33, "← 512 (base.yaml)"),
        (10, 28, "← 0.001 (base.yaml)"),
    ], shown
    base = open_doc(client, nav / "base.yaml")
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=lsp.TextDocumentIdentifier(uri=base), range=span(0, 0, 9, 0))
    )
    shown = sorted((h.position.line, h.label) for h in hints)
    assert shown == [(2, "overridden by 3 trials"), (5, "overridden by 1 trial")], shown


async def test_pulled_diagnostics_are_the_pushed_ones(client: LanguageClient, nav):
    text = TRIALS + "- name: typo\n  settings:\n    model: {embeding_dim: 1}\n"
    trials = open_doc(client, nav / "trials.yaml", text)
    pushed = await diagnostics_until(client, trials, lambda ds: any("embeding_dim" in d.message for d in ds))
    report = await client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=trials))
    )
    assert report.kind == "full"
    assert sorted((d.range.start.line, d.message) for d in report.items) == sorted(
        (d.range.start.line, d.message) for d in pushed
    )
    assert any("embeding_dim" in d.message for d in report.items)


async def test_workspace_symbols_find_trials_and_sweep_children(client: LanguageClient, nav):
    open_doc(client, nav / "trials.yaml")
    await client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri(nav / "trials.yaml")))
    )
    found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="grd"))
    names = sorted(s.name for s in found)
    assert names == [
        "grid",
        "grid[model.embedding_dim=32,training.lr=0.01]",
        "grid[model.embedding_dim=32,training.lr=0.1]",
        "grid[model.embedding_dim=64,training.lr=0.01]",
        "grid[model.embedding_dim=64,training.lr=0.1]",
    ], names
    small = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="SMA"))
    assert [s.name for s in small] == ["small"]
    assert small[0].location.range.start == at(0, 8)
