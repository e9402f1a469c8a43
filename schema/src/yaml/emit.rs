//! Writes [`Node`] trees as block-style YAML or as JSON, for previews and for
//! the `config.yaml` stored with each run.

use super::node::{Node, Value};
use super::scalar::format_scalar;

/// Block-style YAML with two-space indents; empty collections in flow style.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(m) if !m.is_empty() => write_map(node, 0, &mut out),
        Value::Seq(s) if !s.is_empty() => write_seq(node, 0, &mut out),
        _ => {
            out.push_str(&inline(node));
            out.push('\n');
        }
    }
    out
}

/// Pretty-printed JSON.
pub fn to_json(node: &Node) -> String {
    serde_json::to_string_pretty(&node.to_json()).unwrap_or_default()
}

fn inline(node: &Node) -> String {
    match &node.value {
        Value::Seq(items) if items.is_empty() => "[]".into(),
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Seq(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, e)| format!("{}: {}", format_key(k), inline(&e.value))).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) if s.contains('\n') => super::scalar::quote_if_needed(s),
        other => format_scalar(other),
    }
}

fn format_key(key: &str) -> String {
    format_scalar(&Value::String(key.to_string()))
}

fn is_block(node: &Node) -> bool {
    match &node.value {
        Value::Map(m) => !m.is_empty(),
        Value::Seq(s) => !s.is_empty(),
        _ => false,
    }
}

fn write_map(node: &Node, indent: usize, out: &mut String) {
    let Value::Map(m) = &node.value else { return };
    for (k, e) in m.iter() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&format_key(k));
        out.push(':');
        if is_block(&e.value) {
            out.push('\n');
            match &e.value.value {
                Value::Map(_) => write_map(&e.value, indent + 2, out),
                _ => write_seq(&e.value, indent + 2, out),
            }
        } else {
            out.push(' ');
            out.push_str(&inline(&e.value));
            out.push('\n');
        }
    }
}

fn write_seq(node: &Node, indent: usize, out: &mut String) {
    let Value::Seq(items) = &node.value else {
        return;
    };
    for item in items.iter() {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match &item.value {
            Value::Map(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut first = String::new();
                write_map(item, indent + 2, &mut first);
                out.push(' ');
                out.push_str(first.trim_start());
            }
            Value::Seq(s) if !s.is_empty() => {
                out.push('\n');
                write_seq(item, indent + 2, out);
            }
            _ => {
                out.push(' ');
                out.push_str(&inline(item));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn yaml_round_trips() {
        let text =
            "a: 1\nb:\n  c: \"x: y\"\n  d:\n  - 1\n  - {e: 2.5}\n  - k: v\n    l: [1, 2]\nempty: {}\nnone: null\n";
        let first = crate::yaml::parse(text, FileId(0));
        let written = to_yaml(&first.docs[0]);
        let again = crate::yaml::parse(&written, FileId(0));
        assert!(again.errors.is_empty(), "{written}");
        assert_eq!(first.docs[0].to_json(), again.docs[0].to_json(), "{written}");
    }
}
