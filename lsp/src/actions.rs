//! Quick fixes: a diagnostic that knows its fix (a did-you-mean rename, a
//! value to replace) carries it in `data`; the code action applies it.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Diagnostic, Range, TextEdit, Uri, WorkspaceEdit,
};

/// The quick fixes of the diagnostics a client sends with its request.
pub fn quick_fixes(diagnostics: &[Diagnostic]) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    for d in diagnostics {
        let Some(data) = &d.data else { continue };
        let (Some(title), Some(uri), Some(replacement), Some(range)) = (
            data["title"].as_str(),
            data["uri"].as_str().and_then(|u| u.parse::<Uri>().ok()),
            data["replacement"].as_str(),
            serde_json::from_value::<Range>(data["range"].clone()).ok(),
        ) else {
            continue;
        };
        let mut changes = HashMap::new();
        changes.insert(uri, vec![TextEdit { range, new_text: replacement.to_string() }]);
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: title.to_string(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![d.clone()]),
            edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    out
}
