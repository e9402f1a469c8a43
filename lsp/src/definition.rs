//! Go to definition: from a trial's override to the key in base.yaml, from
//! `${a.b}` to `a.b`, from `extends:` to the file it names.

use std::path::Path;

use expman_schema::{Node, Role, Span};
use tower_lsp_server::ls_types::{Location, Range, Uri};

use crate::completion::FileKind;
use crate::context::node_at;
use crate::convert::Text;
use crate::hover::{override_path, role_path, trial_part};
use crate::world::Snapshot;

pub fn definition(
    kind: FileKind,
    path: &Path,
    text: &Text,
    root: &Node,
    offset: u32,
    snap: Option<&Snapshot>,
) -> Option<Location> {
    let snap = snap?;
    // `${a.b}` under the cursor.
    if let Some(target) = reference_at(&text.text, offset as usize) {
        let keys: Vec<String> = target.split('.').map(str::to_string).collect();
        return key_location(snap, &snap.base, &keys);
    }
    let found = node_at(root, offset)?;
    let (role, inner) = role_path(kind, &found.path)?;
    // `extends: PATH`.
    if inner.last().map(String::as_str) == Some("extends")
        && let Some(value) = found.node.as_str()
    {
        let dir = path.parent()?;
        let mut target = expman_schema::loader::normalize(&dir.join(value));
        if target.is_dir() {
            target = role.find_in(&expman_schema::FsLoader, &target)?;
        }
        return Some(Location { uri: Uri::from_file_path(&target)?, range: Range::default() });
    }
    if role == Role::Trials
        && let Some((_, rest)) = trial_part(&inner)
        && matches!(rest.first().map(String::as_str), Some("settings") | Some("sweep"))
        && rest.len() > 1
    {
        return key_location(snap, &snap.base, &override_path(&rest[1..]));
    }
    None
}

/// The place of the key at `keys` in `root` (spans into any file read).
fn key_location(snap: &Snapshot, root: &Node, keys: &[String]) -> Option<Location> {
    let (parent, last) = keys.split_at(keys.len().checked_sub(1)?);
    let map = root.get_path(parent.iter())?.as_map()?;
    let span: Span = map.entry(&last[0])?.key_span;
    let file = snap.sources.get(span.file)?;
    let text = Text::new(file.text.clone());
    Some(Location { uri: Uri::from_file_path(&file.path)?, range: text.range(span) })
}

/// The absolute reference (`a.b` of `${a.b}`) around a byte offset.
pub fn reference_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset.min(text.len())].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset.min(text.len())..].find('\n').map(|i| offset + i).unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let at = offset - line_start;
    let mut from = 0;
    while let Some(open) = line[from..].find("${").map(|i| from + i) {
        let close = line[open..].find('}').map(|i| open + i)?;
        if open <= at && at <= close {
            let inner = line[open + 2..close].trim();
            if inner.starts_with('.') || inner.contains(':') || inner.is_empty() {
                return None;
            }
            return Some(inner.to_string());
        }
        from = close + 1;
    }
    None
}
