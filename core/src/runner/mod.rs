//! The runner: launches an experiment's [`RunPlan`]s, at most N at a time,
//! and watches each to its end.
//!
//! One scheduler loop on the calling thread (it must outlive the runs: the
//! parent-death signal of trial processes is tied to the thread that
//! started them) over a closed set of messages: a run exited, a run
//! reported progress, the ingest thread hit an error; between messages it
//! checks timeouts, cancellation and the kill deadlines of runs asked to
//! stop. A second thread ([`ingest_thread`]) tails the runs' event files
//! into the store.
//!
//! Life cycle of a run: PENDING (row created when the experiment starts) →
//! RUNNING (process started) → SUCCESS | FAILED | KILLED | TIMEOUT. Ctrl-C
//! or SIGTERM (the `cancel` flag) sends SIGTERM to every run's process
//! group, waits the grace period, then SIGKILLs; those runs end KILLED and
//! runs not started yet end KILLED too. A failing run never stops the
//! others.

mod gpus;
mod ingest_thread;
mod prepare;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use expman_schema::{Project, RunPlan};

pub use gpus::GpuPool;
pub use prepare::{flatten_params, run_env};

use crate::error::RunError;
use crate::pipeline::{Outcome, PipelineRegistry, Stopper};
use crate::process;
use crate::store::{NewRun, RunFinish, RunRef, RunStatus, Store};
use crate::time::now_ms;
use crate::workspace::Workspace;

/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// How a runner behaves.
#[derive(Clone, Debug)]
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
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            max_parallel: None,
            resume: false,
            cancel: Arc::new(AtomicBool::new(false)),
            poll: Duration::from_millis(50),
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
    Finished {
        run: &'a RunInfo,
        status: RunStatus,
        duration: Duration,
        error: Option<&'a str>,
    },
    /// A problem worth telling the user that is not a run's failure.
    Warning {
        run: Option<&'a RunInfo>,
        message: &'a str,
    },
    Cancelling {
        active: usize,
    },
}

/// Receives [`RunnerEvent`]s (the CLI's progress display, the kernel's
/// live table).
pub trait Observer {
    fn on_event(&mut self, event: RunnerEvent<'_>);
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
}

impl RunReport {
    pub fn run_ids(&self) -> Vec<i64> {
        self.runs.iter().map(|(r, _)| r.run.id).collect()
    }

    pub fn all_done(&self) -> bool {
        self.runs.iter().all(|(_, s)| s.is_done())
    }
}

/// Checks that every plan's pipeline type can be run, before anything starts.
pub fn check_pipelines(plans: &[RunPlan], registry: &PipelineRegistry) -> Result<(), RunError> {
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for plan in plans {
        let kind = plan
            .pipeline
            .kind
            .clone()
            .unwrap_or_else(|| "process".into());
        if registry.get(&kind).is_none() {
            let trials = unknown.entry(kind).or_default();
            if !trials.contains(&plan.trial_base) {
                trials.push(plan.trial_base.clone());
            }
        }
    }
    if let Some((kind, trials)) = unknown.into_iter().next() {
        return Err(RunError::UnknownPipeline(
            format!(
                "{kind}` (used by {}); a Python class name from experiment_manager cannot run here: write `type: process` with `command: [python, your_script.py]` instead, or register a Rust pipeline under that name`",
                trials.join(", ")
            ),
            registry.names().join(", "),
        ));
    }
    Ok(())
}

struct Active {
    info: RunInfo,
    stopper: Stopper,
    started: Instant,
    deadline: Option<Instant>,
    stop_reason: Option<RunStatus>,
    kill_at: Option<Instant>,
    grace: Duration,
    gpus: Vec<u32>,
}

enum Message {
    Exit { run_id: i64, outcome: Outcome },
    Ingest(ingest_thread::Report),
}

struct Queued {
    plan: RunPlan,
    run: RunRef,
    trial_id: i64,
}

/// Runs `plans` (from [`expman_schema::expand`]) of `project` in `workspace`.
pub fn run(
    workspace: &Workspace,
    project: &Project,
    plans: &[RunPlan],
    registry: &PipelineRegistry,
    options: &RunnerOptions,
    observer: &mut dyn Observer,
) -> Result<RunReport, RunError> {
    check_pipelines(plans, registry)?;
    workspace.prepare()?;
    let mut store = workspace.open_store()?;
    let experiment = project.experiment_name();
    let experiment_id = store.ensure_experiment(
        experiment,
        project.experiment.desc.as_deref(),
        &project.dir.display().to_string(),
    )?;
    let command_line: Vec<String> = std::env::args().collect();
    let host = process::host_name();
    let me = std::process::id();
    let runner_id = store.register_runner(
        &host,
        me,
        process::start_time(me),
        &process::user_name(),
        &command_line.join(" "),
    )?;
    store.log_event(
        "experiment_started",
        Some(experiment_id),
        None,
        &command_line.join(" "),
    )?;

    // Plan: trials, resume, PENDING rows.
    let mut trial_ids: HashMap<String, i64> = HashMap::new();
    let mut queue: VecDeque<Queued> = VecDeque::new();
    let mut skipped = 0;
    for plan in plans {
        let trial_id = match trial_ids.get(&plan.trial) {
            Some(id) => *id,
            None => {
                let sweep = (!plan.sweep.is_empty()).then(|| {
                    serde_json::Value::Object(
                        plan.sweep
                            .iter()
                            .map(|(k, v)| (k.clone(), v.to_json()))
                            .collect(),
                    )
                    .to_string()
                });
                let id = store.ensure_trial(
                    experiment_id,
                    &plan.trial,
                    &plan.trial_base,
                    sweep.as_deref(),
                    plan.desc.as_deref(),
                )?;
                trial_ids.insert(plan.trial.clone(), id);
                id
            }
        };
        if options.resume
            && let Some(done) =
                store.find_done(experiment_id, trial_id, plan.repeat, &plan.config_hash)?
        {
            skipped += 1;
            observer.on_event(RunnerEvent::Skipped {
                trial: &plan.trial,
                repeat: plan.repeat,
                done_as: &done,
            });
            continue;
        }
        let attempt = store.attempts(experiment_id, trial_id, plan.repeat, &plan.config_hash)? + 1;
        let uid = new_run_uid();
        let masked = expman_schema::secrets::mask(&plan.config);
        let new = NewRun {
            experiment_id,
            trial_id,
            repeat: plan.repeat,
            attempt,
            config_json: masked.to_json().to_string(),
            config_hash: plan.config_hash.clone(),
            seed: plan.seed,
            run_dir: workspace
                .run_dir(experiment, &plan.trial, &uid)
                .display()
                .to_string(),
            runner_id,
            params: prepare::flatten_params(&masked),
            tags: plan
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let run = store.create_run(&new, &uid)?;
        queue.push_back(Queued {
            plan: plan.clone(),
            run,
            trial_id,
        });
    }

    let mut gpu_pool = project.env.resources.as_ref().and_then(|r| {
        r.gpus
            .as_ref()
            .filter(|g| !g.is_empty())
            .map(|g| GpuPool::new(g, r.gpus_per_run.unwrap_or(1), r.runs_per_gpu.unwrap_or(1)))
    });
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut parallel = options
        .max_parallel
        .or_else(|| {
            project
                .env
                .resources
                .as_ref()
                .and_then(|r| r.max_parallel)
                .map(|n| n as usize)
        })
        .unwrap_or(cores)
        .max(1);
    if let Some(pool) = &gpu_pool {
        if pool.capacity() == 0 {
            return Err(RunError::Invalid(
                "`resources.gpus` has fewer GPUs than `gpus_per_run` asks for".into(),
            ));
        }
        parallel = parallel.min(pool.capacity());
    }
    observer.on_event(RunnerEvent::Plan {
        to_run: queue.len(),
        skipped,
        parallel,
    });

    let (tx, rx) = mpsc::channel::<Message>();
    let (cmd_tx, cmd_rx) = mpsc::channel::<ingest_thread::Command>();
    let (report_tx, report_rx) = mpsc::channel::<ingest_thread::Report>();
    let ingest = ingest_thread::spawn(&workspace.database, options.poll, cmd_rx, report_tx)
        .map_err(|e| RunError::io(&workspace.database, e))?;
    // Forward ingest reports into the one message channel.
    let forward_tx = tx.clone();
    let forwarder = std::thread::spawn(move || {
        for report in report_rx {
            if forward_tx.send(Message::Ingest(report)).is_err() {
                break;
            }
        }
    });

    let mut report = RunReport {
        experiment_id,
        skipped,
        ..RunReport::default()
    };
    let mut active: HashMap<i64, Active> = HashMap::new();
    let mut cancelling = false;
    let mut last_heartbeat = Instant::now();
    let base_env: Vec<(String, String)> = std::env::vars().collect();

    loop {
        // Launch while there is room.
        while !cancelling && active.len() < parallel {
            let Some(next) = queue.pop_front() else { break };
            let gpus = match gpu_pool.as_mut() {
                Some(pool) => match pool.take() {
                    Some(g) => g,
                    None => {
                        queue.push_front(next);
                        break;
                    }
                },
                None => Vec::new(),
            };
            match launch(
                workspace, project, registry, &mut store, &next, &gpus, &base_env, &tx,
            ) {
                (info, Ok((stopper, grace))) => {
                    let _ = cmd_tx.send(ingest_thread::Command::Watch {
                        run_id: info.run.id,
                        run_dir: info.run_dir.clone(),
                        offset: 0,
                    });
                    observer.on_event(RunnerEvent::Started { run: &info });
                    let deadline = next.plan.pipeline.timeout.map(|t| Instant::now() + t.0);
                    active.insert(
                        info.run.id,
                        Active {
                            info,
                            stopper,
                            started: Instant::now(),
                            deadline,
                            stop_reason: None,
                            kill_at: None,
                            grace,
                            gpus,
                        },
                    );
                }
                (info, Err(message)) => {
                    if let Some(pool) = gpu_pool.as_mut() {
                        pool.give_back(&gpus);
                    }
                    let finish = RunFinish {
                        status: RunStatus::Failed,
                        exit_code: None,
                        signal: None,
                        error: Some(message.clone()),
                        ended_at: now_ms(),
                    };
                    store.finish_run(info.run.id, &finish)?;
                    observer.on_event(RunnerEvent::Finished {
                        run: &info,
                        status: RunStatus::Failed,
                        duration: Duration::ZERO,
                        error: Some(&message),
                    });
                    report.runs.push((info, RunStatus::Failed));
                }
            }
        }
        if active.is_empty() && (queue.is_empty() || cancelling) {
            break;
        }

        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Message::Exit { run_id, outcome }) => {
                if let Some(done) = active.remove(&run_id) {
                    let (reply_tx, reply_rx) = mpsc::channel();
                    let _ = cmd_tx.send(ingest_thread::Command::Drain {
                        run_id,
                        reply: reply_tx,
                    });
                    let drained = reply_rx.recv().unwrap_or_default();
                    if drained.malformed > 0 {
                        let message = format!(
                            "{} malformed event line(s) skipped; first at {}",
                            drained.malformed,
                            drained.first_malformed.as_deref().unwrap_or("?")
                        );
                        store.log_event(
                            "malformed_events",
                            Some(experiment_id),
                            Some(run_id),
                            &message,
                        )?;
                        observer.on_event(RunnerEvent::Warning {
                            run: Some(&done.info),
                            message: &message,
                        });
                    }
                    if let Some(error) = &drained.error {
                        observer.on_event(RunnerEvent::Warning {
                            run: Some(&done.info),
                            message: error,
                        });
                    }
                    let (status, error) =
                        judge(&outcome, done.stop_reason, &done.info.run_dir, done.grace);
                    store.finish_run(
                        run_id,
                        &RunFinish {
                            status,
                            exit_code: outcome.exit_code,
                            signal: outcome.signal,
                            error: error.clone(),
                            ended_at: now_ms(),
                        },
                    )?;
                    if let Some(pool) = gpu_pool.as_mut() {
                        pool.give_back(&done.gpus);
                    }
                    observer.on_event(RunnerEvent::Finished {
                        run: &done.info,
                        status,
                        duration: done.started.elapsed(),
                        error: error.as_deref(),
                    });
                    report.runs.push((done.info, status));
                }
            }
            Ok(Message::Ingest(ingest_thread::Report::Progress { run_id, progress })) => {
                if let Some(a) = active.get(&run_id) {
                    observer.on_event(RunnerEvent::Progress {
                        run: &a.info,
                        epoch: progress.epoch,
                        latest: &progress.latest,
                    });
                }
            }
            Ok(Message::Ingest(ingest_thread::Report::Error { run_id, message })) => {
                let run = active.get(&run_id).map(|a| &a.info);
                observer.on_event(RunnerEvent::Warning {
                    run,
                    message: &message,
                });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }

        let now = Instant::now();
        if options.cancel.load(Ordering::SeqCst) && !cancelling {
            cancelling = true;
            observer.on_event(RunnerEvent::Cancelling {
                active: active.len(),
            });
            for a in active.values_mut() {
                a.stop_reason = Some(RunStatus::Killed);
                a.stopper.terminate();
                a.kill_at = Some(now + a.grace);
            }
        }
        for a in active.values_mut() {
            if a.stop_reason.is_none() && a.deadline.is_some_and(|d| now >= d) {
                a.stop_reason = Some(RunStatus::Timeout);
                a.stopper.terminate();
                a.kill_at = Some(now + a.grace);
            }
            if a.kill_at.is_some_and(|k| now >= k) {
                a.stopper.kill();
                a.kill_at = None;
            }
        }
        if last_heartbeat.elapsed() > Duration::from_secs(15) {
            store.heartbeat(runner_id)?;
            last_heartbeat = Instant::now();
        }
    }

    // Runs never started because of Ctrl-C.
    for queued in queue {
        let finish = RunFinish {
            status: RunStatus::Killed,
            exit_code: None,
            signal: None,
            error: Some("cancelled before it started".into()),
            ended_at: now_ms(),
        };
        store.finish_run(queued.run.id, &finish)?;
        let _ = queued.trial_id;
        report.runs.push((
            RunInfo {
                run: queued.run,
                trial: queued.plan.trial.clone(),
                repeat: queued.plan.repeat,
                repeats: queued.plan.repeats,
                run_dir: PathBuf::new(),
                gpus: Vec::new(),
            },
            RunStatus::Killed,
        ));
    }
    let _ = cmd_tx.send(ingest_thread::Command::Shutdown);
    let _ = ingest.join();
    drop(tx);
    let _ = forwarder.join();
    store.end_runner(runner_id)?;
    report.cancelled = cancelling;
    let summary = format!("{} runs: {}", report.runs.len(), status_counts(&report));
    store.log_event(
        if cancelling {
            "experiment_cancelled"
        } else {
            "experiment_finished"
        },
        Some(experiment_id),
        None,
        &summary,
    )?;
    Ok(report)
}

/// `3 SUCCESS, 1 FAILED`.
pub fn status_counts(report: &RunReport) -> String {
    let mut counts: BTreeMap<RunStatus, usize> = BTreeMap::new();
    for (_, s) in &report.runs {
        *counts.entry(*s).or_default() += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prepares and starts one run; on failure returns the run and why.
#[allow(clippy::too_many_arguments)]
fn launch(
    workspace: &Workspace,
    project: &Project,
    registry: &PipelineRegistry,
    store: &mut Store,
    queued: &Queued,
    gpus: &[u32],
    base_env: &[(String, String)],
    tx: &mpsc::Sender<Message>,
) -> (RunInfo, Result<(Stopper, Duration), String>) {
    let plan = &queued.plan;
    let run_dir = workspace.run_dir(project.experiment_name(), &plan.trial, &queued.run.uid);
    let info = RunInfo {
        run: queued.run.clone(),
        trial: plan.trial.clone(),
        repeat: plan.repeat,
        repeats: plan.repeats,
        run_dir: run_dir.clone(),
        gpus: gpus.to_vec(),
    };
    let result = start(
        workspace, project, registry, store, queued, gpus, base_env, &run_dir, tx,
    );
    (info, result)
}

#[allow(clippy::too_many_arguments)]
fn start(
    workspace: &Workspace,
    project: &Project,
    registry: &PipelineRegistry,
    store: &mut Store,
    queued: &Queued,
    gpus: &[u32],
    base_env: &[(String, String)],
    run_dir: &std::path::Path,
    tx: &mpsc::Sender<Message>,
) -> Result<(Stopper, Duration), String> {
    let plan = &queued.plan;
    let kind = plan
        .pipeline
        .kind
        .clone()
        .unwrap_or_else(|| "process".into());
    let pipeline = registry
        .get(&kind)
        .ok_or_else(|| format!("unknown pipeline type `{kind}`"))?;
    let spec = prepare::launch_spec(
        workspace,
        project,
        plan,
        &queued.run.uid,
        run_dir,
        gpus,
        base_env,
    )
    .map_err(|e| e.to_string())?;
    let grace = plan
        .pipeline
        .grace_period
        .map(|g| g.0)
        .unwrap_or(DEFAULT_GRACE);
    let workdir = spec.workdir.clone();
    let mut running = pipeline.launch(spec).map_err(|e| e.to_string())?;
    let pid = running.pid();
    let git = prepare::git_state(&workdir);
    store
        .mark_running(
            queued.run.id,
            &process::host_name(),
            pid,
            pid.and_then(process::start_time),
            &running.description(),
            git.as_ref().map(|(c, d)| (c.as_str(), *d)),
        )
        .map_err(|e| e.to_string())?;
    let stopper = running.stopper();
    let run_id = queued.run.id;
    let tx = tx.clone();
    std::thread::Builder::new()
        .name(format!("wait-{}", queued.run.uid))
        .spawn(move || {
            let outcome = running.wait();
            let _ = tx.send(Message::Exit { run_id, outcome });
        })
        .map_err(|e| format!("cannot start a waiter thread: {e}"))?;
    Ok((stopper, grace))
}

/// The status and error text of an ended run.
fn judge(
    outcome: &Outcome,
    stop_reason: Option<RunStatus>,
    run_dir: &std::path::Path,
    grace: Duration,
) -> (RunStatus, Option<String>) {
    if let Some(reason) = stop_reason {
        let how = match (outcome.signal, outcome.exit_code) {
            (Some(9), _) => format!(
                "it did not stop within the {}s grace period and was killed",
                grace.as_secs_f64()
            ),
            (Some(s), _) => format!("it stopped on {}", process::describe_signal(s)),
            (None, Some(c)) => format!("it exited with code {c}"),
            _ => "it stopped".into(),
        };
        let why = match reason {
            RunStatus::Timeout => "the run exceeded `pipeline.timeout`",
            _ => "the run was cancelled",
        };
        return (reason, Some(format!("{why}; {how}")));
    }
    if outcome.succeeded() {
        return (RunStatus::Success, None);
    }
    let mut message = match (&outcome.error, outcome.signal, outcome.exit_code) {
        (Some(e), _, _) => e.clone(),
        (None, Some(s), _) => format!("killed by {}", process::describe_signal(s)),
        (None, None, Some(c)) => format!("exited with code {c}"),
        _ => "ended without an exit status".into(),
    };
    if let Some(tail) = prepare::stderr_tail(run_dir, 20) {
        message.push_str("\n--- last lines of stderr.log ---\n");
        message.push_str(&tail);
    }
    (RunStatus::Failed, Some(message))
}

/// A short id that is unique across processes and machines: 12 base-32
/// characters from the time, the pid, a counter and the host.
pub fn new_run_uid() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::SeqCst).to_le_bytes());
    hasher.update(process::host_name().as_bytes());
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
