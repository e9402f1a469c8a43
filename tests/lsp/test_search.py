"""A trial's `search:` block in the language server over stdio: the
block's keys and the space's keys (base.yaml's, each with a distribution
around its value) are completed, and problems in the space (a log scale
reaching 0, an empty range, a key base.yaml lacks) are diagnostics at
their exact place."""

from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from lsp_helpers import at, diagnostics_until, open_doc, replace_all
from test_half_typed import complete

SEARCH = """\
- name: tune
  search:
    metric: val_loss
    space:
      training.lr: {loguniform: [0.0, 1.0]}
      model.embedding_dim: {int: [512, 64]}
      model.embeding: {choice: [1, 2]}
"""


async def test_search_problems_are_reported_where_they_are(client: LanguageClient, project):
    uri = open_doc(client, project / "trials.yaml", SEARCH)
    diags = await diagnostics_until(client, uri, lambda ds: sum(d.severity == lsp.DiagnosticSeverity.Error for d in ds) >= 2)
    errors = sorted((d.range.start.line, d.range.start.character, d.range.end.character, d.message) for d in diags if d.severity == lsp.DiagnosticSeverity.Error)
    assert errors[0][:3] == (4, 32, 42) and "log scale needs numbers above 0" in errors[0][3], errors
    assert errors[1][:3] == (5, 33, 42) and "the range [512, 64] is empty" in errors[1][3], errors
    typo = [d for d in diags if d.code == "unknown-override"]
    assert typo and typo[0].range.start.line == 6 and "model.embeding" in typo[0].message, diags


async def test_search_keys_and_space_keys_complete(client: LanguageClient, project):
    uri = open_doc(client, project / "trials.yaml", "- name: tune\n  search:\n    metric: val_loss\n    \n")
    labels = await complete(client, uri, at(3, 4))
    assert {"method", "mode", "trials", "parallel", "seed", "space", "prune", "tpe"} <= set(labels), labels
    assert "metric" not in labels, "a key already there is not offered again"
    replace_all(client, project / "trials.yaml", "- name: tune\n  search:\n    metric: val_loss\n    space:\n      training.\n", 2)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(4, 15))
    )
    items = result.items if isinstance(result, lsp.CompletionList) else result
    edits = {i.label: i.text_edit.new_text for i in items}
    assert edits["training.lr"] == "training.lr: {loguniform: [1.0e-4, 1.0e-2]}", edits
    assert edits["training.optimizer"] == "training.optimizer: {choice: [adam]}", edits
