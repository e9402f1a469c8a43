//! The `%expman` magics: the interpreter the Jupyter kernel runs cells
//! with. A magic is its CLI subcommand: the same clap types parse it
//! ([`parse`]) and the same functions answer it (`commands::query`,
//! `commands::plot`, `commands::record`); only the presentation differs
//! (HTML tables as `Out[n]`, charts, live tables).
//!
//! The session remembers the workspace and experiment of the last
//! `%%expman run`, so that `%expman runs` right after it needs no `--dir`.

mod complete;
mod hw;
mod live;
pub mod parse;
mod present;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use expman_kernel::{Bundle, Cell, CellError, Completeness, Completions, Inspection, Interpreter};
use expman_query::Frames;
use expman_query::export::{Format, write, write_to};
use expman_runner::workspace::{Locate, Workspace};
use polars::prelude::DataFrame;

use crate::args::{FrameFormat, OutputArgs, RecordArgs, ScopeArgs};
use crate::commands::query::{self, Answer};
use parse::{Invocation, MagicCommand};

/// The `%expman` interpreter of one kernel (or of IPython, through the
/// Python package: [`Magics::collecting`]).
#[derive(Default)]
pub struct Magics {
    session: Mutex<Session>,
    background: run::Background,
    /// In IPython, tables are kept as frames (the magic's value) instead
    /// of shown as `Out[n]`.
    collected: Option<Mutex<Vec<DataFrame>>>,
}

/// What later cells default to.
#[derive(Clone, Debug, Default)]
struct Session {
    workspace: Option<PathBuf>,
    experiment: Option<String>,
}

impl Magics {
    pub fn new() -> Magics {
        Magics::default()
    }

    /// Magics for IPython: a query's tables are kept as DataFrames, taken
    /// with [`Magics::take_frames`] (the magic's value, `runs = %expman
    /// runs`), and `%expman runs` gives every column, as `expman.runs()`
    /// does; its sentences go to the cell's output.
    pub fn collecting() -> Magics {
        Magics { collected: Some(Mutex::default()), ..Magics::default() }
    }

    /// The tables the last cell answered with (collecting magics only).
    pub fn take_frames(&self) -> Vec<DataFrame> {
        match &self.collected {
            Some(frames) => std::mem::take(&mut *frames.lock().unwrap_or_else(|e| e.into_inner())),
            None => Vec::new(),
        }
    }

    fn session(&self) -> Session {
        self.session.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remember(&self, workspace: &Path, experiment: &str) {
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        s.workspace = Some(workspace.to_path_buf());
        s.experiment = Some(experiment.to_string());
    }

    /// Fills in the session's workspace (and experiment) when a magic
    /// names neither.
    fn default_record(&self, record: &mut RecordArgs) {
        if record.dir.is_none() && record.workspace.is_none() {
            record.workspace = self.session().workspace;
        }
    }

    fn default_scope(&self, scope: &mut ScopeArgs) {
        let named = scope.record.dir.is_some() || scope.record.workspace.is_some();
        self.default_record(&mut scope.record);
        if !named && scope.experiment.is_none() && !scope.all_experiments {
            scope.experiment = self.session().experiment;
        }
    }

    fn invoke(&self, inv: Invocation, cell: &Cell) -> Result<(), CellError> {
        if inv.help {
            // `?` and `??`: the pager, as IPython's `?` does.
            cell.page(&parse::help(inv.words.first().map(String::as_str))?);
            return Ok(());
        }
        let command = parse::parse(&inv)?;
        let err = present::error;
        match command {
            MagicCommand::Run(args) => {
                run::run_cell(&self.background, args, inv.body.as_deref(), cell, &|w, e| self.remember(w, e))
            }
            MagicCommand::Runs(mut a) => {
                self.default_scope(&mut a.scope);
                if self.collected.is_some() && a.columns.is_empty() && a.output.format == FrameFormat::Table {
                    // A value to compute with: every column, whole ids.
                    a.output.format = FrameFormat::Json;
                }
                self.answer(cell, query::runs(&a).map_err(err)?, Some(&a.output))
            }
            MagicCommand::Metrics(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::metrics(&a).map_err(err)?, Some(&a.output))
            }
            MagicCommand::Compare(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::compare(&a).map_err(err)?, None)
            }
            MagicCommand::Summary(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::summary(&a).map_err(err)?, Some(&a.output))
            }
            MagicCommand::Rank(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::rank(&a).map_err(err)?, Some(&a.output))
            }
            MagicCommand::Diff(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::diff(&a).map_err(err)?, None)
            }
            MagicCommand::Sql(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::sql(&a).map_err(err)?, Some(&a.output))
            }
            MagicCommand::Export(mut a) => {
                self.default_scope(&mut a.scope);
                self.answer(cell, query::export(&a).map_err(err)?, None)
            }
            MagicCommand::Experiments(mut a) => {
                self.default_record(&mut a.scope.record);
                self.answer(cell, query::experiments(&a).map_err(err)?, None)
            }
            MagicCommand::Show(mut a) => {
                self.default_record(&mut a.record);
                cell.result(Bundle::text(crate::commands::record::show_text(&a).map_err(err)?));
                Ok(())
            }
            MagicCommand::Plot(mut a) => {
                self.default_scope(&mut a.scope);
                let chart = crate::commands::plot::chart(&a).map_err(err)?;
                if let Some(out) = &a.out {
                    crate::commands::plot::write_chart(&chart, out).map_err(err)?;
                    cell.stdout(&format!("wrote {}\n", out.display()));
                }
                cell.result(chart.bundle());
                Ok(())
            }
            MagicCommand::Search(mut a) => {
                if a.path.is_none() {
                    self.default_scope(&mut a.scope);
                }
                cell.result(Bundle::text(crate::commands::search::search_text(a).map_err(err)?));
                Ok(())
            }
            MagicCommand::Artifacts(mut command) => {
                use crate::args::ArtifactsCommand as A;
                match &mut command {
                    A::List(a) => self.default_record(&mut a.record),
                    A::Get(a) => self.default_record(&mut a.record),
                    A::Tag(a) => self.default_record(&mut a.record),
                    A::Aliases(a) => self.default_record(&mut a.record),
                    A::Push(a) => self.default_record(&mut a.record),
                    A::Keygen => {}
                }
                let (text, _) =
                    crate::commands::artifacts::answer(command, &mut |line| cell.stdout(&format!("{line}\n")))
                        .map_err(err)?;
                cell.result(Bundle::text(text));
                Ok(())
            }
            MagicCommand::Lineage(mut a) => {
                self.default_record(&mut a.record);
                cell.result(Bundle::text(crate::commands::lineage::lineage_text(&a).map_err(err)?));
                Ok(())
            }
            MagicCommand::Hw(a) => hw::hw(&a, cell),
            MagicCommand::Stop(a) => {
                for line in self.background.stop(&a)? {
                    cell.stdout(&format!("{line}\n"));
                }
                Ok(())
            }
            MagicCommand::Status => {
                let jobs = self.background.status();
                if jobs.is_empty() {
                    cell.stdout("no runs in this kernel (start some with `%%expman run --background`)\n");
                }
                for view in jobs {
                    cell.display(expman_kernel::render::table::bundle(&view));
                }
                Ok(())
            }
            MagicCommand::Help { topic } => {
                cell.result(Bundle::text(parse::help(topic.as_deref())?));
                Ok(())
            }
        }
    }

    /// Names for completion, from the record the session points at.
    fn known(&self) -> complete::Known {
        let session = self.session();
        let located = match &session.workspace {
            Some(w) => Some(Workspace::at(w)),
            None => std::env::current_dir().ok().and_then(|cwd| {
                Workspace::locate(&Locate { workspace: None, dir: None, env_workspace: None, cwd }).ok()
            }),
        };
        let Some(workspace) = located.filter(Workspace::has_database) else { return complete::Known::default() };
        let Ok(store) = expman_store::Store::open(&workspace.database) else { return complete::Known::default() };
        let frames = Frames::new(&store).experiment(session.experiment.as_deref());
        let mut known = complete::Known::default();
        if let Ok(runs) = frames.runs() {
            let strings = |name: &str| -> Vec<String> {
                runs.column(name)
                    .ok()
                    .and_then(|c| c.str().ok().map(|s| s.iter().flatten().map(str::to_string).collect()))
                    .unwrap_or_default()
            };
            for t in strings("trial") {
                if !known.trials.contains(&t) {
                    known.trials.push(t);
                }
            }
            known.runs = strings("id").into_iter().map(|id| id.chars().take(8).collect()).collect();
            known.columns = runs.get_column_names().iter().map(|c| c.to_string()).collect();
            known.metrics = known
                .columns
                .iter()
                .filter_map(|c| c.strip_prefix("metrics."))
                .filter(|c| !c.ends_with(".min") && !c.ends_with(".max"))
                .map(str::to_string)
                .collect();
        }
        if let Ok(experiments) = Frames::new(&store).experiments()
            && let Ok(names) = experiments.column("experiment").and_then(|c| c.str().cloned())
        {
            known.experiments = names.iter().flatten().map(str::to_string).collect();
        }
        known
    }
}

impl Magics {
    /// Shows answers (or keeps their frames, in IPython), or writes them
    /// where `--out`/`--format` say.
    fn answer(&self, cell: &Cell, answers: Vec<Answer>, output: Option<&OutputArgs>) -> Result<(), CellError> {
        let to_file = output.is_some_and(|o| o.out.is_some());
        if let Some(frames) = self.collected.as_ref().filter(|_| !to_file) {
            for a in answers {
                match a {
                    Answer::Frame(frame) => frames.lock().unwrap_or_else(|e| e.into_inner()).push(frame),
                    Answer::Text(text) => cell.stdout(&format!("{text}\n")),
                }
            }
            return Ok(());
        }
        answer(cell, answers, output)
    }
}

/// Shows answers, or writes them where `--out`/`--format` say.
fn answer(cell: &Cell, answers: Vec<Answer>, output: Option<&OutputArgs>) -> Result<(), CellError> {
    let Some(output) = output.filter(|o| o.out.is_some() || o.format != FrameFormat::Table) else {
        present::show(cell, answers);
        return Ok(());
    };
    let format = match output.format {
        FrameFormat::Table | FrameFormat::Csv => Format::Csv,
        FrameFormat::Json => Format::Json,
        FrameFormat::Parquet => Format::Parquet,
    };
    for a in answers {
        match a {
            Answer::Frame(mut frame) => match &output.out {
                Some(path) => {
                    write(&mut frame, format, path).map_err(|e| present::error(e.into()))?;
                    cell.stdout(&format!("wrote {} row(s) to {}\n", frame.height(), path.display()));
                }
                None if format == Format::Parquet => {
                    return Err(CellError::new("UsageError", "Parquet is binary: give `--out FILE`"));
                }
                None => {
                    let mut buf = Vec::new();
                    write_to(&mut frame, format, &mut buf).map_err(|e| present::error(e.into()))?;
                    cell.stdout(&String::from_utf8_lossy(&buf));
                }
            },
            Answer::Text(text) => cell.stdout(&format!("{text}\n")),
        }
    }
    Ok(())
}

impl Interpreter for Magics {
    fn execute(&self, code: &str, cell: &Cell) -> Result<(), CellError> {
        for inv in parse::split_cell(code)? {
            if cell.interrupted() {
                break;
            }
            self.invoke(inv, cell)?;
        }
        Ok(())
    }

    fn complete(&self, code: &str, cursor: usize) -> Completions {
        complete::complete(code, cursor, &|| self.known())
    }

    fn inspect(&self, code: &str, cursor: usize) -> Option<Inspection> {
        complete::inspect(code, cursor)
    }

    fn is_complete(&self, code: &str) -> Completeness {
        complete::is_complete(code)
    }

    fn shutdown(&self) {
        self.background.shutdown();
    }
}
