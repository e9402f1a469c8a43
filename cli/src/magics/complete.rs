//! Tab completion, shift-tab help and the console's "is this cell
//! complete?" for the magics: magic names, subcommands and flags (from the
//! clap definitions), flag values, trial names, run ids and metric/param
//! keys (from the record), and config keys inside a `%%expman run` body
//! (the language server's completion, with base.yaml from `--dir`).

use clap::CommandFactory;
use expman_kernel::{Completeness, Completions, Inspection};
use expman_lsp::completion::{Base, FileKind, complete_text};
use expman_schema::{FsLoader, Role};

use super::parse::{MagicCli, split_cell, words};

/// What the record offers for completion.
#[derive(Default)]
pub struct Known {
    pub trials: Vec<String>,
    pub runs: Vec<String>,
    pub columns: Vec<String>,
    pub metrics: Vec<String>,
    pub experiments: Vec<String>,
}

pub fn complete(code: &str, cursor: usize, known: &dyn Fn() -> Known) -> Completions {
    let cursor = cursor.min(code.len());
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let before = &code[line_start..cursor];
    let token_start = before.rfind(char::is_whitespace).map_or(line_start, |i| line_start + i + 1);
    let token = &code[token_start..cursor];
    let none = Completions { matches: Vec::new(), start: cursor, end: cursor };
    let first_line_end = code.find('\n').unwrap_or(code.len());
    if line_start > 0 && code.trim_start().starts_with("%%expman") {
        let header = words(code[..first_line_end].trim_start().trim_start_matches("%%expman")).unwrap_or_default();
        if header.first().map(String::as_str) == Some("run") {
            return complete_body(code, first_line_end + 1, cursor, &header);
        }
        return none;
    }
    let trimmed = before.trim_start();
    if !trimmed.starts_with('%') {
        return none;
    }
    if let Some(quote) = open_quote(trimmed) {
        return complete_in_filter(trimmed, quote, cursor, known);
    }
    let ws = words(trimmed).unwrap_or_default();
    let finished: Vec<&str> = if token.is_empty() {
        ws.iter().map(String::as_str).collect()
    } else {
        ws[..ws.len().saturating_sub(1)].iter().map(String::as_str).collect()
    };
    let keep = |candidates: Vec<String>| -> Completions {
        let mut matches: Vec<String> = candidates.into_iter().filter(|c| c.starts_with(token)).collect();
        matches.dedup();
        Completions { matches, start: token_start, end: cursor }
    };
    let cmd = MagicCli::command();
    if finished.is_empty() {
        return keep(vec!["%expman".into(), "%%expman".into()]);
    }
    let subcommands: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    if finished.len() == 1 {
        if finished[0] == "%%expman" {
            // Only these take a body.
            return keep(CELL_MAGICS.map(str::to_string).to_vec());
        }
        return keep(subcommands);
    }
    let sub_name = finished[1];
    let Some(sub) = cmd.find_subcommand(sub_name) else { return none };
    if token.starts_with('-') {
        let flags = sub.get_arguments().filter_map(|a| a.get_long().map(|l| format!("--{l}"))).collect();
        return keep(flags);
    }
    let previous = finished.last().copied().unwrap_or_default();
    if let Some(flag) = previous.strip_prefix("--")
        && let Some(arg) = sub.get_arguments().find(|a| a.get_long() == Some(flag))
    {
        let values: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
        if !values.is_empty() {
            return keep(values);
        }
        return match flag {
            "experiment" => keep(known().experiments),
            "metric" | "keys" => keep(known().metrics.iter().map(|m| m.to_string()).collect()),
            "trial" => keep(known().trials),
            // Sort keys are runs columns (`metrics.val_loss`, `params.seed`, `trial`).
            "order-by" | "columns" => keep(known().columns),
            _ => none,
        };
    }
    let k = known();
    let candidates = match sub_name {
        "compare" | "summary" => k.trials,
        "metrics" | "diff" | "stop" => k.trials.into_iter().chain(k.runs).collect(),
        "show" | "lineage" => k.runs,
        "plot" if finished.len() == 2 => {
            k.metrics.iter().map(|m| m.trim_start_matches("metrics.").to_string()).collect()
        }
        "runs" | "rank" | "export" | "plot" => k.columns,
        "help" => subcommands,
        _ => Vec::new(),
    };
    keep(candidates)
}

/// The magics that take a cell body (`%%expman NAME`).
const CELL_MAGICS: [&str; 2] = ["run", "sql"];

/// Subcommands whose positional argument is a filter over the runs.
const FILTERED: [&str; 4] = ["runs", "rank", "export", "plot"];

/// Where a quote opened in `text` is still open (its byte offset), with
/// the rules of [`words`]: `'...'` literal, `"..."` with backslash escapes,
/// a backslash outside quotes escaping the next character.
fn open_quote(text: &str) -> Option<usize> {
    let mut open: Option<(usize, char)> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match (open, c) {
            (None, '\\') | (Some((_, '"')), '\\') => {
                chars.next();
            }
            (None, '\'' | '"') => open = Some((i, c)),
            (Some((_, q)), c) if c == q => open = None,
            _ => {}
        }
    }
    open.map(|(i, _)| i)
}

/// Inside a quoted filter (`%expman runs "metrics.val_l`): the runs
/// columns for the key under the cursor.
fn complete_in_filter(line: &str, quote: usize, cursor: usize, known: &dyn Fn() -> Known) -> Completions {
    let inside = &line[quote + 1..];
    let key_start = inside.rfind(|c: char| c.is_whitespace() || "()=<>!,".contains(c)).map_or(0, |i| i + 1);
    let token = &inside[key_start..];
    let start = cursor - token.len();
    let before = words(&line[..quote]).unwrap_or_default();
    let filtered = before.get(1).is_some_and(|sub| FILTERED.contains(&sub.as_str()));
    let matches =
        if filtered { known().columns.into_iter().filter(|c| c.starts_with(token)).collect() } else { Vec::new() };
    Completions { matches, start, end: cursor }
}

/// Config keys in a `%%expman run` body, as the language server offers them.
fn complete_body(code: &str, body_start: usize, cursor: usize, header: &[String]) -> Completions {
    let body = &code[body_start.min(code.len())..];
    let offset = cursor.saturating_sub(body_start);
    let dir = header.iter().position(|w| w == "--dir").and_then(|i| header.get(i + 1)).map(std::path::PathBuf::from);
    let loaded = dir.filter(|d| d.is_dir()).map(|d| expman_schema::load(&FsLoader, &d));
    let base = loaded.as_ref().map(|a| Base { node: &a.project.base, sources: &a.sources });
    let kind = if body.trim_start().starts_with('-') { FileKind::Role(Role::Trials) } else { FileKind::Single };
    let found = complete_text(kind, body, offset, base.as_ref());
    let (start, end) = found.first().map_or((offset, offset), |(_, r)| (r.start, r.end));
    let matches = found.into_iter().filter(|(_, r)| r.start == start).map(|(t, _)| t).collect();
    Completions { matches, start: body_start + start, end: body_start + end }
}

/// Help on the magic, subcommand or flag under the cursor.
pub fn inspect(code: &str, cursor: usize) -> Option<Inspection> {
    let cursor = cursor.min(code.len());
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let line_end = code[cursor..].find('\n').map_or(code.len(), |i| cursor + i);
    let line = &code[line_start..line_end];
    let trimmed = line.trim_start();
    if !trimmed.starts_with("%expman") && !trimmed.starts_with("%%expman") {
        return None;
    }
    let at = cursor - line_start;
    let word_start = line[..at].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let word_end = line[at..].find(char::is_whitespace).map_or(line.len(), |i| at + i);
    let word = &line[word_start..word_end];
    let ws = words(trimmed.trim_start_matches('%').trim_start_matches("expman")).unwrap_or_default();
    let mut cmd = MagicCli::command();
    let text = match ws.first() {
        None => cmd.render_long_help().to_string(),
        Some(_) if word.starts_with('%') => cmd.render_long_help().to_string(),
        Some(sub) => {
            let sub = cmd.find_subcommand_mut(sub)?;
            if let Some(flag) = word.strip_prefix("--")
                && let Some(arg) =
                    sub.get_arguments().find(|a| a.get_long() == Some(flag.split('=').next().unwrap_or("")))
            {
                format!(
                    "--{}: {}",
                    arg.get_long().unwrap_or_default(),
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default()
                )
            } else {
                let name = format!("%expman {}", sub.get_name());
                sub.clone().bin_name(name).render_long_help().to_string()
            }
        }
    };
    Some(Inspection { plain: text, markdown: None })
}

/// Whether a console can run the cell as it is.
pub fn is_complete(code: &str) -> Completeness {
    if code.trim().is_empty() {
        return Completeness::Complete;
    }
    // `!command` lines run as they are; what a console must wait for is in
    // the magics between them.
    let magics: Vec<String> = expman_kernel::dispatch::segments(code)
        .into_iter()
        .filter_map(|s| match s {
            expman_kernel::dispatch::Segment::Code(code) => Some(code),
            expman_kernel::dispatch::Segment::Shell(_) => None,
        })
        .collect();
    for code in &magics {
        match magics_complete(code) {
            Completeness::Complete => {}
            other => return other,
        }
    }
    Completeness::Complete
}

/// [`is_complete`] for magics only (no `!command` lines).
fn magics_complete(code: &str) -> Completeness {
    let invocations = match split_cell(code) {
        Ok(i) => i,
        Err(e) if e.evalue.contains("quote is not closed") => {
            return Completeness::Incomplete { indent: String::new() };
        }
        Err(_) => return Completeness::Invalid,
    };
    let cmd = MagicCli::command();
    for inv in &invocations {
        if inv.help {
            continue;
        }
        let Some(sub) = inv.words.first() else { return Completeness::Invalid };
        if cmd.find_subcommand(sub).is_none() {
            return Completeness::Invalid;
        }
        if let Some(body) = &inv.body {
            let open = if sub == "sql" { open_sql(body) } else { open_yaml(body) };
            if open {
                return Completeness::Incomplete { indent: "  ".into() };
            }
            let needs_body = sub == "run" && !inv.words.iter().any(|w| w == "--dir") || sub == "sql";
            if needs_body && body.trim().is_empty() {
                return Completeness::Incomplete { indent: String::new() };
            }
        }
    }
    Completeness::Complete
}

/// An unclosed flow collection (`[`, `{`) or quoted scalar at the end of a
/// YAML text. Quotes and brackets count only where YAML reads them as
/// such: at the start of a scalar, or anywhere inside a flow collection
/// for brackets; `it's` or `echo {x` in a plain scalar are just text, and
/// `#` starts a comment only after a space.
fn open_yaml(text: &str) -> bool {
    let (mut depth, mut quote) = (0i32, None::<char>);
    let mut scalar_start = true;
    let mut previous = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if let Some(q) = quote {
            match c {
                '\'' if q == '\'' && next == Some('\'') => {
                    chars.next();
                }
                '\\' if q == '"' => {
                    chars.next();
                }
                c if c == q => {
                    quote = None;
                    scalar_start = false;
                }
                _ => {}
            }
            previous = c;
            continue;
        }
        match c {
            '#' if previous.is_whitespace() => {
                // A comment, to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                previous = '\n';
                scalar_start = true;
                continue;
            }
            '\n' => scalar_start = true,
            c if c.is_whitespace() => {}
            '\'' | '"' if scalar_start => quote = Some(c),
            '[' | '{' if scalar_start || depth > 0 => {
                depth += 1;
                scalar_start = true;
            }
            ']' | '}' if depth > 0 => {
                depth -= 1;
                scalar_start = false;
            }
            ',' if depth > 0 => scalar_start = true,
            ':' | '-' | '?' if next.is_none_or(char::is_whitespace) => scalar_start = true,
            ':' if depth > 0 => scalar_start = true,
            _ => scalar_start = false,
        }
        previous = c;
    }
    depth > 0 || quote.is_some()
}

/// An unclosed string literal or quoted identifier, or `/* ...` comment,
/// at the end of SQL (`--` comments run to the end of the line).
fn open_sql(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    let mut open: Option<char> = None;
    while let Some(c) = chars.next() {
        match (open, c) {
            (Some('*'), '*') if chars.peek() == Some(&'/') => {
                chars.next();
                open = None;
            }
            (Some('*'), _) => {}
            (Some(q), c) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next(); // a doubled quote is one quote
                } else {
                    open = None;
                }
            }
            (Some(_), _) => {}
            (None, '\'' | '"') => open = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '/') if chars.peek() == Some(&'*') => {
                chars.next();
                open = Some('*');
            }
            _ => {}
        }
    }
    open.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() -> Known {
        Known {
            trials: vec!["baseline".into(), "small_model".into()],
            metrics: vec!["val_loss".into()],
            ..Known::default()
        }
    }

    fn matches(code: &str) -> Vec<String> {
        complete(code, code.len(), &nothing).matches
    }

    #[test]
    fn magic_names_subcommands_flags_and_values() {
        assert_eq!(matches("%exp"), ["%expman"]);
        assert!(matches("%expman ru").contains(&"runs".to_string()));
        assert!(matches("%expman plot val_loss --b").contains(&"--by".to_string()));
        assert_eq!(matches("%expman plot val_loss --by "), ["trial", "run"]);
        assert_eq!(matches("%expman compare base"), ["baseline"]);
    }

    #[test]
    fn completeness() {
        assert_eq!(is_complete("%expman runs"), Completeness::Complete);
        assert_eq!(is_complete("%expman nonsense"), Completeness::Invalid);
        assert_eq!(is_complete("hello"), Completeness::Invalid);
        assert_eq!(is_complete("%expman runs\n!echo hi"), Completeness::Complete);
        assert_eq!(is_complete("!ls\n%expman nonsense"), Completeness::Invalid);
        assert_eq!(
            is_complete("%%expman run\n- {name: a, settings: {lr: [1,"),
            Completeness::Incomplete { indent: "  ".into() }
        );
        assert_eq!(is_complete("%%expman run\n- name: a\n"), Completeness::Complete);
        assert_eq!(is_complete("%expman runs \"status = 'x"), Completeness::Incomplete { indent: String::new() });
        // Quotes and braces inside plain scalars, comments: complete.
        for body in ["notes: it's fine", "command: echo {x", "- name: a # it's [", "- {name: 'it''s'}", "url: a:b"] {
            assert_eq!(is_complete(&format!("%%expman run\n{body}")), Completeness::Complete, "{body}");
        }
        for body in ["- name: 'open", "k: [1, {a: 2", "k: \"x\\\"", "- [a, b"] {
            assert_eq!(
                is_complete(&format!("%%expman run\n{body}")),
                Completeness::Incomplete { indent: "  ".into() },
                "{body}"
            );
        }
        assert_eq!(is_complete("%%expman sql\nSELECT 1 -- don't"), Completeness::Complete);
        assert_eq!(is_complete("%%expman sql\nSELECT 'it''s'"), Completeness::Complete);
        assert_eq!(is_complete("%%expman sql\nSELECT 'open"), Completeness::Incomplete { indent: "  ".into() });
        assert_eq!(is_complete("%%expman sql\nSELECT /* note"), Completeness::Incomplete { indent: "  ".into() });
    }

    #[test]
    fn filters_inside_quotes_complete_columns() {
        let known = || Known { columns: vec!["metrics.val_loss".into(), "params.lr".into()], ..Known::default() };
        let code = "%expman runs \"metrics.val_loss < 0.3 and par";
        let found = complete(code, code.len(), &known);
        assert_eq!(found.matches, ["params.lr"]);
        assert_eq!(&code[found.start..found.end], "par");
        let code = "%expman runs \"(metr";
        assert_eq!(complete(code, code.len(), &known).matches, ["metrics.val_loss"]);
    }

    #[test]
    fn cell_magics_and_runs_only_where_a_run_is_meant() {
        assert_eq!(matches("%%expman "), ["run", "sql"]);
        let known = || Known { trials: vec!["baseline".into()], runs: vec!["ab12cd34".into()], ..Known::default() };
        let code = "%expman show ";
        assert_eq!(complete(code, code.len(), &known).matches, ["ab12cd34"]);
        let code = "%%expman run --trial ";
        assert_eq!(complete(code, code.len(), &known).matches, ["baseline"]);
    }
}
