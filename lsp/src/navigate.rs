//! References, rename, inlay hints and workspace symbols, over the key
//! and trial uses of a config ([`Uses`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use expman_schema::{FileId, Span};
use tower_lsp_server::ls_types::{
    InlayHint, InlayHintKind, InlayHintLabel, Location, Range, SymbolKind, TextEdit, Uri, WorkspaceEdit,
    WorkspaceSymbol,
};

use crate::completion::short;
use crate::convert::Text;
use crate::keys::{KeyUse, UseKind, Uses};
use crate::world::Snapshot;

/// What is under the cursor, for references and rename.
enum Subject<'a> {
    Key(&'a KeyUse),
    Trial(String, Span),
}

fn subject<'a>(uses: &'a Uses, file: FileId, offset: u32) -> Option<Subject<'a>> {
    if let Some(t) = uses.trial_at(file, offset) {
        return Some(Subject::Trial(t.name.clone(), t.span));
    }
    uses.key_at(file, offset).map(Subject::Key)
}

/// A span as an LSP location.
pub fn location(snap: &Snapshot, span: Span) -> Option<Location> {
    let file = snap.sources.get(span.file)?;
    let text = Text::new(file.text.clone());
    Some(Location { uri: Uri::from_file_path(&file.path)?, range: text.range(span) })
}

/// Every place the key or trial at `offset` of `path` is written.
pub fn references(snap: &Snapshot, path: &Path, offset: u32, include_declaration: bool) -> Option<Vec<Location>> {
    let file = snap.sources.find(path)?;
    let uses = Uses::of(snap);
    let spans: Vec<Span> = match subject(&uses, file, offset)? {
        Subject::Key(key) => {
            uses.of_key(&key.path).filter(|u| include_declaration || u.kind != UseKind::Base).map(|u| u.span).collect()
        }
        Subject::Trial(name, _) => uses
            .trials
            .iter()
            .filter(|t| t.name == name && (include_declaration || !t.declaration))
            .map(|t| t.span)
            .collect(),
    };
    Some(spans.into_iter().filter_map(|s| location(snap, s)).collect())
}

/// The range a rename at `offset` would change, with its text.
pub fn prepare_rename(snap: &Snapshot, path: &Path, offset: u32) -> Option<(Range, String)> {
    let file = snap.sources.find(path)?;
    let uses = Uses::of(snap);
    let span = match subject(&uses, file, offset)? {
        Subject::Key(key) => key.span,
        Subject::Trial(_, span) => span,
    };
    let source = snap.sources.get(span.file)?;
    let placeholder = source.text.get(span.start as usize..span.end as usize)?.to_string();
    Some((Text::new(source.text.clone()).range(span), placeholder))
}

/// The edits that rename the key or trial at `offset` to `new_name`, in
/// every file of the config; an error (nothing changed) when the name is
/// not one or would collide.
pub fn rename(snap: &Snapshot, path: &Path, offset: u32, new_name: &str) -> Result<WorkspaceEdit, String> {
    let file = snap.sources.find(path).ok_or("not a file of this config")?;
    let uses = Uses::of(snap);
    let spans: Vec<Span> = match subject(&uses, file, offset).ok_or("nothing to rename here")? {
        Subject::Key(key) => {
            if new_name.is_empty() || new_name.contains(['.', ':', '{', '}', '[', ']', ',', '#', ' ', '"', '\'']) {
                return Err(format!("`{new_name}` cannot be a key name (no dots, spaces or YAML punctuation)"));
            }
            let mut renamed = key.path.clone();
            *renamed.last_mut().ok_or("nothing to rename here")? = new_name.to_string();
            if renamed != key.path && uses.keys.iter().any(|u| u.path == renamed) {
                return Err(format!("`{}` already exists: renaming would merge two keys", renamed.join(".")));
            }
            // The key and everything under it, where its part is written.
            uses.keys.iter().filter(|u| u.path == key.path).map(|u| u.span).collect()
        }
        Subject::Trial(name, _) => {
            if new_name.is_empty() || new_name.contains(['[', ']', '/', ' ', ':']) {
                return Err(format!("`{new_name}` cannot be a trial name (no spaces, brackets, slashes or colons)"));
            }
            if new_name != name && uses.trials.iter().any(|t| t.declaration && t.name == new_name) {
                return Err(format!("a trial named `{new_name}` already exists"));
            }
            uses.trials.iter().filter(|t| t.name == name).map(|t| t.span).collect()
        }
    };
    let mut changes: BTreeMap<String, (Uri, Vec<TextEdit>)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for span in spans {
        if !seen.insert((span.file, span.start)) {
            continue;
        }
        let Some(location) = location(snap, span) else { continue };
        changes
            .entry(location.uri.to_string())
            .or_insert_with(|| (location.uri.clone(), Vec::new()))
            .1
            .push(TextEdit { range: location.range, new_text: new_name.to_string() });
    }
    Ok(WorkspaceEdit { changes: Some(changes.into_values().collect()), ..WorkspaceEdit::default() })
}

/// Inlay hints of a file: in trials, after each override of a base key,
/// the value it replaces and where; in base.yaml, after a key trials
/// override, how many do.
pub fn inlay_hints(snap: &Snapshot, path: &Path) -> Vec<InlayHint> {
    let Some(file) = snap.sources.find(path) else { return Vec::new() };
    let Some(source) = snap.sources.get(file) else { return Vec::new() };
    let text = Text::new(source.text.clone());
    let uses = Uses::of(snap);
    let base: BTreeMap<&[String], &KeyUse> = uses
        .keys
        .iter()
        .filter(|u| u.kind == UseKind::Base && u.value.is_some())
        .map(|u| (u.path.as_slice(), u))
        .collect();
    let mut hints = Vec::new();
    for u in uses.keys.iter().filter(|u| u.span.file == file) {
        let Some(value) = &u.value else { continue };
        let at = if value.span.file == file && value.span.is_real() { value.span.end } else { u.span.end };
        let label = match u.kind {
            UseKind::Override => {
                let Some(b) = base.get(u.path.as_slice()) else { continue };
                let Some(before) = &b.value else { continue };
                let from = snap
                    .sources
                    .get(b.span.file)
                    .and_then(|f| f.path.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "base".into());
                format!("← {} ({from})", short(before))
            }
            UseKind::Base => {
                let trials: BTreeSet<&str> = uses
                    .keys
                    .iter()
                    .filter(|o| o.kind == UseKind::Override && o.path == u.path)
                    .filter_map(|o| o.trial.as_deref())
                    .collect();
                match trials.len() {
                    0 => continue,
                    1 => "overridden by 1 trial".to_string(),
                    n => format!("overridden by {n} trials"),
                }
            }
            UseKind::Reference => continue,
        };
        hints.push(InlayHint {
            position: text.position(at),
            label: InlayHintLabel::String(label),
            kind: Some(InlayHintKind::TYPE),
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    }
    hints
}

/// Trials (and sweep children) whose names contain `query`'s characters
/// in order (case-insensitive), across the configs the server knows.
pub fn workspace_symbols(snaps: &[&Snapshot], query: &str) -> Vec<WorkspaceSymbol> {
    let wanted: Vec<char> = query.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    let matches = |name: &str| {
        let mut want = wanted.iter().peekable();
        for c in name.to_lowercase().chars() {
            if want.peek() == Some(&&c) {
                want.next();
            }
        }
        want.peek().is_none()
    };
    let mut out = Vec::new();
    for snap in snaps {
        let container = snap.target.path().file_name().map(|n| n.to_string_lossy().into_owned());
        for trial in &snap.trials {
            let Some(location) = location(snap, trial.name_span) else { continue };
            if matches(&trial.name) {
                out.push(symbol(trial.name.clone(), SymbolKind::CLASS, location.clone(), container.clone()));
            }
            for child in &trial.children {
                if matches(child) {
                    out.push(symbol(child.clone(), SymbolKind::FIELD, location.clone(), Some(trial.name.clone())));
                }
            }
        }
    }
    out
}

fn symbol(name: String, kind: SymbolKind, location: Location, container: Option<String>) -> WorkspaceSymbol {
    WorkspaceSymbol {
        name,
        kind,
        tags: None,
        container_name: container,
        location: tower_lsp_server::ls_types::OneOf::Left(location),
        data: None,
    }
}
