//! Renders diagnostics as a compiler would: the message, `file:line:col`,
//! the source line with a caret line under the range, related locations,
//! and `hint:` lines.

use std::fmt::Write;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{Sources, Span};

/// Colours for a terminal, or none.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
}

/// One diagnostic as text (ends with a newline).
pub fn render(diagnostic: &Diagnostic, sources: &Sources, style: Style) -> String {
    let mut out = String::new();
    let (label, color) = match diagnostic.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let _ = writeln!(
        out,
        "{}{} {}",
        style.paint(color, label),
        style.paint("1", &format!("[{}]:", diagnostic.code.as_str())),
        style.paint("1", &diagnostic.message)
    );
    snippet(&mut out, sources, diagnostic.span, None, color, style);
    for related in &diagnostic.related {
        snippet(&mut out, sources, related.span, Some(&related.message), "1;36", style);
    }
    if let Some(hint) = &diagnostic.hint {
        let _ = writeln!(out, "  {} {hint}", style.paint("1;36", "= hint:"));
    }
    out
}

fn snippet(out: &mut String, sources: &Sources, span: Span, note: Option<&str>, color: &str, style: Style) {
    let Some(file) = sources.get(span.file) else {
        if let Some(note) = note {
            let _ = writeln!(out, "  = note: {note}");
        }
        return;
    };
    let start = file.line_col(span.start);
    let end = file.line_col(span.end);
    let _ = writeln!(
        out,
        "{}{} {}:{}:{}",
        " ".repeat(start.line.to_string().len()),
        style.paint("1;34", "-->"),
        file.path.display(),
        start.line,
        start.col
    );
    let line_text = file.line_text(start.line);
    let width = start.line.to_string().len();
    let pad = " ".repeat(width + 1);
    let bar = style.paint("1;34", "|");
    let shown: String = line_text.replace('\t', " ");
    let _ = writeln!(out, "{pad}{bar}");
    let _ = writeln!(out, "{} {bar} {shown}", style.paint("1;34", &format!("{:>width$}", start.line)));
    let span_width = if end.line == start.line {
        (end.col.saturating_sub(start.col)).max(1) as usize
    } else {
        (line_text.chars().count() + 1).saturating_sub(start.col as usize).max(1)
    };
    let carets = "^".repeat(span_width);
    let marker = match note {
        Some(n) => format!("{carets} {n}"),
        None => carets,
    };
    let indent = " ".repeat(start.col.saturating_sub(1) as usize);
    let _ = writeln!(out, "{pad}{bar} {indent}{}", style.paint(color, &marker));
}

/// A one-line summary such as `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}
