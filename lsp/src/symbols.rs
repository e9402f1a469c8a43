//! The outline (trials and their sweep children in trials.yaml, sections
//! and keys elsewhere) and folding ranges of a document.

use expman_schema::{Node, Value};
use tower_lsp_server::ls_types::{DocumentSymbol, FoldingRange, FoldingRangeKind, SymbolKind};

use crate::convert::Text;
use crate::hover::trial_items;

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be set; it is unused.
fn symbol(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    text: &Text,
    range: expman_schema::Span,
    selection: expman_schema::Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: if name.is_empty() { "(unnamed)".into() } else { name },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: text.range(range),
        selection_range: text.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}

/// The outline of a single-file config: its sections, with the trials
/// (and their sweep children) under `trials`.
pub fn single_file_outline(root: &Node, text: &Text) -> Vec<DocumentSymbol> {
    let mut sections = outline(root, text, false);
    if let Some(section) = sections.iter_mut().find(|s| s.name == "trials") {
        // `trial_items` finds the list under `trials:`.
        let children = outline(root, text, true);
        section.children = (!children.is_empty()).then_some(children);
    }
    sections
}

/// Trials (with repeats and sweep axes) for a trials document; keys (two
/// levels) for the others.
pub fn outline(root: &Node, text: &Text, is_trials: bool) -> Vec<DocumentSymbol> {
    if is_trials && let Some(items) = trial_items(root) {
        return items
            .iter()
            .filter_map(|item| {
                let map = item.as_map()?;
                let name_node = map.get("name");
                let name = name_node.and_then(Node::as_str).unwrap_or("").to_string();
                let repeat = map.get("repeat").and_then(Node::as_i64).unwrap_or(1);
                let mut children = Vec::new();
                let mut runs = repeat;
                if let Some(sweep) = map.get("sweep").and_then(Node::as_map) {
                    for (key, entry) in sweep.iter() {
                        let n = entry.value.as_seq().map(<[Node]>::len).unwrap_or(0);
                        runs *= n as i64;
                        children.push(symbol(
                            format!("sweep {key}"),
                            Some(format!("{n} values")),
                            SymbolKind::ARRAY,
                            text,
                            entry.value.span.cover(entry.key_span),
                            entry.key_span,
                            Vec::new(),
                        ));
                    }
                }
                let selection = name_node.map(|n| n.span).unwrap_or(item.span);
                Some(symbol(
                    name,
                    Some(format!("{runs} run(s)")),
                    SymbolKind::CLASS,
                    text,
                    item.span,
                    selection,
                    children,
                ))
            })
            .collect();
    }
    keys(root, text, 2)
}

fn keys(node: &Node, text: &Text, depth: usize) -> Vec<DocumentSymbol> {
    let Some(map) = node.as_map() else { return Vec::new() };
    map.iter()
        .filter(|(_, e)| e.key_span.is_real())
        .map(|(k, e)| {
            let kind = match &e.value.value {
                Value::Map(_) => SymbolKind::OBJECT,
                Value::Seq(_) => SymbolKind::ARRAY,
                _ => SymbolKind::PROPERTY,
            };
            let children = if depth > 1 { keys(&e.value, text, depth - 1) } else { Vec::new() };
            symbol(k.to_string(), None, kind, text, e.key_span.cover(e.value.span), e.key_span, children)
        })
        .collect()
}

/// Folding ranges: every mapping or list spanning several lines.
pub fn folding(root: &Node, text: &Text) -> Vec<FoldingRange> {
    let mut out = Vec::new();
    walk(root, text, &mut out);
    out
}

fn push(text: &Text, out: &mut Vec<FoldingRange>, from: u32, to: u32) {
    let (a, b) = (text.position(from).line, text.position(to).line);
    if b > a {
        out.push(FoldingRange {
            start_line: a,
            end_line: b,
            kind: Some(FoldingRangeKind::Region),
            ..FoldingRange::default()
        });
    }
}

fn walk(node: &Node, text: &Text, out: &mut Vec<FoldingRange>) {
    match &node.value {
        Value::Map(m) => {
            for (_, e) in m.iter() {
                if e.key_span.is_real()
                    && e.value.span.file == e.key_span.file
                    && matches!(e.value.value, Value::Map(_) | Value::Seq(_))
                {
                    push(text, out, e.key_span.start, e.value.span.end);
                }
                walk(&e.value, text, out);
            }
        }
        Value::Seq(items) => {
            for item in items.iter() {
                if matches!(item.value, Value::Map(_)) {
                    push(text, out, item.span.start, item.span.end);
                }
                walk(item, text, out);
            }
        }
        _ => {}
    }
}
