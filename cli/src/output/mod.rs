//! Terminal output: logging setup, colour decisions, diagnostics printing.

use std::io::IsTerminal;

use expman_schema::render::{Style, render, summary};
use expman_schema::{Diagnostic, Sources};
use tracing_subscriber::EnvFilter;

use crate::args::ColorChoice;

/// Logs go to stderr through tracing; `RUST_LOG` wins over `-v`/`-q`.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,expman=debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Whether to colour output written to stderr.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

/// Prints diagnostics to stderr as a compiler would, then a count.
pub fn print_diagnostics(diagnostics: &[Diagnostic], sources: &Sources, color: bool) {
    if diagnostics.is_empty() {
        return;
    }
    eprintln!("{}", diagnostics_text(diagnostics, sources, color));
}

/// Diagnostics rendered as a compiler would, then a count.
pub fn diagnostics_text(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let style = Style { color };
    let mut text = String::new();
    for d in diagnostics {
        text.push_str(&render(d, sources, style));
        text.push('\n');
    }
    text.push_str(&summary(diagnostics));
    text
}

/// Prints a command's failure with its cause chain.
pub fn print_error(err: &anyhow::Error) {
    let mut text = format!("error: {err}");
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        // Typed errors keep their source and often say it already: a cause
        // the line above contains adds nothing.
        let cause = cause.to_string();
        if !shown.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        shown = cause;
    }
    eprintln!("{text}");
}

pub mod frames;
pub mod progress;
pub mod tables;
