//! Pipelines: how a run is executed.
//!
//! A [`Pipeline`] launches one run and returns a [`Running`] handle that
//! the runner waits on (on a thread of its own) and can stop. Two kinds
//! ship with expman:
//!
//! - [`ProcessPipeline`] (`type: process`, the default) runs
//!   `pipeline.command` as a process in its own group, through
//!   [`expman_os::process::command`];
//! - [`FnPipeline`] wraps Rust training code, a closure given a
//!   [`RunContext`] with the same logging calls as the Python helper.
//!
//! Both report through the same event file, so metrics, artifacts and
//! statuses work the same for both. Register more with
//! [`PipelineRegistry::register`] under the name `pipeline.type` uses.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use expman_schema::Node;
use expman_schema::model::PipelineConfig;
use nix::sys::signal::Signal;

use crate::error::RunError;
use crate::ingest::EVENTS_FILE;
pub use crate::outcome::Outcome;
use crate::protocol::write;
use expman_os::process;
use expman_os::time::now_ms;

/// Everything a pipeline needs to launch one run.
#[derive(Debug)]
pub struct LaunchSpec {
    pub run_uid: String,
    pub run_dir: PathBuf,
    /// Where the program runs (the run directory unless `pipeline.workdir`).
    pub workdir: PathBuf,
    /// The resolved config (secrets masked) as written to `config.json`.
    pub config: Arc<Node>,
    pub config_path: PathBuf,
    pub pipeline: Arc<PipelineConfig>,
    /// The environment of the run: the runner's own plus `EXPMAN_*`,
    /// `PYTHONPATH`, `CUDA_VISIBLE_DEVICES` and `pipeline.env`.
    pub env: BTreeMap<String, String>,
    pub seed: i64,
    pub stdout: File,
    pub stderr: File,
}

/// Stops a running run; cheap to clone, usable from any thread.
#[derive(Clone, Debug)]
pub enum Stopper {
    /// A process group: SIGTERM, then SIGKILL.
    ProcessGroup(u32),
    /// An in-process pipeline: a flag it polls through `should_stop()`.
    Flag(Arc<AtomicBool>),
    /// A job of an executor (Slurm): its id, and how the executor cancels
    /// it (`scancel`: SIGTERM, SIGKILL after Slurm's `KillWait`).
    Job { id: String, cancel: fn(&str) },
}

impl Stopper {
    /// Asks the run to stop (SIGTERM, or the stop flag).
    pub fn terminate(&self) {
        match self {
            Stopper::ProcessGroup(pgid) => {
                process::signal_group(*pgid, Signal::SIGTERM);
            }
            Stopper::Flag(flag) => flag.store(true, Ordering::SeqCst),
            // Slurm sends SIGTERM to the job and its steps, then SIGKILL
            // after its `KillWait`; the job ends CANCELLED.
            Stopper::Job { id, cancel } => cancel(id),
        }
    }

    /// Forces the run to stop (SIGKILL; threads cannot be killed, so an
    /// in-process pipeline only gets its flag set).
    pub fn kill(&self) {
        match self {
            Stopper::ProcessGroup(pgid) => {
                process::signal_group(*pgid, Signal::SIGKILL);
            }
            Stopper::Flag(flag) => flag.store(true, Ordering::SeqCst),
            // Slurm escalates by itself; signalling a job that is being
            // cancelled would record it FAILED instead of CANCELLED.
            Stopper::Job { id, cancel } => cancel(id),
        }
    }
}

/// A launched run.
pub trait Running: Send {
    /// The process id, for process pipelines.
    fn pid(&self) -> Option<u32>;
    /// The Slurm job id, for runs on Slurm.
    fn job(&self) -> Option<String> {
        None
    }
    /// What was launched, for the record (`command` column).
    fn description(&self) -> String;
    fn stopper(&self) -> Stopper;
    /// Blocks until the run ends.
    fn wait(&mut self) -> Outcome;
}

/// Launches runs of one `pipeline.type`.
pub trait Pipeline: Send + Sync {
    fn launch(&self, spec: LaunchSpec) -> Result<Box<dyn Running>, RunError>;
}

/// `type: process`: runs `pipeline.command`.
#[derive(Debug, Default)]
pub struct ProcessPipeline;

struct ProcessRunning {
    child: std::process::Child,
    argv: Vec<String>,
}

impl LaunchSpec {
    /// `pipeline.command` as argv; `who` needs one (for the message).
    pub fn command(&self, who: &str) -> Result<Vec<String>, RunError> {
        self.pipeline
            .command
            .as_ref()
            .map(|c| c.argv())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| RunError::Invalid(format!("{who} needs `pipeline.command`")))
    }
}

impl Pipeline for ProcessPipeline {
    fn launch(&self, spec: LaunchSpec) -> Result<Box<dyn Running>, RunError> {
        let argv = spec.command("the process pipeline")?;
        let program = resolve_program(&argv[0], &spec.workdir, spec.env.get("PATH").map(String::as_str));
        let mut cmd = process::command(&program, &argv[1..], &spec.workdir, &spec.env);
        cmd.stdout(spec.stdout).stderr(spec.stderr);
        let child = cmd.spawn().map_err(|e| {
            RunError::Invalid(format!("cannot start `{}` in {}: {e}", argv.join(" "), spec.workdir.display()))
        })?;
        Ok(Box::new(ProcessRunning { child, argv }))
    }
}

/// A relative program path (`./train.sh`, `bin/x`) is taken from the
/// working directory; a bare name is looked up in PATH by the OS.
fn resolve_program(program: &str, workdir: &Path, _path: Option<&str>) -> String {
    if program.contains('/') && !Path::new(program).is_absolute() {
        workdir.join(program).display().to_string()
    } else {
        program.to_string()
    }
}

impl Running for ProcessRunning {
    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn description(&self) -> String {
        serde_json::to_string(&self.argv).unwrap_or_default()
    }

    fn stopper(&self) -> Stopper {
        Stopper::ProcessGroup(self.child.id())
    }

    fn wait(&mut self) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        match expman_os::process::wait_with_usage(&mut self.child) {
            Ok((status, usage)) => Outcome {
                exit_code: status.code(),
                signal: status.signal(),
                error: None,
                usage: Some(usage),
                verdict: None,
            },
            Err(e) => Outcome { error: Some(format!("waiting for the process failed: {e}")), ..Outcome::default() },
        }
    }
}

/// What Rust training code gets: the run's config and seed, the logging
/// calls of the event protocol, and `should_stop()`.
pub struct RunContext {
    pub run_uid: String,
    pub run_dir: PathBuf,
    pub config: Arc<Node>,
    pub seed: i64,
    events: Mutex<File>,
    stop: Arc<AtomicBool>,
    epoch: Mutex<Option<i64>>,
}

impl RunContext {
    fn new(spec: &LaunchSpec, stop: Arc<AtomicBool>) -> std::io::Result<RunContext> {
        let events = OpenOptions::new().create(true).append(true).open(spec.run_dir.join(EVENTS_FILE))?;
        Ok(RunContext {
            run_uid: spec.run_uid.clone(),
            run_dir: spec.run_dir.clone(),
            config: spec.config.clone(),
            seed: spec.seed,
            events: Mutex::new(events),
            stop,
            epoch: Mutex::new(None),
        })
    }

    fn emit(&self, line: String) {
        let mut file = self.events.lock().unwrap_or_else(|e| e.into_inner());
        // One write per event: whole lines, in order.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }

    fn current_epoch(&self) -> Option<i64> {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log_metric(&self, key: &str, value: f64, step: Option<i64>) {
        self.emit(write::metric(key, value, step, self.current_epoch(), now_ms()));
    }

    pub fn log_metrics(&self, values: &[(&str, f64)], step: Option<i64>) {
        self.emit(write::metrics(values, step, self.current_epoch(), now_ms()));
    }

    pub fn log_params(&self, values: &serde_json::Map<String, serde_json::Value>) {
        self.emit(write::params(values));
    }

    pub fn set_tag(&self, key: &str, value: &str) {
        self.emit(write::tag(key, value));
    }

    /// Records a file (relative to the run directory, or absolute).
    pub fn log_artifact(&self, path: &str, kind: &str) {
        self.emit(write::artifact(path, kind, self.current_epoch()));
    }

    pub fn note(&self, text: &str) {
        self.emit(write::note(text));
    }

    /// Marks the start of an epoch; the returned scope marks its end.
    pub fn epoch(&self, epoch: i64) -> EpochScope<'_> {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) = Some(epoch);
        self.emit(write::epoch_start(epoch, now_ms()));
        EpochScope { ctx: self, epoch }
    }

    pub fn batch_end(&self, batch: i64) {
        self.emit(write::batch_end(self.current_epoch(), batch));
    }

    /// Whether the runner asked this run to stop (Ctrl-C, timeout, early
    /// stopping): return soon after it turns true.
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// An epoch in progress; its end is recorded when dropped.
pub struct EpochScope<'a> {
    ctx: &'a RunContext,
    epoch: i64,
}

impl Drop for EpochScope<'_> {
    fn drop(&mut self) {
        self.ctx.emit(write::epoch_end(self.epoch, now_ms()));
    }
}

/// Why Rust training code failed: any error (`?` works on all of them),
/// or a message (`Err("...".into())`).
pub type TrainError = Box<dyn std::error::Error + Send + Sync>;

type TrainFn = dyn Fn(&RunContext) -> Result<(), TrainError> + Send + Sync;

/// Rust training code as a pipeline: the closure runs on a thread of its
/// own; `Err` or a panic makes the run FAILED with that message.
pub struct FnPipeline {
    train: Arc<TrainFn>,
}

impl FnPipeline {
    pub fn new(train: impl Fn(&RunContext) -> Result<(), TrainError> + Send + Sync + 'static) -> FnPipeline {
        FnPipeline { train: Arc::new(train) }
    }
}

struct ThreadRunning {
    handle: Option<JoinHandle<Result<(), TrainError>>>,
    stop: Arc<AtomicBool>,
}

impl Pipeline for FnPipeline {
    fn launch(&self, spec: LaunchSpec) -> Result<Box<dyn Running>, RunError> {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = RunContext::new(&spec, stop.clone()).map_err(|e| RunError::io(spec.run_dir.join(EVENTS_FILE), e))?;
        let train = self.train.clone();
        let handle = std::thread::Builder::new()
            .name(format!("run-{}", spec.run_uid))
            .spawn(move || train(&ctx))
            .map_err(|e| RunError::Invalid(format!("cannot start a thread: {e}")))?;
        Ok(Box::new(ThreadRunning { handle: Some(handle), stop }))
    }
}

impl Running for ThreadRunning {
    fn pid(&self) -> Option<u32> {
        None
    }

    fn description(&self) -> String {
        "in-process Rust pipeline".into()
    }

    fn stopper(&self) -> Stopper {
        Stopper::Flag(self.stop.clone())
    }

    fn wait(&mut self) -> Outcome {
        let Some(handle) = self.handle.take() else {
            return Outcome::default();
        };
        match handle.join() {
            Ok(Ok(())) => Outcome { exit_code: Some(0), ..Outcome::default() },
            Ok(Err(error)) => Outcome { exit_code: Some(1), error: Some(error.to_string()), ..Outcome::default() },
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panicked".into());
                Outcome {
                    exit_code: Some(101),
                    error: Some(format!("the pipeline panicked: {message}")),
                    ..Outcome::default()
                }
            }
        }
    }
}

/// Pipelines by `pipeline.type`.
#[derive(Clone)]
pub struct PipelineRegistry {
    pipelines: BTreeMap<String, Arc<dyn Pipeline>>,
}

impl Default for PipelineRegistry {
    fn default() -> Self {
        PipelineRegistry::with_builtins()
    }
}

impl PipelineRegistry {
    /// `process`, and nothing else.
    pub fn with_builtins() -> PipelineRegistry {
        let mut registry = PipelineRegistry { pipelines: BTreeMap::new() };
        registry.register("process", ProcessPipeline);
        registry
    }

    pub fn register(&mut self, name: &str, pipeline: impl Pipeline + 'static) {
        self.pipelines.insert(name.to_string(), Arc::new(pipeline));
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Pipeline>> {
        self.pipelines.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&str> {
        self.pipelines.keys().map(String::as_str).collect()
    }
}
