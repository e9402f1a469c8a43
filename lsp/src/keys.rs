//! Where each settings key is written across a config: in base.yaml (after
//! `extends`), in each trial's `settings`, sweep and search space, and in
//! `${...}` references; and where each trial is named and referred to
//! (`trial:NAME`). One walk, shared by references, rename and inlay hints.
//!
//! A dotted key (`model.embedding_dim: 64`) is one token that names two
//! keys: it gives one [`KeyUse`] per part, each with the span of its part,
//! so that renaming `embedding_dim` edits just that part.

use expman_schema::{FileId, Node, Role, Span, Value};

use crate::hover::trial_items;
use crate::world::Snapshot;

/// Where a key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseKind {
    /// Its definition in base.yaml.
    Base,
    /// A trial's override (settings, sweep axis or search space).
    Override,
    /// A `${...}` reference.
    Reference,
}

/// One written part of a key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyUse {
    /// The key's full path, e.g. `["model", "embedding_dim"]`.
    pub path: Vec<String>,
    /// The part's text in its file.
    pub span: Span,
    pub kind: UseKind,
    /// The trial that overrides it (for overrides).
    pub trial: Option<String>,
    /// The value written there (base definitions and overrides of a leaf).
    pub value: Option<Node>,
}

/// A trial's name, or a `trial:NAME` reference to it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialUse {
    pub name: String,
    pub span: Span,
    /// The declaration (`name:`), not a reference.
    pub declaration: bool,
}

/// Every key and trial use of a config.
#[derive(Clone, Debug, Default)]
pub struct Uses {
    pub keys: Vec<KeyUse>,
    pub trials: Vec<TrialUse>,
}

impl Uses {
    pub fn of(snap: &Snapshot) -> Uses {
        let mut uses = Uses::default();
        walk_map(&snap.base, &[], snap, UseKind::Base, None, &mut uses.keys);
        references_in(&snap.base, snap, &mut uses);
        if let Some(root) = trials_root(snap) {
            for item in trial_items(&root).unwrap_or_default() {
                let Some(map) = item.as_map() else { continue };
                let Some(name_node) = map.get("name") else { continue };
                let Some(name) = name_node.as_str() else { continue };
                if let Some(span) = scalar_text_span(snap, name_node) {
                    uses.trials.push(TrialUse { name: name.to_string(), span, declaration: true });
                }
                let trial = Some(name.to_string());
                if let Some(settings) = map.get("settings") {
                    walk_map(settings, &[], snap, UseKind::Override, trial.clone(), &mut uses.keys);
                }
                for block in [map.get("sweep"), map.get("search").and_then(|s| s.get("space"))].into_iter().flatten() {
                    if let Some(entries) = block.as_map() {
                        for (key, entry) in entries.iter() {
                            let value = (block.span != entry.value.span).then(|| entry.value.clone());
                            key_parts(
                                key,
                                entry.key_span,
                                &[],
                                snap,
                                UseKind::Override,
                                trial.clone(),
                                value,
                                &mut uses.keys,
                            );
                        }
                    }
                }
                references_in(item, snap, &mut uses);
            }
        }
        uses
    }

    /// The key part at a byte offset of a file.
    pub fn key_at(&self, file: FileId, offset: u32) -> Option<&KeyUse> {
        self.keys.iter().find(|u| u.span.file == file && u.span.start <= offset && offset <= u.span.end)
    }

    /// The trial name or reference at a byte offset of a file.
    pub fn trial_at(&self, file: FileId, offset: u32) -> Option<&TrialUse> {
        self.trials.iter().find(|u| u.span.file == file && u.span.start <= offset && offset <= u.span.end)
    }

    /// Every use of the key at `path`.
    pub fn of_key<'a>(&'a self, path: &'a [String]) -> impl Iterator<Item = &'a KeyUse> + 'a {
        self.keys.iter().filter(move |u| u.path == path)
    }
}

/// The trials document's tree (a single-file config's `trials` section too).
fn trials_root(snap: &Snapshot) -> Option<Node> {
    let role = if snap.files.contains_key(&Role::Trials) { Role::Trials } else { *snap.files.keys().next()? };
    let id = *snap.files.get(&role)?;
    let file = snap.sources.get(id)?;
    let root = expman_schema::yaml::parse(&file.text, id).docs.into_iter().next()?;
    match &root.value {
        Value::Map(m) if !m.contains_key("trials") => None,
        _ => Some(root),
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_map(
    node: &Node,
    prefix: &[String],
    snap: &Snapshot,
    kind: UseKind,
    trial: Option<String>,
    out: &mut Vec<KeyUse>,
) {
    let Some(map) = node.as_map() else { return };
    for (key, entry) in map.iter() {
        let path = key_parts(key, entry.key_span, prefix, snap, kind, trial.clone(), leaf(&entry.value), out);
        walk_map(&entry.value, &path, snap, kind, trial.clone(), out);
    }
}

fn leaf(node: &Node) -> Option<Node> {
    (!matches!(node.value, Value::Map(_))).then(|| node.clone())
}

/// The uses of one key token (its dotted parts) under `prefix`; returns
/// the full path it ends at.
#[allow(clippy::too_many_arguments)]
fn key_parts(
    key: &str,
    key_span: Span,
    prefix: &[String],
    snap: &Snapshot,
    kind: UseKind,
    trial: Option<String>,
    value: Option<Node>,
    out: &mut Vec<KeyUse>,
) -> Vec<String> {
    let parts: Vec<&str> = key.trim_start_matches('+').split('.').collect();
    let mut path = prefix.to_vec();
    // Where the key's text starts (past a quote and a `+`), if the source
    // holds it as written; otherwise every part gets the whole key's span.
    let raw = snap.sources.get(key_span.file).and_then(|f| f.text.get(key_span.start as usize..key_span.end as usize));
    let mut at = raw.map(|r| {
        let unquoted = r.trim_start_matches(['"', '\'']);
        let plus = unquoted.trim_start_matches('+');
        key_span.start + (r.len() - plus.len()) as u32
    });
    for (i, part) in parts.iter().enumerate() {
        path.push(part.to_string());
        let span = match at {
            Some(start) if raw.is_some_and(|r| r.contains(part)) => {
                Span { file: key_span.file, start, end: start + part.len() as u32 }
            }
            _ => key_span,
        };
        at = at.map(|a| a + part.len() as u32 + 1);
        let last = i + 1 == parts.len();
        out.push(KeyUse {
            path: path.clone(),
            span,
            kind,
            trial: trial.clone(),
            value: if last { value.clone() } else { None },
        });
    }
    path
}

/// `${a.b}` references (each part) and `trial:NAME` references in the
/// strings under a node.
fn references_in(node: &Node, snap: &Snapshot, uses: &mut Uses) {
    match &node.value {
        Value::String(s) => {
            let Some(raw_span) = scalar_text_span(snap, node) else { return };
            let Some(file) = snap.sources.get(raw_span.file) else { return };
            let Some(raw) = file.text.get(raw_span.start as usize..raw_span.end as usize) else { return };
            let mut from = 0;
            while let Some(open) = raw[from..].find("${").map(|i| from + i) {
                let Some(close) = raw[open..].find('}').map(|i| open + i) else { break };
                let inner = &raw[open + 2..close];
                let trimmed = inner.trim();
                if !trimmed.is_empty() && !trimmed.contains(':') && !trimmed.starts_with('.') {
                    let lead = inner.len() - inner.trim_start().len();
                    let mut at = raw_span.start + (open + 2 + lead) as u32;
                    let mut path = Vec::new();
                    for part in trimmed.split('.') {
                        path.push(part.to_string());
                        uses.keys.push(KeyUse {
                            path: path.clone(),
                            span: Span { file: raw_span.file, start: at, end: at + part.len() as u32 },
                            kind: UseKind::Reference,
                            trial: None,
                            value: None,
                        });
                        at += part.len() as u32 + 1;
                    }
                }
                from = close + 1;
            }
            if let Some(rest) = s.strip_prefix("trial:") {
                let name = rest.split('/').next().unwrap_or(rest);
                if let Some(offset) = raw.find("trial:") {
                    let start = raw_span.start + (offset + "trial:".len()) as u32;
                    uses.trials.push(TrialUse {
                        name: name.to_string(),
                        span: Span { file: raw_span.file, start, end: start + name.len() as u32 },
                        declaration: false,
                    });
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| references_in(i, snap, uses)),
        Value::Map(map) => map.iter().for_each(|(_, e)| references_in(&e.value, snap, uses)),
        _ => {}
    }
}

/// A scalar's text without its quotes.
fn scalar_text_span(snap: &Snapshot, node: &Node) -> Option<Span> {
    let file = snap.sources.get(node.span.file)?;
    let raw = file.text.get(node.span.start as usize..node.span.end as usize)?;
    let quoted =
        raw.len() >= 2 && (raw.starts_with('"') && raw.ends_with('"') || raw.starts_with('\'') && raw.ends_with('\''));
    Some(if quoted {
        Span { file: node.span.file, start: node.span.start + 1, end: node.span.end - 1 }
    } else {
        node.span
    })
}
