//! expman-runner: launches an experiment's [`RunPlan`]s, at most N at a
//! time, and watches each to its end.
//!
//! - this file: the public API (options, events, the [`Observer`]);
//! - [`pipeline`]: the `Pipeline` trait (the `process` pipeline and Rust
//!   pipelines) and the run context they report through; [`outcome`]: how
//!   a run ended and the status it gets;
//! - [`protocol`] and [`ingest`]: how a trial reports (JSON lines appended
//!   to a file in its run directory) and how those lines reach the store;
//! - [`callbacks`]: early stopping, checkpoints, metrics.csv, hooks;
//! - [`artifacts`]: ended runs' artifacts into the workspace's store
//!   (expman-blobs: kept once by content, optionally encrypted);
//!   [`upload`]: the thread that sends stored blobs to the remote;
//!   [`inputs`]: what a run declares it uses, resolved and hashed before
//!   it starts (lineage);
//! - [`capture`]: git state, code snapshots, `pip freeze`;
//! - [`direct`]: runs started from training code itself (the Python
//!   package's `start_experiment`), whose process is their runner;
//! - [`sampling`]: the hardware sampling thread;
//! - [`search`]: trials with a `search:`, whose runs are suggested as
//!   slots free up, and their pruning;
//! - `rows`: the record rows a planned run becomes;
//! - [`slurm`]: the Slurm executor;
//! - [`recovery`]: runs whose runner died are marked LOST, with everything
//!   they reported ingested; also where a workspace's store is opened;
//! - [`workspace`]: where a workspace and its database are.
//!
//! One scheduler loop (`scheduler`) on the calling thread (it must outlive
//! the runs: the parent-death signal of trial processes is tied to the
//! thread that started them) over a closed set of messages: a run exited,
//! a run reported progress, a callback asked for something, a hardware
//! sample arrived. Between messages it checks timeouts, cancellation and
//! the deadlines of runs asked to stop. A second thread
//! (`ingest_thread`) tails the runs' event files into the store and feeds
//! their callbacks; a third samples the hardware.
//!
//! Life cycle of a run: PENDING (row created when the experiment starts) →
//! RUNNING (process started) → SUCCESS | FAILED | KILLED | TIMEOUT |
//! EARLY_STOPPED | PRUNED (a search's pruner stopped it). A search's runs
//! are made one at a time, as slots free up, from the search's record. Ctrl-C or SIGTERM (the `cancel` flag) sends SIGTERM to
//! every run's process group, waits the grace period, then SIGKILLs; those
//! runs end KILLED and runs not started yet too. A callback that stops a
//! run (early stopping) first asks it (`should_stop()` turns true), then
//! after the grace period sends SIGTERM, then SIGKILL. A failing run never
//! stops the others.

pub mod artifacts;
pub mod callbacks;
pub mod capture;
pub mod direct;
pub mod error;
mod gpus;
pub mod ingest;
mod ingest_thread;
pub mod inputs;
mod launch;
pub mod outcome;
pub mod pipeline;
mod prepare;
pub mod protocol;
pub mod recovery;
mod rows;
pub mod sampling;
mod scheduler;
pub mod search;
pub mod slurm;
pub mod team;
pub mod upload;
pub mod workspace;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use expman_schema::{Project, RunPlan};

pub use error::RunError;
pub use gpus::GpuPool;
pub use prepare::{STOP_FILE, STOP_REQUEST_FILE, flatten_params, run_env};
pub use workspace::Workspace;

use crate::callbacks::CallbackRegistry;
use crate::pipeline::PipelineRegistry;
use expman_os::hardware::Sample;
use expman_store::{RunRef, RunStatus};
use expman_trackers::{SyncReport, TrackerRegistry};

/// Default time between asking a run to stop and forcing it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// How a runner behaves.
#[derive(Clone)]
pub struct RunnerOptions {
    /// Most runs at once (`--parallel`); default `resources.max_parallel`,
    /// else the number of CPU cores.
    pub max_parallel: Option<usize>,
    /// Skip runs whose identity already ended SUCCESS (or EARLY_STOPPED).
    pub resume: bool,
    /// Set to stop everything (Ctrl-C, SIGTERM, a kernel interrupt).
    pub cancel: Arc<AtomicBool>,
    /// How often the ingest thread looks for new events.
    pub poll: Duration,
    /// Callback types by name (the built-ins, plus any a Rust user adds).
    pub callbacks: CallbackRegistry,
    /// Runs or trials to stop while the others go on (`%expman stop`).
    pub stop: StopRequests,
    /// Tracker types by name (the built-ins, plus any a Rust user adds).
    pub trackers: TrackerRegistry,
    /// How long remote trackers may take to catch up once the runs are
    /// done (the rest waits for `expman sync`).
    pub tracker_flush: Duration,
}

/// What to stop: one run by its id (or a unique prefix of it), or every
/// run of a trial (a declared name stops its sweep children too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopTarget {
    Run(String),
    Trial(String),
}

/// Stop requests from another thread; the scheduler takes them as it loops.
/// A matching active run is asked to stop, then terminated (KILLED, "stopped
/// by the user"); a matching queued run never starts (KILLED).
#[derive(Clone, Debug, Default)]
pub struct StopRequests(Arc<std::sync::Mutex<Vec<StopTarget>>>);

impl StopRequests {
    pub fn push(&self, target: StopTarget) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(target);
    }

    pub(crate) fn take(&self) -> Vec<StopTarget> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl StopTarget {
    /// Whether a run (its uid, its trial's full and declared names) matches.
    pub fn matches(&self, uid: &str, trial: &str) -> bool {
        match self {
            StopTarget::Run(prefix) => !prefix.is_empty() && uid.starts_with(prefix.as_str()),
            StopTarget::Trial(name) => {
                trial == name || trial.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with('['))
            }
        }
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            max_parallel: None,
            resume: false,
            cancel: Arc::new(AtomicBool::new(false)),
            poll: Duration::from_millis(50),
            callbacks: CallbackRegistry::with_builtins(),
            stop: StopRequests::default(),
            trackers: TrackerRegistry::with_builtins(),
            tracker_flush: Duration::from_secs(30),
        }
    }
}

/// A run as front ends see it.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub run: RunRef,
    pub trial: String,
    pub repeat: u32,
    pub repeats: u32,
    pub run_dir: PathBuf,
    pub gpus: Vec<u32>,
}

/// What the runner tells front ends while it works.
#[derive(Debug)]
pub enum RunnerEvent<'a> {
    /// Before anything starts: how many runs, how many skipped by `--resume`.
    Plan {
        to_run: usize,
        skipped: usize,
        parallel: usize,
    },
    Skipped {
        trial: &'a str,
        repeat: u32,
        done_as: &'a str,
    },
    Started {
        run: &'a RunInfo,
    },
    Progress {
        run: &'a RunInfo,
        epoch: Option<i64>,
        latest: &'a [(String, f64)],
    },
    /// A callback asked a run to stop (early stopping).
    Stopping {
        run: &'a RunInfo,
        message: &'a str,
    },
    Finished {
        run: &'a RunInfo,
        status: RunStatus,
        duration: Duration,
        error: Option<&'a str>,
    },
    /// A hardware sample (machine, GPUs, and the runs by database id).
    Hardware {
        sample: &'a Sample,
    },
    /// A problem worth telling the user that is not a run's failure.
    Warning {
        run: Option<&'a RunInfo>,
        message: &'a str,
    },
    Cancelling {
        active: usize,
    },
    /// How a search stands: when it starts, after each of its runs ends,
    /// and when it makes no more suggestions.
    Search {
        progress: &'a search::SearchProgress,
    },
}

/// Receives [`RunnerEvent`]s (the CLI's progress display, the kernel's
/// live table).
pub trait Observer {
    fn on_event(&mut self, event: RunnerEvent<'_>);

    /// Called as the scheduler loops (at least every 50 ms while runs are
    /// active), so that an observer that holds back updates can send them
    /// without waiting for the next event.
    fn tick(&mut self) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_event(&mut self, _: RunnerEvent<'_>) {}
}

/// What happened, for summaries.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub experiment_id: i64,
    pub runs: Vec<(RunInfo, RunStatus)>,
    pub skipped: usize,
    pub cancelled: bool,
    /// What each tracker had sent when the runner finished.
    pub trackers: Vec<SyncReport>,
    /// What reached the team database, when there is one.
    pub team: Option<team::TeamReport>,
    /// How each search stood when the runner finished.
    pub searches: Vec<search::SearchProgress>,
    /// What reached the artifact store's remote, when there is one.
    pub uploads: Option<upload::UploadReport>,
}

impl RunReport {
    pub fn run_ids(&self) -> Vec<i64> {
        self.runs.iter().map(|(r, _)| r.run.id).collect()
    }

    pub fn all_done(&self) -> bool {
        self.runs.iter().all(|(_, s)| s.is_done())
    }
}

/// Checks, before anything starts, that every plan's pipeline type and
/// callback types can be run.
pub fn check_plans(
    plans: &[RunPlan],
    pipelines: &PipelineRegistry,
    callbacks: &CallbackRegistry,
) -> Result<(), RunError> {
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for plan in plans {
        let kind = plan.pipeline.kind.clone().unwrap_or_else(|| "process".into());
        if pipelines.get(&kind).is_none() {
            let trials = unknown.entry(kind).or_default();
            if !trials.contains(&plan.trial_base) {
                trials.push(plan.trial_base.clone());
            }
        }
        for cb in plan.pipeline.callbacks.iter().flatten() {
            if !callbacks.knows(&cb.kind) {
                return Err(RunError::Invalid(format!(
                    "trial `{}` uses callback type `{}`, which expman does not know (known: {})",
                    plan.trial_base,
                    cb.kind.as_str(),
                    callbacks.names().join(", ")
                )));
            }
        }
    }
    if let Some((kind, trials)) = unknown.into_iter().next() {
        return Err(RunError::UnknownPipeline(
            format!(
                "{kind}` (used by {}); a Python class name from experiment_manager cannot run here: write `type: process` with `command: [python, your_script.py]` instead, or register a Rust pipeline under that name`",
                trials.join(", ")
            ),
            pipelines.names().join(", "),
        ));
    }
    Ok(())
}

/// Runs `plans` (from [`expman_schema::expand`]) of `project` in `workspace`.
pub fn run(
    workspace: &Workspace,
    project: &Project,
    plans: &[RunPlan],
    pipelines: &PipelineRegistry,
    options: &RunnerOptions,
    observer: &mut dyn Observer,
) -> Result<RunReport, RunError> {
    run_with_searches(workspace, project, plans, &[], pipelines, options, observer)
}

/// [`run`], and the trials with a `search:` beside: their runs are made as
/// slots free up (after the planned runs), until each search's budget,
/// time or space is used up.
pub fn run_with_searches(
    workspace: &Workspace,
    project: &Project,
    plans: &[RunPlan],
    searches: &[search::SearchJob<'_>],
    pipelines: &PipelineRegistry,
    options: &RunnerOptions,
    observer: &mut dyn Observer,
) -> Result<RunReport, RunError> {
    check_plans(plans, pipelines, &options.callbacks)?;
    scheduler::Scheduler::start(workspace, project, plans, searches, pipelines, options, observer)?.run()
}

/// `3 SUCCESS, 1 FAILED`.
pub fn status_counts(report: &RunReport) -> String {
    let mut counts: BTreeMap<RunStatus, usize> = BTreeMap::new();
    for (_, s) in &report.runs {
        *counts.entry(*s).or_default() += 1;
    }
    counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
}

/// A short id that is unique across processes and machines: 12 base-32
/// characters from the time, the pid, a counter and the host.
pub fn new_run_uid() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::SeqCst).to_le_bytes());
    hasher.update(expman_os::process::host_name().as_bytes());
    let digest = hasher.finalize();
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bits: u64 = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    (0..12)
        .map(|_| {
            let c = ALPHABET[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}
