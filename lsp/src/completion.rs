//! Completion: schema keys and enum values (with their docs) everywhere;
//! inside a trial's `settings` (nested or dotted) and `sweep`, the keys of
//! base.yaml at that path, each showing its base value; tracker and
//! callback types; paths inside `${...}` from the config.

use std::path::Path;

use expman_schema::compiled::{CompiledSchema, NodeId};
use expman_schema::yaml::{flatten, format_scalar};
use expman_schema::{Node, Role, SchemaKind, Sources, Value};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent, MarkupKind, Range, TextEdit,
};

use crate::context::{Kind, Part, cursor};
use crate::convert::Text;

/// base.yaml as merged (after `extends`), with the sources its spans point into.
pub struct Base<'a> {
    pub node: &'a Node,
    pub sources: &'a Sources,
}

impl Base<'_> {
    /// `base.yaml:3`.
    pub fn place(&self, node_span: expman_schema::Span) -> String {
        match self.sources.get(node_span.file) {
            Some(f) => {
                let name = f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                format!("{name}:{}", f.line_col(node_span.start).line)
            }
            None => "base".into(),
        }
    }
}

/// What the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Role(Role),
    Single,
}

impl FileKind {
    pub fn of(path: &Path) -> FileKind {
        Role::from_file_name(path).map(FileKind::Role).unwrap_or(FileKind::Single)
    }
}

/// Short text for a value: scalars as written, collections summarized.
pub fn short(node: &Node) -> String {
    match &node.value {
        Value::Map(m) => format!("{{{} keys}}", m.len()),
        Value::Seq(s) if s.len() <= 4 => format!("[{}]", s.iter().map(short).collect::<Vec<_>>().join(", ")),
        Value::Seq(s) => format!("[{} items]", s.len()),
        other => format_scalar(other),
    }
}

fn markdown(text: String) -> Option<Documentation> {
    (!text.is_empty())
        .then_some(Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: text }))
}

/// Completions at `offset` of a document.
pub fn complete(kind: FileKind, text: &Text, offset: u32, base: Option<&Base<'_>>) -> Vec<CompletionItem> {
    let c = cursor(&text.text, offset as usize);
    let edit_range = |start: usize| Range { start: text.position(start as u32), end: text.position(offset) };
    // Sections of a single-file config act like their files.
    let (role, path): (Option<Role>, Vec<Part>) = match kind {
        FileKind::Role(r) => (Some(r), c.path.clone()),
        FileKind::Single => match c.path.first() {
            Some(Part::Key(section)) => {
                let role = Role::ALL.into_iter().find(|r| r.name() == section);
                (role, c.path[1..].to_vec())
            }
            _ => (None, Vec::new()),
        },
    };
    if let Kind::Reference { prefix, start } = &c.kind {
        return references(prefix, base, edit_range(*start));
    }
    let Some(role) = role else {
        // The top of a single-file config: its sections.
        return match &c.kind {
            Kind::Key { prefix, start } if c.path.is_empty() => {
                schema_keys(SchemaKind::Config, &[], prefix, edit_range(*start), &[])
            }
            _ => Vec::new(),
        };
    };
    let schema_path: Vec<String> = path
        .iter()
        .map(|p| match p {
            Part::Key(k) => k.clone(),
            Part::Item { .. } => "0".into(),
        })
        .collect();
    let present = present_keys(&text.text, offset as usize);
    if role == Role::Trials {
        // [item, settings, ...] or [trials, item, settings, ...].
        let mut rest: &[String] = &schema_path;
        if rest.first().map(String::as_str) == Some("trials") {
            rest = &rest[1..];
        }
        if rest.first().map(String::as_str) == Some("0") {
            let inner = &rest[1..];
            match (inner.first().map(String::as_str), &c.kind) {
                (Some("settings"), Kind::Key { prefix, start }) => {
                    return settings_keys(base, &inner[1..], prefix, *start, text, offset, &present);
                }
                (Some("settings"), Kind::Value { key, prefix, start }) => {
                    let mut at: Vec<String> = inner[1..].to_vec();
                    at.extend(key.split('.').map(str::to_string));
                    let mut items = base_value(base, &at, prefix, edit_range(*start));
                    // `settings.pipeline...`: also the values the schema allows
                    // (callback and tracker types, modes), after the base value.
                    if at.first().map(String::as_str) == Some("pipeline") {
                        let known: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
                        items.extend(
                            enum_values(SchemaKind::Base, &at, prefix, edit_range(*start))
                                .into_iter()
                                .filter(|i| !known.contains(&i.label)),
                        );
                    }
                    return items;
                }
                (Some("sweep"), Kind::Key { prefix, start }) if inner.len() == 1 => {
                    return sweep_keys(base, prefix, edit_range(*start));
                }
                (Some("search"), Kind::Key { prefix, start }) if inner.len() == 2 && inner[1] == "space" => {
                    return space_keys(base, prefix, edit_range(*start));
                }
                _ => {}
            }
        }
    }
    let schema = role.schema();
    match &c.kind {
        // The `base` section of a single-file config (a notebook cell's) is
        // merged over the directory's base.yaml: its keys come too.
        Kind::Key { prefix, start } if kind == FileKind::Single && role == Role::Base && base.is_some() => {
            let mut items = settings_keys(base, &schema_path, prefix, *start, text, offset, &present);
            let known: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
            items.extend(
                schema_keys(schema, &schema_path, prefix, edit_range(*start), &present)
                    .into_iter()
                    .filter(|i| !known.contains(&i.label)),
            );
            items
        }
        Kind::Key { prefix, start } => schema_keys(schema, &schema_path, prefix, edit_range(*start), &present),
        Kind::Value { key, prefix, start } => {
            let mut at = schema_path.clone();
            at.push(key.clone());
            enum_values(schema, &at, prefix, edit_range(*start))
        }
        Kind::Reference { .. } => Vec::new(),
    }
}

/// Keys already written in the mapping around the cursor (same
/// indentation). A list item (`- `) starts a mapping: the lines of the
/// items before and after the cursor's own are another mapping's.
fn present_keys(text: &str, offset: usize) -> Vec<String> {
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let current = &text[line_start..offset];
    let depth = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    let starts_item = |l: &str| {
        let t = l.trim_start();
        t.starts_with("- ") || t == "-"
    };
    let indent = depth(current);
    let key_of = |l: &str| l.trim_start_matches([' ', '-']).split_once(':').map(|(k, _)| k.trim().to_string());
    let skip = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    let mut keys = Vec::new();
    // Upwards to the line that opened the mapping (none when the cursor's
    // line opens it: what is above belongs to the items before).
    let above = if starts_item(current) { "" } else { &text[..line_start] };
    for l in above.lines().rev() {
        if skip(l) {
            continue;
        }
        let i = depth(l);
        if i < indent {
            break;
        }
        if i == indent {
            keys.extend(key_of(l));
            if starts_item(l) {
                break; // the line that opened this item
            }
        }
    }
    // Downwards to the end of the mapping.
    for l in text[offset..].lines().skip(1) {
        if skip(l) {
            continue;
        }
        let i = depth(l);
        if i < indent || (i == indent && starts_item(l)) {
            break;
        }
        if i == indent {
            keys.extend(key_of(l));
        }
    }
    keys
}

fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: Option<String>,
    doc: String,
    range: Range,
    insert: String,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        documentation: markdown(doc),
        filter_text: Some(insert.clone()),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: insert })),
        ..CompletionItem::default()
    }
}

/// Keys a schema allows at a path.
fn schema_keys(
    kind: SchemaKind,
    path: &[String],
    prefix: &str,
    range: Range,
    present: &[String],
) -> Vec<CompletionItem> {
    let schema = CompiledSchema::of(kind);
    let Some(at) = schema.at_path(path) else { return Vec::new() };
    let mut objects = schema.objects_of(at);
    if objects.is_empty() {
        objects.extend(schema.object_of(at));
    }
    let mut seen: Vec<&str> = Vec::new();
    objects
        .iter()
        .flat_map(|id| schema.node(*id).properties.iter())
        .filter(|p| !p.unused && p.name.starts_with(prefix) && !present.contains(&p.name))
        .filter(|p| {
            let new = !seen.contains(&p.name.as_str());
            seen.push(&p.name);
            new
        })
        .map(|p| {
            let types = describe_types(schema, p.schema);
            item(
                &p.name,
                CompletionItemKind::PROPERTY,
                Some(types),
                p.description.clone().unwrap_or_default(),
                range,
                format!("{}: ", p.name),
            )
        })
        .collect()
}

fn describe_types(schema: &CompiledSchema, id: NodeId) -> String {
    let node = schema.node(id);
    if let Some((values, _)) = schema.enum_of(id) {
        let names: Vec<String> = values.iter().filter_map(|v| v.as_str().map(str::to_string)).take(6).collect();
        return names.join(" | ");
    }
    if node.duration || node.alternatives.iter().any(|a| schema.node(*a).duration) {
        return "duration".into();
    }
    let mut bits = node.types.map(|t| t.bits()).unwrap_or(0);
    for a in &node.alternatives {
        bits |= schema.node(*a).types.map(|t| t.bits()).unwrap_or(0);
    }
    expman_schema::compiled::Types::from_raw(bits).phrase()
}

/// Enum values (tracker types, callback types, modes, ...) at a path.
fn enum_values(kind: SchemaKind, path: &[String], prefix: &str, range: Range) -> Vec<CompletionItem> {
    let schema = CompiledSchema::of(kind);
    let Some(id) = schema.at_path(path) else { return Vec::new() };
    let Some((values, docs)) = schema.enum_of(id) else {
        if schema.node(id).types.is_some_and(|t| t.has(expman_schema::compiled::Types::BOOLEAN)) {
            return ["true", "false"]
                .iter()
                .map(|b| item(b, CompletionItemKind::VALUE, None, String::new(), range, b.to_string()))
                .collect();
        }
        return Vec::new();
    };
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let label = v.as_str()?;
            label.starts_with(prefix).then(|| {
                item(
                    label,
                    CompletionItemKind::ENUM_MEMBER,
                    None,
                    docs.get(i).cloned().unwrap_or_default(),
                    range,
                    label.to_string(),
                )
            })
        })
        .collect()
}

/// Inside a trial's `settings`: base.yaml's keys at the path (dotted keys
/// work: `training.l` offers `lr`), each with its base value.
fn settings_keys(
    base: Option<&Base<'_>>,
    path: &[String],
    prefix: &str,
    start: usize,
    text: &Text,
    offset: u32,
    present: &[String],
) -> Vec<CompletionItem> {
    let Some(base) = base else { return Vec::new() };
    let mut at: Vec<String> = path.iter().flat_map(|k| k.split('.').map(str::to_string)).collect();
    let (typed_parents, last) = match prefix.rfind('.') {
        Some(dot) => (&prefix[..dot], &prefix[dot + 1..]),
        None => ("", prefix),
    };
    at.extend(typed_parents.split('.').filter(|s| !s.is_empty()).map(str::to_string));
    let replace_from = start + prefix.len() - last.len();
    let range = Range { start: text.position(replace_from as u32), end: text.position(offset) };
    let mut items = Vec::new();
    if let Some(map) = base.node.get_path(at.iter()).and_then(Node::as_map) {
        for (key, entry) in map.iter() {
            if !key.starts_with(last) || (typed_parents.is_empty() && present.iter().any(|p| p == key)) {
                continue;
            }
            let full = at.iter().map(String::as_str).chain([key]).collect::<Vec<_>>().join(".");
            let detail = format!("{} (base)", short(&entry.value));
            let doc = format!("`{full}` in base.yaml is `{}` ({})", short(&entry.value), base.place(entry.key_span));
            let insert = if entry.value.as_map().is_some_and(|m| !m.is_empty()) {
                format!("{key}:")
            } else {
                format!("{key}: ")
            };
            items.push(item(key, CompletionItemKind::FIELD, Some(detail), doc, range, insert));
        }
    }
    // `settings.pipeline...`: also what the pipeline schema allows.
    if at.first().map(String::as_str) == Some("pipeline") {
        let schema_range = range;
        let known: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
        items.extend(
            schema_keys(SchemaKind::Base, &at, last, schema_range, present)
                .into_iter()
                .filter(|i| !known.contains(&i.label)),
        );
    }
    items
}

/// The value base.yaml has for a key set in `settings`.
fn base_value(base: Option<&Base<'_>>, at: &[String], prefix: &str, range: Range) -> Vec<CompletionItem> {
    let Some(base) = base else { return Vec::new() };
    let Some(node) = base.node.get_path(at.iter()) else { return Vec::new() };
    if node.as_map().is_some() {
        return Vec::new();
    }
    let shown = short(node);
    if !shown.starts_with(prefix) {
        return Vec::new();
    }
    vec![item(
        &shown,
        CompletionItemKind::VALUE,
        Some("base value".into()),
        format!("from {}", base.place(node.span)),
        range,
        shown.clone(),
    )]
}

/// Base.yaml's leaves under `prefix` as dotted keys (not `pipeline.*`),
/// each completed as `key: ` + what `value` makes of the base value, with
/// `what` naming the use in the documentation (`sweep`, `search over`).
fn base_leaf_keys(
    base: Option<&Base<'_>>,
    prefix: &str,
    range: Range,
    what: &str,
    value: impl Fn(&Node) -> Option<String>,
) -> Vec<CompletionItem> {
    let Some(base) = base else { return Vec::new() };
    flatten(base.node)
        .into_iter()
        .filter(|(k, _)| !k.is_empty() && k.starts_with(prefix) && !k.starts_with("pipeline."))
        .filter_map(|(k, v)| {
            let insert = value(v)?;
            let doc = format!("{what} `{k}` (base value `{}`, {})", short(v), base.place(v.span));
            Some(item(
                &k,
                CompletionItemKind::FIELD,
                Some(format!("{} (base)", short(v))),
                doc,
                range,
                format!("{k}: {insert}"),
            ))
        })
        .collect()
}

/// Inside `sweep`: every leaf of base.yaml as a dotted key.
fn sweep_keys(base: Option<&Base<'_>>, prefix: &str, range: Range) -> Vec<CompletionItem> {
    base_leaf_keys(base, prefix, range, "sweep", |v| Some(format!("[{}]", short(v))))
}

/// Inside a search's `space`: every scalar leaf of base.yaml (but `seed`)
/// as a dotted key, with a distribution around its base value (log-uniform
/// over a factor of ten each way for a positive number, an integer range,
/// or a choice).
fn space_keys(base: Option<&Base<'_>>, prefix: &str, range: Range) -> Vec<CompletionItem> {
    let mut items = base_leaf_keys(base, prefix, range, "search over", |v| match v.value {
        Value::Float(x) if x > 0.0 => {
            Some(format!("{{loguniform: [{}, {}]}}", short_float(x / 10.0), short_float(x * 10.0)))
        }
        Value::Float(x) => Some(format!("{{uniform: [{}, {}]}}", short_float(x - 1.0), short_float(x + 1.0))),
        Value::Int(i) if i > 0 => Some(format!("{{int: [{}, {}]}}", (i / 2).max(1), i.saturating_mul(2))),
        Value::Int(i) => Some(format!("{{int: [{}, {}]}}", i.saturating_sub(5), i.saturating_add(5))),
        Value::Map(_) | Value::Seq(_) | Value::Null => None,
        _ => Some(format!("{{choice: [{}]}}", short(v))),
    });
    // The repeats' seed is expman's own, not a setting to search.
    items.retain(|i| i.label != "seed");
    items
}

fn short_float(x: f64) -> String {
    let text = format!("{x:e}");
    // `1e-3` is a number to expman (YAML 1.2) but a string to YAML 1.1
    // readers such as PyYAML; `1.0e-3` is a number to both.
    match text.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => text,
    }
}

/// Inside `${`: config paths, built-ins, `env:`.
fn references(prefix: &str, base: Option<&Base<'_>>, range: Range) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = Vec::new();
    if let Some(base) = base {
        let mut seen = Vec::new();
        for (k, v) in flatten(base.node) {
            // Intermediate mappings are references too.
            let parts: Vec<&str> = k.split('.').collect();
            for i in 1..parts.len() {
                let parent = parts[..i].join(".");
                if !seen.contains(&parent) {
                    seen.push(parent);
                }
            }
            if !k.is_empty() && !seen.contains(&k) {
                seen.push(k.clone());
                if k.starts_with(prefix) {
                    items.push(item(
                        &k,
                        CompletionItemKind::VARIABLE,
                        Some(short(v)),
                        base.place(v.span).to_string(),
                        range,
                        k.clone(),
                    ));
                }
            }
        }
        let mappings: Vec<&String> =
            seen.iter().filter(|p| p.starts_with(prefix) && !items.iter().any(|i| &i.label == *p)).collect();
        for p in mappings {
            items.push(item(p, CompletionItemKind::MODULE, Some("mapping".into()), String::new(), range, p.clone()));
        }
    }
    for (label, doc) in [
        ("experiment.name", "The experiment's name."),
        ("trial.name", "The trial's name (a sweep child's full name)."),
        ("run.repeat", "The repeat index, from 0."),
        ("run.seed", "The run's seed: base seed + repeat."),
        ("run.id", "The run's id (known when the run starts)."),
        ("env:", "An environment variable: `${env:VAR}` or `${env:VAR,default}`."),
    ] {
        if label.starts_with(prefix) {
            items.push(item(
                label,
                CompletionItemKind::CONSTANT,
                Some("built-in".into()),
                doc.to_string(),
                range,
                label.to_string(),
            ));
        }
    }
    items
}

/// Completion for callers that are not LSP clients (the notebook kernel's
/// `%%expman run` body): each candidate's text and the byte range of
/// `text` it replaces.
pub fn complete_text(
    kind: FileKind,
    text: &str,
    offset: usize,
    base: Option<&Base<'_>>,
) -> Vec<(String, std::ops::Range<usize>)> {
    let doc = Text::new(text);
    complete(kind, &doc, offset.min(text.len()) as u32, base)
        .into_iter()
        .map(|item| match item.text_edit {
            Some(CompletionTextEdit::Edit(edit)) => {
                let start = doc.offset(edit.range.start) as usize;
                let end = doc.offset(edit.range.end) as usize;
                (edit.new_text, start..end.max(start))
            }
            _ => (item.insert_text.unwrap_or(item.label), offset..offset),
        })
        .collect()
}
