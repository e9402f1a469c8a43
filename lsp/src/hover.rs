//! Hover: on a trial's override, the base value it replaces and the
//! resolved value ("model.embedding_dim: 512 (base.yaml:3) → 256 in
//! small_model"); on any key the schema knows, its description and type;
//! on an enum value, what it means.

use expman_schema::compiled::CompiledSchema;
use expman_schema::{Node, Role, Value};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::completion::{FileKind, short};
use crate::context::{Found, node_at};
use crate::convert::Text;
use crate::world::Snapshot;

/// The role and the path inside it (a single-file config's section stripped).
pub fn role_path(kind: FileKind, path: &[String]) -> Option<(Role, Vec<String>)> {
    match kind {
        FileKind::Role(r) => Some((r, path.to_vec())),
        FileKind::Single => {
            let first = path.first()?;
            let role = Role::ALL.into_iter().find(|r| r.name() == first)?;
            Some((role, path[1..].to_vec()))
        }
    }
}

/// For a path in trials: (item index, the keys after it).
pub fn trial_part(path: &[String]) -> Option<(usize, &[String])> {
    let rest = if path.first().map(String::as_str) == Some("trials") { &path[1..] } else { path };
    let index = rest.first()?.parse().ok()?;
    Some((index, &rest[1..]))
}

/// The trial items of a trials document (a list, or `{trials: [...]}`).
pub fn trial_items(root: &Node) -> Option<&[Node]> {
    match &root.value {
        Value::Seq(items) => Some(items),
        Value::Map(m) => m.get("trials").and_then(Node::as_seq),
        _ => None,
    }
}

/// A dotted override path, keys split at dots and `+` dropped.
pub fn override_path(keys: &[String]) -> Vec<String> {
    keys.iter().flat_map(|k| k.trim_start_matches('+').split('.').map(str::to_string)).collect()
}

pub fn hover(kind: FileKind, text: &Text, root: &Node, offset: u32, snap: Option<&Snapshot>) -> Option<Hover> {
    let found = node_at(root, offset)?;
    let (role, path) = role_path(kind, &found.path)?;
    let mut sections: Vec<String> = Vec::new();
    if role == Role::Trials
        && let Some((index, rest)) = trial_part(&path)
        && rest.first().map(String::as_str) == Some("settings")
        && rest.len() > 1
    {
        let trials_root = match kind {
            FileKind::Single => root.get("trials")?,
            FileKind::Role(_) => root,
        };
        let trial = trial_items(trials_root)?.get(index)?.get("name")?.as_str()?.to_string();
        sections.push(override_text(&trial, &override_path(&rest[1..]), &found, snap));
    }
    if let Some(doc) = schema_text(role, &path, &found) {
        sections.push(doc);
    }
    if sections.is_empty() {
        return None;
    }
    let range = found
        .key_span
        .map(|s| text.range(s))
        .or_else(|| found.node.span.is_real().then(|| text.range(found.node.span)));
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n\n---\n\n"),
        }),
        range,
    })
}

fn override_text(trial: &str, path: &[String], found: &Found<'_>, snap: Option<&Snapshot>) -> String {
    let dotted = path.join(".");
    let Some(snap) = snap else {
        return format!("**{dotted}** (analysis pending)");
    };
    let base = snap.base.get_path(path.iter());
    let runs = snap.trials.iter().find(|t| t.name == trial).map_or(0, |t| t.runs);
    let first = snap.expand_trial(trial, Some(1)).runs.into_iter().next();
    let resolved = first.as_ref().and_then(|r| r.config.get_path(path.iter()));
    let place = |node: &Node| -> String {
        snap.sources
            .get(node.span.file)
            .map(|f| {
                format!(
                    "{}:{}",
                    f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    f.line_col(node.span.start).line
                )
            })
            .unwrap_or_else(|| "base".into())
    };
    let before = match base {
        Some(b) => format!("`{}` ({})", short(b), place(b)),
        None => "not in base.yaml (this trial adds it)".into(),
    };
    let after = resolved.map(short).unwrap_or_else(|| short(found.node));
    let many = if runs > 1 { format!(" (all {runs} of its runs)") } else { String::new() };
    format!("**{dotted}**: {before} → `{after}` in {trial}{many}")
}

fn schema_text(role: Role, path: &[String], found: &Found<'_>) -> Option<String> {
    let schema = CompiledSchema::of(role.schema());
    // Numbered list items in the schema are "0".
    let schema_path: Vec<String> =
        path.iter().map(|p| if p.bytes().all(|b| b.is_ascii_digit()) { "0".into() } else { p.clone() }).collect();
    let id = schema.at_path(&schema_path)?;
    let mut out = format!("**{}**", path.last()?);
    if let Some(desc) = schema.description(id) {
        out.push_str(&format!(": {desc}"));
    }
    if found.key_span.is_none()
        && let (Some(value), Some((values, docs))) = (found.node.as_str(), schema.enum_of(id))
        && let Some(i) = values.iter().position(|v| v.as_str() == Some(value))
        && let Some(doc) = docs.get(i)
    {
        out.push_str(&format!("\n\n`{value}`: {doc}"));
    }
    Some(out)
}
