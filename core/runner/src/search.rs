//! Searches as the scheduler runs them: each trial with a `search:` is a
//! source of runs that makes the next one when a slot is free, from what
//! the record holds (so a search survives its runner, is resumed with
//! `--resume`, and is shared by runners on one workspace), and prunes its
//! runs through the same stop path as early stopping.
//!
//! - [`SearchJob`]: what a front end hands the runner (the trial's search
//!   and how to expand a suggestion into a run);
//! - `ActiveSearch`: a search in the scheduler (claiming points, counting
//!   its runs here);
//! - `SearchPruning`: the callback that judges each reported epoch;
//! - [`SearchProgress`]: how a search stands, for front ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use expman_os::format::format_number;
use expman_os::time::now_ms;
use expman_schema::search::SearchDef;
use expman_schema::{Node, RunPlan};
use expman_search::{Dist, Mode, Observation, Pruner, Space, State, Value};
use expman_store::{NewSearch, Objective, PointClaim, RunStatus, SearchPoint, SearchRecord, Store};

use crate::callbacks::{Action, Callback, CallbackRun, Point};
use crate::error::RunError;
use crate::rows::{RunTarget, sweep_json};

/// Expands a suggestion's settings into its run: the plan, and the
/// rendered problems when its config is invalid (the run then ends FAILED
/// with them, and the search goes on).
pub type ExpandSuggestion<'a> = dyn Fn(&[(String, Node)]) -> Result<(RunPlan, Option<String>), String> + 'a;

/// A trial's search, as a front end hands it to the runner.
pub struct SearchJob<'a> {
    /// The trial's declared name.
    pub trial: String,
    pub def: SearchDef,
    /// Of what makes two searches the same one (see [`fingerprint`]).
    pub fingerprint: String,
    pub expand: Box<ExpandSuggestion<'a>>,
}

/// A search's identity for `--resume`: its block without the budget keys
/// (`trials`, `time`, `parallel`: raising the budget continues the same
/// search), the trial's settings, base.yaml and the command line's
/// overrides, hashed.
pub fn fingerprint(search_block: &Node, settings: &Node, base: &Node, overrides: Option<&Node>) -> String {
    let mut block = search_block.clone();
    if let Some(map) = block.as_map_mut() {
        for key in ["trials", "time", "parallel"] {
            map.remove(key);
        }
    }
    let mut all = expman_schema::Map::new();
    let span = search_block.span;
    all.insert("search".to_string(), span, block);
    all.insert("settings".to_string(), span, settings.clone());
    all.insert("base".to_string(), span, base.clone());
    if let Some(overrides) = overrides {
        all.insert("overrides".to_string(), span, overrides.clone());
    }
    expman_schema::config_hash(&Node::new(expman_schema::Value::map(all), span))
}

/// The best run of a search so far.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    pub value: f64,
    pub number: u64,
    pub uid: String,
    /// The run's trial name (with its values).
    pub trial: String,
}

/// How a search stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchProgress {
    pub trial: String,
    pub metric: String,
    pub max: bool,
    pub budget: u64,
    /// Points suggested so far (by every runner).
    pub suggested: u64,
    pub running: u64,
    pub complete: u64,
    pub pruned: u64,
    pub failed: u64,
    pub best: Option<Best>,
    /// It went on from an earlier runner's record (`--resume`).
    pub continued: bool,
    /// It makes no more suggestions (budget, time, a grid's end).
    pub finished: bool,
}

impl SearchProgress {
    /// Suggestions still to make.
    pub fn left(&self) -> u64 {
        if self.finished { 0 } else { self.budget.saturating_sub(self.suggested) }
    }

    /// `search `tune`: 12 of 20 suggested (8 complete, 3 pruned, 1 running); best val_loss 0.3123 (tune[...], run k3x9f2m1)`.
    pub fn describe(&self) -> String {
        let mut counts = vec![format!("{} complete", self.complete)];
        for (n, what) in [(self.pruned, "pruned"), (self.failed, "failed"), (self.running, "running")] {
            if n > 0 {
                counts.push(format!("{n} {what}"));
            }
        }
        let best = match &self.best {
            Some(b) => format!(
                "; best {} {} ({}, run {})",
                self.metric,
                format_number(b.value),
                b.trial,
                &b.uid[..b.uid.len().min(8)]
            ),
            None => format!("; no {} yet", self.metric),
        };
        format!(
            "search `{}`: {} of {} suggested ({}){best}",
            self.trial,
            self.suggested,
            self.budget,
            counts.join(", ")
        )
    }
}

/// Reads the record's points as a sampler sees them.
pub fn observations(space: &Space, points: &[SearchPoint]) -> Vec<Observation> {
    points
        .iter()
        .filter_map(|p| {
            let params = decode_params(space, &p.params)?;
            Some(Observation { number: p.number, params, state: state_of(p), intermediate: p.intermediate.clone() })
        })
        .collect()
}

/// How a point's run stands for a sampler or a pruner: complete with its
/// value, pruned, running (or not started), or failed (ended without a value).
fn state_of(p: &SearchPoint) -> State {
    match (p.status, p.value) {
        (None | Some(RunStatus::Pending | RunStatus::Running), _) => State::Running,
        (Some(RunStatus::Success | RunStatus::EarlyStopped), Some(v)) => State::Complete(v),
        (Some(RunStatus::Pruned), _) => State::Pruned,
        _ => State::Failed,
    }
}

/// A suggestion's values as the record keeps them: a JSON list, one
/// number per dimension (a choice by its index).
pub fn encode_params(params: &[Value]) -> String {
    let items: Vec<serde_json::Value> = params
        .iter()
        .map(|v| match *v {
            Value::Float(x) => serde_json::json!(x),
            Value::Int(i) => serde_json::json!(i),
            Value::Choice(i) => serde_json::json!(i),
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// The values back, typed by the space (`None` if they do not fit it).
/// Numbers are parsed by Rust's exact parser, so a float comes back as
/// the same `f64` (the JSON parser may be one unit off in the last place).
pub fn decode_params(space: &Space, json: &str) -> Option<Vec<Value>> {
    let inner = json.trim().strip_prefix('[')?.strip_suffix(']')?;
    let items: Vec<&str> = if inner.trim().is_empty() { Vec::new() } else { inner.split(',').map(str::trim).collect() };
    if items.len() != space.dims.len() {
        return None;
    }
    space
        .dims
        .iter()
        .zip(items)
        .map(|(dim, item)| match dim.dist {
            Dist::Int { .. } => item.parse::<i64>().ok().map(Value::Int),
            Dist::Choice { n } => item.parse::<usize>().ok().filter(|i| *i < n).map(Value::Choice),
            _ => item.parse::<f64>().ok().filter(|x| x.is_finite()).map(Value::Float),
        })
        .collect()
}

/// How a search stands, from its points.
pub fn progress(job_trial: &str, def: &SearchDef, points: &[SearchPoint]) -> SearchProgress {
    let mut out = SearchProgress {
        trial: job_trial.to_string(),
        metric: def.metric.clone(),
        max: def.search.mode == Mode::Max,
        budget: def.budget as u64,
        suggested: points.len() as u64,
        ..SearchProgress::default()
    };
    for p in points {
        match p.status {
            None | Some(RunStatus::Pending | RunStatus::Running) => out.running += 1,
            Some(RunStatus::Pruned) => out.pruned += 1,
            Some(RunStatus::Success | RunStatus::EarlyStopped) if p.value.is_some() => out.complete += 1,
            _ => out.failed += 1,
        }
        let done = matches!(p.status, Some(RunStatus::Success | RunStatus::EarlyStopped));
        if let (true, Some(value), Some(run)) = (done, p.value, &p.run)
            && !value.is_nan()
            && out.best.as_ref().is_none_or(|b| def.search.mode.better(value, b.value))
        {
            out.best = Some(Best {
                value,
                number: p.number,
                uid: run.uid.clone(),
                trial: p.trial.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// A search in the scheduler.
pub(crate) struct ActiveSearch<'j> {
    pub job: &'j SearchJob<'j>,
    pub record: SearchRecord,
    pub continued: bool,
    /// Its runs active in this runner.
    pub running_here: usize,
    /// Most runs at once in this runner.
    pub parallel: usize,
    /// No more suggestions (budget, time, a grid's end).
    pub exhausted: bool,
    pub pruning: Option<Arc<PruneShared>>,
    /// Runs that ended without reporting the metric, warned about once.
    pub warned_missing: bool,
}

/// A claimed run of a search (recorded PENDING), and the problem of its
/// config, if any.
pub(crate) struct Claimed {
    pub number: u64,
    pub plan: RunPlan,
    pub run: expman_store::RunRef,
    pub invalid: Option<String>,
}

/// The search a queued run belongs to.
#[derive(Clone)]
pub struct SearchLink {
    /// Index of the search in the scheduler.
    pub index: usize,
    pub number: u64,
    pub pruning: Option<Arc<PruneShared>>,
}

impl<'j> ActiveSearch<'j> {
    /// Opens (or, resuming, finds) the search in the record.
    pub fn open(
        job: &'j SearchJob<'j>,
        store: &mut Store,
        experiment_id: i64,
        resume: bool,
        default_parallel: usize,
        database: PathBuf,
    ) -> Result<ActiveSearch<'j>, RunError> {
        let def = &job.def;
        let mode = if def.search.mode == Mode::Max { "max" } else { "min" };
        let definition = def.describe();
        let new = NewSearch {
            experiment_id,
            trial: &job.trial,
            fingerprint: &job.fingerprint,
            definition: &definition,
            metric: &def.metric,
            mode,
            budget: def.budget,
        };
        let (record, continued) = store.open_search(&new, resume)?;
        let pruning = def.prune.as_ref().map(|p| {
            Arc::new(PruneShared {
                database,
                store: Mutex::new(None),
                search_id: record.id,
                metric: def.metric.clone(),
                by_epoch: p.by_epoch,
                pruner: p.pruner,
                mode: def.search.mode,
                seed: def.search.seed,
            })
        });
        Ok(ActiveSearch {
            job,
            record,
            continued,
            running_here: 0,
            parallel: def.parallel.map_or(default_parallel, |p| p as usize).max(1),
            exhausted: false,
            pruning,
            warned_missing: false,
        })
    }

    pub fn objective(&self) -> Objective<'_> {
        Objective { metric: &self.job.def.metric, by_epoch: self.job.def.prune.as_ref().is_none_or(|p| p.by_epoch) }
    }

    pub fn points(&self, store: &Store) -> Result<Vec<SearchPoint>, RunError> {
        Ok(store.search_points(self.record.id, self.objective())?)
    }

    pub fn progress(&self, store: &Store) -> Result<SearchProgress, RunError> {
        let points = self.points(store)?;
        let mut p = progress(&self.job.trial, &self.job.def, &points);
        p.continued = self.continued;
        p.finished = self.exhausted;
        Ok(p)
    }

    /// The next run of the search, recorded PENDING with its point: with
    /// `--resume`, first a point whose run was interrupted (Ctrl-C, a lost
    /// runner), with the same values; then a new suggestion while the
    /// budget and time allow. `None` when there is nothing more to run.
    pub fn claim(
        &mut self,
        store: &mut Store,
        target: &RunTarget<'_>,
        resume: bool,
    ) -> Result<Option<Claimed>, RunError> {
        let def = &self.job.def;
        let time_up = def.time.is_some_and(|t| {
            now_ms().saturating_sub(self.record.created_at) > i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
        });
        let mut made: Option<(RunPlan, Option<String>)> = None;
        let objective = Objective { metric: &def.metric, by_epoch: def.prune.as_ref().is_none_or(|p| p.by_epoch) };
        let claimed = store.claim_search_point(self.record.id, objective, |points| {
            let again = if resume {
                points.iter().find(|p| {
                    p.interrupted() && p.run.is_some() && decode_params(&def.search.space, &p.params).is_some()
                })
            } else {
                None
            };
            let (number, params) = match again {
                Some(p) => (p.number, decode_params(&def.search.space, &p.params).unwrap_or_default()),
                None => {
                    if points.len() as u64 >= def.budget as u64 || time_up {
                        return Ok(None);
                    }
                    let number = points.iter().map(|p| p.number + 1).max().unwrap_or(0);
                    let history = observations(&def.search.space, points);
                    match def.search.suggest(number, &history) {
                        Some(params) => (number, params),
                        None => return Ok(None),
                    }
                }
            };
            let (plan, invalid) = (self.job.expand)(&def.settings(&params))?;
            let uid = crate::new_run_uid();
            let mut run = target.new_run(&plan, 0, &uid);
            run.tags.push(("search.number".into(), number.to_string()));
            let claim = PointClaim {
                number,
                params: encode_params(&params),
                trial: plan.trial.clone(),
                trial_base: plan.trial_base.clone(),
                sweep: sweep_json(&plan),
                description: plan.desc.clone(),
                run,
                uid,
            };
            made = Some((plan, invalid));
            Ok::<_, String>(Some(claim))
        })?;
        let claimed = claimed.map_err(RunError::Invalid)?;
        let (Some((number, run)), Some((plan, invalid))) = (claimed, made) else {
            self.exhausted = true;
            return Ok(None);
        };
        self.running_here += 1;
        Ok(Some(Claimed { number, plan, run, invalid }))
    }
}

/// What the pruning callbacks of a search share: its settings and one
/// connection to the record, to read the other runs' values.
pub struct PruneShared {
    database: PathBuf,
    store: Mutex<Option<Store>>,
    search_id: i64,
    metric: String,
    by_epoch: bool,
    pruner: Pruner,
    mode: Mode,
    seed: u64,
}

impl PruneShared {
    /// The other runs of the search as the pruner sees them; empty when
    /// the record cannot be read (a run is then not pruned).
    fn peers(&self) -> Vec<Observation> {
        let mut guard = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match Store::open(&self.database) {
                Ok(store) => *guard = Some(store),
                Err(e) => {
                    tracing::warn!("the pruner cannot read the record: {e}");
                    return Vec::new();
                }
            }
        }
        let Some(store) = guard.as_ref() else { return Vec::new() };
        match store.search_points(self.search_id, Objective { metric: &self.metric, by_epoch: self.by_epoch }) {
            Ok(points) => {
                // Only states and values count here: the settings do not.
                points
                    .into_iter()
                    .map(|p| Observation {
                        number: p.number,
                        params: Vec::new(),
                        state: state_of(&p),
                        intermediate: p.intermediate,
                    })
                    .collect()
            }
            Err(e) => {
                tracing::warn!("the pruner cannot read the record: {e}");
                Vec::new()
            }
        }
    }
}

/// Judges a search's run at each report of the objective (each epoch's
/// last value, or each step), and stops it PRUNED when the pruner says so.
pub(crate) struct SearchPruning {
    shared: Arc<PruneShared>,
    me: Observation,
    /// The current epoch's latest value, judged when the epoch ends.
    pending: Option<(i64, f64)>,
    fired: bool,
}

impl SearchPruning {
    pub fn new(shared: Arc<PruneShared>, number: u64) -> SearchPruning {
        let me = Observation { number, params: Vec::new(), state: State::Running, intermediate: Vec::new() };
        SearchPruning { shared, me, pending: None, fired: false }
    }

    fn judge(&mut self, step: i64, value: f64, actions: &mut Vec<Action>) {
        if self.fired || step < 0 {
            return;
        }
        let step = step as u64;
        let previous = self.me.last().map(|(s, _)| s);
        if previous.is_some_and(|p| p >= step) {
            return;
        }
        self.me.intermediate.push((step, value));
        let s = &self.shared;
        if !s.pruner.decides_at(s.seed, self.me.number, previous, step) {
            return;
        }
        let peers = s.peers();
        let Some(pruned) = s.pruner.judge(s.mode, s.seed, &self.me, &peers) else { return };
        self.fired = true;
        let resource = if s.by_epoch { "epoch" } else { "step" };
        actions.push(Action::Stop {
            status: RunStatus::Pruned,
            message: pruned.describe(resource, &s.metric),
            tags: vec![
                ("search.pruned_at".into(), pruned.step.to_string()),
                ("search.pruned_by".into(), pruned.rule.clone()),
                ("search.threshold".into(), pruned.threshold.to_string()),
            ],
        });
    }
}

impl Callback for SearchPruning {
    fn on_metric(&mut self, _run: &CallbackRun, point: Point<'_>, actions: &mut Vec<Action>) {
        if self.fired || point.key != self.shared.metric {
            return;
        }
        if !self.shared.by_epoch {
            return self.judge(point.step, point.value, actions);
        }
        let Some(epoch) = point.epoch else { return };
        if let Some((pending, value)) = self.pending
            && pending != epoch
        {
            // A later epoch began without an `epoch_end` for that one.
            self.pending = None;
            self.judge(pending, value, actions);
        }
        if !self.fired {
            self.pending = Some((epoch, point.value));
        }
    }

    fn on_epoch_end(&mut self, _run: &CallbackRun, epoch: i64, _metrics: &[(String, f64)], actions: &mut Vec<Action>) {
        if let Some((pending, value)) = self.pending
            && pending <= epoch
        {
            self.pending = None;
            self.judge(pending, value, actions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expman_search::Dim;

    #[test]
    fn params_round_trip_through_the_record() {
        let space = Space {
            dims: vec![
                Dim::new("lr", Dist::LogUniform { low: 1e-4, high: 1.0 }),
                Dim::new("layers", Dist::Int { low: 1, high: 6, log: false }),
                Dim::new("batch", Dist::Choice { n: 3 }),
            ],
        };
        let params = vec![Value::Float(0.012345678901234567), Value::Int(4), Value::Choice(2)];
        assert_eq!(decode_params(&space, &encode_params(&params)), Some(params));
        assert_eq!(decode_params(&space, "[0.1, 2, 7]"), None, "a choice out of range");
        assert_eq!(decode_params(&space, "[0.1, 2]"), None, "a dimension missing");
    }
}
