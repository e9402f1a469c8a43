//! Interpolation: `${...}` references inside string values.
//!
//! - `${a.b}` is absolute, from the root of the config being resolved;
//!   `${a.list.0}` indexes a list.
//! - `${.x}` names a sibling (a key of the mapping holding the value),
//!   `${..x}` a key of the parent mapping, and so on, as in OmegaConf.
//! - `${env:VAR}` and `${env:VAR,default}` read the environment (OmegaConf's
//!   `${oc.env:VAR,default}` too); a missing variable without a default is
//!   an error.
//! - Built-ins: `${experiment.name}`, `${trial.name}`, `${run.repeat}`,
//!   `${run.seed}`, `${run.id}` (a config key of the same name wins).
//!   `${run.id}` is known only when the runner creates the run; before that
//!   it stays as written.
//! - A value that is only an interpolation takes the target's type
//!   (`epochs: ${training.epochs}` stays an integer); inside a longer string
//!   the target is written as text, and must be a scalar.
//! - `\${` is a literal `${`.
//!
//! Unknown references and cycles are errors that name the chain and point at
//! the `${` in the file.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{Sources, Span};
use crate::suggest::closest;
use crate::yaml::{Map, Node, Value, format_scalar};

/// Where environment variables come from (the process environment in the
/// CLI; a fixed map in tests).
pub trait EnvLookup {
    fn var(&self, name: &str) -> Option<String>;
}

impl EnvLookup for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Values of the built-in references for one run.
#[derive(Clone, Debug, Default)]
pub struct Builtins {
    pub experiment_name: Option<String>,
    pub trial_name: Option<String>,
    pub repeat: Option<u32>,
    pub seed: Option<i64>,
    pub run_id: Option<String>,
}

/// Whether any string in the tree contains `${` (so resolution can be skipped).
pub fn has_interpolation(node: &Node) -> bool {
    match &node.value {
        Value::String(s) => s.contains("${"),
        Value::Seq(items) => items.iter().any(has_interpolation),
        Value::Map(m) => m.iter().any(|(_, e)| has_interpolation(&e.value)),
        _ => false,
    }
}

/// Every string in the tree that contains `${`.
pub fn interpolations(node: &Node) -> impl Iterator<Item = &str> {
    let mut stack = vec![node];
    std::iter::from_fn(move || {
        while let Some(n) = stack.pop() {
            match &n.value {
                Value::String(s) if s.contains("${") => return Some(s.as_str()),
                Value::Seq(items) => stack.extend(items.iter()),
                Value::Map(m) => stack.extend(m.iter().map(|(_, e)| &e.value)),
                _ => {}
            }
        }
        None
    })
}

/// Resolves every interpolation in `root`. Problems are reported in `out`;
/// a value that cannot be resolved is left as written.
pub fn resolve(
    root: &Node,
    builtins: &Builtins,
    env: &dyn EnvLookup,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
) -> Node {
    if !has_interpolation(root) {
        return root.clone();
    }
    let mut resolver = Resolver {
        root,
        builtins,
        env,
        sources,
        memo: HashMap::new(),
        stack: Vec::new(),
        in_cycle: HashSet::new(),
        out,
    };
    // Copy the tree once and replace only the interpolated strings.
    let mut paths = Vec::new();
    collect_paths(root, &mut Vec::new(), &mut paths);
    let mut result = root.clone();
    for path in paths {
        let Some(original) = root.get_path(path.iter()) else {
            continue;
        };
        let Value::String(text) = &original.value else {
            continue;
        };
        let value = resolver.string(&path, original, text);
        if let Some(slot) = result.get_path_mut(path.iter()) {
            *slot = value;
        }
    }
    result
}

/// Paths of the strings that contain `${`.
fn collect_paths(node: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match &node.value {
        Value::String(s) if s.contains("${") => out.push(path.clone()),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_paths(item, path, out);
                path.pop();
            }
        }
        Value::Map(m) => {
            for (k, e) in m.iter() {
                path.push(k.to_string());
                collect_paths(&e.value, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

enum Part<'a> {
    Text(String),
    Ref { expr: &'a str, index: usize },
}

/// Splits a string into literal text and `${...}` references (nesting is
/// allowed inside, for defaults such as `${env:A,${b}}`).
fn split(s: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut index = 0;
    while i < bytes.len() {
        // Byte comparisons: `j` below walks bytes, inside characters too.
        if bytes[i] == b'\\' && bytes[i + 1..].starts_with(b"${") {
            text.push_str("${");
            i += 3;
            continue;
        }
        if bytes[i..].starts_with(b"${") {
            let mut depth = 0;
            let mut j = i;
            let mut end = None;
            while j < bytes.len() {
                if bytes[j..].starts_with(b"${") {
                    depth += 1;
                    j += 2;
                    continue;
                }
                if bytes[j] == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                j += 1;
            }
            let Some(end) = end else {
                return Err(format!("unclosed `${{` in `{s}`"));
            };
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Ref { expr: s[i + 2..end].trim(), index });
            index += 1;
            i = end + 1;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        text.push(ch);
        i += ch.len_utf8();
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

struct Resolver<'a> {
    root: &'a Node,
    builtins: &'a Builtins,
    env: &'a dyn EnvLookup,
    sources: &'a Sources,
    memo: HashMap<Vec<String>, Node>,
    stack: Vec<Vec<String>>,
    /// Paths already reported as part of a cycle (reported once).
    in_cycle: HashSet<Vec<String>>,
    out: &'a mut Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn node(&mut self, path: &mut Vec<String>, node: &Node) -> Node {
        match &node.value {
            Value::String(s) if s.contains("${") => self.string(path, node, s),
            Value::Map(m) => {
                let mut out = Map::new();
                for (k, e) in m.iter() {
                    path.push(k.to_string());
                    let v = self.node(path, &e.value);
                    path.pop();
                    out.insert(k.to_string(), e.key_span, v);
                }
                Node::new(Value::map(out), node.span)
            }
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(self.node(path, item));
                    path.pop();
                }
                Node::new(Value::seq(out), node.span)
            }
            _ => node.clone(),
        }
    }

    fn string(&mut self, path: &[String], node: &Node, s: &str) -> Node {
        let parts = match split(s) {
            Ok(parts) => parts,
            Err(message) => {
                self.out.push(
                    Diagnostic::error(Code::BadInterpolation, node.span, message)
                        .with_hint("close it with `}`, or write `\\${` for a literal `${`"),
                );
                return node.clone();
            }
        };
        if let [Part::Ref { expr, index }] = parts.as_slice() {
            return match self.eval(path, node, expr, *index) {
                Some(mut value) => {
                    if !value.span.is_real() {
                        value.span = node.span;
                    }
                    // The value sits where the reference was written.
                    relocate(&mut value, node.span);
                    value
                }
                None => node.clone(),
            };
        }
        let mut text = String::new();
        for part in &parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Ref { expr, index } => match self.eval(path, node, expr, *index) {
                    Some(value) => match &value.value {
                        Value::String(v) => text.push_str(v),
                        Value::Map(_) | Value::Seq(_) => {
                            let span = self.ref_span(node, *index, expr);
                            self.out.push(
                                Diagnostic::error(
                                    Code::BadInterpolation,
                                    span,
                                    format!("`${{{expr}}}` is {} and cannot be part of a string", value.type_name()),
                                )
                                .with_hint("make the value only the interpolation to insert a whole list or mapping"),
                            );
                            return node.clone();
                        }
                        other => text.push_str(&format_scalar(other)),
                    },
                    None => return node.clone(),
                },
            }
        }
        Node::new(Value::String(text), node.span)
    }

    /// Evaluates one reference made by the value at `path`.
    fn eval(&mut self, path: &[String], node: &Node, expr: &str, index: usize) -> Option<Node> {
        if let Some(rest) = expr.strip_prefix("oc.env:").or_else(|| expr.strip_prefix("env:")) {
            return self.env_var(node, expr, rest, index, path);
        }
        if expr.is_empty() {
            let span = self.ref_span(node, index, expr);
            self.out.push(Diagnostic::error(Code::BadInterpolation, span, "empty interpolation `${}`"));
            return None;
        }
        if expr.contains(':') {
            let span = self.ref_span(node, index, expr);
            let resolver = expr.split(':').next().unwrap_or(expr);
            self.out.push(
                Diagnostic::error(
                    Code::BadInterpolation,
                    span,
                    format!("unknown resolver `{resolver}:` in `${{{expr}}}`"),
                )
                .with_hint("expman knows `env:` (and `oc.env:`); references are written `${a.b}`"),
            );
            return None;
        }
        let target = absolute_path(path, expr);
        let Some(target) = target else {
            let span = self.ref_span(node, index, expr);
            self.out.push(Diagnostic::error(
                Code::BadInterpolation,
                span,
                format!("`${{{expr}}}` climbs above the root of the config"),
            ));
            return None;
        };
        if let Some(value) = self.builtin(&target) {
            return Some(value);
        }
        if target.first().map(String::as_str) == Some("run")
            && target.get(1).map(String::as_str) == Some("id")
            && self.builtins.run_id.is_none()
            && self.root.get("run").is_none()
        {
            // Known only once the runner creates the run: keep it as written.
            return Some(Node::new(Value::String(format!("${{{expr}}}")), node.span));
        }
        let Some(found) = self.root.get_path(target.iter()) else {
            let span = self.ref_span(node, index, expr);
            self.out.push(self.unknown_reference(expr, &target, span));
            return None;
        };
        if self.in_cycle.contains(&target) {
            return None;
        }
        if let Some(pos) = self.stack.iter().position(|p| *p == target) {
            self.in_cycle.extend(self.stack[pos..].iter().cloned());
            let mut chain: Vec<String> = self.stack[pos..].iter().map(|p| p.join(".")).collect();
            chain.push(target.join("."));
            let span = self.ref_span(node, index, expr);
            self.out.push(
                Diagnostic::error(Code::BadInterpolation, span, format!("interpolation cycle: {}", chain.join(" -> ")))
                    .with_hint("one of these values must not refer back to the others"),
            );
            return None;
        }
        if let Some(done) = self.memo.get(&target) {
            return Some(done.clone());
        }
        let found = found.clone();
        self.stack.push(path.to_vec());
        self.stack.push(target.clone());
        let mut target_path = target.clone();
        let value = self.node(&mut target_path, &found);
        self.stack.pop();
        self.stack.pop();
        self.memo.insert(target, value.clone());
        Some(value)
    }

    fn builtin(&self, target: &[String]) -> Option<Node> {
        let b = self.builtins;
        let [root, key] = target else { return None };
        if self.root.get(root).is_some() {
            return None;
        }
        let value = match (root.as_str(), key.as_str()) {
            ("experiment", "name") => Value::String(b.experiment_name.clone()?),
            ("trial", "name") => Value::String(b.trial_name.clone()?),
            ("run", "repeat") => Value::Int(i64::from(b.repeat?)),
            ("run", "seed") => Value::Int(b.seed?),
            ("run", "id") => Value::String(b.run_id.clone()?),
            _ => return None,
        };
        Some(Node::new(value, Span::NONE))
    }

    fn env_var(&mut self, node: &Node, expr: &str, rest: &str, index: usize, path: &[String]) -> Option<Node> {
        let (name, default) = match rest.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim())),
            None => (rest.trim(), None),
        };
        if let Some(value) = self.env.var(name) {
            return Some(Node::new(Value::String(value), node.span));
        }
        match default {
            Some(d) => {
                let d = d.trim_matches(|c| c == '\'' || c == '"');
                let default_node = Node::new(Value::String(d.to_string()), node.span);
                if d.contains("${") {
                    let resolved = self.string(path, &default_node, d);
                    return Some(resolved);
                }
                // A default is read as YAML, so `${env:N,4}` is the integer 4.
                Some(Node::new(crate::yaml::resolve_plain(d), node.span))
            }
            None => {
                let span = self.ref_span(node, index, expr);
                self.out.push(
                    Diagnostic::error(
                        Code::BadInterpolation,
                        span,
                        format!("environment variable `{name}` is not set"),
                    )
                    .with_hint(format!("set it, or give a default: `${{env:{name},default}}`")),
                );
                None
            }
        }
    }

    fn unknown_reference(&self, expr: &str, target: &[String], span: Span) -> Diagnostic {
        // Find how far the path exists, to suggest a sibling key.
        let mut node = self.root;
        let mut depth = 0;
        for (i, seg) in target.iter().enumerate() {
            match node.get_path([seg]) {
                Some(next) => {
                    node = next;
                    depth = i + 1;
                }
                None => break,
            }
        }
        let missing = &target[depth.min(target.len() - 1)];
        if depth == 0 && target.len() == 2 {
            let builtins: &[(&str, &[&str])] =
                &[("experiment", &["name"]), ("trial", &["name"]), ("run", &["repeat", "seed", "id"])];
            if let Some((root, keys)) = builtins.iter().find(|(r, _)| *r == target[0]) {
                let mut d = Diagnostic::error(
                    Code::BadInterpolation,
                    span,
                    format!("unknown reference `${{{expr}}}`: the built-in `{root}` has no `{}`", target[1]),
                );
                d = match closest(&target[1], keys.iter().copied()) {
                    Some(s) => d.with_hint(format!("did you mean `{root}.{s}`?")),
                    None => d.with_hint(format!("`{root}` has: {}", keys.join(", "))),
                };
                return d;
            }
        }
        let mut d = Diagnostic::error(
            Code::BadInterpolation,
            span,
            format!(
                "unknown reference `${{{expr}}}`: `{}` does not exist",
                target[..=depth.min(target.len() - 1)].join(".")
            ),
        );
        if let Some(map) = node.as_map() {
            if let Some(s) = closest(missing, map.keys()) {
                d = d.with_hint(format!(
                    "did you mean `{}`?",
                    target[..depth].iter().map(String::as_str).chain([s]).collect::<Vec<_>>().join(".")
                ));
            } else if depth == 0 {
                d = d.with_hint("references are absolute (`${a.b}`) or relative (`${.sibling}`); built-ins are experiment.name, trial.name, run.repeat, run.seed, run.id");
            }
        }
        d
    }

    /// The span of the `index`-th `${` in the value's source text, covering
    /// the whole reference when the text matches.
    fn ref_span(&self, node: &Node, index: usize, expr: &str) -> Span {
        let Some(file) = self.sources.get(node.span.file) else {
            return node.span;
        };
        let raw = file.slice(node.span);
        let mut seen = 0;
        let mut from = 0;
        while let Some(pos) = raw[from..].find("${") {
            let at = from + pos;
            let escaped = at > 0 && raw.as_bytes()[at - 1] == b'\\';
            if !escaped {
                if seen == index {
                    let start = node.span.start as usize + at;
                    let end = match raw[at..].find('}') {
                        Some(close) if raw[at + 2..at + close].trim() == expr => start + close + 1,
                        _ => start + 2,
                    };
                    return Span::new(node.span.file, start, end);
                }
                seen += 1;
            }
            from = at + 2;
        }
        node.span
    }
}

/// The absolute path a reference names, from the path of the value holding it.
fn absolute_path(path: &[String], expr: &str) -> Option<Vec<String>> {
    let dots = expr.chars().take_while(|c| *c == '.').count();
    let rest = &expr[dots..];
    let mut base: Vec<String> = if dots == 0 {
        Vec::new()
    } else {
        // `.x` is relative to the mapping holding the value.
        let container_len = path.len().checked_sub(1)?;
        let up = dots - 1;
        path[..container_len.checked_sub(up)?].to_vec()
    };
    if !rest.is_empty() {
        base.extend(rest.split('.').map(str::to_string));
    }
    Some(base)
}

/// Moves a copied value's spans to where the reference was written, so that
/// later diagnostics on it point at the reference.
fn relocate(node: &mut Node, span: Span) {
    if node.span.file != span.file {
        node.span = span;
    }
}

/// Replaces `${run.id}` (kept as written by expansion) with the run's id.
pub fn fill_run_id(node: &Node, run_id: &str) -> Node {
    if !interpolations(node).any(|s| s.contains("${run.id}")) {
        return node.clone();
    }
    let mut out = node.clone();
    fill(&mut out, run_id);
    out
}

fn fill(node: &mut Node, run_id: &str) {
    match &mut node.value {
        Value::String(s) if s.contains("${run.id}") => *s = s.replace("${run.id}", run_id),
        Value::Seq(items) => std::sync::Arc::make_mut(items).iter_mut().for_each(|n| fill(n, run_id)),
        Value::Map(m) => std::sync::Arc::make_mut(m).iter_mut().for_each(|(_, e)| fill(&mut e.value, run_id)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn run(text: &str, builtins: Builtins) -> (serde_json::Value, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let id = sources.add("t.yaml", text);
        let p = crate::yaml::parse(text, id);
        assert!(p.errors.is_empty());
        let env: HashMap<String, String> = [("HOME_DIR".to_string(), "/home/x".to_string())].into();
        let mut out = Vec::new();
        let node = resolve(&p.docs[0], &builtins, &env, &sources, &mut out);
        assert_eq!(id, FileId(0));
        (node.to_json(), out)
    }

    #[test]
    fn absolute_relative_and_typed() {
        let (v, d) = run("a: {b: 3, c: '${.b}', d: '${..top}'}\ntop: x${a.b}y\nn: ${a.b}\n", Builtins::default());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(v, serde_json::json!({"a": {"b": 3, "c": 3, "d": "x3y"}, "top": "x3y", "n": 3}));
    }

    #[test]
    fn non_ascii_inside_a_reference() {
        // Found by the `config` fuzz target: the scan for `}` walks bytes
        // and once sliced the string inside a character.
        let (v, d) = run("\"é\": 1\na: 'x${é}y'\nb: '${é,ü'\n", Builtins::default());
        assert_eq!(v["a"], serde_json::json!("x1y"), "{d:?}");
        assert_eq!(d.len(), 1, "the unclosed one: {d:?}");
        assert!(d[0].message.contains("unclosed"), "{d:?}");
    }

    #[test]
    fn env_and_defaults_and_escape() {
        let (v, d) = run("h: ${env:HOME_DIR}\nm: ${oc.env:NOPE,4}\ne: \\${x}\n", Builtins::default());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(v, serde_json::json!({"h": "/home/x", "m": 4, "e": "${x}"}));
    }

    #[test]
    fn builtins_and_run_id_kept() {
        let b = Builtins {
            experiment_name: Some("exp".into()),
            trial_name: Some("t1".into()),
            repeat: Some(2),
            seed: Some(44),
            run_id: None,
        };
        let (v, d) = run("p: ${experiment.name}/${trial.name}/${run.repeat}\ns: ${run.seed}\nid: ${run.id}\n", b);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(v, serde_json::json!({"p": "exp/t1/2", "s": 44, "id": "${run.id}"}));
    }

    #[test]
    fn cycles_and_unknown_references_point_at_the_dollar() {
        let text = "a: ${b}\nb: ${a}\nc: x ${missing.key}\n";
        let (_, d) = run(text, Builtins::default());
        assert_eq!(d.len(), 2, "{d:?}");
        let cycle = d.iter().find(|d| d.message.contains("cycle")).unwrap();
        assert!(cycle.message.contains("a -> b -> a") || cycle.message.contains("b -> a -> b"), "{}", cycle.message);
        let unknown = d.iter().find(|d| d.message.contains("unknown")).unwrap();
        assert_eq!(&text[unknown.span.start as usize..unknown.span.end as usize], "${missing.key}");
    }

    #[test]
    fn missing_env_is_an_error() {
        let (_, d) = run("x: ${env:NOT_SET_ANYWHERE}\n", Builtins::default());
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("NOT_SET_ANYWHERE"));
    }
}
