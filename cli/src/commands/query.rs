//! `expman runs`, `metrics`, `compare`, `summary`, `rank`, `diff`, `sql`,
//! `export`, `experiments`: the record as tables, through the query layer.
//!
//! Each command computes [`Answer`]s (tables and sentences); the terminal
//! prints them ([`print`]), the notebook kernel renders them (HTML tables,
//! `Out[n]`). The `%expman` magics call these same functions.

use std::process::ExitCode;

use anyhow::{Context, bail};
use expman_query::stats::{self, At, Comparison};
use expman_query::{Frames, Query, sql};
use expman_runner::workspace::{Locate, Workspace};
use expman_store::Store;
use polars::prelude::*;

use crate::args::{
    CompareArgs, DiffArgs, ExperimentsArgs, ExportArgs, ExportFormat, MetricArgs, MetricsArgs, ModeArg, OutputArgs,
    RankArgs, RunsArgs, ScopeArgs, SqlArgs, SummaryArgs, TableName,
};
use crate::output::frames::emit;

/// What a query command found.
pub enum Answer {
    /// A table; its command's output flags say how to print it.
    Frame(DataFrame),
    /// A sentence or a few lines (verdicts, notes, where a file went).
    Text(String),
}

/// Prints answers in a terminal; frames as `output` says.
pub fn print(answers: Vec<Answer>, output: Option<&OutputArgs>) -> anyhow::Result<ExitCode> {
    let default = OutputArgs { format: crate::args::FrameFormat::Table, out: None };
    for answer in answers {
        match answer {
            Answer::Frame(mut frame) => emit(&mut frame, output.unwrap_or(&default))?,
            Answer::Text(text) => println!("{text}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The opened record and the experiment in scope.
pub struct Scope {
    store: Store,
    experiment: Option<String>,
}

impl Scope {
    pub fn open(args: &ScopeArgs) -> anyhow::Result<Scope> {
        let (workspace, configured) = Workspace::locate_scope(&Locate {
            workspace: args.record.workspace.clone(),
            dir: args.record.dir.clone(),
            env_workspace: None,
            cwd: std::env::current_dir().context("cannot read the current directory")?,
        })?;
        if !workspace.has_database() {
            bail!(
                "no database at {} yet: run an experiment first (`expman run CONFIG_DIR`)",
                workspace.database.display()
            );
        }
        let store = workspace.open_view().with_context(|| format!("cannot open {}", workspace.database.display()))?;
        let experiment = if args.all_experiments { None } else { args.experiment.clone().or(configured) };
        Ok(Scope { store, experiment })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The experiment in scope (`None`: every experiment).
    pub fn experiment(&self) -> Option<&str> {
        self.experiment.as_deref()
    }

    pub fn frames(&self) -> Frames<'_> {
        Frames::new(&self.store).experiment(self.experiment.as_deref())
    }
}

/// `--mode`, else a guess from the metric's name (stated to the user).
pub fn minimize(metric: &MetricArgs) -> bool {
    match metric.mode {
        Some(ModeArg::Min) => true,
        Some(ModeArg::Max) => false,
        None => lower_is_better(&metric.metric),
    }
}

/// A guess from a metric's name: accuracies and scores go up, the rest
/// (losses, errors, perplexities) down.
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric.to_ascii_lowercase();
    !["acc", "auc", "f1", "score", "precision", "recall", "map", "bleu", "reward"].iter().any(|w| m.contains(w))
}

pub fn at(metric: &MetricArgs) -> anyhow::Result<At> {
    At::parse(&metric.at).with_context(|| format!("`--at {}`: use `final`, `best`, or a step number", metric.at))
}

fn mode_note(metric: &MetricArgs) -> String {
    let lower = minimize(metric);
    let how = if metric.mode.is_some() { "" } else { " (guessed from the name; set --mode to change)" };
    format!("{} is better{how}", if lower { "lower" } else { "higher" })
}

/// Keeps the columns asked for; `prefix.*` matches by prefix; `id` first.
fn select_columns(frame: DataFrame, wanted: &[String]) -> anyhow::Result<DataFrame> {
    if wanted.is_empty() {
        return Ok(frame);
    }
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut chosen: Vec<String> = vec!["id".into()];
    for w in wanted {
        let w = w.trim();
        let matched: Vec<&String> = match w.strip_suffix('*') {
            Some(prefix) => names.iter().filter(|n| n.starts_with(prefix)).collect(),
            None => names.iter().filter(|n| *n == w).collect(),
        };
        if matched.is_empty() {
            let hint = expman_schema::suggest::closest(w, names.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            bail!("no column `{w}`{hint}");
        }
        for m in matched {
            if !chosen.contains(m) {
                chosen.push(m.clone());
            }
        }
    }
    Ok(frame.select(chosen)?)
}

/// The compact default view of runs for a terminal: identity, status,
/// duration, and the last value of each metric.
fn default_view(frame: DataFrame) -> anyhow::Result<DataFrame> {
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut keep: Vec<String> =
        ["id", "trial", "repeat", "status", "duration_s"].iter().map(|s| s.to_string()).collect();
    if frame.column("experiment").map(|c| c.n_unique().unwrap_or(1) > 1).unwrap_or(false) {
        keep.insert(1, "experiment".into());
    }
    keep.extend(
        names.iter().filter(|n| n.starts_with("metrics.") && !n.ends_with(".min") && !n.ends_with(".max")).cloned(),
    );
    // Child runs (started from code with a parent) show their parent.
    let parent_tag = format!("tags.{}", expman_runner::direct::PARENT_TAG);
    let has_parents = frame.column(&parent_tag).map(|c| c.null_count() < c.len()).unwrap_or(false);
    if has_parents {
        keep.insert(keep.iter().position(|k| k == "repeat").unwrap_or(1), parent_tag.clone());
    }
    let mut frame = frame.select(keep)?;
    // Short run ids in a terminal.
    let short = |name: &str, frame: &DataFrame| -> anyhow::Result<Vec<Option<String>>> {
        Ok(frame.column(name)?.str()?.iter().map(|s| s.map(|s| s.chars().take(8).collect())).collect())
    };
    let ids = short("id", &frame)?;
    frame.with_column(Column::new("id".into(), ids))?;
    if has_parents {
        let parents = short(&parent_tag, &frame)?;
        frame.with_column(Column::new(parent_tag.as_str().into(), parents))?;
        frame.rename(&parent_tag, "parent".into())?;
    }
    Ok(frame)
}

pub fn runs(args: &RunsArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let query = Query::parse(args.filter.as_deref().unwrap_or(""))
        .and_then(|q| q.with(&args.order_by, args.limit))
        .map_err(|e| anyhow::anyhow!(e.render()))?;
    let frame = query.apply(scope.frames().runs()?)?;
    let frame = if args.columns.is_empty() && args.output.format == crate::args::FrameFormat::Table {
        default_view(frame)?
    } else {
        select_columns(frame, &args.columns)?
    };
    Ok(vec![Answer::Frame(frame)])
}

pub fn experiments(args: &ExperimentsArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    Ok(vec![Answer::Frame(scope.frames().experiments()?)])
}

pub fn metrics(args: &MetricsArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let runs = scope.frames().runs()?;
    let trials: Vec<String> = runs.column("trial")?.str()?.iter().flatten().map(str::to_string).collect();
    let ids: Vec<String> = runs.column("id")?.str()?.iter().flatten().map(str::to_string).collect();
    let mut selected: Vec<String> = Vec::new();
    for target in &args.targets {
        let by_trial: Vec<String> =
            ids.iter().zip(&trials).filter(|(_, t)| *t == target).map(|(i, _)| i.clone()).collect();
        if !by_trial.is_empty() {
            selected.extend(by_trial);
        } else {
            selected.push(
                scope
                    .store
                    .resolve_run(target)
                    .with_context(|| format!("`{target}` is neither a trial nor a run id"))?
                    .uid,
            );
        }
    }
    Ok(vec![Answer::Frame(scope.frames().metrics(&selected, &args.keys)?)])
}

pub fn trial_names(runs: &DataFrame) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for t in runs.column("trial")?.str()?.iter().flatten() {
        if !names.iter().any(|n| n == t) {
            names.push(t.to_string());
        }
    }
    Ok(names)
}

/// The runs statistics are taken over: each repeat's latest run unless
/// `--all-runs`; a note when older runs were left out.
fn statistics_runs(scope: &Scope, metric: &MetricArgs) -> anyhow::Result<(DataFrame, Option<String>)> {
    let runs = scope.frames().runs()?;
    if metric.all_runs {
        return Ok((runs, None));
    }
    let (latest, dropped) = stats::latest_per_repeat(&runs)?;
    let note = (dropped > 0).then(|| {
        format!(
            "{dropped} older run(s) of repeats that ran again are left out (each repeat counts with its latest run; --all-runs keeps them)"
        )
    });
    Ok((latest, note))
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<Vec<Answer>> {
    let (c, note) = comparison(args)?;
    let mut answers = vec![
        Answer::Text(c.verdict()),
        Answer::Text(c.difference()),
        Answer::Text(format!("{} value of each run; {}", c.at.describe(), mode_note(&args.metric))),
    ];
    answers.extend(note.map(Answer::Text));
    Ok(answers)
}

/// Welch's test of one trial against another (what `compare` says in
/// words; the Python package's `compare()` returns its row), and a note
/// when older runs were left out.
pub fn comparison(args: &CompareArgs) -> anyhow::Result<(Comparison, Option<String>)> {
    let scope = Scope::open(&args.scope)?;
    let (runs, note) = statistics_runs(&scope, &args.metric)?;
    let at = at(&args.metric)?;
    let lower = minimize(&args.metric);
    let points = match at {
        At::Step(_) => Some(scope.frames().metrics(&[], std::slice::from_ref(&args.metric.metric))?),
        _ => None,
    };
    let samples = stats::samples(&runs, &args.metric.metric, at, lower, points.as_ref())?;
    let names = trial_names(&runs)?;
    let pick = |name: &str| -> anyhow::Result<stats::Sample> {
        if let Some(s) = samples.iter().find(|s| s.trial == name) {
            return Ok(s.clone());
        }
        if names.iter().any(|n| n == name) {
            bail!("trial `{name}` has no runs with `{}`", args.metric.metric);
        }
        let hint = expman_schema::suggest::closest(name, names.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("trials: {}", names.join(", ")));
        bail!("no trial `{name}`; {hint}")
    };
    let (a, b) = (pick(&args.trial_a)?, pick(&args.trial_b)?);
    Ok((Comparison::welch(&args.metric.metric, at, lower, &a, &b)?, note))
}

pub fn summary(args: &SummaryArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let (runs, note) = statistics_runs(&scope, &args.metric)?;
    let at = at(&args.metric)?;
    let lower = minimize(&args.metric);
    let points = match at {
        At::Step(_) => Some(scope.frames().metrics(&[], std::slice::from_ref(&args.metric.metric))?),
        _ => None,
    };
    let samples = stats::samples(&runs, &args.metric.metric, at, lower, points.as_ref())?;
    let mut answers = vec![Answer::Frame(stats::summary_frame(&samples)?)];
    if args.output.out.is_none() && args.output.format == crate::args::FrameFormat::Table {
        let (per_trial, overall) =
            stats::best_runs(&runs, &args.metric.metric, if at == At::Best { At::Best } else { At::Final }, lower)?;
        answers.push(Answer::Text(format!(
            "the {} value of `{}` of each run; {}",
            at.describe(),
            args.metric.metric,
            mode_note(&args.metric)
        )));
        let best = DataFrame::new(
            per_trial.len(),
            vec![
                Column::new("trial".into(), per_trial.iter().map(|r| r.0.clone()).collect::<Vec<_>>()),
                Column::new("best run".into(), per_trial.iter().map(|r| r.1.clone()).collect::<Vec<_>>()),
                Column::new(args.metric.metric.as_str().into(), per_trial.iter().map(|r| r.2).collect::<Vec<_>>()),
            ],
        )?;
        answers.push(Answer::Frame(best));
        if let Some((trial, id, v)) = overall {
            answers.push(Answer::Text(format!(
                "best overall: run {id} ({trial}) with {} = {}",
                args.metric.metric,
                expman_os::format::format_number(v)
            )));
        }
    }
    answers.extend(note.map(Answer::Text));
    Ok(answers)
}

pub fn rank(args: &RankArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let query = Query::parse(args.filter.as_deref().unwrap_or("")).map_err(|e| anyhow::anyhow!(e.render()))?;
    let runs = query.apply(scope.frames().runs()?)?;
    let lower = minimize(&args.metric);
    let column = match at(&args.metric)? {
        At::Best => format!("metrics.{}.{}", args.metric.metric, if lower { "min" } else { "max" }),
        At::Final => format!("metrics.{}", args.metric.metric),
        At::Step(_) => bail!("`rank` takes `--at final` or `--at best`"),
    };
    if runs.column(&column).is_err() {
        bail!("no metric `{}` in these runs", args.metric.metric);
    }
    let frame = runs.select(["id", "trial", "repeat", "status", column.as_str()])?;
    let frame = stats::normalize(frame, &column)?;
    let frame = frame
        .sort([column.as_str()], SortMultipleOptions::default().with_order_descending(!lower).with_nulls_last(true))?;
    Ok(vec![Answer::Frame(frame)])
}

/// The resolved config of a run, or of a trial's latest run.
fn config_of(scope: &Scope, target: &str) -> anyhow::Result<(String, serde_json::Value)> {
    let runs = scope.frames().runs()?;
    let trial_runs = runs.clone().lazy().filter(col("trial").eq(lit(target))).collect()?;
    let run = if trial_runs.height() > 0 {
        let id = trial_runs.column("id")?.str()?.get(trial_runs.height() - 1).unwrap_or_default().to_string();
        scope.store.resolve_run(&id)?
    } else {
        scope.store.resolve_run(target).with_context(|| format!("`{target}` is neither a trial nor a run id"))?
    };
    let detail = scope.store.run_detail(&run)?;
    let mut config: serde_json::Value = serde_json::from_str(&detail.config).unwrap_or_default();
    if let Some(obj) = config.as_object_mut() {
        obj.remove("seed"); // Differs between repeats by design.
    }
    Ok((format!("{} ({})", run.uid, detail.row.trial), config))
}

pub fn diff(args: &DiffArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let (name_a, a) = config_of(&scope, &args.a)?;
    let (name_b, b) = config_of(&scope, &args.b)?;
    let rows = stats::config_diff(&a, &b);
    if rows.is_empty() {
        return Ok(vec![Answer::Text(format!("no differences between {name_a} and {name_b} (seed aside)"))]);
    }
    let frame = DataFrame::new(
        rows.len(),
        vec![
            Column::new("key".into(), rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()),
            Column::new(name_a.as_str().into(), rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>()),
            Column::new(name_b.as_str().into(), rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>()),
        ],
    )?;
    Ok(vec![Answer::Frame(frame)])
}

pub fn sql(args: &SqlArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    Ok(vec![Answer::Frame(sql::run(&scope.frames(), &args.query)?)])
}

pub fn export(args: &ExportArgs) -> anyhow::Result<Vec<Answer>> {
    let scope = Scope::open(&args.scope)?;
    let frames = scope.frames();
    let query = Query::parse(args.filter.as_deref().unwrap_or("")).map_err(|e| anyhow::anyhow!(e.render()))?;
    let runs = query.apply(frames.runs()?)?;
    let run_ids: Vec<String> = runs.column("id")?.str()?.iter().flatten().map(str::to_string).collect();
    let keep_runs = |frame: DataFrame, column: &str| -> anyhow::Result<DataFrame> {
        if args.filter.is_none() {
            return Ok(frame);
        }
        let ids = Series::new("ids".into(), run_ids.clone());
        Ok(frame.lazy().filter(col(column).is_in(lit(ids).implode(false), false)).collect()?)
    };
    let mut frame = match args.table {
        TableName::Runs => runs,
        TableName::Metrics => frames.metrics(&if args.filter.is_some() { run_ids.clone() } else { Vec::new() }, &[])?,
        TableName::Params => keep_runs(frames.params()?, "run")?,
        TableName::Tags => keep_runs(frames.tags()?, "run")?,
        TableName::Trials => frames.trials()?,
        TableName::Experiments => frames.experiments()?,
        TableName::Hardware => frames.hardware()?,
        TableName::Artifacts => keep_runs(frames.artifacts()?, "run")?,
    };
    let format = match args.format {
        ExportFormat::Csv => expman_query::export::Format::Csv,
        ExportFormat::Parquet => expman_query::export::Format::Parquet,
        ExportFormat::Json => expman_query::export::Format::Json,
    };
    expman_query::export::write(&mut frame, format, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(vec![Answer::Text(format!(
        "wrote {} row(s) × {} column(s) to {}",
        frame.height(),
        frame.width(),
        args.out.display()
    ))])
}
