//! Command-line overrides: `key.path=value` arguments, as Hydra users write
//! them. The value is read as YAML (`lr=0.1` is a number, `tags=[a,b]` a
//! list, `name="007"` a string). Overrides apply on top of each trial's
//! merged settings, so the command line wins over base.yaml and trials.yaml.
//! A key base.yaml does not have gets a warning unless it is written
//! `+key=value`.

use crate::diagnostic::{Code, Diagnostic};
use crate::merge::{check_overrides, expand_dotted};
use crate::source::{Sources, Span};
use crate::yaml::{self, Map, Node, Value};

/// Parsed overrides: as written (for checks) and nested (for merging).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub raw: Option<Node>,
    pub merged: Option<Node>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.raw.is_none()
    }

    /// Parses `key=value` arguments, registering them as a source named
    /// `<command line>` so diagnostics can point into them.
    pub fn parse(args: &[String], sources: &mut Sources, out: &mut Vec<Diagnostic>) -> Overrides {
        if args.is_empty() {
            return Overrides::default();
        }
        let text = args.join("\n");
        let file = sources.add("<command line>", text.as_str());
        let mut map = Map::new();
        let mut offset = 0usize;
        for arg in args {
            let line_span = Span::new(file, offset, offset + arg.len());
            match arg.split_once('=') {
                Some((key, value)) if valid_key(key) => {
                    let key_span = Span::new(file, offset, offset + key.len());
                    let value_start = offset + key.len() + 1;
                    let value_span = Span::new(file, value_start, value_start + value.len());
                    let node = parse_value(value, value_span);
                    map.insert(key.to_string(), key_span, node);
                }
                _ => out.push(
                    Diagnostic::error(Code::InvalidValue, line_span, format!("`{arg}` is not an override"))
                        .with_hint("write `key.path=value`, e.g. `training.lr=0.01` (prefix `+` to add a new key)"),
                ),
            }
            offset += arg.len() + 1;
        }
        if map.is_empty() {
            return Overrides::default();
        }
        let raw = Node::new(Value::map(map), Span::new(file, 0, text.len()));
        Overrides { merged: Some(expand_dotted(&raw)), raw: Some(raw) }
    }

    /// Warns about keys base.yaml lacks and type changes.
    pub fn check(&self, base: &Node, out: &mut Vec<Diagnostic>) {
        if let Some(raw) = &self.raw {
            check_overrides(base, raw, "the command line", out);
        }
    }
}

fn valid_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Reads the value as YAML; anything YAML rejects is taken as a string.
fn parse_value(value: &str, span: Span) -> Node {
    let parsed = yaml::parse(value, span.file);
    match parsed.docs.into_iter().next() {
        Some(node) if parsed.errors.is_empty() => shift(node, span.start),
        _ => Node::string(value, span),
    }
}

/// Moves spans computed for the value alone to its place in the joined text.
fn shift(mut node: Node, by: u32) -> Node {
    node.span.start += by;
    node.span.end += by;
    match &mut node.value {
        Value::Seq(items) => {
            *items = std::sync::Arc::new(items.iter().cloned().map(|n| shift(n, by)).collect());
        }
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, e) in m.iter() {
                let mut ks = e.key_span;
                ks.start += by;
                ks.end += by;
                out.insert(k.to_string(), ks, shift(e.value.clone(), by));
            }
            *m = std::sync::Arc::new(out);
        }
        _ => {}
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_yaml_and_spans_point_into_the_arguments() {
        let mut sources = Sources::new();
        let mut out = Vec::new();
        let args = vec![
            "training.lr=0.5".to_string(),
            "tags=[a, b]".to_string(),
            "+name=\"007\"".to_string(),
            "oops".to_string(),
        ];
        let o = Overrides::parse(&args, &mut sources, &mut out);
        assert_eq!(out.len(), 1);
        let merged = o.merged.unwrap().to_json();
        assert_eq!(merged, serde_json::json!({"training": {"lr": 0.5}, "tags": ["a", "b"], "name": "007"}));
        let raw = o.raw.unwrap();
        let lr = raw.get("training.lr").unwrap();
        let file = sources.get(lr.span.file).unwrap();
        assert_eq!(file.slice(lr.span), "0.5");
    }
}
