//! Where the cursor is, read from the text (tolerant of the half-typed
//! line being edited, which the YAML parser cannot read yet): the path of
//! keys (and list items) from the document root to the mapping the cursor
//! is in, whether a key or a value is being typed, and the partial word.
//!
//! Block style is read by indentation, as YAML defines it; flow mappings
//! opened on the cursor's line (`model: {dim: 1, ty`) are followed too.

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Key(String),
    /// A list item, by the line where its `- ` is.
    Item {
        line: usize,
    },
}

/// What is being typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A key (`prefix` typed so far, starting at byte `start`).
    Key { prefix: String, start: usize },
    /// The value of `key`.
    Value { key: String, prefix: String, start: usize },
    /// A reference inside `${`.
    Reference { prefix: String, start: usize },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub path: Vec<Part>,
    pub kind: Kind,
}

impl Cursor {
    /// The keys of the path (list items left out).
    pub fn keys(&self) -> Vec<&str> {
        self.path
            .iter()
            .filter_map(|p| match p {
                Part::Key(k) => Some(k.as_str()),
                Part::Item { .. } => None,
            })
            .collect()
    }

    /// The line of the outermost list item on the path (a trial in trials.yaml).
    pub fn first_item(&self) -> Option<usize> {
        self.path.iter().find_map(|p| match p {
            Part::Item { line } => Some(*line),
            Part::Key(_) => None,
        })
    }
}

/// Leading spaces, and the column where a key starts (after any `- `).
fn shape(line: &str) -> (usize, usize, bool) {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut col = indent;
    let mut item = false;
    let bytes = line.as_bytes();
    while bytes.get(col) == Some(&b'-') && matches!(bytes.get(col + 1), Some(b' ') | None) {
        item = true;
        // A bare `-` at the end of the line has no space after it.
        col = (col + 2).min(bytes.len());
        while bytes.get(col) == Some(&b' ') {
            col += 1;
        }
    }
    (indent, col, item)
}

/// The key of `key: ...` or `key:` at the start of `s`, if any.
fn key_of(s: &str) -> Option<(String, bool)> {
    let s = s.trim_end();
    let (mut in_single, mut in_double) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && (i == 0 || s[..i].ends_with(' ')) => return None,
            ':' if !in_single && !in_double => {
                let rest = &s[i + 1..];
                if rest.is_empty() || rest.starts_with(' ') {
                    let key = s[..i].trim().trim_matches(|c| c == '"' || c == '\'').to_string();
                    let block = rest.trim().is_empty()
                        || rest.trim_start().starts_with('#')
                        || matches!(rest.trim(), "|" | ">" | "|-" | ">-");
                    return (!key.is_empty()).then_some((key, block));
                }
            }
            '{' | '[' if !in_single && !in_double && i == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The cursor context at byte `offset` of `text`.
pub fn cursor(text: &str, offset: usize) -> Cursor {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_no = text[..line_start].matches('\n').count();
    let prefix = text[line_start..offset].trim_end_matches('\r');
    let (_, key_col, is_item) = shape(prefix);

    let mut path: Vec<Part> = Vec::new();
    let mut kind: Kind;
    let typed = &prefix[key_col.min(prefix.len())..];

    // Inside an unclosed `${`?
    if let Some(open) = prefix.rfind("${").filter(|&i| !prefix[i..].contains('}')) {
        let start = open + 2;
        kind = Kind::Reference { prefix: prefix[start..].to_string(), start: line_start + start };
    } else {
        // Follow flow mappings opened on this line.
        let mut flow_keys: Vec<String> = Vec::new();
        let mut segment_start = key_col;
        let mut depth_stack: Vec<usize> = Vec::new();
        let (mut in_single, mut in_double) = (false, false);
        for (i, c) in typed.char_indices() {
            let at = key_col + i;
            match c {
                '\'' if !in_double => in_single = !in_single,
                '"' if !in_single => in_double = !in_double,
                '{' if !in_single && !in_double => {
                    if let Some((k, _)) = key_of(&prefix[segment_start..at]) {
                        flow_keys.push(k);
                    } else {
                        flow_keys.push(String::new());
                    }
                    depth_stack.push(at);
                    segment_start = at + 1;
                }
                '}' if !in_single && !in_double => {
                    depth_stack.pop();
                    flow_keys.pop();
                    segment_start = at + 1;
                }
                ',' if !in_single && !in_double && !depth_stack.is_empty() => segment_start = at + 1,
                _ => {}
            }
        }
        let segment = &prefix[segment_start.min(prefix.len())..];
        let lead = segment.len() - segment.trim_start().len();
        let seg_start = segment_start + lead;
        let segment = segment.trim_start();
        kind = match segment.find(": ").or_else(|| segment.strip_suffix(':').map(|s| s.len())) {
            Some(colon) => {
                let key = segment[..colon].trim().trim_matches(|c| c == '"' || c == '\'').to_string();
                let value = segment[colon + 1..].trim_start();
                let start = line_start + offset - line_start - value.len();
                Kind::Value { key, prefix: value.to_string(), start }
            }
            None => Kind::Key { prefix: segment.to_string(), start: line_start + seg_start },
        };
        // Flow keys are parents, innermost last; pushed after the block path.
        for k in flow_keys.into_iter().filter(|k| !k.is_empty()) {
            path.push(Part::Key(k));
        }
        if is_item && !matches!(kind, Kind::Reference { .. }) {
            path.insert(0, Part::Item { line: line_no });
        }
    }

    // Walk up the block structure.
    let mut target = if is_item { shape(prefix).0 } else { key_col };
    let mut parents: Vec<Part> = Vec::new();
    let before = &text[..line_start];
    let mut line_end = before.len();
    let mut index = line_no;
    while target > 0 && line_end > 0 {
        let start = before[..line_end.saturating_sub(1)].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = before[start..line_end].trim_end_matches(['\n', '\r']);
        line_end = start;
        index -= 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let (indent, col, item) = shape(line);
        if item && indent < target {
            // The list item holding us; a `- key:` line's key is a sibling
            // when we sit at its column, a parent when we sit deeper.
            if col < target
                && let Some((key, true)) = key_of(&line[col..])
            {
                parents.push(Part::Key(key));
            }
            parents.push(Part::Item { line: index });
            target = indent;
            continue;
        }
        if col < target {
            match key_of(&line[col..]) {
                Some((key, true)) => {
                    parents.push(Part::Key(key));
                    target = col;
                }
                _ => target = col,
            }
        }
    }
    parents.reverse();
    parents.extend(path);
    if let Kind::Reference { .. } = kind {
        // A reference's own position in the tree matters less than its text.
        let _ = &mut kind;
    }
    Cursor { path: parents, kind }
}

/// The name of the trial whose `- ` is on `line` (in the item's own lines).
pub fn trial_name_at(text: &str, line: usize) -> Option<String> {
    let mut lines = text.lines().skip(line);
    let first = lines.next()?;
    let (indent, col, _) = shape(first);
    let check = |l: &str, c: usize| -> Option<String> {
        let (key, _) = key_of(&l[c.min(l.len())..])?;
        if key != "name" {
            return None;
        }
        let value = l[c..].split_once(':')?.1.trim();
        let value = value.split(" #").next().unwrap_or(value).trim();
        Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
    };
    if let Some(name) = check(first, col) {
        return Some(name);
    }
    for l in lines {
        let (i, c, item) = shape(l);
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if i <= indent && (item || i < col) {
            break;
        }
        if c == col
            && let Some(name) = check(l, c)
        {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    /// `$0` marks the cursor.
    fn check(text: &str, expected: Expect) {
        let offset = text.find("$0").unwrap();
        let text = text.replace("$0", "");
        let c = cursor(&text, offset);
        let path: Vec<String> = c
            .path
            .iter()
            .map(|p| match p {
                Part::Key(k) => k.clone(),
                Part::Item { line } => format!("[line {line}]"),
            })
            .collect();
        let kind = match &c.kind {
            Kind::Key { prefix, .. } => format!("key {prefix:?}"),
            Kind::Value { key, prefix, .. } => format!("value of {key} {prefix:?}"),
            Kind::Reference { prefix, .. } => format!("reference {prefix:?}"),
        };
        expected.assert_eq(&format!("{} | {kind}", path.join(" / ")));
    }

    #[test]
    fn block_paths_in_trials() {
        check(
            "- name: a\n  settings:\n    model:\n      emb$0",
            expect![[r#"[line 0] / settings / model | key "emb""#]],
        );
        check("- name: a\n  settings:\n    $0", expect![[r#"[line 0] / settings | key """#]]);
        check("- name: a\n  rep$0", expect![[r#"[line 0] | key "rep""#]]);
        check(
            "- name: a\n- name: b\n  settings:\n    training.l$0",
            expect![[r#"[line 1] / settings | key "training.l""#]],
        );
        check(
            "- name: a\n  settings:\n    model:\n      type: tr$0",
            expect![[r#"[line 0] / settings / model | value of type "tr""#]],
        );
    }

    #[test]
    fn a_bare_dash_above_the_cursor() {
        // Found by the `lsp_edits` fuzz target: a line holding only `-`
        // (a list item being started) was read one byte past its end.
        check("-\n    model: {na$0", expect![[r#"[line 0] / model | key "na""#]]);
    }

    #[test]
    fn flow_mappings_on_the_line() {
        check("- name: a\n  settings:\n    model: {emb$0", expect![[r#"[line 0] / settings / model | key "emb""#]]);
        check("- name: a\n  settings: {model: {dim: 1, ty$0", expect![[r#"[line 0] / settings / model | key "ty""#]]);
        check("trackers:\n  - {type: ml$0", expect![[r#"trackers / [line 1] | value of type "ml""#]]);
    }

    #[test]
    fn mappings_lists_comments_and_references() {
        check(
            "pipeline:\n  # a comment\n\n  callbacks:\n    - type: early_stopping\n      pat$0",
            expect![[r#"pipeline / callbacks / [line 4] | key "pat""#]],
        );
        check("env:\n  resources:\n    max$0", expect![[r#"env / resources | key "max""#]]);
        check("out: runs/${training.l$0", expect![[r#" | reference "training.l""#]]);
        check("trials:\n  - name: x\n    settings:\n      a$0", expect![[r#"trials / [line 1] / settings | key "a""#]]);
    }

    #[test]
    fn trial_names() {
        let text = "- name: a\n  repeat: 2\n- repeat: 1\n  name: \"b c\"  # comment\n  settings: {x: 1}\n";
        assert_eq!(trial_name_at(text, 0).as_deref(), Some("a"));
        assert_eq!(trial_name_at(text, 2).as_deref(), Some("b c"));
    }
}

/// What the parsed tree has under a byte offset.
#[derive(Debug)]
pub struct Found<'a> {
    /// Keys (and list indices as numbers) from the root.
    pub path: Vec<String>,
    /// The key's span when the offset is on a key.
    pub key_span: Option<expman_schema::Span>,
    pub node: &'a expman_schema::Node,
}

/// The deepest key or value of `root` containing `offset`.
pub fn node_at(root: &expman_schema::Node, offset: u32) -> Option<Found<'_>> {
    use expman_schema::Value;
    let mut path = Vec::new();
    let mut node = root;
    'descend: loop {
        match &node.value {
            Value::Map(map) => {
                for (key, entry) in map.iter() {
                    if entry.key_span.is_real() && entry.key_span.contains(offset) {
                        path.push(key.to_string());
                        return Some(Found { path, key_span: Some(entry.key_span), node: &entry.value });
                    }
                    if entry.value.span.contains(offset) && entry.value.span.file == root.span.file {
                        path.push(key.to_string());
                        node = &entry.value;
                        continue 'descend;
                    }
                }
                break;
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if item.span.contains(offset) {
                        path.push(i.to_string());
                        node = item;
                        continue 'descend;
                    }
                }
                break;
            }
            _ => break,
        }
    }
    (!path.is_empty()).then_some(Found { path, key_span: None, node })
}
