//! Builds [`Node`] trees from saphyr's event stream.
//!
//! What this adds over the raw events: byte spans on every key and value,
//! anchors and aliases (with a cap on alias expansion, so a "billion laughs"
//! file cannot exhaust memory), merge keys (`<<`), duplicate-key errors, and
//! recovery: on a syntax error, the line being typed (the one the error is
//! on, or a line just above it, or the line that opened an unclosed
//! bracket) is read as blank; when the rest then parses, its tree and its
//! problems are kept, and the syntax error is reported on that line. An
//! editor's half-typed line (`  re` where `repeat:` will go) costs only
//! itself. When no line explains the error, the part read so far is kept
//! and the error is reported where the parser stopped.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};

use super::node::{Map, Node, Value};
use super::scalar::resolve_plain;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, LineIndex, Span};

/// Most nodes that aliases may copy in one file.
const ALIAS_NODE_LIMIT: usize = 1_000_000;

/// The documents of one YAML text and the problems found reading it.
#[derive(Clone, Debug, Default)]
pub struct ParsedYaml {
    pub docs: Vec<Node>,
    pub errors: Vec<Diagnostic>,
}

/// Parses a YAML text (a leading byte order mark is allowed). Never fails:
/// problems are returned as diagnostics beside whatever could be read.
pub fn parse(text: &str, file: FileId) -> ParsedYaml {
    let (parsed, failure) = parse_once(text, file);
    let Some(failure) = failure else { return parsed };
    recover(text, file, &failure).unwrap_or(parsed)
}

/// Where a parse stopped on a syntax error, and the bracket left open.
struct Failure {
    at: usize,
    open: Option<usize>,
    info: String,
}

/// How many lines above the error a half-typed line is looked for.
const RECOVERY_LINES: usize = 3;

/// The parse of `text` with one line read as blank, for the first line
/// that makes the rest parse (see the module doc): the tree of the rest,
/// its problems, and the syntax error on that line.
fn recover(text: &str, file: FileId, failure: &Failure) -> Option<ParsedYaml> {
    if failure.info.contains("tab") {
        // Tabs are a style of the whole file, not a line being typed: the
        // error says so where the parser met the first one.
        return None;
    }
    let line_of = |at: usize| text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let mut candidates = vec![line_of(failure.at)];
    let mut start = candidates[0];
    while candidates.len() <= RECOVERY_LINES && start > 0 {
        start = line_of(start - 1);
        if !text[start..].lines().next().unwrap_or("").trim().is_empty() {
            candidates.push(start);
        }
    }
    if let Some(open) = failure.open {
        candidates.insert(0, line_of(open));
    }
    for line_start in candidates {
        let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
        let line = &text[line_start..line_end];
        if line.trim().is_empty() {
            continue;
        }
        // Every byte of the line but a `\r` becomes a space: the offsets of
        // the rest stay as they are.
        let mut blanked = String::with_capacity(text.len());
        blanked.push_str(&text[..line_start]);
        for c in line.chars() {
            match c {
                '\r' => blanked.push('\r'),
                _ => blanked.extend(std::iter::repeat_n(' ', c.len_utf8())),
            }
        }
        blanked.push_str(&text[line_end..]);
        let (mut parsed, still) = parse_once(&blanked, file);
        if still.is_some() {
            continue;
        }
        // The line above, when the blanked line was its value (more
        // indented): its key now reads as empty, which is noise.
        let indent = |l: &str| l.len() - l.trim_start().len();
        let above = text[..line_start].trim_end_matches(['\n', '\r', ' ']);
        let above_start = line_of(above.len());
        if !above.is_empty() && indent(line) > indent(&above[above_start..]) {
            let (from, to) = (above_start, line_start);
            parsed.errors.retain(|d| (d.span.end as usize) <= from || (d.span.start as usize) >= to);
        }
        let content_start = line_start + indent(line);
        let content_end = line_start + line.trim_end().len();
        let span = Span::new(file, content_start, content_end);
        let mut diagnostic = match failure.open.filter(|o| (line_start..line_end).contains(o)) {
            Some(open) => {
                let bracket = &text[open..open + 1];
                let close = if bracket == "[" { "]" } else { "}" };
                Diagnostic::error(
                    Code::YamlSyntax,
                    span,
                    format!("YAML syntax error on this line: its `{bracket}` is never closed"),
                )
                .with_related(Span::new(file, open, open + 1), "opened here")
                .with_hint(format!("close it with `{close}`, or quote the value"))
            }
            None => {
                Diagnostic::error(Code::YamlSyntax, span, format!("YAML syntax error on this line: {}", failure.info))
                    .with_hint(line_hint(line.trim()))
            }
        };
        diagnostic.contained = true;
        parsed.errors.insert(0, diagnostic);
        return Some(parsed);
    }
    None
}

/// What a half-typed line most likely lacks.
fn line_hint(line: &str) -> String {
    if !line.contains(':') && !line.starts_with('-') {
        format!("a key needs a colon: `{}: value`", line.trim_start_matches("- "))
    } else {
        "finish this line, or check its indentation and quoting".into()
    }
}

/// One pass of the parser over `text`.
fn parse_once(text: &str, file: FileId) -> (ParsedYaml, Option<Failure>) {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];
    let mut builder = Builder {
        file,
        text: body,
        lines: LineIndex::new(body),
        ascii: body.is_ascii(),
        bom,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        docs: Vec::new(),
        errors: Vec::new(),
    };
    let mut parser = Parser::new_from_str(body);
    let mut failure = None;
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                if builder.on_event(event, span.start, span.end) {
                    break;
                }
            }
            Some(Err(err)) => {
                let mut at = builder.offset(err.marker());
                if err.info().contains("tab") {
                    // Point at the tab itself, not at what follows it.
                    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
                    if let Some(tab) = text[line_start..at].find('\t') {
                        at = line_start + tab;
                    }
                }
                let end = next_char_end(text, at);
                let mut diagnostic =
                    Diagnostic::error(Code::YamlSyntax, Span::new(file, at, end), syntax_message(err.info()))
                        .with_hint(syntax_hint(err.info()));
                let open = builder.open_flow_collection();
                failure = Some(Failure { at, open, info: err.info().to_string() });
                if let Some(open) = open {
                    let bracket = &text[open..open + 1];
                    diagnostic = diagnostic
                        .with_related(Span::new(file, open, open + 1), format!("this `{bracket}` is never closed"))
                        .with_hint(format!("close the `{bracket}` opened earlier, or quote the value"));
                }
                builder.errors.push(diagnostic);
                builder.finish_partial();
                break;
            }
        }
    }
    (ParsedYaml { docs: builder.docs, errors: builder.errors }, failure)
}

fn next_char_end(text: &str, at: usize) -> usize {
    text[at.min(text.len())..].chars().next().map(|c| at + c.len_utf8()).unwrap_or(at)
}

fn syntax_message(info: &str) -> String {
    format!("YAML syntax error: {info}")
}

fn syntax_hint(info: &str) -> String {
    if info.contains("tab") {
        "YAML indents with spaces only; replace the tab characters with spaces".into()
    } else if info.contains("mapping values are not allowed") {
        "a value containing `: ` must be quoted, or the line is indented wrongly".into()
    } else if info.contains("did not find expected") || info.contains("unexpected end") || info.contains("eof") {
        "check for an unclosed bracket or quote above this point".into()
    } else {
        "check the indentation and quoting around this point".into()
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        map: Map,
        /// A key waiting for its value: its text, span, and whether it was a
        /// plain `<<` (a merge key).
        key: Option<(String, Span, bool)>,
        merges: Vec<Node>,
        start: usize,
        anchor: usize,
    },
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    lines: LineIndex,
    ascii: bool,
    bom: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    docs: Vec<Node>,
    errors: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn offset(&self, marker: &Marker) -> usize {
        if self.ascii {
            // Characters are bytes: the parser's index is the offset.
            return self.bom + marker.index().min(self.text.len());
        }
        let line = marker.line().saturating_sub(1);
        self.bom + self.lines.offset_of_char(self.text, line, marker.col())
    }

    fn span(&self, start: &Marker, end: &Marker) -> Span {
        Span::new(self.file, self.offset(start), self.offset(end))
    }

    /// Handles one event; returns true at the end of the stream.
    fn on_event(&mut self, event: Event<'_>, start: Marker, end: Marker) -> bool {
        match event {
            Event::StreamEnd => return true,
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd => {}
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.span(&start, &end);
                if let Some(Frame::Map { key: key @ None, .. }) = self.stack.last_mut() {
                    let is_merge = text == "<<" && style == ScalarStyle::Plain;
                    *key = Some((text.into_owned(), span, is_merge));
                    return false;
                }
                let value = self.scalar_value(&text, style, tag.as_deref(), span);
                self.complete(Node::new(value, span), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq { items: Vec::new(), start: self.offset(&start), anchor })
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                map: Map::new(),
                key: None,
                merges: Vec::new(),
                start: self.offset(&start),
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let flow = self.starts_flow(match &frame {
                        Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
                    });
                    let (mut node, anchor) = self.close(frame);
                    if flow {
                        // A flow collection ends after its `]` or `}`.
                        node.span.end = node.span.end.max(self.offset(&end) as u32);
                    }
                    self.complete(node, anchor);
                }
            }
            Event::Alias(id) => {
                let span = self.span(&start, &end);
                let node = match self.anchors.get(&id) {
                    Some(target) => {
                        let size = count_nodes(target);
                        let already_over = self.alias_nodes > ALIAS_NODE_LIMIT;
                        self.alias_nodes += size;
                        if already_over {
                            Node::null(span)
                        } else if self.alias_nodes > ALIAS_NODE_LIMIT {
                            self.errors.push(
                                Diagnostic::error(
                                    Code::AliasLimit,
                                    span,
                                    format!("aliases expand to more than {ALIAS_NODE_LIMIT} values"),
                                )
                                .with_hint("this looks like an alias bomb; expman refuses to expand it"),
                            );
                            Node::null(span)
                        } else {
                            target.clone()
                        }
                    }
                    None => Node::null(span),
                };
                if let Some(Frame::Map { key: key @ None, .. }) = self.stack.last_mut() {
                    let text = match &node.value {
                        Value::String(s) => s.clone(),
                        other => super::format_scalar(other),
                    };
                    *key = Some((text, span, false));
                    return false;
                }
                self.complete(node, 0);
            }
        }
        false
    }

    fn scalar_value(&mut self, text: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Value {
        let resolved = if style == ScalarStyle::Plain { resolve_plain(text) } else { Value::String(text.to_string()) };
        let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) else {
            return resolved;
        };
        let coerced = match tag.suffix.as_str() {
            "str" => Some(Value::String(text.to_string())),
            "int" => match resolve_plain(text) {
                v @ Value::Int(_) => Some(v),
                _ => None,
            },
            "float" => match resolve_plain(text) {
                Value::Int(i) => Some(Value::Float(i as f64)),
                v @ Value::Float(_) => Some(v),
                _ => None,
            },
            "bool" => match resolve_plain(text) {
                v @ Value::Bool(_) => Some(v),
                _ => None,
            },
            "null" => match resolve_plain(text) {
                Value::Null => Some(Value::Null),
                _ => None,
            },
            _ => Some(resolved.clone()),
        };
        coerced.unwrap_or_else(|| {
            self.errors.push(Diagnostic::error(
                Code::InvalidValue,
                span,
                format!("`{text}` is not a valid !!{}", tag.suffix),
            ));
            resolved
        })
    }

    fn close(&mut self, frame: Frame) -> (Node, usize) {
        match frame {
            Frame::Seq { mut items, start, anchor } => {
                items.shrink_to_fit();
                let end = items.last().map(|n| n.span.end as usize).unwrap_or(start + 1);
                (Node::new(Value::seq(items), Span::new(self.file, start, end)), anchor)
            }
            Frame::Map { mut map, key, merges, start, anchor } => {
                if let Some((name, key_span, _)) = key {
                    // A key whose value never came (the text ended early).
                    map.insert(
                        name,
                        key_span,
                        Node::null(Span::new(self.file, key_span.end as usize, key_span.end as usize)),
                    );
                }
                for merge in merges {
                    self.apply_merge(&mut map, merge);
                }
                let end = map
                    .iter()
                    .map(|(_, e)| e.value.span.end.max(e.key_span.end))
                    .filter(|_| true)
                    .max()
                    .map(|e| e as usize)
                    .unwrap_or(start + 1);
                map.shrink_to_fit();
                (Node::new(Value::map(map), Span::new(self.file, start, end)), anchor)
            }
        }
    }

    /// `<<: *base` or `<<: [*a, *b]`: keys not written explicitly come from
    /// the merged mappings, earlier ones first.
    fn apply_merge(&mut self, map: &mut Map, merge: Node) {
        let sources: Vec<Node> = match merge.value {
            Value::Map(_) => vec![merge],
            Value::Seq(items) if items.iter().all(|n| n.as_map().is_some()) => std::sync::Arc::unwrap_or_clone(items),
            _ => {
                self.errors.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        merge.span,
                        "the merge key `<<` takes a mapping or a list of mappings",
                    )
                    .with_hint("write `<<: *anchor` or `<<: [*a, *b]`"),
                );
                return;
            }
        };
        for source in sources {
            if let Value::Map(m) = source.value {
                for (k, e) in m.iter() {
                    if !map.contains_key(k) {
                        map.insert(k.to_string(), e.key_span, e.value.clone());
                    }
                }
            }
        }
    }

    /// Attaches a finished node to its parent (or makes it a document).
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { map, key, merges, .. }) => match key.take() {
                None => {
                    // A collection used as a key: YAML allows it, configs don't.
                    self.errors.push(Diagnostic::error(
                        Code::InvalidValue,
                        node.span,
                        "mapping keys must be plain values, not lists or mappings",
                    ));
                    *key = Some((String::from("<complex key>"), node.span, false));
                }
                Some((_, _, true)) => merges.push(node),
                Some((name, key_span, false)) => {
                    if let Some(first) = map.entry(&name) {
                        let first_span = first.key_span;
                        self.errors.push(
                            Diagnostic::error(Code::DuplicateKey, key_span, format!("duplicate key `{name}`"))
                                .with_related(first_span, "first defined here")
                                .with_hint("YAML keys must be unique within a mapping; remove or rename one of them"),
                        );
                    } else {
                        map.insert(name, key_span, node);
                    }
                }
            },
        }
    }

    /// Whether a collection starting at `start` is a flow one (`[` or `{`).
    fn starts_flow(&self, start: usize) -> bool {
        let local = start.checked_sub(self.bom);
        matches!(local.and_then(|l| self.text.as_bytes().get(l)), Some(b'[' | b'{'))
    }

    /// The offset of the innermost open `[` or `{`, if any.
    fn open_flow_collection(&self) -> Option<usize> {
        self.stack.iter().rev().find_map(|frame| {
            let start = match frame {
                Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
            };
            self.starts_flow(start).then_some(start)
        })
    }

    /// After a syntax error: close every open collection so that what was
    /// read stays usable.
    fn finish_partial(&mut self) {
        while let Some(frame) = self.stack.pop() {
            let (node, anchor) = self.close(frame);
            self.complete(node, anchor);
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(_, e)| count_nodes(&e.value)).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse0(text: &str) -> ParsedYaml {
        parse(text, FileId(0))
    }

    fn slice(text: &str, span: Span) -> &str {
        &text[span.start as usize..span.end as usize]
    }

    #[test]
    fn spans_of_keys_and_values() {
        let text = "a: 1\nb:\n  c: \"x y\"\n  d: [1, 2]\n";
        let p = parse0(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let root = &p.docs[0];
        let b = root.as_map().unwrap().entry("b").unwrap();
        assert_eq!(slice(text, b.key_span), "b");
        let c = b.value.as_map().unwrap().entry("c").unwrap();
        assert_eq!(slice(text, c.key_span), "c");
        assert_eq!(slice(text, c.value.span), "\"x y\"");
        let d = b.value.get("d").unwrap();
        assert_eq!(slice(text, d.as_seq().unwrap()[1].span), "2");
    }

    #[test]
    fn spans_with_non_ascii_and_bom() {
        let text = "\u{feff}ключ: значение\nx: 1\n";
        let p = parse0(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let x = p.docs[0].as_map().unwrap().entry("x").unwrap();
        assert_eq!(slice(text, x.key_span), "x");
        let v = p.docs[0].as_map().unwrap().entry("ключ").unwrap();
        assert_eq!(slice(text, v.value.span), "значение");
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n";
        let p = parse0(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let other = p.docs[0].get("other").unwrap();
        assert_eq!(other.get("x").unwrap().as_i64(), Some(1));
        assert_eq!(other.get("y").unwrap().as_i64(), Some(3));
        assert_eq!(p.docs[0].get_path(["list", "0", "y"]).unwrap().as_i64(), Some(2));
    }

    #[test]
    fn duplicate_keys_are_errors_pointing_at_the_second() {
        let text = "a: 1\nb: 2\na: 3\n";
        let p = parse0(text);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].span.start, 10);
        assert_eq!(p.docs[0].get("a").unwrap().as_i64(), Some(1));
    }

    #[test]
    fn syntax_error_keeps_what_was_read() {
        let text = "a: 1\nb: [1, 2\nc: 3\n";
        let p = parse0(text);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.docs[0].get("a").unwrap().as_i64(), Some(1));
    }

    #[test]
    fn a_half_typed_line_costs_only_itself() {
        // A key typed without its colon yet, between two whole trials.
        let text = "- name: a\n  repeat: 2\n  re\n- name: b\n  repeat: x\n";
        let p = parse0(text);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        let e = &p.errors[0];
        assert!(e.contained && e.code == Code::YamlSyntax);
        assert_eq!(slice(text, e.span), "re");
        assert!(e.hint.as_deref().unwrap().contains("`re: value`"), "{:?}", e.hint);
        // Both trials are read, the second with its own (wrong) value.
        let trials = p.docs[0].as_seq().unwrap();
        assert_eq!(trials.len(), 2);
        assert_eq!(trials[1].get("repeat").unwrap().as_str(), Some("x"));
        // An unclosed bracket: the line that opened it.
        let text = "a:\n  b: {x: 1\n  c: 2\n";
        let p = parse0(text);
        assert_eq!(slice(text, p.errors[0].span), "b: {x: 1");
        assert_eq!(p.errors[0].related[0].message, "opened here");
        assert_eq!(p.docs[0].get_path(["a", "c"]).unwrap().as_i64(), Some(2));
        // A key being typed under keys already there.
        let text = "a:\n  b: 1\n  c\nd: 2\n";
        let p = parse0(text);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert_eq!(p.docs[0].get("d").unwrap().as_i64(), Some(2));
        // Tabs are not a half-typed line: no recovery.
        let p = parse0("a:\n\tb: 1\n");
        assert!(!p.errors[0].contained);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let p = parse0(&text);
        assert!(p.errors.iter().any(|e| e.code == Code::AliasLimit));
    }

    #[test]
    fn tags_coerce_scalars() {
        let p = parse0("a: !!str 12\nb: !!float 3\nc: !!int abc\n");
        assert_eq!(p.docs[0].get("a").unwrap().as_str(), Some("12"));
        assert_eq!(p.docs[0].get("b").unwrap().as_f64(), Some(3.0));
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn multiple_documents() {
        let p = parse0("a: 1\n---\nb: 2\n");
        assert_eq!(p.docs.len(), 2);
    }
}
