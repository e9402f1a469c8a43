//! Runs driven from the training code itself: the Python package's
//! `expman.start_experiment()`, or a Rust program. No runner launches
//! them; the process that logs is their runner (a `runners` row with its
//! pid), so a kill -9 of it is found as a dead runner's is: the next open
//! of the workspace marks its runs LOST, with everything committed kept.
//!
//! - this file: starting a run ([`DirectRun::start`], [`DirectRun::child`]),
//!   the calls that report ([`RunLog`]), ending it;
//! - `session`: what the runs of one process share (the runner row, the
//!   writer thread, the hardware sampler, the team database's sender);
//! - `buffer`: what a run reported and has not yet committed;
//! - `writer`: the thread that commits it; `values`: what may be
//!   reported; `files`: artifacts copied into the run directory;
//! - [`attached`]: the same calls inside a run that expman launched
//!   (`EXPMAN_EVENTS` set): event lines for that run's runner to ingest.
//!
//! Cost and loss: a call appends to the run's buffer under a mutex, no
//! I/O; the writer commits every `flush_interval` (100 ms by default), so
//! a kill -9 loses at most that much. A `durable` run also appends every
//! call's event line to its `events.jsonl` (one `write(2)`), which
//! recovery ingests: nothing reported before a kill is lost. Each
//! committed batch carries the offset in that file it reaches, so no line
//! is recorded twice.

pub mod attached;
mod buffer;
mod files;
mod session;
mod values;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use expman_os::process;
use expman_os::time::now_ms;
use expman_store::{NewRun, RunFinish, RunStatus, Started, StoreError};

use crate::error::RunError;
use crate::workspace::{Locate, Workspace};
use crate::{STOP_FILE, STOP_REQUEST_FILE};
use buffer::RunBuffer;
use session::Session;

pub use files::ARTIFACTS_DIR;
pub use values::{MAX_KEY_BYTES, MAX_TEXT_BYTES};

/// The experiment of a run started from code when none is named and the
/// workspace was not found through a config directory.
pub const DEFAULT_EXPERIMENT: &str = "default";

pub use expman_store::PARENT_TAG;

/// What a code snapshot takes by default (`code_dir` without globs).
pub const DEFAULT_CODE_GLOBS: &[&str] =
    &["**/*.py", "**/*.yaml", "**/*.yml", "**/*.toml", "**/*.json", "**/*.cfg", "**/*.txt", "**/*.sh"];

/// Why a run started from code could not start, report or end.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("{kind} `{key}`: {why}")]
    BadKey { kind: &'static str, key: String, why: &'static str },
    #[error("metric `{key}`: {value} is not a finite number (NaN and infinities are not recorded)")]
    NotFinite { key: String, value: f64 },
    #[error("{kind} `{key}`: the value is {bytes} bytes; at most 65536 are recorded")]
    TooLong { kind: &'static str, key: String, bytes: usize },
    #[error("run {uid} has ended: nothing more can be logged to it")]
    Ended { uid: String },
    #[error("run {uid} is still going on (pid {pid} on {host}); a run is written by one process at a time")]
    StillRunning { uid: String, pid: i64, host: String },
    #[error("no run `{0}` in this workspace")]
    NoSuchRun(String),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl DirectError {
    /// Whether the caller passed a value the record refuses (as opposed to
    /// the record failing): Python raises `ValueError` for these.
    pub fn is_bad_value(&self) -> bool {
        matches!(self, DirectError::BadKey { .. } | DirectError::NotFinite { .. } | DirectError::TooLong { .. })
    }
}

/// How to start a run from code. `trial` is the run's name; runs of the
/// same trial are its repeats (0, 1, 2, ...).
#[derive(Clone, Debug)]
pub struct StartOptions {
    pub trial: String,
    /// The experiment; default: the config directory's the workspace was
    /// found through, else [`DEFAULT_EXPERIMENT`].
    pub experiment: Option<String>,
    /// `workspace=`; else `env_workspace` (`EXPMAN_WORKSPACE`), else the
    /// workspace or config directory `cwd` is in, else `cwd/outputs`.
    pub workspace: Option<PathBuf>,
    pub env_workspace: Option<PathBuf>,
    pub cwd: PathBuf,
    /// Continue this run (its id) instead of starting a new one.
    pub uid: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Snapshot the code here (and its git state).
    pub code_dir: Option<PathBuf>,
    pub code_globs: Vec<String>,
    /// Sample this process's CPU, memory and GPUs every `hardware_interval`.
    pub log_hardware: bool,
    pub hardware_interval: Duration,
    /// Write every call to the run's event file as well (nothing lost on
    /// kill -9).
    pub durable: bool,
    /// How often buffered calls are committed.
    pub flush_interval: Duration,
    /// What started the process (its command line), for the record.
    pub command: String,
}

impl StartOptions {
    pub fn new(trial: &str, cwd: &Path) -> StartOptions {
        StartOptions {
            trial: trial.to_string(),
            experiment: None,
            workspace: None,
            env_workspace: None,
            cwd: cwd.to_path_buf(),
            uid: None,
            tags: Vec::new(),
            code_dir: None,
            code_globs: Vec::new(),
            log_hardware: false,
            hardware_interval: Duration::from_secs(2),
            durable: false,
            flush_interval: Duration::from_millis(100),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }
}

/// Who a run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    pub uid: String,
    pub experiment: String,
    pub trial: String,
    pub repeat: u32,
    pub run_dir: PathBuf,
    pub workspace: PathBuf,
    /// The parent run's id, for a child run.
    pub parent: Option<String>,
    /// Whether expman launched this run and the calls go to its runner.
    pub attached: bool,
}

/// What training code reports, to a run it started ([`DirectRun`]) or to
/// the run expman launched it as ([`attached::AttachedRun`]).
pub trait RunLog: Send + Sync {
    fn identity(&self) -> &RunIdentity;
    /// One metric point; `step` defaults to the key's next, `epoch` to the
    /// current one, `ts_ms` to now.
    fn log_metric(
        &self,
        key: &str,
        value: f64,
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError>;
    fn log_metrics(
        &self,
        values: &[(&str, f64)],
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError>;
    fn log_params(&self, values: &[(String, serde_json::Value)]) -> Result<(), DirectError>;
    fn set_tags(&self, values: &[(String, String)]) -> Result<(), DirectError>;
    /// A file or directory; returns the paths recorded (relative to the
    /// run directory).
    fn log_artifact(&self, path: &Path, kind: &str) -> Result<Vec<String>, DirectError>;
    fn epoch_start(&self, epoch: i64) -> Result<(), DirectError>;
    fn epoch_end(&self, epoch: i64) -> Result<(), DirectError>;
    fn note(&self, text: &str) -> Result<(), DirectError>;
    /// Whether the run was asked to stop (early stopping, `expman stop`).
    fn should_stop(&self) -> bool {
        let dir = &self.identity().run_dir;
        dir.join(STOP_FILE).exists() || dir.join(STOP_REQUEST_FILE).exists()
    }
    /// Commits (or writes out) what is buffered.
    fn flush(&self) -> Result<(), DirectError>;
    /// Ends the run as `status` (a run expman launched ends as its process
    /// does: this only notes what the code said).
    fn finish(&self, status: RunStatus, error: Option<&str>) -> Result<(), DirectError>;
}

/// A run started from code, recorded by this process.
pub struct DirectRun {
    session: Arc<Session>,
    buffer: Arc<RunBuffer>,
    identity: RunIdentity,
    hardware: bool,
    started: Instant,
    finished: Mutex<bool>,
}

impl DirectRun {
    /// Starts a run (or continues `options.uid`) in the workspace the
    /// options locate.
    pub fn start(options: &StartOptions) -> Result<DirectRun, DirectError> {
        let (workspace, configured) = locate(options)?;
        let session = Session::open(workspace, options.flush_interval)?;
        let experiment = options.experiment.clone().or(configured).unwrap_or_else(|| DEFAULT_EXPERIMENT.into());
        DirectRun::begin(session, &experiment, options, None)
    }

    /// A child run of this one (same process, same workspace; the
    /// experiment defaults to this run's), tagged with its parent.
    pub fn child(&self, options: &StartOptions) -> Result<DirectRun, DirectError> {
        let experiment = options.experiment.clone().unwrap_or_else(|| self.identity.experiment.clone());
        DirectRun::begin(self.session.clone(), &experiment, options, Some(&self.identity.uid))
    }

    /// A child of a run expman launched (`EXPMAN_RUN_ID`), recorded by this
    /// process in that run's workspace.
    pub fn child_of_attached(parent: &RunIdentity, options: &StartOptions) -> Result<DirectRun, DirectError> {
        let session = Session::open(Workspace::at(&parent.workspace), options.flush_interval)?;
        let experiment = options.experiment.clone().unwrap_or_else(|| parent.experiment.clone());
        DirectRun::begin(session, &experiment, options, Some(&parent.uid))
    }

    fn begin(
        session: Arc<Session>,
        experiment: &str,
        options: &StartOptions,
        parent: Option<&str>,
    ) -> Result<DirectRun, DirectError> {
        let me = std::process::id();
        let host = process::host_name();
        let started = Started {
            host: &host,
            pid: Some(me),
            pid_started: process::start_time(me),
            command: &serde_json::json!({"code": options.command}).to_string(),
            git: None,
            job: None,
        };
        let opened = match &options.uid {
            Some(uid) => session.reopen(uid, &started)?,
            None => session.create(experiment, &options.trial, parent, &options.tags, &started)?,
        };
        let buffer = Arc::new(RunBuffer::new(
            opened.run_id,
            &opened.identity.uid,
            &opened.identity.run_dir,
            opened.offset,
            opened.next_step,
            options.durable,
        )?);
        session.writer().add(buffer.clone());
        if options.log_hardware {
            session.sampler(options.hardware_interval)?.add(opened.run_id, me);
        }
        session.team_for(&opened.identity.experiment);
        if let Some(dir) = &options.code_dir {
            let globs: Vec<String> = if options.code_globs.is_empty() {
                DEFAULT_CODE_GLOBS.iter().map(|g| g.to_string()).collect()
            } else {
                options.code_globs.clone()
            };
            let artifacts = session.capture_code(opened.run_id, &opened.identity, dir, &globs);
            if !artifacts.is_empty() {
                buffer.artifacts(artifacts)?;
            }
        }
        Ok(DirectRun {
            session,
            buffer,
            identity: opened.identity,
            hardware: options.log_hardware,
            started: Instant::now(),
            finished: Mutex::new(false),
        })
    }

    /// After a call that left many points waiting, the writer is woken.
    fn after_metrics(&self, waiting: usize) {
        if waiting >= writer::EAGER_POINTS {
            self.session.writer().nudge();
        }
    }
}

impl RunLog for DirectRun {
    fn identity(&self) -> &RunIdentity {
        &self.identity
    }

    fn log_metric(
        &self,
        key: &str,
        value: f64,
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError> {
        values::check_key(values::Kind::Metric, key)?;
        values::check_number(key, value)?;
        let waiting = self.buffer.metric(key, value, step, epoch, ts_ms.unwrap_or_else(now_ms))?;
        self.after_metrics(waiting);
        Ok(())
    }

    fn log_metrics(
        &self,
        values: &[(&str, f64)],
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(values::Kind::Metric, key)?;
            values::check_number(key, *value)?;
        }
        let waiting = self.buffer.metrics(values, step, epoch, ts_ms.unwrap_or_else(now_ms))?;
        self.after_metrics(waiting);
        Ok(())
    }

    fn log_params(&self, values: &[(String, serde_json::Value)]) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(values::Kind::Param, key)?;
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            values::check_text(values::Kind::Param, key, &text)?;
        }
        self.buffer.params(values)
    }

    fn set_tags(&self, values: &[(String, String)]) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(values::Kind::Tag, key)?;
            values::check_text(values::Kind::Tag, key, value)?;
        }
        self.buffer.tags(values)
    }

    fn log_artifact(&self, path: &Path, kind: &str) -> Result<Vec<String>, DirectError> {
        let artifacts = files::collect(&self.identity.run_dir, path, kind, self.buffer.epoch())?;
        let paths = artifacts.iter().map(|a| a.path.clone()).collect();
        self.buffer.artifacts(artifacts)?;
        Ok(paths)
    }

    fn epoch_start(&self, epoch: i64) -> Result<(), DirectError> {
        self.buffer.epoch_start(epoch, now_ms())
    }

    fn epoch_end(&self, epoch: i64) -> Result<(), DirectError> {
        self.buffer.epoch_end(epoch, now_ms())
    }

    fn note(&self, text: &str) -> Result<(), DirectError> {
        self.buffer.note(now_ms(), text)
    }

    fn flush(&self) -> Result<(), DirectError> {
        Ok(self.buffer.commit(&mut self.session.store())?)
    }

    /// Commits what is left and records the end. When what is left cannot
    /// be committed (tried for a few seconds), the run is not ended: it
    /// stays RUNNING, and the next open of the workspace after this
    /// process exits marks it LOST; the error says so.
    fn finish(&self, status: RunStatus, error: Option<&str>) -> Result<(), DirectError> {
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        if *finished {
            return Ok(());
        }
        self.buffer.close();
        self.session.writer().remove(self.buffer.run_id);
        let mut tries = 0;
        loop {
            match self.buffer.commit(&mut self.session.store()) {
                Ok(()) => break,
                Err(e) if tries < 10 => {
                    tracing::debug!("run {}: last commit: {e}; trying again", self.identity.uid);
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(300));
                }
                Err(e) => return Err(e.into()),
            }
        }
        *finished = true;
        // Its files are final now: into the workspace's artifact store.
        let root = self.session.workspace().root.clone();
        let absorbed = crate::artifacts::absorb_run(
            &mut self.session.store(),
            self.session.blobs(),
            &root,
            self.buffer.run_id,
            &self.identity.run_dir,
        );
        for warning in absorbed.warnings {
            tracing::warn!("run {}: {warning}", self.identity.uid);
        }
        if self.hardware {
            let wall_ms = self.started.elapsed().as_millis() as i64;
            self.session.sampler_remove(self.buffer.run_id, wall_ms);
        }
        let finish =
            RunFinish { status, exit_code: None, signal: None, error: error.map(str::to_string), ended_at: now_ms() };
        self.session.store().finish_run(self.buffer.run_id, &finish)?;
        Ok(())
    }
}

impl Drop for DirectRun {
    /// A run dropped without [`RunLog::finish`] ends SUCCESS, or FAILED
    /// when the thread is panicking.
    fn drop(&mut self) {
        let (status, error) = if std::thread::panicking() {
            (RunStatus::Failed, Some("the code panicked"))
        } else {
            (RunStatus::Success, None)
        };
        if let Err(e) = self.finish(status, error) {
            tracing::error!("run {}: {e}", self.identity.uid);
        }
    }
}

/// The workspace a run started from code records into, and the experiment
/// of the config directory it was found through.
fn locate(options: &StartOptions) -> Result<(Workspace, Option<String>), DirectError> {
    let found = Workspace::locate_scope(&Locate {
        workspace: options.workspace.clone(),
        dir: None,
        env_workspace: options.env_workspace.clone(),
        cwd: options.cwd.clone(),
    });
    match found {
        Ok(found) => Ok(found),
        Err(_) if options.workspace.is_none() && options.env_workspace.is_none() => {
            Ok((Workspace::at(&options.cwd.join(crate::workspace::DEFAULT_DIR)), None))
        }
        Err(e) => Err(e.into()),
    }
}

/// A new run's row: what [`NewRun`] needs besides its ids.
fn new_run(experiment_id: i64, trial_id: i64, repeat: u32, run_dir: &Path, runner_id: i64) -> NewRun {
    NewRun {
        experiment_id,
        trial_id,
        repeat,
        attempt: 1,
        config_json: "{}".into(),
        // SHA-256 of the canonical empty config.
        config_hash: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".into(),
        seed: 0,
        run_dir: run_dir.display().to_string(),
        runner_id,
        params: Vec::new(),
        tags: Vec::new(),
    }
}
