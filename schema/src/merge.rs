//! The one merge: how a trial's `settings` (and `extends:` layers, and
//! command-line overrides) combine with what they build on.
//!
//! Rules, each tested below:
//! 1. Two mappings merge key by key, recursively; keys only in the base stay,
//!    keys only in the override are added (in the override's order after the
//!    base's keys).
//! 2. Anything else is replaced by the override: scalars, lists (never
//!    concatenated), and a mapping replaced by a scalar or the reverse.
//! 3. `null` in the override sets the value to null (it does not delete it).
//! 4. A dotted key (`training.lr: 0.01`) is the same as the nested form
//!    (`training: {lr: 0.01}`); both may appear in one mapping.
//! 5. A `+` before a key (`+new_key: 1`, as in Hydra) says the key is meant
//!    to be new: the `+` is dropped and no "not in base.yaml" warning is given.
//!
//! Merging is associative, `merge(merge(a, b), c) == merge(a, merge(b, c))`,
//! for trees of one shape: where no layer turns a mapping into another kind
//! of value (or back), since a mapping that replaced a scalar replaces, but
//! one that meets a mapping merges.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::suggest::closest;
use crate::yaml::{Map, Node, Value};

/// Deep-merges `over` into `base` by the rules above.
pub fn merge(base: &mut Node, over: &Node) {
    match (&mut base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let b = std::sync::Arc::make_mut(b);
            for (key, entry) in o.iter() {
                match b.get_mut(key) {
                    Some(existing) => merge(existing, &entry.value),
                    None => b.insert(key.to_string(), entry.key_span, entry.value.clone()),
                }
            }
        }
        _ => *base = over.clone(),
    }
}

/// Rewrites dotted keys into nested mappings and drops `+` prefixes, at every
/// level. Where both `a.b` and `a: {b: ..}` are given, later entries win by
/// the merge rules.
pub fn expand_dotted(node: &Node) -> Node {
    expanded(node).unwrap_or_else(|| node.clone())
}

/// `expand_dotted`, or `None` when no key under `node` is dotted or
/// `+`-prefixed: then the tree is shared as it is, not copied.
fn expanded(node: &Node) -> Option<Node> {
    let Value::Map(map) = &node.value else {
        return None;
    };
    let children: Vec<Option<Node>> = map.iter().map(|(_, e)| expanded(&e.value)).collect();
    let plain_keys = map.keys().all(|k| !k.starts_with('+') && split_dotted(k).len() == 1);
    if plain_keys && children.iter().all(Option::is_none) {
        return None;
    }
    let mut out = Node::new(Value::map(Map::new()), node.span);
    for ((key, entry), child) in map.iter().zip(children) {
        let key = key.strip_prefix('+').unwrap_or(key);
        let value = child.unwrap_or_else(|| entry.value.clone());
        merge(&mut out, &nest(key, entry.key_span, value));
    }
    Some(out)
}

/// `a.b.c: v` as `{a: {b: {c: v}}}`.
fn nest(dotted: &str, key_span: Span, value: Node) -> Node {
    let parts: Vec<&str> = split_dotted(dotted);
    let mut node = value;
    for (i, part) in parts.iter().enumerate().rev() {
        let mut m = Map::new();
        let span = part_span(key_span, &parts, i);
        m.insert(part.to_string(), span, node);
        node = Node::new(Value::map(m), key_span);
    }
    node
}

/// Splits a dotted key; a key without dots (or made only of dots) is one part.
pub fn split_dotted(key: &str) -> Vec<&str> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) { vec![key] } else { parts }
}

/// The span of one part of a dotted key, when the key is written plainly.
fn part_span(key_span: Span, parts: &[&str], index: usize) -> Span {
    if !key_span.is_real() {
        return key_span;
    }
    let before: usize = parts[..index].iter().map(|p| p.len() + 1).sum();
    let start = key_span.start as usize + before;
    let end = start + parts[index].len();
    if end as u32 <= key_span.end { Span::new(key_span.file, start, end) } else { key_span }
}

/// Warns about overrides of keys `base` does not have (with a did-you-mean
/// and a quick fix) and about overrides that change a value's type. `over` is
/// the raw mapping as written (dotted keys and `+` prefixes still in it);
/// `what` names the overriding thing in messages ("trial `small_model`").
pub fn check_overrides(base: &Node, over: &Node, what: &str, out: &mut Vec<Diagnostic>) {
    let Value::Map(map) = &over.value else { return };
    for (raw_key, entry) in map.iter() {
        if raw_key.starts_with('+') {
            continue;
        }
        let parts = split_dotted(raw_key);
        let mut cursor = Some(base);
        let mut walked: Vec<&str> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let here = cursor.and_then(Node::as_map);
            match here.and_then(|m| m.get(part)) {
                Some(next) => {
                    walked.push(part);
                    cursor = Some(next);
                }
                None => {
                    if let Some(m) = here {
                        let span = part_span(entry.key_span, &parts, i);
                        let path = walked.iter().chain(std::iter::once(part)).copied().collect::<Vec<_>>().join(".");
                        let mut d = Diagnostic::warning(
                            Code::UnknownOverride,
                            span,
                            format!("{what} sets `{path}`, which base.yaml does not have"),
                        );
                        match closest(part, m.keys()) {
                            Some(s) => {
                                d = d
                                    .with_hint(format!(
                                        "did you mean `{s}`? To add a new key on purpose, write `+{raw_key}`"
                                    ))
                                    .with_fix(format!("Rename to `{s}`"), span, s.to_string());
                            }
                            None => {
                                d = d.with_hint(format!("to add a new key on purpose, write `+{raw_key}`"));
                            }
                        }
                        out.push(d);
                    }
                    cursor = None;
                    break;
                }
            }
        }
        let Some(base_value) = cursor else { continue };
        match (&base_value.value, &entry.value.value) {
            (Value::Map(_), Value::Map(_)) => {
                let nested_what = what.to_string();
                check_overrides(base_value, &entry.value, &nested_what, out);
            }
            (b, o) if !b.same_kind(o) && !is_interpolation(&entry.value) && !is_interpolation(base_value) => {
                let path = parts.join(".");
                let mut d = Diagnostic::warning(
                    Code::OverrideTypeMismatch,
                    entry.value.span,
                    format!("{what} sets `{path}` to {}, but base.yaml has {} there", o.type_name(), b.type_name()),
                )
                .with_hint("check for a missing or extra pair of quotes");
                if base_value.span.is_real() {
                    d = d.with_related(base_value.span, "base value");
                }
                out.push(d);
            }
            _ => {}
        }
    }
}

fn is_interpolation(node: &Node) -> bool {
    node.as_str().is_some_and(|s| s.contains("${"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn yaml(text: &str) -> Node {
        let p = crate::yaml::parse(text, FileId(0));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        p.docs.into_iter().next().unwrap()
    }

    fn merged(a: &str, b: &str) -> serde_json::Value {
        let mut base = yaml(a);
        merge(&mut base, &expand_dotted(&yaml(b)));
        base.to_json()
    }

    #[test]
    fn mappings_merge_key_by_key() {
        assert_eq!(
            merged("model: {type: t, dim: 512}\nseed: 1", "model: {dim: 256}"),
            serde_json::json!({"model": {"type": "t", "dim": 256}, "seed": 1})
        );
    }

    #[test]
    fn scalars_and_lists_are_replaced() {
        assert_eq!(merged("a: [1, 2, 3]\nb: 1", "a: [9]\nb: x"), serde_json::json!({"a": [9], "b": "x"}));
        assert_eq!(merged("a: {x: 1}", "a: 5"), serde_json::json!({"a": 5}));
        assert_eq!(merged("a: 5", "a: {x: 1}"), serde_json::json!({"a": {"x": 1}}));
    }

    #[test]
    fn null_sets_null() {
        assert_eq!(merged("a: {x: 1}", "a: null"), serde_json::json!({"a": null}));
    }

    #[test]
    fn dotted_keys_equal_nested_ones() {
        assert_eq!(
            merged("training: {lr: 1, epochs: 3}", "training.lr: 0.5"),
            merged("training: {lr: 1, epochs: 3}", "training: {lr: 0.5}")
        );
        assert_eq!(merged("a: 1", "+b.c: 2"), serde_json::json!({"a": 1, "b": {"c": 2}}));
    }

    #[test]
    fn override_checks_warn_with_suggestions() {
        let base = yaml("model: {embedding_dim: 512}\ntraining: {lr: 0.1}\n");
        let over = yaml("model: {embeding_dim: 256}\ntraining.lr: fast\n+extra: 1\n");
        let mut out = Vec::new();
        check_overrides(&base, &over, "trial `t`", &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].code, Code::UnknownOverride);
        assert_eq!(
            out[0].hint.as_deref(),
            Some("did you mean `embedding_dim`? To add a new key on purpose, write `+embeding_dim`")
        );
        assert_eq!(out[1].code, Code::OverrideTypeMismatch);
    }

    #[test]
    fn dotted_key_part_spans() {
        let text = "training.lrr: 1\n";
        let base = yaml("training: {lr: 0.1}\n");
        let mut out = Vec::new();
        check_overrides(&base, &yaml(text), "trial", &mut out);
        let d = &out[0];
        assert_eq!(&text[d.span.start as usize..d.span.end as usize], "lrr");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn leaf() -> impl Strategy<Value = Node> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(Value::Int),
            "[a-c]{0,2}".prop_map(Value::String),
            prop::collection::vec((-5i64..5).prop_map(|i| Node::new(Value::Int(i), Span::NONE)), 0..3)
                .prop_map(Value::seq),
        ]
        .prop_map(|v| Node::new(v, Span::NONE))
    }

    /// Small trees over a few keys, so that merges overlap often. Keys
    /// `m*` always hold mappings and `s*` never do: trees of one shape.
    fn tree() -> impl Strategy<Value = Node> {
        fn map_of(depth: u32) -> BoxedStrategy<Node> {
            let scalars = prop::collection::vec(("s[12]", leaf()), 0..3);
            if depth == 0 {
                return scalars.prop_map(|e| build(e, Vec::new())).boxed();
            }
            let maps = prop::collection::vec(("m[12]", map_of(depth - 1)), 0..3);
            (scalars, maps).prop_map(|(s, m)| build(s, m)).boxed()
        }
        fn build(scalars: Vec<(String, Node)>, maps: Vec<(String, Node)>) -> Node {
            let mut m = Map::new();
            for (k, v) in scalars.into_iter().chain(maps) {
                m.insert(k, Span::NONE, v);
            }
            Node::new(Value::map(m), Span::NONE)
        }
        map_of(3)
    }

    fn merged(a: &Node, b: &Node) -> Node {
        let mut out = a.clone();
        merge(&mut out, b);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn merge_is_associative(a in tree(), b in tree(), c in tree()) {
            let left = merged(&merged(&a, &b), &c);
            let right = merged(&a, &merged(&b, &c));
            prop_assert_eq!(left.to_json(), right.to_json());
        }

        #[test]
        fn merging_with_itself_or_empty_changes_nothing(a in tree()) {
            prop_assert_eq!(merged(&a, &a).to_json(), a.to_json());
            if a.as_map().is_some() {
                let empty = Node::empty_map(Span::NONE);
                prop_assert_eq!(merged(&a, &empty).to_json(), a.to_json());
                prop_assert_eq!(merged(&empty, &a).to_json(), a.to_json());
            }
        }

        #[test]
        fn the_override_always_wins(a in tree(), b in tree()) {
            let m = merged(&a, &b);
            // Every leaf path of b holds b's value in the result.
            for (path, leaf) in crate::yaml::flatten(&b) {
                // An empty mapping merges into what is there, changing nothing.
                if path.is_empty() || leaf.as_map().is_some() { continue; }
                let found = m.get_path(path.split('.'));
                prop_assert!(found.is_some(), "{} missing", path);
                prop_assert_eq!(found.unwrap().to_json(), leaf.to_json());
            }
        }

        #[test]
        fn loading_never_panics(text in "[-a-z0-9:\\[\\]{},&*!|>'\"#%@` \\n\\t.$]{0,120}") {
            let loader = crate::MemoryLoader::new()
                .with_file("p/trials.yaml", text.clone())
                .with_file("p/base.yaml", text);
            let _ = crate::check(&loader, std::path::Path::new("p"), &[], Default::default());
        }

        #[test]
        fn dotted_and_nested_forms_agree(key in "[ab]\\.[ab]", value in -5i64..5) {
            let (outer, inner) = key.split_once('.').unwrap();
            let mut dotted = Map::new();
            dotted.insert(key.clone(), Span::NONE, Node::new(Value::Int(value), Span::NONE));
            let mut leaf = Map::new();
            leaf.insert(inner, Span::NONE, Node::new(Value::Int(value), Span::NONE));
            let mut nested = Map::new();
            nested.insert(outer, Span::NONE, Node::new(Value::map(leaf), Span::NONE));
            prop_assert_eq!(
                expand_dotted(&Node::new(Value::map(dotted), Span::NONE)).to_json(),
                Node::new(Value::map(nested), Span::NONE).to_json()
            );
        }
    }
}
