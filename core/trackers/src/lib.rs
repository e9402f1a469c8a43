//! expman-trackers: where the record fans out to (MLflow, TensorBoard, CSV files,
//! a log per run, or a back end a Rust user adds), as `env.yaml`
//! `trackers:` says.
//!
//! expman's database stays the source of truth. A tracker never sees the
//! live event stream; the [`sync`] engine reads the record in the order it
//! was written and hands the tracker what it has not acknowledged yet, then
//! records the acknowledgement (`tracker_state`). So:
//!
//! - a run never waits for a tracker, fails because of one, or slows down
//!   (the runner's [`thread`] syncs beside the runs, on its own database
//!   connection);
//! - a back end that is down only falls behind: its tracker is retried
//!   with backoff, and `expman sync` sends the rest later, after a restart
//!   too;
//! - nothing is sent twice in a way the back end would duplicate: what was
//!   acknowledged is never sent again, and a batch that may or may not have
//!   arrived (a timeout) is sent again only where the back end keeps one
//!   copy of identical data (MLflow's metric rows), or is rewritten
//!   exactly (files are cut back to their acknowledged length).
//!
//! The MLflow and TensorBoard back ends are features (`mlflow`,
//! `tensorboard`, on by default); a build without one answers a config
//! that asks for it with an error that says so.
//!
//! Implement [`Tracker`] and register a factory in a [`TrackerRegistry`]
//! under a `type` name to add a back end.

pub mod csv;
pub mod files;
pub mod log;
#[cfg(feature = "mlflow")]
pub mod mlflow;
mod pass;
mod report;
pub mod sync;
#[cfg(feature = "tensorboard")]
pub mod tensorboard;
pub mod thread;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expman_schema::model::{TrackerConfig, TrackerKind};
use sha2::{Digest, Sha256};

use expman_store::{ArtifactRow, HardwareRow, MetricRow, ParamValue, RunStatus, Store};

pub use sync::{Pending, SyncReport, Syncer};

/// A tracker that could not do what it was asked. `Retry` problems (the
/// back end is down, a timeout, a 5xx) leave the work pending; `Rejected`
/// ones (the back end refuses that data for good) are reported once and
/// the data is skipped, so that one bad value cannot block a tracker.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("{0}")]
    Retry(String),
    #[error("{0}")]
    Rejected(String),
}

impl TrackerError {
    pub fn retry(message: impl Into<String>) -> TrackerError {
        TrackerError::Retry(message.into())
    }
}

pub type TrackerResult<T> = Result<T, TrackerError>;

/// Why the trackers an `env.yaml` asks for cannot be built. A factory's
/// error names the tracker type it is for (`config.kind`).
#[derive(Debug, thiserror::Error)]
pub enum TrackerBuildError {
    #[error("unknown tracker type `{kind}` (known: {known})")]
    UnknownType { kind: String, known: String },
    /// An entry its back end refuses, in the back end's words.
    #[error("tracker `{kind}`: {message}")]
    Config { kind: String, message: String },
    /// A back end that cannot start (its HTTP client, its runtime).
    #[error("tracker `{kind}`: {what}: {source}")]
    Start {
        kind: String,
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A built-in back end left out of this build.
    #[error(
        "tracker `{kind}`: this expman was built without the `{feature}` feature; build it with `--features {feature}` (on by default)"
    )]
    NotBuilt { kind: String, feature: &'static str },
}

impl TrackerBuildError {
    /// The entry of a tracker of type `kind` is refused: `message` says why.
    pub fn config(kind: &str, message: impl Into<String>) -> TrackerBuildError {
        TrackerBuildError::Config { kind: kind.to_string(), message: message.into() }
    }
}

/// An experiment as a tracker sees it.
#[derive(Clone, Debug)]
pub struct TrackedExperiment {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    /// Its id on the back end, once [`Tracker::experiment`] gave one.
    pub remote_id: Option<String>,
}

/// A trial (a sweep child is a trial of its own).
#[derive(Clone, Debug)]
pub struct TrackedTrial {
    pub id: i64,
    pub name: String,
    pub remote_id: Option<String>,
}

/// A run.
#[derive(Clone, Debug)]
pub struct TrackedRun {
    pub id: i64,
    pub uid: String,
    pub trial: String,
    pub trial_id: i64,
    /// From 0.
    pub repeat: u32,
    pub repeats: u32,
    pub status: RunStatus,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub config_hash: String,
    pub seed: Option<i64>,
    pub run_dir: Option<PathBuf>,
    pub error: Option<String>,
    pub remote_id: Option<String>,
}

impl TrackedRun {
    /// `baseline #2/3`.
    pub fn label(&self) -> String {
        format!("{} #{}/{}", self.trial, self.repeat + 1, self.repeats.max(self.repeat + 1))
    }
}

/// What a tracker keeps about an entity between calls and across restarts
/// (JSON; e.g. the length of a file it has written).
pub type Memo = Option<String>;

/// Where the workspace is, and the record to read from (a tracker may
/// look things up; it must not write).
pub struct TrackerContext<'a> {
    pub workspace: &'a Path,
    pub store: &'a Store,
    pub experiment: &'a TrackedExperiment,
}

/// A back end. Every call is about data already in the record; returning
/// `Ok` acknowledges it. Calls come in order: `experiment` before anything
/// of it, `trial` before its runs, `run_started` before a run's data,
/// `run_ended` after all of it, `trial_ended` after all its runs ended.
pub trait Tracker: Send {
    /// The experiment exists on the back end; its id there (if any).
    fn experiment(&mut self, cx: &TrackerContext<'_>) -> TrackerResult<Option<String>>;

    /// A trial exists on the back end (MLflow: a parent run); its id there.
    fn trial(&mut self, _cx: &TrackerContext<'_>, _trial: &TrackedTrial) -> TrackerResult<Option<String>> {
        Ok(None)
    }

    /// A run began (or is seen for the first time); its id there.
    fn run_started(
        &mut self,
        cx: &TrackerContext<'_>,
        trial: &TrackedTrial,
        run: &TrackedRun,
        memo: &mut Memo,
    ) -> TrackerResult<Option<String>>;

    /// The run's params and tags (all of them, each time they change).
    fn params_and_tags(
        &mut self,
        _cx: &TrackerContext<'_>,
        _run: &TrackedRun,
        _params: &[(String, ParamValue)],
        _tags: &[(String, String)],
        _memo: &mut Memo,
    ) -> TrackerResult<()> {
        Ok(())
    }

    /// Metric points of one run, in the order they were recorded.
    fn metrics(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        points: &[MetricRow],
        memo: &mut Memo,
    ) -> TrackerResult<()>;

    /// Hardware samples of one run.
    fn hardware(
        &mut self,
        _cx: &TrackerContext<'_>,
        _run: &TrackedRun,
        _samples: &[HardwareRow],
        _memo: &mut Memo,
    ) -> TrackerResult<()> {
        Ok(())
    }

    /// The run ended: its final status, and the artifacts it kept.
    fn run_ended(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        artifacts: &[ArtifactRow],
        memo: &mut Memo,
    ) -> TrackerResult<()>;

    /// Every run of the trial has ended (for now: `--resume` may add more,
    /// and then `trial` comes again).
    fn trial_ended(
        &mut self,
        _cx: &TrackerContext<'_>,
        _trial: &TrackedTrial,
        _statuses: &[RunStatus],
    ) -> TrackerResult<()> {
        Ok(())
    }

    /// The most metric points one [`Tracker::metrics`] call should carry.
    fn batch_size(&self) -> usize {
        10_000
    }

    /// Whether it is a remote service (its pending work is worth telling
    /// the user about when a run ends).
    fn is_remote(&self) -> bool {
        false
    }
}

/// Builds a tracker from its `env.yaml` entry.
pub type TrackerFactory =
    dyn Fn(&TrackerConfig, &TrackerEnv) -> Result<Box<dyn Tracker>, TrackerBuildError> + Send + Sync + 'static;

/// What a factory may need besides the tracker's own config.
#[derive(Clone, Debug)]
pub struct TrackerEnv {
    pub workspace: PathBuf,
    /// The environment (credentials such as `MLFLOW_TRACKING_TOKEN`).
    pub vars: BTreeMap<String, String>,
}

impl TrackerEnv {
    pub fn from_process(workspace: &Path) -> TrackerEnv {
        TrackerEnv { workspace: workspace.to_path_buf(), vars: std::env::vars().collect() }
    }
}

/// Tracker types by name: the built-ins, plus those a Rust user registers.
#[derive(Clone)]
pub struct TrackerRegistry {
    factories: BTreeMap<String, Arc<TrackerFactory>>,
}

impl Default for TrackerRegistry {
    fn default() -> Self {
        TrackerRegistry::with_builtins()
    }
}

impl std::fmt::Debug for TrackerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

impl TrackerRegistry {
    /// `mlflow`, `tensorboard`, `csv`, `log` (and experiment_manager's
    /// spellings of them). `db` and `performance` need no tracker: the
    /// record and the hardware sampler are always on.
    pub fn with_builtins() -> TrackerRegistry {
        let mut r = TrackerRegistry { factories: BTreeMap::new() };
        #[cfg(feature = "mlflow")]
        r.register("mlflow", |c, env| Ok(Box::new(mlflow::MlflowTracker::from_config(c, env)?)));
        #[cfg(not(feature = "mlflow"))]
        r.register("mlflow", |c, _| {
            Err(TrackerBuildError::NotBuilt { kind: c.kind.as_str().into(), feature: "mlflow" })
        });
        #[cfg(feature = "tensorboard")]
        r.register("tensorboard", |c, env| Ok(Box::new(tensorboard::TensorboardTracker::from_config(c, env))));
        #[cfg(not(feature = "tensorboard"))]
        r.register("tensorboard", |c, _| {
            Err(TrackerBuildError::NotBuilt { kind: c.kind.as_str().into(), feature: "tensorboard" })
        });
        r.register("csv", |c, env| Ok(Box::new(csv::CsvTracker::from_config(c, env))));
        r.register("log", |_, _| Ok(Box::new(log::LogTracker)));
        r
    }

    /// Adds a tracker type (or replaces a built-in).
    pub fn register(
        &mut self,
        kind: &str,
        factory: impl Fn(&TrackerConfig, &TrackerEnv) -> Result<Box<dyn Tracker>, TrackerBuildError> + Send + Sync + 'static,
    ) {
        self.factories.insert(kind.to_string(), Arc::new(factory));
    }

    pub fn names(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// The trackers `configs` ask for, each with its name in the record.
    /// `db` and `performance` are skipped (always on); an unknown type is
    /// an error naming the known ones.
    pub fn build(&self, configs: &[TrackerConfig], env: &TrackerEnv) -> Result<Vec<NamedTracker>, TrackerBuildError> {
        let mut out: Vec<NamedTracker> = Vec::new();
        for config in configs {
            if matches!(config.kind, TrackerKind::Db | TrackerKind::Performance) {
                continue;
            }
            let kind = config.kind.as_str();
            let factory = self.factories.get(kind).ok_or_else(|| TrackerBuildError::UnknownType {
                kind: kind.to_string(),
                known: self.names().join(", "),
            })?;
            let tracker = factory(config, env)?;
            let mut name = kind.to_string();
            let mut n = 1;
            while out.iter().any(|t| t.name == name) {
                n += 1;
                name = format!("{kind}{n}");
            }
            let key = format!("{name}@{}", target_fingerprint(config, env));
            out.push(NamedTracker { name, key, tracker });
        }
        Ok(out)
    }
}

/// A tracker with its name (`mlflow`, `mlflow2` for a second one) and its
/// key in the record (`mlflow@1a2b3c4d`: name and target, so that pointing
/// it at another server starts that one from scratch).
pub struct NamedTracker {
    pub name: String,
    pub key: String,
    pub tracker: Box<dyn Tracker>,
}

/// Eight hex digits of where a tracker sends things.
fn target_fingerprint(config: &TrackerConfig, env: &TrackerEnv) -> String {
    let target = match config.kind {
        TrackerKind::Mlflow => {
            let uri = config.tracking_uri.clone().or_else(|| env.vars.get("MLFLOW_TRACKING_URI").cloned());
            format!(
                "{}|{}",
                uri.unwrap_or_default().trim_end_matches('/'),
                config.experiment_name.clone().unwrap_or_default()
            )
        }
        TrackerKind::Tensorboard => config.logdir.clone().unwrap_or_default(),
        TrackerKind::Csv => config.path.clone().unwrap_or_default(),
        _ => String::new(),
    };
    let digest = Sha256::digest(format!("{}|{target}", config.kind.as_str()).as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A key as back ends accept it: letters, digits, `_ - . / ` and space;
/// anything else becomes `_`.
#[cfg(feature = "mlflow")]
pub(crate) fn safe_key(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || "_-./ ".contains(c) { c } else { '_' }).collect()
}

/// A param value as text.
pub(crate) fn param_text(value: &ParamValue) -> String {
    match value {
        ParamValue::Null => "null".into(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Text(s) | ParamValue::Json(s) => s.clone(),
    }
}

/// An `env.yaml` tracker entry of `kind` with nothing else set.
pub fn tracker_config(kind: TrackerKind) -> TrackerConfig {
    TrackerConfig {
        kind,
        tracking_uri: None,
        experiment_name: None,
        logdir: None,
        path: None,
        verbose: None,
        name: None,
        recreate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "mlflow")]
    fn keys_and_names() {
        assert_eq!(safe_key("lr_sweep[training.lr=0.1]"), "lr_sweep_training.lr_0.1_");
        assert_eq!(safe_key("system/cpu percent"), "system/cpu percent");
        let env = TrackerEnv { workspace: "/w".into(), vars: BTreeMap::new() };
        let config =
            |uri: &str| TrackerConfig { tracking_uri: Some(uri.into()), ..tracker_config(TrackerKind::Mlflow) };
        let built = TrackerRegistry::with_builtins()
            .build(&[config("http://127.0.0.1:5000"), config("http://127.0.0.1:5001/")], &env)
            .unwrap();
        let names: Vec<&str> = built.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["mlflow", "mlflow2"]);
        assert_ne!(built[0].key.split('@').nth(1), built[1].key.split('@').nth(1), "another server, another key");
        let unknown = tracker_config(TrackerKind::parse("wandb"));
        let error = TrackerRegistry::with_builtins().build(&[unknown], &env).err().unwrap().to_string();
        assert!(error.contains("unknown tracker type `wandb`") && error.contains("tensorboard"), "{error}");
    }
}
