//! What the kernel asks of the language behind it.
//!
//! The kernel speaks the Jupyter protocol; an [`Interpreter`] gives cells
//! their meaning. expman's interpreter (the `%expman` magics) lives with the
//! command line in the `expman` binary, so that a magic and its CLI
//! subcommand are parsed by the same clap definitions. Offsets here are
//! byte offsets into the cell; the kernel converts the protocol's
//! code-point offsets.

use crate::cell::Cell;

/// The language behind the kernel. Calls come from one thread at a time
/// for `execute` (cells run in order) but `complete`, `inspect` and
/// `is_complete` may come while a cell runs in the background.
pub trait Interpreter: Send + Sync + 'static {
    /// Runs a cell; its outputs go through `cell`. An `Err` becomes the
    /// cell's error output and an error reply.
    fn execute(&self, code: &str, cell: &Cell) -> Result<(), CellError>;

    /// Completions at byte offset `cursor`.
    fn complete(&self, code: &str, cursor: usize) -> Completions;

    /// Help on what is at byte offset `cursor` (shift-tab, `?`).
    fn inspect(&self, code: &str, cursor: usize) -> Option<Inspection>;

    /// Whether the cell can run as it is (the console's Enter key).
    fn is_complete(&self, code: &str) -> Completeness;

    /// The kernel is shutting down: stop what runs in the background.
    fn shutdown(&self) {}
}

/// Completion candidates replacing `code[start..end]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completions {
    pub matches: Vec<String>,
    pub start: usize,
    pub end: usize,
}

/// Help text, plain and (optionally) Markdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub plain: String,
    pub markdown: Option<String>,
}

/// The answer to `is_complete_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    /// More lines are needed; the next one starts with `indent`.
    Incomplete {
        indent: String,
    },
    Invalid,
    Unknown,
}

/// A cell that failed: an `error` output and an error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellError {
    /// A short class of error (`UsageError`, `ConfigError`, ...).
    pub ename: String,
    /// The message.
    pub evalue: String,
    /// Lines shown under it (usage, hints); may be empty.
    pub traceback: Vec<String>,
}

impl CellError {
    pub fn new(ename: impl Into<String>, evalue: impl Into<String>) -> CellError {
        CellError { ename: ename.into(), evalue: evalue.into(), traceback: Vec::new() }
    }

    pub fn with_traceback(mut self, lines: impl IntoIterator<Item = String>) -> CellError {
        self.traceback = lines.into_iter().collect();
        self
    }

    /// The lines front ends show: `ename: evalue`, then the traceback.
    pub fn shown(&self) -> Vec<String> {
        let mut lines = vec![format!("{}: {}", self.ename, self.evalue)];
        lines.extend(self.traceback.iter().cloned());
        lines
    }
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.ename, self.evalue)
    }
}

impl std::error::Error for CellError {}
