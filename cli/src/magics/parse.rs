//! From a cell's text to magic invocations, and from an invocation to the
//! clap types the command line uses (so `%expman runs --limit 5` and
//! `expman runs --limit 5` cannot mean different things).
//!
//! A cell is either one cell magic (`%%expman run ...` on its first line,
//! a body under it) or any number of line magics (`%expman ...`), with blank
//! lines and `#` comments between. `%expman runs?` and `%expman? runs` ask
//! for help.

use clap::{Args, CommandFactory, Parser, Subcommand};
use expman_kernel::CellError;

use crate::args::{
    CompareArgs, DiffArgs, ExperimentsArgs, ExportArgs, MetricsArgs, PlotArgs, RankArgs, RunOptions, RunsArgs,
    SearchArgs, ShowArgs, SqlArgs, SummaryArgs,
};

/// The magics, as clap parses them.
#[derive(Debug, Parser)]
#[command(
    name = "%expman",
    bin_name = "%expman",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_version_flag = true,
    about = "expman in a notebook: run trials, query the record, compare, plot",
    after_help = "Cell magics: %%expman run (body: YAML), %%expman sql (body: SQL).\nShell: !command runs a command (!nvidia-smi, !ls outputs).\nHelp: %expman help TOPIC, or `%expman runs?`, or shift-tab on a magic."
)]
pub struct MagicCli {
    #[command(subcommand)]
    pub command: MagicCommand,
}

#[derive(Debug, Subcommand)]
pub enum MagicCommand {
    /// (cell) Run trials with a live table: the body is YAML (a trials list, or env/experiment/base/trials sections) merged over --dir's files.
    #[command(
        after_help = "Examples:\n  %%expman run --dir quickstart\n  - name: small_lr\n    settings: {training: {lr: 0.005}}\n\n  %%expman run --dir quickstart --parallel 4 training.epochs=5\n  %expman run --dir quickstart --background       # the cell returns; see %expman status\n\nThe stop button stops the runs cleanly (they end KILLED); the kernel keeps its state."
    )]
    Run(RunCellArgs),
    /// The runs frame (MLflow search syntax filters) as the cell's result.
    Runs(RunsArgs),
    /// Metric points of runs or trials, one row per point.
    Metrics(MetricsArgs),
    /// Everything about one run.
    Show(ShowArgs),
    /// Compare two trials on a metric, stated in plain words (Welch's t-test).
    Compare(CompareArgs),
    /// Per-trial statistics of a metric (n, mean, std, 95% CI, min, max) and the best runs.
    Summary(SummaryArgs),
    /// Runs ranked by a metric, with z-scores and percentile ranks.
    Rank(RankArgs),
    /// Config keys that differ between two runs or trials.
    Diff(DiffArgs),
    /// (cell) SQL over runs, metrics, params, tags, trials, experiments, hardware, artifacts.
    Sql(SqlArgs),
    /// Write a table of the record to a file.
    Export(ExportArgs),
    /// The experiments in the record.
    Experiments(ExperimentsArgs),
    /// Metric curves: Vega-Lite (with an SVG fallback); mean ± std bands with --by trial; --history: a search's best so far.
    Plot(PlotArgs),
    /// A search's state: best run, history of suggestions, each setting's importance.
    Search(SearchArgs),
    /// A run's artifacts (list), one written to a file (get, SHA-256 checked), names (tag, aliases), push to the remote.
    #[command(subcommand)]
    Artifacts(crate::args::ArtifactsCommand),
    /// What a run used and which runs used its outputs (text, json, dot).
    Lineage(crate::args::LineageArgs),
    /// The machine: CPU, memory, GPUs; --watch SECONDS keeps it live.
    Hw(HwMagicArgs),
    /// Stop background runs: a run id (prefix), a trial name, or --all.
    Stop(StopArgs),
    /// Background runs of this kernel and their state.
    Status,
    /// Help on the magics, or on one of them.
    Help {
        /// A magic, e.g. `runs`.
        topic: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunCellArgs {
    /// A config directory whose files the cell's YAML is merged over.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Overrides applied to every run: `key.path=value`.
    pub overrides: Vec<String>,
    #[command(flatten)]
    pub options: RunOptions,
    /// Show the trials' standard output and error in the cell (they are always in each run's log files).
    #[arg(long)]
    pub show_output: bool,
    /// Return at once and keep running; the table still updates (see %expman status, %expman stop).
    #[arg(long)]
    pub background: bool,
}

#[derive(Debug, Args)]
pub struct HwMagicArgs {
    /// Keep the table live for this many seconds (the stop button ends it early).
    #[arg(long)]
    pub watch: Option<f64>,
    /// Time between updates with --watch, e.g. `1s`.
    #[arg(long, default_value = "1s")]
    pub interval: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Run ids (or prefixes) and trial names.
    pub targets: Vec<String>,
    /// Every background run.
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,
}

/// One magic to run: its words after `%expman`, and the body of a cell
/// magic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub words: Vec<String>,
    pub body: Option<String>,
    /// `?` asked for help instead.
    pub help: bool,
}

/// The invocations of a cell, in order.
pub fn split_cell(code: &str) -> Result<Vec<Invocation>, CellError> {
    let mut lines = code.lines().enumerate().peekable();
    while let Some((_, l)) = lines.peek() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            lines.next();
        } else {
            break;
        }
    }
    let Some((first_no, first)) = lines.next() else { return Ok(Vec::new()) };
    let first = first.trim();
    if let Some(rest) = first.strip_prefix("%%expman") {
        let (rest, help) = question(rest);
        let body: String = code.lines().skip(first_no + 1).collect::<Vec<_>>().join("\n");
        let words = words(&rest).map_err(|e| usage(&format!("line {}: {e}", first_no + 1)))?;
        return Ok(vec![Invocation { words, body: Some(body), help }]);
    }
    let mut out = Vec::new();
    for (no, line) in std::iter::once((first_no, first)).chain(lines) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix("%expman").or_else(|| line.strip_prefix("?%expman")) else {
            return Err(not_a_magic(no + 1, line));
        };
        let (rest, mut help) = question(rest);
        help |= line.starts_with('?');
        let words = words(&rest).map_err(|e| usage(&format!("line {}: {e}", no + 1)))?;
        out.push(Invocation { words, body: None, help });
    }
    Ok(out)
}

/// Strips help question marks (`%expman runs?`, `%expman runs??`,
/// `%expman? runs`).
fn question(rest: &str) -> (String, bool) {
    let t = rest.trim();
    if t.starts_with('?') {
        return (t.trim_start_matches('?').trim().to_string(), true);
    }
    if t.ends_with('?') {
        let r = t.trim_end_matches('?');
        if !r.contains(['"', '\'']) {
            return (r.trim().to_string(), true);
        }
    }
    (t.to_string(), false)
}

fn not_a_magic(line: usize, text: &str) -> CellError {
    let shown: String = text.chars().take(60).collect();
    let hint = if text.starts_with('%') && !text.starts_with("%expman") {
        "only the %expman and %%expman magics exist here".to_string()
    } else if text.starts_with("- ") || text.contains(':') {
        "a YAML config goes under `%%expman run` (or `%%expman validate --dir`)".to_string()
    } else {
        "cells hold %expman magics, a %%expman cell magic, or !shell commands".to_string()
    };
    CellError::new("UsageError", format!("line {line} is not a magic: `{shown}`"))
        .with_traceback([format!("hint: {hint}; `%expman help` lists them")])
}

fn usage(message: &str) -> CellError {
    CellError::new("UsageError", message.to_string()).with_traceback(["`%expman help` lists the magics".to_string()])
}

/// Splits a magic line into words like a shell: whitespace separates,
/// `'single'` and `"double"` quotes group (backslash escapes in double
/// quotes and outside quotes).
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a ' quote is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a \" quote is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a \" quote is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// Parses an invocation with the magics' clap definitions. A cell magic's
/// body is the SQL of `sql`; `run` gets it separately.
pub fn parse(inv: &Invocation) -> Result<MagicCommand, CellError> {
    let mut words = inv.words.clone();
    if words.first().map(String::as_str) == Some("sql")
        && let Some(body) = inv.body.as_ref().filter(|b| !b.trim().is_empty())
    {
        words.push(body.clone());
    }
    match MagicCli::try_parse_from(&words) {
        Ok(cli) => Ok(cli.command),
        Err(e) => Err(clap_error(e, words.first().map(String::as_str))),
    }
}

/// A clap error as a cell error: the message, then the usage line.
pub fn clap_error(e: clap::Error, sub: Option<&str>) -> CellError {
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid magic").trim_start_matches("error: ").to_string();
    let mut rest: Vec<String> = lines.map(str::to_string).collect();
    let topic = sub.filter(|s| !s.starts_with('-')).map(|s| format!(" {s}")).unwrap_or_default();
    rest.push(format!("see `%expman help{topic}`"));
    CellError::new("UsageError", first).with_traceback(rest)
}

/// The help text of the magics, or of one.
pub fn help(topic: Option<&str>) -> Result<String, CellError> {
    let mut cmd = MagicCli::command();
    match topic {
        None => Ok(cmd.render_long_help().to_string()),
        Some(t) => {
            let t = t.trim_start_matches('%').trim_start_matches("expman").trim();
            if t.is_empty() {
                return Ok(cmd.render_long_help().to_string());
            }
            let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
            match cmd.find_subcommand_mut(t) {
                Some(sub) => {
                    let mut sub = sub.clone().bin_name(format!("%expman {t}"));
                    Ok(sub.render_long_help().to_string())
                }
                None => {
                    let hint = expman_schema::suggest::closest(t, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    Err(CellError::new("UsageError", format!("no magic `{t}`"))
                        .with_traceback([format!("{hint}magics: {}", names.join(", "))]))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_like_a_shell() {
        assert_eq!(
            words(r#"runs "metrics.x < 1 and trial = 'a'" --limit 5"#).unwrap(),
            ["runs", "metrics.x < 1 and trial = 'a'", "--limit", "5"]
        );
        assert_eq!(words(r"a\ b 'c d' e").unwrap(), ["a b", "c d", "e"]);
        assert!(words("runs \"open").is_err());
    }

    #[test]
    fn cells_split_into_invocations() {
        let cell = "# look\n%expman runs --limit 3\n\n%expman status\n";
        let inv = split_cell(cell).unwrap();
        assert_eq!(
            inv.iter().map(|i| i.words.clone()).collect::<Vec<_>>(),
            [vec!["runs", "--limit", "3"], vec!["status"]]
        );
        let run = split_cell("%%expman run --dir q\n- name: a\n").unwrap();
        assert_eq!(run[0].body.as_deref(), Some("- name: a"));
        assert!(split_cell("%expman runs?").unwrap()[0].help);
        let err = split_cell("- name: a").unwrap_err();
        assert!(err.evalue.contains("line 1 is not a magic"), "{err:?}");
    }

    #[test]
    fn magics_share_the_cli_parsers() {
        let inv =
            Invocation { words: words("runs --limit 2 --order-by metrics.loss").unwrap(), body: None, help: false };
        match parse(&inv).unwrap() {
            MagicCommand::Runs(args) => assert_eq!((args.limit, args.order_by), (Some(2), vec!["metrics.loss".into()])),
            other => panic!("{other:?}"),
        }
        let bad = Invocation { words: words("runs --limt 2").unwrap(), body: None, help: false };
        let err = parse(&bad).unwrap_err();
        assert_eq!(err.ename, "UsageError");
        assert!(err.evalue.contains("--limt"), "{err:?}");
        let sql = Invocation { words: vec!["sql".into()], body: Some("SELECT 1".into()), help: false };
        assert!(matches!(parse(&sql).unwrap(), MagicCommand::Sql(a) if a.query == "SELECT 1"));
    }
}
