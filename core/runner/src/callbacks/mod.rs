//! Callbacks: code that acts on what a run reports, as it reports it.
//!
//! They see the event stream (metric points, epoch and batch ends,
//! checkpoints), so they work the same for process pipelines and Rust
//! pipelines. The built-ins (`pipeline.callbacks` in base.yaml, so a trial
//! can change them) are [`EarlyStopping`], [`CheckpointPolicy`],
//! [`MetricsCsv`] and [`Hooks`]; implement [`Callback`] and register a
//! factory in [`CallbackRegistry`] to add your own.
//!
//! A callback does not touch the run directly: it returns [`Action`]s
//! (stop the run, delete artifacts, record an event, warn), which the
//! runner carries out.

mod checkpoint;
mod early_stopping;
mod hooks;
mod metrics_csv;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

pub use checkpoint::CheckpointPolicy;
pub use early_stopping::EarlyStopping;
use expman_schema::model::{CallbackConfig, CallbackKind};
pub use hooks::Hooks;
pub use metrics_csv::MetricsCsv;

use expman_store::RunStatus;

/// The run a callback serves.
#[derive(Clone, Debug)]
pub struct CallbackRun {
    pub run_id: i64,
    pub uid: String,
    pub trial: String,
    pub repeat: u32,
    pub run_dir: PathBuf,
    /// The environment the run got (for hooks).
    pub env: BTreeMap<String, String>,
    /// True while the events of a run a runner re-attached to are fed
    /// again from the start (a Slurm job after `--resume`): callbacks
    /// rebuild their state from them and act on nothing outside (hooks do
    /// not run; what they ask is dropped, except a stop).
    pub replaying: bool,
}

/// What a callback asks the runner to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// End the run early with this status; `tags` are recorded on it.
    Stop { status: RunStatus, message: String, tags: Vec<(String, String)> },
    /// These artifacts (paths as reported) were deleted from disk.
    ArtifactsDeleted(Vec<String>),
    /// A line for the run's audit log.
    Event { kind: String, detail: String },
    /// Something the user should see; the run goes on.
    Warning(String),
}

/// A metric point as a callback sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point<'a> {
    pub key: &'a str,
    pub step: i64,
    pub epoch: Option<i64>,
    pub value: f64,
}

/// Code that acts on a run's events. Every method has a default that does
/// nothing; `actions` collects what the callback wants done.
pub trait Callback: Send {
    fn on_start(&mut self, _run: &CallbackRun, _actions: &mut Vec<Action>) {}
    fn on_metric(&mut self, _run: &CallbackRun, _point: Point<'_>, _actions: &mut Vec<Action>) {}
    /// `metrics`: the last value of each metric logged in this epoch.
    fn on_epoch_end(
        &mut self,
        _run: &CallbackRun,
        _epoch: i64,
        _metrics: &[(String, f64)],
        _actions: &mut Vec<Action>,
    ) {
    }
    fn on_batch_end(&mut self, _run: &CallbackRun, _epoch: Option<i64>, _batch: i64, _actions: &mut Vec<Action>) {}
    /// A checkpoint file the run reported (path as reported).
    fn on_checkpoint(&mut self, _run: &CallbackRun, _path: &str, _epoch: Option<i64>, _actions: &mut Vec<Action>) {}
    fn on_end(&mut self, _run: &CallbackRun, _status: RunStatus, _actions: &mut Vec<Action>) {}
}

/// What happened in a stretch of the event stream, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    Metric { key: String, step: i64, epoch: Option<i64>, value: f64 },
    EpochEnd { epoch: i64 },
    BatchEnd { epoch: Option<i64>, batch: i64 },
    Checkpoint { path: String, epoch: Option<i64> },
}

/// The callbacks of one run, fed from its event stream.
pub struct RunCallbacks {
    pub run: CallbackRun,
    list: Vec<Box<dyn Callback>>,
    /// Last value of each key per epoch, for `on_epoch_end`.
    epoch_metrics: HashMap<i64, Vec<(String, f64)>>,
}

impl RunCallbacks {
    pub fn new(run: CallbackRun, list: Vec<Box<dyn Callback>>) -> RunCallbacks {
        RunCallbacks { run, list, epoch_metrics: HashMap::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn start(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        for cb in &mut self.list {
            cb.on_start(&self.run, &mut actions);
        }
        actions
    }

    pub fn feed(&mut self, events: &[StreamEvent]) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in events {
            match event {
                StreamEvent::Metric { key, step, epoch, value } => {
                    if let Some(e) = epoch {
                        let slot = self.epoch_metrics.entry(*e).or_default();
                        match slot.iter_mut().find(|(k, _)| k == key) {
                            Some(v) => v.1 = *value,
                            None => slot.push((key.clone(), *value)),
                        }
                    }
                    let point = Point { key, step: *step, epoch: *epoch, value: *value };
                    for cb in &mut self.list {
                        cb.on_metric(&self.run, point, &mut actions);
                    }
                }
                StreamEvent::EpochEnd { epoch } => {
                    let metrics = self.epoch_metrics.remove(epoch).unwrap_or_default();
                    for cb in &mut self.list {
                        cb.on_epoch_end(&self.run, *epoch, &metrics, &mut actions);
                    }
                }
                StreamEvent::BatchEnd { epoch, batch } => {
                    for cb in &mut self.list {
                        cb.on_batch_end(&self.run, *epoch, *batch, &mut actions);
                    }
                }
                StreamEvent::Checkpoint { path, epoch } => {
                    for cb in &mut self.list {
                        cb.on_checkpoint(&self.run, path, *epoch, &mut actions);
                    }
                }
            }
        }
        actions
    }

    /// Feeds events the run reported before its runner re-attached (see
    /// [`CallbackRun::replaying`]); only a stop they lead to is kept.
    pub fn replay(&mut self, events: &[StreamEvent]) -> Vec<Action> {
        self.run.replaying = true;
        let actions = self.feed(events);
        self.run.replaying = false;
        actions.into_iter().filter(|a| matches!(a, Action::Stop { .. })).collect()
    }

    pub fn end(&mut self, status: RunStatus) -> Vec<Action> {
        let mut actions = Vec::new();
        for cb in &mut self.list {
            cb.on_end(&self.run, status, &mut actions);
        }
        actions
    }
}

/// Why a `pipeline.callbacks` entry cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum CallbackConfigError {
    #[error("unknown callback type `{kind}` (known: {known})")]
    UnknownType { kind: String, known: String },
    /// A setting the callback cannot do without.
    #[error("{callback} needs `{field}`")]
    Missing { callback: &'static str, field: &'static str },
    /// A registered factory's own complaint, as it words it.
    #[error("{0}")]
    Invalid(String),
}

type Factory = dyn Fn(&CallbackConfig) -> Result<Box<dyn Callback>, CallbackConfigError> + Send + Sync;

/// Callback factories by `type`.
#[derive(Clone)]
pub struct CallbackRegistry {
    factories: BTreeMap<String, Arc<Factory>>,
}

impl Default for CallbackRegistry {
    fn default() -> Self {
        CallbackRegistry::with_builtins()
    }
}

impl CallbackRegistry {
    /// `early_stopping`, `checkpoint`, `metrics_csv`, `hook` (and the
    /// experiment_manager spellings that map onto them).
    pub fn with_builtins() -> CallbackRegistry {
        let mut r = CallbackRegistry { factories: BTreeMap::new() };
        r.register("early_stopping", |c| Ok(Box::new(EarlyStopping::from_config(c)?)));
        r.register("checkpoint", |c| Ok(Box::new(CheckpointPolicy::from_config(c))));
        r.register("metrics_csv", |_| Ok(Box::new(MetricsCsv::default())));
        r.register("hook", |c| Ok(Box::new(Hooks::from_config(c))));
        r
    }

    /// Adds a callback type (or replaces a built-in).
    pub fn register(
        &mut self,
        kind: &str,
        factory: impl Fn(&CallbackConfig) -> Result<Box<dyn Callback>, CallbackConfigError> + Send + Sync + 'static,
    ) {
        self.factories.insert(kind.to_string(), Arc::new(factory));
    }

    pub fn knows(&self, kind: &CallbackKind) -> bool {
        self.factories.contains_key(kind.as_str())
    }

    pub fn names(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// The callbacks a pipeline's `callbacks` list asks for.
    pub fn build(&self, configs: &[CallbackConfig]) -> Result<Vec<Box<dyn Callback>>, CallbackConfigError> {
        configs
            .iter()
            .map(|c| {
                let factory = self.factories.get(c.kind.as_str()).ok_or_else(|| CallbackConfigError::UnknownType {
                    kind: c.kind.as_str().to_string(),
                    known: self.names().join(", "),
                })?;
                factory(c)
            })
            .collect()
    }
}

/// `better(a, b)`: whether `a` improves on `b` by more than the margin.
pub(crate) fn improves(value: f64, best: Option<f64>, max: bool, delta: f64, delta_percent: f64) -> bool {
    if value.is_nan() {
        return false;
    }
    let Some(best) = best else { return true };
    let margin = delta.max(best.abs() * delta_percent / 100.0);
    if max { value > best + margin } else { value < best - margin }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_margins() {
        assert!(improves(0.5, None, false, 0.0, 0.0));
        assert!(improves(0.5, Some(0.6), false, 0.05, 0.0));
        assert!(!improves(0.56, Some(0.6), false, 0.05, 0.0));
        assert!(!improves(0.59, Some(0.6), false, 0.0, 5.0), "5% of 0.6 is 0.03");
        assert!(improves(0.9, Some(0.8), true, 0.0, 0.0));
        assert!(!improves(f64::NAN, Some(0.8), true, 0.0, 0.0));
    }
}
