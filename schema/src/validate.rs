//! Checks a [`Node`] tree against the embedded JSON Schemas (compiled by
//! [`crate::compiled`]) and reports every problem on the exact key or value:
//! a wrong type on the value, an unknown key on the key (a warning, with a
//! did-you-mean), a missing required key on its parent's key.
//!
//! Supported keywords: `$ref` (to `#/$defs/..`), `type`, `enum` (with the
//! `x-expman-open-enum` extension: unknown values warn), `const`,
//! `properties`, `required`, `additionalProperties`, `items`, `anyOf`,
//! `oneOf`, `minimum`, `maximum`, `minItems`, `maxItems`, and the extensions
//! `x-expman-format: duration`, `x-expman-unused` (a key accepted for
//! compatibility that expman ignores) and `x-expman-closed-when` (unknown
//! keys are reported only when a property, such as a pipeline's `type`, has
//! one of the given values). That is every keyword the generated schemas
//! use; a test checks it.

use crate::compiled::{Additional, CompiledSchema, NodeId, SchemaNode, Types};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::parse_duration;
use crate::schemas::SchemaKind;
use crate::source::Span;
use crate::suggest::closest;
use crate::yaml::{Map, Node, Value, format_scalar};

/// The keywords [`validate`] understands; anything else in a schema is
/// ignored (annotations) and the test `schemas_use_supported_keywords` keeps
/// it that way.
pub const SUPPORTED_KEYWORDS: &[&str] = &[
    "$ref",
    "$schema",
    "$id",
    "$defs",
    "title",
    "description",
    "default",
    "type",
    "enum",
    "enumDescriptions",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
    "deprecated",
    "x-expman-format",
    "x-expman-unused",
    "x-expman-open-enum",
    "x-expman-closed-when",
];

/// Validates `node` against the schema of `kind` (or one of its `$defs`
/// when `def` is given). `label` is where "missing key" errors point: the
/// key under which `node` sits. `at` is the path of `node` in its file, for
/// messages (`["pipeline"]` when checking a trial's merged pipeline).
pub fn validate(kind: SchemaKind, def: Option<&str>, node: &Node, label: Span, at: &[&str], out: &mut Vec<Diagnostic>) {
    let schema = CompiledSchema::of(kind);
    let start = match def {
        Some(name) => match schema.def(name) {
            Some(id) => id,
            None => return,
        },
        None => schema.root(),
    };
    let mut v = Validator { schema, path: at.iter().map(|s| s.to_string()).collect() };
    v.check(start, node, label, out);
}

/// `trackers[1].type` from `["trackers", "1", "type"]`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Whether a string is nothing but one `${...}` interpolation, whose type is
/// only known once it is resolved.
pub fn is_whole_interpolation(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..].find("${").is_none() && s.matches('}').count() == 1
}

fn accepts(types: Types, value: &Value) -> bool {
    match value {
        Value::Null => types.has(Types::NULL),
        Value::Bool(_) => types.has(Types::BOOLEAN),
        Value::Int(_) => types.has(Types::INTEGER) || types.has(Types::NUMBER),
        Value::Float(f) => types.has(Types::NUMBER) || (types.has(Types::INTEGER) && f.fract() == 0.0 && f.is_finite()),
        Value::String(_) => types.has(Types::STRING),
        Value::Seq(_) => types.has(Types::ARRAY),
        Value::Map(_) => types.has(Types::OBJECT),
    }
}

fn found(node: &Node) -> String {
    match &node.value {
        Value::Map(_) | Value::Seq(_) | Value::Null => node.type_name().to_string(),
        v => format!("{} (`{}`)", v.type_name(), format_scalar(v)),
    }
}

struct Validator {
    schema: &'static CompiledSchema,
    path: Vec<String>,
}

impl Validator {
    fn node(&self, id: NodeId) -> &'static SchemaNode {
        self.schema.node(id)
    }

    /// Whether a schema (or one of its alternatives) accepts the value's type.
    fn fits(&self, id: NodeId, value: &Value) -> bool {
        let node = self.node(id);
        if !node.alternatives.is_empty() && node.types.is_none() {
            return node.alternatives.iter().any(|&a| self.fits(a, value));
        }
        node.types.is_none_or(|t| accepts(t, value))
    }

    /// All types a schema accepts, through its alternatives.
    fn types_of(&self, id: NodeId) -> Types {
        let node = self.node(id);
        let mut bits = node.types.map(Types::bits).unwrap_or(0);
        for &a in &node.alternatives {
            bits |= self.types_of(a).bits();
        }
        Types::from_raw(bits)
    }

    /// The full path of the value being checked, for messages.
    fn key_name(&self) -> String {
        if self.path.is_empty() { "value".into() } else { display_path(&self.path) }
    }

    fn wrong_type(&self, id: NodeId, node: &Node, label: Span) -> Diagnostic {
        let what = self.types_of(id).phrase();
        let span = if node.span.is_real() { node.span } else { label };
        Diagnostic::error(
            Code::WrongType,
            span,
            format!("expected {what} for `{}`, found {}", self.key_name(), found(node)),
        )
        .with_hint(type_hint(&what, node))
    }

    fn check(&mut self, id: NodeId, node: &Node, label: Span, out: &mut Vec<Diagnostic>) {
        let schema = self.node(id);
        if schema.any {
            return;
        }
        if schema.never {
            out.push(Diagnostic::error(
                Code::InvalidValue,
                label,
                format!("`{}` is not allowed here", self.key_name()),
            ));
            return;
        }
        if let Value::String(s) = &node.value
            && is_whole_interpolation(s)
        {
            return;
        }
        if !schema.alternatives.is_empty() {
            self.check_alternatives(id, node, label, out);
            return;
        }
        if let Some(types) = schema.types
            && !accepts(types, &node.value)
        {
            out.push(self.wrong_type(id, node, label));
            return;
        }
        if schema.duration {
            let ok = match &node.value {
                Value::String(s) => parse_duration(s).is_some(),
                Value::Int(i) => *i >= 0,
                Value::Float(f) => *f >= 0.0,
                _ => true,
            };
            if !ok {
                out.push(
                    Diagnostic::error(Code::InvalidValue, node.span, format!("{} is not a duration", found(node)))
                        .with_hint("write a number of seconds or a string such as `500ms`, `30s`, `5m`, `2h`, `1h30m`"),
                );
            }
        }
        if !schema.enum_values.is_empty() {
            self.check_enum(schema, node, out);
        }
        if let Some(expected) = &schema.const_value
            && &node.to_json() != expected
        {
            out.push(Diagnostic::error(
                Code::InvalidValue,
                node.span,
                format!("expected `{expected}`, found {}", found(node)),
            ));
        }
        self.check_bounds(schema, node, out);
        match &node.value {
            Value::Map(map) => self.check_object(schema, node, map, label, out),
            Value::Seq(items) => {
                if let Some(min) = schema.min_items
                    && (items.len() as u64) < min
                {
                    out.push(Diagnostic::error(
                        Code::InvalidValue,
                        node.span,
                        format!("`{}` needs at least {min} item(s), found {}", self.key_name(), items.len()),
                    ));
                }
                if let Some(max) = schema.max_items
                    && (items.len() as u64) > max
                {
                    out.push(Diagnostic::error(
                        Code::InvalidValue,
                        node.span,
                        format!("`{}` takes at most {max} item(s), found {}", self.key_name(), items.len()),
                    ));
                }
                if let Some(item_schema) = schema.items {
                    for (i, item) in items.iter().enumerate() {
                        self.path.push(i.to_string());
                        self.check(item_schema, item, first_line(item), out);
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn check_alternatives(&mut self, id: NodeId, node: &Node, label: Span, out: &mut Vec<Diagnostic>) {
        let alternatives = &self.node(id).alternatives;
        let fitting: Vec<NodeId> = alternatives.iter().copied().filter(|&a| self.fits(a, &node.value)).collect();
        match fitting.len() {
            0 => out.push(self.wrong_type(id, node, label)),
            1 => self.check(fitting[0], node, label, out),
            _ => {
                let mut best: Option<(usize, Vec<Diagnostic>)> = None;
                for alt in fitting {
                    let mut attempt = Vec::new();
                    self.check(alt, node, label, &mut attempt);
                    let errors = attempt.iter().filter(|d| d.is_error()).count();
                    if errors == 0 {
                        best = Some((0, attempt));
                        break;
                    }
                    if best.as_ref().is_none_or(|(e, _)| errors < *e) {
                        best = Some((errors, attempt));
                    }
                }
                out.extend(best.map(|(_, d)| d).unwrap_or_default());
            }
        }
    }

    fn check_enum(&self, schema: &SchemaNode, node: &Node, out: &mut Vec<Diagnostic>) {
        let value = node.to_json();
        if schema.enum_values.contains(&value) {
            return;
        }
        let names: Vec<&str> = schema.enum_values.iter().filter_map(|v| v.as_str()).collect();
        let shown = match &node.value {
            Value::String(s) => s.clone(),
            v => format_scalar(v),
        };
        let message = format!("unknown value `{shown}` for `{}`", self.key_name());
        let mut d = if schema.open_enum {
            Diagnostic::warning(Code::InvalidValue, node.span, message)
        } else {
            Diagnostic::error(Code::InvalidValue, node.span, message)
        };
        let suffix = if schema.open_enum { " (other values must be registered by a plug-in)" } else { "" };
        match closest(&shown, names.iter().copied()) {
            Some(s) => {
                d = d.with_hint(format!("did you mean `{s}`?{suffix}")).with_fix(
                    format!("Replace with `{s}`"),
                    node.span,
                    s.to_string(),
                );
            }
            None => d = d.with_hint(format!("expected one of: {}{suffix}", names.join(", "))),
        }
        out.push(d);
    }

    fn check_bounds(&self, schema: &SchemaNode, node: &Node, out: &mut Vec<Diagnostic>) {
        let Some(x) = node.as_f64() else { return };
        let show = |f: f64| {
            if f.fract() == 0.0 { format!("{}", f as i64) } else { f.to_string() }
        };
        if let Some(min) = schema.minimum
            && x < min
        {
            out.push(Diagnostic::error(
                Code::InvalidValue,
                node.span,
                format!("`{}` must be at least {}, found {}", self.key_name(), show(min), show(x)),
            ));
        }
        if let Some(max) = schema.maximum
            && x > max
        {
            out.push(Diagnostic::error(
                Code::InvalidValue,
                node.span,
                format!("`{}` must be at most {}, found {}", self.key_name(), show(max), show(x)),
            ));
        }
    }

    fn check_object(
        &mut self,
        schema: &'static SchemaNode,
        node: &Node,
        map: &Map,
        label: Span,
        out: &mut Vec<Diagnostic>,
    ) {
        let mut additional = schema.additional.as_ref();
        if let Some(rule) = &schema.closed_when {
            let value = map.get(&rule.property).map(Node::to_json).or_else(|| rule.default.clone());
            let closed = value.as_ref().is_some_and(|v| rule.values.contains(v));
            if !closed {
                additional = None;
            }
        }
        for (key, entry) in map.iter() {
            self.path.push(key.to_string());
            match schema.property(key) {
                Some(prop) if prop.unused => {
                    let why = prop.description.as_deref().unwrap_or("Not used by expman.");
                    out.push(
                        Diagnostic::warning(
                            Code::UnusedKey,
                            entry.key_span,
                            format!("`{key}` is ignored by expman{}", self.where_parent()),
                        )
                        .with_hint(format!("{why} It is accepted for compatibility with experiment_manager configs.")),
                    );
                }
                Some(prop) => self.check(prop.schema, &entry.value, entry.key_span, out),
                None => match additional {
                    Some(Additional::Deny) => {
                        let known: Vec<&str> =
                            schema.properties.iter().filter(|p| !p.unused).map(|p| p.name.as_str()).collect();
                        let mut d = Diagnostic::warning(
                            Code::UnknownKey,
                            entry.key_span,
                            format!("unknown key `{key}`{}", self.where_parent()),
                        );
                        match closest(key, known.iter().copied()) {
                            Some(s) => {
                                d = d.with_hint(format!("did you mean `{s}`?")).with_fix(
                                    format!("Rename to `{s}`"),
                                    entry.key_span,
                                    s.to_string(),
                                );
                            }
                            None if !known.is_empty() => {
                                d = d.with_hint(format!("known keys here: {}", known.join(", ")))
                            }
                            None => {}
                        }
                        out.push(d);
                    }
                    Some(Additional::Schema(extra)) => self.check(*extra, &entry.value, entry.key_span, out),
                    Some(Additional::Any) | None => {}
                },
            }
            self.path.pop();
        }
        for key in &schema.required {
            if !map.contains_key(key) {
                let span = if label.is_real() { label } else { first_line(node) };
                let owner =
                    if self.path.is_empty() { String::new() } else { format!(" in `{}`", display_path(&self.path)) };
                out.push(
                    Diagnostic::error(Code::MissingKey, span, format!("missing required key `{key}`{owner}"))
                        .with_hint(format!("add `{key}: ...`")),
                );
            }
        }
    }

    fn where_parent(&self) -> String {
        if self.path.len() <= 1 {
            String::new()
        } else {
            format!(" in `{}`", display_path(&self.path[..self.path.len() - 1]))
        }
    }
}

fn type_hint(expected: &str, node: &Node) -> String {
    match (&node.value, expected) {
        (Value::String(s), e) if e.contains("integer") || e.contains("number") => {
            if s.trim().parse::<f64>().is_ok() {
                "remove the quotes to make it a number".into()
            } else {
                format!("write {expected}")
            }
        }
        (Value::Int(_) | Value::Float(_) | Value::Bool(_), e) if e.contains("string") => {
            "quote the value to make it a string".into()
        }
        (Value::Null, _) => format!("the value is empty; write {expected}"),
        _ => format!("write {expected}"),
    }
}

/// A span for a collection item that covers only its first key, so that an
/// editor does not underline a whole trial.
pub(crate) fn first_line(node: &Node) -> Span {
    match &node.value {
        Value::Map(m) => m.iter().next().map(|(_, e)| e.key_span).unwrap_or(node.span),
        _ => node.span,
    }
}
