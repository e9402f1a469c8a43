//! What a cell is: shell commands (`!ls`, a line each) run here; magics
//! go to the interpreter. A cell may mix them, as in IPython: its lines run
//! in order, consecutive magic lines together; a cell magic (`%%...`) takes
//! the whole cell.

use crate::cell::Cell;
use crate::interpreter::{CellError, Interpreter};

/// A piece of a cell: a shell command, or code for the interpreter.
#[derive(Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Shell(&'a str),
    Code(String),
}

/// Runs one cell; the first error stops it.
pub fn run_cell(interpreter: &dyn Interpreter, code: &str, cell: &Cell) -> Result<(), CellError> {
    for segment in segments(code) {
        if cell.interrupted() {
            break;
        }
        match segment {
            Segment::Shell(line) => crate::shell::run(line, cell)?,
            Segment::Code(code) => interpreter.execute(&code, cell)?,
        }
    }
    Ok(())
}

/// The pieces of a cell, in order. A cell magic keeps the whole cell as
/// one piece; otherwise each `!command` line is a piece, and the lines
/// between them (blank lines and `#` comments included) are one piece.
pub fn segments(code: &str) -> Vec<Segment<'_>> {
    let first = code.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    if first.is_none_or(|l| l.starts_with("%%")) {
        return if first.is_some() { vec![Segment::Code(code.to_string())] } else { Vec::new() };
    }
    let mut out = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    let flush = |pending: &mut Vec<&str>, out: &mut Vec<Segment<'_>>| {
        if pending.iter().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
            out.push(Segment::Code(pending.join("\n")));
        }
        pending.clear();
    };
    for line in code.lines() {
        match line.trim().strip_prefix('!') {
            Some(command) => {
                flush(&mut pending, &mut out);
                if !command.trim().is_empty() {
                    out.push(Segment::Shell(command.trim()));
                }
            }
            None => pending.push(line),
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// The commands of a cell made only of `!command` lines (blank lines and
/// `#` comments allowed), else `None`.
pub fn shell_lines(code: &str) -> Option<Vec<&str>> {
    let segments = segments(code);
    if segments.is_empty() {
        return None;
    }
    segments
        .into_iter()
        .map(|s| match s {
            Segment::Shell(line) => Some(line),
            Segment::Code(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_cells() {
        assert_eq!(shell_lines("!ls\n# list\n!echo hi"), Some(vec!["ls", "echo hi"]));
        assert_eq!(shell_lines("%expman runs\n!ls"), None);
        assert_eq!(shell_lines(""), None);
    }

    #[test]
    fn mixed_cells_run_line_by_line_and_cell_magics_whole() {
        assert_eq!(
            segments("# look\n%expman runs\n%expman status\n!echo hi\n\n%expman hw"),
            vec![
                Segment::Code("# look\n%expman runs\n%expman status".into()),
                Segment::Shell("echo hi"),
                Segment::Code("\n%expman hw".into()),
            ]
        );
        let cell = "%%expman run\n- name: a\n  settings: {cmd: '!x'}\n!ls";
        assert_eq!(segments(cell), vec![Segment::Code(cell.into())]);
        assert_eq!(segments("  \n# only a comment\n"), Vec::<Segment<'_>>::new());
    }
}
