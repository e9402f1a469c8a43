//! Starting one run: its directory and files, its pipeline, its callbacks,
//! and the reproducibility record (environment, git, code snapshot, Python
//! packages, host).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use expman_os::hardware::Sample;
use expman_schema::secrets::is_secret_key;
use expman_schema::{Project, RunPlan};

use crate::callbacks::{CallbackConfigError, CallbackRegistry, CallbackRun, RunCallbacks};
use crate::capture::{self, CaptureCache, CaptureError};
use crate::error::RunError;
use crate::ingest_thread;
use crate::pipeline::{Outcome, PipelineRegistry, Stopper};
use crate::slurm::SlurmExecutor;
use crate::workspace::Workspace;
use crate::{DEFAULT_GRACE, RunInfo, prepare};
use expman_os::process;
use expman_os::time::now_ms;
use expman_store::{Artifact, Capture, RunRef, Started, Store, StoreError};

/// Why a run could not be started (it ends FAILED with this message).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("unknown pipeline type `{kind}`")]
    UnknownPipeline { kind: String },
    #[error("`resources.executor: slurm` runs commands (`pipeline.type: process`); `{kind}` runs inside expman itself")]
    SlurmNeedsProcess { kind: String },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Callbacks(#[from] CallbackConfigError),
    /// Started but not on record (it was stopped again).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the scheduler waits for.
pub enum Message {
    Exit { run_id: i64, outcome: Outcome },
    Ingest(ingest_thread::Report),
    Sample(Box<Sample>),
}

/// A planned run not started yet.
pub struct Queued {
    pub plan: RunPlan,
    pub run: RunRef,
    /// The search whose suggestion it tries, if any.
    pub search: Option<crate::search::SearchLink>,
}

/// What a started run hands back to the scheduler.
pub struct Launched {
    pub stopper: Stopper,
    pub grace: Duration,
    pub pid: Option<u32>,
    pub callbacks: Option<Box<RunCallbacks>>,
}

/// Everything launching needs that does not change between runs.
pub struct LaunchContext<'a> {
    pub workspace: &'a Workspace,
    pub project: &'a Project,
    pub pipelines: &'a PipelineRegistry,
    pub callbacks: &'a CallbackRegistry,
    pub base_env: Vec<(String, String)>,
    /// Host, OS, CPU and GPU models, as JSON, for every run's record.
    pub host_json: String,
    pub capture: CaptureCache,
    /// Runs go to Slurm (`resources.executor: slurm`).
    pub slurm: Option<SlurmExecutor>,
    /// The workspace's artifact store, where ended runs' artifacts go.
    pub blobs: expman_blobs::BlobStore,
}

/// Prepares and starts one run.
pub fn launch(
    ctx: &mut LaunchContext<'_>,
    store: &mut Store,
    queued: &Queued,
    gpus: &[u32],
    tx: &mpsc::Sender<Message>,
) -> (RunInfo, Result<Launched, LaunchError>) {
    let plan = &queued.plan;
    let run_dir = ctx.workspace.run_dir(ctx.project.experiment_name(), &plan.trial, &queued.run.uid);
    let info = RunInfo {
        run: queued.run.clone(),
        trial: plan.trial.clone(),
        repeat: plan.repeat,
        repeats: plan.repeats,
        run_dir: run_dir.clone(),
        gpus: gpus.to_vec(),
    };
    let result = start(ctx, store, queued, gpus, &run_dir, tx);
    (info, result)
}

fn start(
    ctx: &mut LaunchContext<'_>,
    store: &mut Store,
    queued: &Queued,
    gpus: &[u32],
    run_dir: &Path,
    tx: &mpsc::Sender<Message>,
) -> Result<Launched, LaunchError> {
    let plan = &queued.plan;
    let kind = plan.pipeline.kind.clone().unwrap_or_else(|| "process".into());
    let pipeline = ctx.pipelines.get(&kind).ok_or_else(|| LaunchError::UnknownPipeline { kind: kind.clone() })?;
    let mut spec =
        prepare::launch_spec(ctx.workspace, ctx.project, plan, &queued.run.uid, run_dir, gpus, &ctx.base_env)?;
    // What it uses, on record (with content hashes) before it starts.
    let declared = crate::inputs::declared(&plan.config)?;
    if !declared.is_empty() {
        let inputs =
            crate::inputs::resolve(store, &ctx.blobs, &ctx.project.dir, ctx.project.experiment_name(), &declared)?;
        store.record_inputs(queued.run.id, &inputs)?;
        spec.env.extend(crate::inputs::hand_over(run_dir, &inputs)?);
    }
    let callbacks = run_callbacks(ctx, queued, run_dir, spec.env.clone())?;
    let grace = plan.pipeline.grace_period.map(|g| g.0).unwrap_or(DEFAULT_GRACE);
    let workdir = spec.workdir.clone();
    let argv = plan.pipeline.command.as_ref().map(|c| c.argv()).unwrap_or_default();
    let env = spec.env.clone();
    let git = record_capture(ctx, store, queued, run_dir, &workdir, &argv, &env);

    let running = match &ctx.slurm {
        Some(slurm) => {
            if kind != "process" {
                return Err(LaunchError::SlurmNeedsProcess { kind });
            }
            let name = crate::slurm::job_name(ctx.project.experiment_name(), &plan.trial, plan.repeat, &queued.run.uid);
            slurm.launch(spec, &name, plan.pipeline.timeout.map(|t| t.0))
        }
        None => pipeline.launch(spec),
    }?;
    let pid = running.pid();
    let job = running.job();
    let host = process::host_name();
    // What was started is recorded and shown; secrets a command line was
    // built with (`--api-key ${openai.api_key}`) are masked in it.
    let secrets = expman_schema::secrets::secret_values(&plan.config);
    let command = expman_schema::secrets::mask_text(&running.description(), &secrets);
    let started = Started {
        host: &host,
        pid,
        pid_started: pid.and_then(process::start_time),
        command: &command,
        git: git.as_ref().map(|g| (g.commit.as_str(), g.dirty)),
        job: job.as_deref(),
    };
    if let Err(e) = store.mark_running(queued.run.id, &started) {
        // Started but not on record: nobody would watch or stop it.
        running.stopper().terminate();
        return Err(e.into());
    }
    let stopper = running.stopper();
    wait_in_thread(running, queued.run.id, &queued.run.uid, tx)?;
    Ok(Launched { stopper, grace, pid, callbacks })
}

/// The run's callbacks (`pipeline.callbacks`), built for it.
pub fn run_callbacks(
    ctx: &LaunchContext<'_>,
    queued: &Queued,
    run_dir: &Path,
    env: BTreeMap<String, String>,
) -> Result<Option<Box<RunCallbacks>>, CallbackConfigError> {
    let plan = &queued.plan;
    let list = plan.pipeline.callbacks.as_deref().unwrap_or_default();
    let mut built = ctx.callbacks.build(list)?;
    if let Some(link) = &queued.search
        && let Some(shared) = &link.pruning
    {
        built.push(Box::new(crate::search::SearchPruning::new(shared.clone(), link.number)));
    }
    if built.is_empty() {
        return Ok(None);
    }
    Ok(Some(Box::new(RunCallbacks::new(
        CallbackRun {
            run_id: queued.run.id,
            uid: queued.run.uid.clone(),
            trial: plan.trial.clone(),
            repeat: plan.repeat,
            run_dir: run_dir.to_path_buf(),
            env,
            replaying: false,
        },
        built,
    ))))
}

/// Waits for the run in a thread of its own; its outcome comes as a message.
pub fn wait_in_thread(
    mut running: Box<dyn crate::pipeline::Running>,
    run_id: i64,
    uid: &str,
    tx: &mpsc::Sender<Message>,
) -> Result<(), RunError> {
    let tx = tx.clone();
    std::thread::Builder::new()
        .name(format!("wait-{uid}"))
        .spawn(move || {
            let outcome = running.wait();
            let _ = tx.send(Message::Exit { run_id, outcome });
        })
        .map(|_| ())
        .map_err(RunError::WaiterThread)
}

/// Records the run's environment, git state, code snapshot, Python
/// packages and host. Problems here are warnings in the log, never a
/// reason not to run.
fn record_capture(
    ctx: &mut LaunchContext<'_>,
    store: &mut Store,
    queued: &Queued,
    run_dir: &Path,
    workdir: &Path,
    argv: &[String],
    env: &BTreeMap<String, String>,
) -> Option<capture::GitState> {
    let plan = &queued.plan;
    let settings = plan.pipeline.capture.clone().unwrap_or_default();
    let now = now_ms();
    let mut artifacts = Vec::new();
    let git = if settings.git.unwrap_or(true) {
        let root = capture::repo_root(workdir);
        match root {
            Some(root) => ctx.capture.git.entry(root.clone()).or_insert_with(|| capture::git_state(&root)).clone(),
            None => None,
        }
    } else {
        None
    };
    if let Some(diff) = git.as_ref().and_then(|g| g.diff.as_deref()) {
        let path = run_dir.join("git.diff");
        match std::fs::write(&path, diff) {
            Ok(()) => artifacts.push(shared_artifact(&path, "git.diff", "git-diff", now)),
            Err(e) => tracing::warn!("cannot save the git diff of run {}: {e}", queued.run.uid),
        }
    }
    if let Some(globs) = settings.code.as_ref().filter(|g| !g.is_empty()) {
        let key = (workdir.to_path_buf(), globs.clone());
        let snapshots = ctx.workspace.root.join(".expman").join("snapshots");
        let skip = vec![ctx.workspace.root.clone()];
        let result = ctx
            .capture
            .snapshots
            .entry(key)
            .or_insert_with(|| {
                let files = capture::matching_files(workdir, globs, &skip);
                capture::code_snapshot(workdir, &files, &snapshots).map_err(|e| Arc::new(CaptureError::Io(e)))
            })
            .clone();
        match result {
            Ok((file, left_out)) => {
                if !left_out.is_empty() {
                    tracing::warn!(
                        "code snapshot left out {} file(s) over {} MiB",
                        left_out.len(),
                        capture::SNAPSHOT_LIMIT >> 20
                    );
                }
                artifacts.push(Artifact {
                    path: file.path.display().to_string(),
                    size: Some(file.size as i64),
                    sha256: Some(file.sha256.clone()),
                    kind: "code-snapshot".into(),
                    epoch: None,
                    created_at: now,
                });
            }
            Err(e) => tracing::warn!("cannot snapshot the code of run {}: {e}", queued.run.uid),
        }
    }
    if settings.python_env == Some(true) {
        match capture::python_of(argv) {
            Some(python) => {
                let dir = ctx.workspace.root.join(".expman").join("snapshots");
                let result = ctx
                    .capture
                    .pip
                    .entry((workdir.to_path_buf(), python.clone()))
                    .or_insert_with(|| capture::pip_freeze(&python, workdir, env, &dir).map_err(Arc::new))
                    .clone();
                match result {
                    Ok(file) => artifacts.push(Artifact {
                        path: file.path.display().to_string(),
                        size: Some(file.size as i64),
                        sha256: Some(file.sha256),
                        kind: "python-env".into(),
                        epoch: None,
                        created_at: now,
                    }),
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            None => {
                tracing::warn!("`capture.python_env` is set but the command does not start Python; nothing captured")
            }
        }
    }
    if !artifacts.is_empty()
        && let Err(e) = store.add_artifacts(queued.run.id, &artifacts)
    {
        tracing::warn!("cannot record the captured files of run {}: {e}", queued.run.uid);
    }
    let set_by_expman = |k: &str| {
        k.starts_with("EXPMAN_")
            || k == "PYTHONPATH"
            || k == "CUDA_VISIBLE_DEVICES"
            || plan.pipeline.env.as_ref().is_some_and(|e| e.contains_key(k))
    };
    let secrets = expman_schema::secrets::secret_values(&plan.config);
    let env_json: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .filter(|(k, _)| set_by_expman(k))
        .map(|(k, v)| {
            let shown = if is_secret_key(k) {
                expman_schema::secrets::MASK.to_string()
            } else {
                // A name that gives no hint (`DB_URL`) with a secret in it.
                expman_schema::secrets::mask_text(v, &secrets)
            };
            (k.clone(), serde_json::Value::String(shown))
        })
        .collect();
    let record = Capture {
        env: serde_json::Value::Object(env_json).to_string(),
        git_branch: git.as_ref().and_then(|g| g.branch.clone()),
        host: ctx.host_json.clone(),
        expman_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if let Err(e) = store.write_capture(queued.run.id, &record) {
        tracing::warn!("cannot record how run {} was started: {e}", queued.run.uid);
    }
    git
}

fn shared_artifact(path: &Path, name: &str, kind: &str, now: i64) -> Artifact {
    let (size, sha) = crate::ingest::file_digest(path).map(|(s, h)| (Some(s as i64), Some(h))).unwrap_or((None, None));
    Artifact { path: name.to_string(), size, sha256: sha, kind: kind.to_string(), epoch: None, created_at: now }
}
