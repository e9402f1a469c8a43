//! The rows the store reads and writes.

use std::fmt;

/// Where a run is in its life: PENDING → RUNNING → one of the final states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStatus {
    Pending,
    Running,
    Success,
    Failed,
    Killed,
    Timeout,
    EarlyStopped,
    /// Stopped by its search's pruner (ASHA, Hyperband, median): its
    /// intermediate values were worse than its peers'. Counted like
    /// EARLY_STOPPED: it ended as expman asked, not by failing.
    Pruned,
    /// Its runner died before the run ended.
    Lost,
}

impl RunStatus {
    pub const ALL: [RunStatus; 9] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Killed,
        RunStatus::Timeout,
        RunStatus::EarlyStopped,
        RunStatus::Pruned,
        RunStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
            RunStatus::Timeout => "TIMEOUT",
            RunStatus::EarlyStopped => "EARLY_STOPPED",
            RunStatus::Pruned => "PRUNED",
            RunStatus::Lost => "LOST",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Pending | RunStatus::Running)
    }

    /// Whether `--resume` counts the run as done.
    pub fn is_done(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::EarlyStopped | RunStatus::Pruned)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tag that names a child run's parent (its run id), as MLflow's
/// `mlflow.parentRunId` does: runs started from code with a parent carry it.
pub const PARENT_TAG: &str = "expman.parent";

/// A run's database id and its user-facing id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunRef {
    pub id: i64,
    pub uid: String,
}

/// What the runner knows about a run before it starts.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub experiment_id: i64,
    pub trial_id: i64,
    pub repeat: u32,
    pub attempt: u32,
    pub config_json: String,
    pub config_hash: String,
    pub seed: i64,
    pub run_dir: String,
    pub runner_id: i64,
    pub params: Vec<(String, ParamValue)>,
    pub tags: Vec<(String, String)>,
}

/// A typed parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A list or mapping, as JSON.
    Json(String),
}

impl ParamValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Null => "null",
            ParamValue::Bool(_) => "bool",
            ParamValue::Int(_) => "int",
            ParamValue::Float(_) => "float",
            ParamValue::Text(_) => "str",
            ParamValue::Json(_) => "json",
        }
    }

    pub fn from_json(value: &serde_json::Value) -> ParamValue {
        use serde_json::Value as J;
        match value {
            J::Null => ParamValue::Null,
            J::Bool(b) => ParamValue::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => ParamValue::Text(s.clone()),
            other => ParamValue::Json(other.to_string()),
        }
    }

    /// (text column, number column).
    pub(crate) fn columns(&self) -> (Option<String>, Option<f64>) {
        match self {
            ParamValue::Null => (None, None),
            ParamValue::Bool(b) => (Some(b.to_string()), Some(f64::from(u8::from(*b)))),
            ParamValue::Int(i) => (Some(i.to_string()), Some(*i as f64)),
            ParamValue::Float(f) => (Some(f.to_string()), Some(*f)),
            ParamValue::Text(s) | ParamValue::Json(s) => (Some(s.clone()), None),
        }
    }
}

/// One metric value.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub key: String,
    pub step: i64,
    pub epoch: Option<i64>,
    /// NaN is stored as NULL.
    pub value: f64,
    pub timestamp: i64,
}

/// A file a run reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub path: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub kind: String,
    pub epoch: Option<i64>,
    pub created_at: i64,
}

/// Everything read from a run's event file in one go, written in one
/// transaction together with the new read offset, so that each line is
/// ingested exactly once even across crashes.
#[derive(Clone, Debug, Default)]
pub struct IngestBatch {
    pub run_id: i64,
    /// The event file offset this batch starts at: the store applies the
    /// batch only if that is still the committed offset (so two processes
    /// can never ingest the same lines twice).
    pub from_offset: u64,
    pub metrics: Vec<MetricPoint>,
    pub params: Vec<(String, ParamValue)>,
    pub tags: Vec<(String, String)>,
    pub artifacts: Vec<Artifact>,
    /// Free-text notes and other events for the audit log: (time, kind, detail).
    pub events: Vec<(i64, String, String)>,
    /// The event file offset after this batch.
    pub offset: u64,
    /// Malformed lines met in this batch.
    pub malformed: u64,
}

impl IngestBatch {
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
            && self.params.is_empty()
            && self.tags.is_empty()
            && self.artifacts.is_empty()
            && self.events.is_empty()
            && self.malformed == 0
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunFinish {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
    pub ended_at: i64,
}

/// A runner process, for telling later whether it is still alive.
#[derive(Clone, Debug)]
pub struct Runner {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub pid_started: Option<i64>,
    pub heartbeat_at: i64,
    pub ended_at: Option<i64>,
}

/// What a run cost the machine, from the hardware samples taken while it ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceSummary {
    pub wall_ms: i64,
    pub cpu_ms: Option<i64>,
    pub mean_cpu_percent: Option<f64>,
    pub peak_cpu_percent: Option<f64>,
    pub peak_rss: Option<i64>,
    pub mean_gpu_util: Option<f64>,
    pub peak_gpu_util: Option<f64>,
    pub mean_gpu_mem: Option<i64>,
    pub peak_gpu_mem: Option<i64>,
    pub samples: i64,
}

/// What is needed to reproduce a run beyond its config and command.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capture {
    /// The environment variables expman set (secrets masked), as JSON.
    pub env: String,
    pub git_branch: Option<String>,
    /// Host, OS, CPU and GPU models, driver, as JSON.
    pub host: String,
    pub expman_version: String,
}
