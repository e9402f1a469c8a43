"""`expman lsp` end to end, one feature at a time, through a real LSP
client over stdio: diagnostics with exact ranges, completion of base.yaml
keys inside a trial's `settings`, hover with the base value, go to
definition into base.yaml, the merge preview and its code lens, the
outline, quick fixes and settings."""

import pytest
from lsp_helpers import at, diagnostics_until, open_doc, span, uri
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient


def by_code(diagnostics, code):
    found = [d for d in diagnostics if d.code == code]
    assert found, f"no {code} among {[(d.code, d.message) for d in diagnostics]}"
    return found[0]


async def test_diagnostics_have_exact_ranges_and_validate_words(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    diags = await diagnostics_until(client, trials, lambda ds: len(ds) >= 2)

    typo = by_code(diags, "unknown-override")
    # `      embeding_dim: 128` on line 8 (0-based 7): the key, columns 6-18.
    assert typo.range == span(7, 6, 7, 18)
    assert typo.message.startswith("trial `typo` sets `embeding_dim`, which base.yaml does not have")
    assert "did you mean `embedding_dim`?" in typo.message
    # initializationOptions made override problems errors.
    assert typo.severity == lsp.DiagnosticSeverity.Error
    assert typo.source == "expman"

    wrong = by_code(diags, "wrong-type")
    # `  repeat: many` on line 10: the value, columns 10-14.
    assert wrong.range == span(9, 10, 9, 14)
    assert wrong.message.startswith("expected an integer for `trials[2].repeat`, found a string (`many`)")
    assert wrong.severity == lsp.DiagnosticSeverity.Error


async def test_quick_fix_renames_to_the_nearest_base_key(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    diags = await diagnostics_until(client, trials, lambda ds: any(d.code == "unknown-override" for d in ds))
    typo = by_code(diags, "unknown-override")
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=trials),
            range=typo.range,
            context=lsp.CodeActionContext(diagnostics=[typo]),
        )
    )
    assert actions, "a quick fix is offered"
    fix = actions[0]
    assert fix.kind == lsp.CodeActionKind.QuickFix
    edits = fix.edit.changes[trials]
    assert [(e.range, e.new_text) for e in edits] == [(span(7, 6, 7, 18), "embedding_dim")]


async def test_completion_offers_base_keys_inside_settings(client: LanguageClient, project):
    text = (project / "trials.yaml").read_text() + "- name: fresh\n  settings:\n    model:\n      \n"
    trials = open_doc(client, project / "trials.yaml", text)
    line = text.count("\n") - 1  # the empty line under `model:`
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(line, 6))
    )
    items = result.items if isinstance(result, lsp.CompletionList) else result
    labels = {i.label: i for i in items}
    assert {"embedding_dim", "name"} <= set(labels), sorted(labels)
    assert "seed" not in labels, "only the keys under model"
    assert labels["embedding_dim"].detail == "512 (base)"

    # The dotted form at the level of `settings`.
    dotted = text + "  settings:\n    training.\n"
    replace = lsp.TextDocumentContentChangeWholeDocument(text=dotted)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=trials, version=2), content_changes=[replace]
        )
    )
    line = dotted.count("\n") - 1
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(line, 13))
    )
    items = result.items if isinstance(result, lsp.CompletionList) else result
    # The keys under `training`, replacing what follows the dot.
    assert sorted(i.label for i in items) == ["lr", "optimizer"], [i.label for i in items]
    edit = next(i for i in items if i.label == "lr").text_edit
    assert (edit.range.start.character, edit.range.end.character, edit.new_text) == (13, 13, "lr: ")


async def test_completion_of_schema_keys_with_docs(client: LanguageClient, project):
    text = "- name: t\n  re\n"
    trials = open_doc(client, project / "trials.yaml", text)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(1, 4))
    )
    items = result.items if isinstance(result, lsp.CompletionList) else result
    repeat = next((i for i in items if i.label == "repeat"), None)
    assert repeat is not None, [i.label for i in items]
    assert repeat.documentation is not None


async def test_hover_shows_the_base_value_and_the_resolved_one(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    await diagnostics_until(client, trials, lambda ds: len(ds) >= 2)
    # On `embedding_dim` of `model: {embedding_dim: 256}` (line 4).
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(3, 16))
    )
    assert hover is not None
    value = hover.contents.value
    assert "model.embedding_dim" in value and "`512`" in value and "base.yaml:3" in value, value
    assert "`256` in small" in value, value


async def test_hover_on_a_schema_key_gives_its_description(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(1, 4))
    )
    assert hover is not None and "repeat" in hover.contents.value and len(hover.contents.value) > 20


async def test_definition_jumps_into_base_yaml(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    await diagnostics_until(client, trials, lambda ds: len(ds) >= 2)
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=trials), position=at(3, 16))
    )
    location = result[0] if isinstance(result, list) else result
    assert location.uri == uri(project / "base.yaml")
    # `  embedding_dim: 512` is line 3 of base.yaml (0-based 2).
    assert location.range.start == at(2, 2), location.range


async def test_definition_follows_interpolations_and_extends(client: LanguageClient, project):
    (project / "shared.yaml").write_text("training:\n  epochs: 3\n")
    base = (project / "base.yaml").read_text()
    (project / "base.yaml").write_text("extends: shared.yaml\n" + base + "tag: ${model.embedding_dim}\n")
    base_uri = open_doc(client, project / "base.yaml")
    text = (project / "base.yaml").read_text()
    lines = text.splitlines()
    # `${model.embedding_dim}` → the key in the same file.
    tag_line = next(i for i, line in enumerate(lines) if line.startswith("tag:"))
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=base_uri), position=at(tag_line, lines[tag_line].index("embedding"))
        )
    )
    location = result[0] if isinstance(result, list) else result
    assert location.uri == base_uri
    assert location.range.start.line == next(i for i, line in enumerate(lines) if "embedding_dim: 512" in line)
    # `extends: shared.yaml` → the file.
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=base_uri), position=at(0, 12))
    )
    location = result[0] if isinstance(result, list) else result
    assert location.uri == uri(project / "shared.yaml")


async def test_merge_preview_per_repeat_with_secrets_masked(client: LanguageClient, project):
    base = (project / "base.yaml").read_text()
    (project / "base.yaml").write_text(base + "api_token: hunter2\n")
    trials = open_doc(client, project / "trials.yaml")
    first = await client.protocol.send_request_async(
        "expman/mergePreview", {"textDocument": {"uri": trials}, "trial": "small"}
    )
    assert first.title == "small, repeat 1/2, seed 42"
    assert "embedding_dim: 256" in first.yaml and "optimizer: adam" in first.yaml
    assert "hunter2" not in first.yaml
    second = await client.protocol.send_request_async(
        "expman/mergePreview", {"textDocument": {"uri": trials}, "trial": "small", "repeat": 2}
    )
    assert second.title == "small, repeat 2/2, seed 43"
    with pytest.raises(Exception, match="no trial `nope`"):
        await client.protocol.send_request_async(
            "expman/mergePreview", {"textDocument": {"uri": trials}, "trial": "nope"}
        )


async def test_merge_preview_of_a_sweep_child(client: LanguageClient, project):
    text = "- name: sweep\n  sweep:\n    training.lr: [0.1, 0.2]\n"
    trials = open_doc(client, project / "trials.yaml", text)
    lenses = await client.text_document_code_lens_async(
        lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=trials))
    )
    assert [lens.command.title for lens in lenses] == ["Preview merged config (2 runs)"]
    assert lenses[0].command.command == "expman.showMergePreview"
    assert list(lenses[0].command.arguments) == [trials, "sweep"]
    assert lenses[0].range.start == at(0, 8)
    child = await client.protocol.send_request_async(
        "expman/mergePreview", {"textDocument": {"uri": trials}, "trial": "sweep"}
    )
    assert "lr: 0.1" in child.yaml, child.yaml


async def test_outline_lists_trials_and_sweeps(client: LanguageClient, project):
    text = (project / "trials.yaml").read_text() + "- name: grid\n  sweep:\n    training.lr: [0.1, 0.2]\n"
    trials = open_doc(client, project / "trials.yaml", text)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=trials))
    )
    assert [s.name for s in symbols] == ["small", "typo", "bad_type", "grid"]
    folds = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=lsp.TextDocumentIdentifier(uri=trials))
    )
    assert any(f.start_line == 0 for f in folds)


async def test_settings_from_workspace_configuration(client: LanguageClient, project):
    trials = open_doc(client, project / "trials.yaml")
    await diagnostics_until(client, trials, lambda ds: any(d.code == "unknown-override" for d in ds))
    client.set_configuration({"diagnostics": {"overrides": "off"}}, section="expman")
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=None))
    diags = await diagnostics_until(client, trials, lambda ds: not any(d.code == "unknown-override" for d in ds))
    assert any(d.code == "wrong-type" for d in diags), "other diagnostics stay"


async def complete_at(client: LanguageClient, path, text: str, marker: str = "$0"):
    """Opens `path` with `text` (the marker removed) and asks for completion at the marker."""
    before, after = text.split(marker)
    uri = open_doc(client, path, before + after)
    line = before.count("\n")
    character = len(before.rsplit("\n", 1)[-1])
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(line, character))
    )
    return result.items if isinstance(result, lsp.CompletionList) else result


async def test_completion_of_sweep_keys_references_trackers_and_enums(client: LanguageClient, project):
    # Inside `sweep`: every leaf of base.yaml as a dotted key, with its base value.
    items = await complete_at(client, project / "trials.yaml", "- name: s\n  sweep:\n    training.$0\n")
    labels = {i.label: i for i in items}
    assert set(labels) == {"training.lr", "training.optimizer"}, sorted(labels)
    assert labels["training.lr"].detail == "0.001 (base)"

    # Inside `${...}`: paths of the config.
    items = await complete_at(
        client, project / "trials.yaml", '- name: s\n  settings:\n    note: "${training.$0}"\n'
    )
    assert {"training.lr", "training.optimizer"} <= {i.label for i in items}, [i.label for i in items]

    # Tracker types in env.yaml (with experiment_manager's spellings), and their options.
    items = await complete_at(client, project / "env.yaml", "workspace: out\ntrackers:\n  - type: $0\n")
    types = {i.label for i in items}
    assert {"mlflow", "tensorboard", "csv", "MLflowTracker"} <= types, sorted(types)
    items = await complete_at(client, project / "env.yaml", "trackers:\n  - type: mlflow\n    $0\n")
    assert "tracking_uri" in {i.label for i in items}, [i.label for i in items]

    # An enum value in env.yaml: hardware.gpu.
    items = await complete_at(client, project / "env.yaml", "hardware:\n  gpu: $0\n")
    assert {i.label for i in items} >= {"off", "auto", "required"}, [i.label for i in items]
