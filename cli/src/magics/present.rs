//! Answers of the query commands as notebook outputs: the last table is the
//! cell's result (`Out[n]`, HTML with a text fallback), other tables are
//! displays, sentences go to the cell's output; errors become cell errors.

use expman_kernel::render::table;
use expman_kernel::{Bundle, Cell, CellError};

use crate::commands::query::Answer;

/// Most rows an HTML table shows (the shape line says how many there are).
pub const MAX_ROWS: usize = 500;

pub fn show(cell: &Cell, answers: Vec<Answer>) {
    let last_frame = answers.iter().rposition(|a| matches!(a, Answer::Frame(_)));
    let only_text = last_frame.is_none();
    let mut texts = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        match answer {
            Answer::Frame(frame) => {
                let bundle = table::bundle(&crate::view::table_view(&frame, MAX_ROWS));
                if Some(i) == last_frame { cell.result(bundle) } else { drop(cell.display(bundle)) }
            }
            Answer::Text(text) if only_text => texts.push(text),
            Answer::Text(text) => cell.stdout(&format!("{text}\n")),
        }
    }
    if !texts.is_empty() {
        // A verdict: the first line stands out.
        let markdown = texts
            .iter()
            .enumerate()
            .map(|(i, t)| if i == 0 { format!("**{}**", escape_markdown(t)) } else { escape_markdown(t) })
            .collect::<Vec<_>>()
            .join("  \n");
        cell.result(Bundle::text(texts.join("\n")).with_markdown(markdown));
    }
}

fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An error of a command as the cell's error: its first line as the
/// message, the rest (carets, hints) and the cause chain below.
pub fn error(err: anyhow::Error) -> CellError {
    let text = err.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("failed").to_string();
    let mut rest: Vec<String> = lines.map(str::to_string).collect();
    let mut shown = text.clone();
    for cause in err.chain().skip(1) {
        // As the terminal does: a cause the line above says already is left out.
        let cause = cause.to_string();
        if !shown.contains(&cause) {
            rest.push(format!("caused by: {cause}"));
        }
        shown = cause;
    }
    CellError::new("ExpmanError", first).with_traceback(rest)
}
