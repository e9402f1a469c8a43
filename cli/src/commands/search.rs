//! `expman search`: how each search of an experiment stands, from the
//! record alone (no config needed): the best run and its settings, every
//! suggestion in order with the best value so far, and how much each
//! setting explains of the objective (see `expman_search::importance`).

use std::process::ExitCode;

use anyhow::bail;
use expman_os::format::format_number;
use expman_search::importance::importance;
use expman_search::{Dim, Dist, Mode, Observation, Space, State, Value};
use expman_store::{Objective, RunStatus, SearchPoint, SearchRecord, Store};
use serde_json::json;

use super::query::Scope;
#[cfg(feature = "kernel")]
use crate::args::ScopeArgs;
use crate::args::{HwFormat, SearchArgs};
use crate::output::tables::TextTable;
#[cfg(feature = "kernel")]
use expman_kernel::render::chart::{Chart, Point, Series};

/// One search, read back.
struct Report {
    record: SearchRecord,
    points: Vec<SearchPoint>,
    /// The settings keys, in the order first seen.
    keys: Vec<String>,
    /// Each point's settings (JSON values by key).
    settings: Vec<serde_json::Map<String, serde_json::Value>>,
    max: bool,
}

pub fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    println!("{}", search_text(args)?);
    Ok(ExitCode::SUCCESS)
}

/// What `expman search` prints (and `%expman search` shows).
pub fn search_text(mut args: SearchArgs) -> anyhow::Result<String> {
    if let Some(path) = args.path.take() {
        if args.scope.record.dir.is_some() {
            bail!("give the config directory once: as PATH or as --dir");
        }
        args.scope.record.dir = Some(path);
    }
    let scope = Scope::open(&args.scope)?;
    let reports = reports(scope.store(), scope.experiment(), args.trial.as_deref(), args.all)?;
    Ok(match args.format {
        HwFormat::Json => {
            let all: Vec<serde_json::Value> = reports.iter().map(Report::json).collect();
            serde_json::to_string_pretty(&json!({ "searches": all }))?
        }
        HwFormat::Table => reports.iter().map(Report::text).collect::<Vec<_>>().join("\n\n"),
    })
}

/// Best value so far over the suggestions of each search (of `trial`,
/// when given): `%expman plot --history`.
#[cfg(feature = "kernel")]
pub fn history_chart(scope: &ScopeArgs, trial: Option<&str>) -> anyhow::Result<Chart> {
    let scope = Scope::open(scope)?;
    let reports = reports(scope.store(), scope.experiment(), trial, false)?;
    let metric = reports[0].record.metric.clone();
    let mut series = Vec::new();
    for report in &reports {
        let mut best: Option<f64> = None;
        let mut points = Vec::new();
        for p in &report.points {
            if let Some(v) = Report::complete(p).filter(|v| !v.is_nan())
                && best.is_none_or(|b| report.mode().better(v, b))
            {
                best = Some(v);
            }
            if let Some(b) = best {
                points.push(Point { x: p.number as f64, y: b, band: None });
            }
        }
        series.push(Series { name: report.record.trial.clone(), points });
    }
    if series.iter().all(|s| s.points.is_empty()) {
        bail!("no search has a complete run yet");
    }
    let same = reports.iter().all(|r| r.record.metric == metric);
    Ok(Chart {
        title: format!("best {} so far, by suggestion", if same { metric.as_str() } else { "value" }),
        x_label: "suggestion".into(),
        y_label: if same { metric } else { "objective".into() },
        series_label: "search".into(),
        series,
    })
}

/// The latest search of each trial as `expman search --format json`
/// writes each (none: an empty list), for the web UI.
pub fn searches_json(store: &Store, experiment: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
    if store.searches(experiment, None)?.is_empty() {
        return Ok(Vec::new());
    }
    Ok(reports(store, experiment, None, false)?.iter().map(Report::json).collect())
}

/// The searches in scope, read back: the latest of each trial (every one
/// with `all`).
fn reports(store: &Store, experiment: Option<&str>, trial: Option<&str>, all: bool) -> anyhow::Result<Vec<Report>> {
    let mut records = store.searches(experiment, trial)?;
    if !all {
        // The latest search of each trial.
        let mut latest: Vec<SearchRecord> = Vec::new();
        for r in records.into_iter().rev() {
            if !latest.iter().any(|l| l.experiment == r.experiment && l.trial == r.trial) {
                latest.push(r);
            }
        }
        latest.reverse();
        records = latest;
    }
    if records.is_empty() {
        let which = trial.map(|t| format!(" of trial `{t}`")).unwrap_or_default();
        let experiment = experiment.map(|e| format!(" in experiment `{e}`")).unwrap_or_default();
        bail!("no search{which}{experiment} in the record: a trial with `search:` makes one when it runs");
    }
    let mut reports = Vec::new();
    for record in records {
        let points = store.search_points(record.id, Objective { metric: &record.metric, by_epoch: true })?;
        reports.push(Report::new(record, points));
    }
    Ok(reports)
}

impl Report {
    fn new(record: SearchRecord, points: Vec<SearchPoint>) -> Report {
        let mut keys: Vec<String> = Vec::new();
        let settings: Vec<serde_json::Map<String, serde_json::Value>> = points
            .iter()
            .map(|p| {
                let map = p
                    .settings
                    .as_deref()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default();
                for k in map.keys() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                map
            })
            .collect();
        let max = record.mode == "max";
        Report { record, points, keys, settings, max }
    }

    fn mode(&self) -> Mode {
        if self.max { Mode::Max } else { Mode::Min }
    }

    /// A point's value for ranking: its final value when it completed,
    /// its last reported value when pruned.
    fn value(p: &SearchPoint) -> Option<f64> {
        match p.status {
            Some(RunStatus::Success | RunStatus::EarlyStopped) => p.value,
            Some(RunStatus::Pruned) => p.intermediate.last().map(|(_, v)| *v).or(p.value),
            _ => None,
        }
    }

    fn complete(p: &SearchPoint) -> Option<f64> {
        matches!(p.status, Some(RunStatus::Success | RunStatus::EarlyStopped)).then_some(p.value).flatten()
    }

    fn best(&self) -> Option<(usize, f64)> {
        let mode = self.mode();
        self.points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Report::complete(p).filter(|v| !v.is_nan()).map(|v| (i, v)))
            .fold(None, |best: Option<(usize, f64)>, (i, v)| match best {
                Some((_, b)) if !mode.better(v, b) => best,
                _ => Some((i, v)),
            })
    }

    /// Each setting's share of the explained variance of complete runs
    /// (and pruned ones by their last value, with `with_pruned`).
    fn importance(&self, with_pruned: bool) -> Vec<(String, f64)> {
        // Numbers as a continuous dimension (their ranks are what count),
        // anything else as a choice among the values seen.
        let mut dims = Vec::new();
        let mut columns: Vec<Vec<Value>> = vec![Vec::new(); self.points.len()];
        for key in &self.keys {
            let values: Vec<Option<&serde_json::Value>> = self.settings.iter().map(|s| s.get(key)).collect();
            let numeric = values.iter().flatten().all(|v| v.is_number());
            if numeric {
                dims.push(Dim::new(key, Dist::Uniform { low: f64::MIN, high: f64::MAX }));
                for (i, v) in values.iter().enumerate() {
                    columns[i].push(Value::Float(v.and_then(|v| v.as_f64()).unwrap_or(f64::NAN)));
                }
            } else {
                let mut seen: Vec<String> = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    let text = v.map(|v| v.to_string()).unwrap_or_default();
                    let index = seen.iter().position(|s| *s == text).unwrap_or_else(|| {
                        seen.push(text);
                        seen.len() - 1
                    });
                    columns[i].push(Value::Choice(index));
                }
                dims.push(Dim::new(key, Dist::Choice { n: seen.len().max(1) }));
            }
        }
        let history: Vec<Observation> = self
            .points
            .iter()
            .zip(columns)
            .map(|(p, params)| Observation {
                number: p.number,
                params,
                state: match (Report::complete(p), with_pruned) {
                    (Some(v), _) => State::Complete(v),
                    (None, true) if p.status == Some(RunStatus::Pruned) => {
                        Report::value(p).map_or(State::Failed, State::Complete)
                    }
                    _ => State::Failed,
                },
                intermediate: Vec::new(),
            })
            .collect();
        let shares = importance(&Space { dims }, &history, self.mode());
        let mut out: Vec<(String, f64)> = self.keys.iter().cloned().zip(shares).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    fn counts(&self) -> (usize, usize, usize, usize) {
        let (mut complete, mut pruned, mut failed, mut running) = (0, 0, 0, 0);
        for p in &self.points {
            match p.status {
                None | Some(RunStatus::Pending | RunStatus::Running) => running += 1,
                Some(RunStatus::Pruned) => pruned += 1,
                _ if Report::complete(p).is_some() => complete += 1,
                _ => failed += 1,
            }
        }
        (complete, pruned, failed, running)
    }

    fn text(&self) -> String {
        let r = &self.record;
        let (complete, pruned, failed, running) = self.counts();
        let mut out = format!("search `{}` (experiment `{}`): {}\n", r.trial, r.experiment, r.definition);
        out.push_str(&format!(
            "{} of {} suggested: {complete} complete, {pruned} pruned, {failed} failed, {running} running\n",
            self.points.len(),
            r.budget
        ));
        match self.best() {
            Some((i, value)) => {
                let p = &self.points[i];
                let uid = p.run.as_ref().map_or("?", |r| r.uid.as_str());
                out.push_str(&format!(
                    "best {} {}: run {uid} ({}), suggestion {}\n",
                    r.metric,
                    format_number(value),
                    p.trial.as_deref().unwrap_or("?"),
                    p.number
                ));
                for (k, v) in &self.settings[i] {
                    out.push_str(&format!("  {k} = {}\n", show(v)));
                }
            }
            None => out.push_str(&format!("no complete run with {} yet\n", r.metric)),
        }
        let mut header = vec!["#".to_string(), "run".into(), "status".into(), r.metric.clone(), "best so far".into()];
        header.extend(self.keys.iter().cloned());
        let mut table = TextTable::new(header);
        let mut best: Option<f64> = None;
        for (p, settings) in self.points.iter().zip(&self.settings) {
            if let Some(v) = Report::complete(p).filter(|v| !v.is_nan())
                && best.is_none_or(|b| self.mode().better(v, b))
            {
                best = Some(v);
            }
            let status = match (p.status, p.intermediate.last()) {
                (Some(s), _) => s.as_str().to_string(),
                (None, _) => "-".into(),
            };
            let mut row = vec![
                p.number.to_string(),
                p.run.as_ref().map(|r| r.uid.chars().take(8).collect()).unwrap_or_default(),
                status,
                Report::value(p).map(format_number).unwrap_or_default(),
                best.map(format_number).unwrap_or_default(),
            ];
            row.extend(self.keys.iter().map(|k| settings.get(k).map(show).unwrap_or_default()));
            table.rows.push(row);
        }
        out.push_str("\nhistory\n");
        out.push_str(&table.render());
        // Too few complete runs (a pruner stopped most): pruned runs count
        // too, by their last value.
        let with_pruned = complete < 4;
        let over = if with_pruned { "complete and pruned runs (by their last value)" } else { "complete runs" };
        out.push_str(&format!(
            "\n\nimportance (share of the variance of {} each setting explains alone, over {over})\n",
            r.metric
        ));
        let shares = self.importance(with_pruned);
        if complete + if with_pruned { pruned } else { 0 } < 4 {
            out.push_str("  needs at least 4 runs with a value\n");
        } else {
            let width = shares.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, share) in &shares {
                let bar = "█".repeat((share * 30.0).round() as usize);
                out.push_str(&format!("  {k:width$}  {share:.2}  {bar}\n"));
            }
        }
        out.trim_end().to_string()
    }

    fn json(&self) -> serde_json::Value {
        let r = &self.record;
        let (complete, pruned, failed, running) = self.counts();
        let mut best_so_far: Option<f64> = None;
        let history: Vec<serde_json::Value> = self
            .points
            .iter()
            .zip(&self.settings)
            .map(|(p, settings)| {
                if let Some(v) = Report::complete(p).filter(|v| !v.is_nan())
                    && best_so_far.is_none_or(|b| self.mode().better(v, b))
                {
                    best_so_far = Some(v);
                }
                json!({
                    "number": p.number,
                    "run": p.run.as_ref().map(|r| r.uid.clone()),
                    "trial": p.trial,
                    "status": p.status.map(|s| s.as_str()),
                    "value": Report::value(p),
                    "best_so_far": best_so_far,
                    "settings": settings,
                })
            })
            .collect();
        let best = self.best().map(|(i, value)| {
            let p = &self.points[i];
            json!({"number": p.number, "run": p.run.as_ref().map(|r| r.uid.clone()), "trial": p.trial, "value": value, "settings": self.settings[i]})
        });
        let importance: serde_json::Map<String, serde_json::Value> =
            self.importance(complete < 4).into_iter().map(|(k, v)| (k, json!(v))).collect();
        json!({
            "experiment": r.experiment,
            "trial": r.trial,
            "definition": r.definition,
            "metric": r.metric,
            "mode": r.mode,
            "budget": r.budget,
            "suggested": self.points.len(),
            "complete": complete,
            "pruned": pruned,
            "failed": failed,
            "running": running,
            "best": best,
            "history": history,
            "importance": importance,
        })
    }
}

fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map(format_number).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}
