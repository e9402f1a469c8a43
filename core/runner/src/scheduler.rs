//! The scheduler loop: plan the runs (PENDING rows), launch while there is
//! room, react to messages (exits, progress, callback actions, hardware
//! samples), enforce timeouts, cancellation and stop deadlines, and record
//! every run's end.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use expman_schema::model::{ExecutorKind, GpuMode};
use expman_schema::{Project, RunPlan};

use crate::callbacks::Action;
use crate::error::RunError;
use crate::gpus::GpuPool;
use crate::ingest_thread;
use crate::launch::{LaunchContext, Launched, Message, Queued, launch};
use crate::pipeline::{Outcome, PipelineRegistry, Stopper};
use crate::prepare::{self, STOP_FILE, STOP_REQUEST_FILE};
use crate::rows::{RunTarget, sweep_json};
use crate::sampling::{SamplerHandle, SamplerThread};
use crate::search::{ActiveSearch, SearchJob, SearchLink};
use crate::slurm::{SlurmExecutor, SlurmSettings};
use crate::team::TeamThread;
use crate::workspace::Workspace;
use crate::{Observer, RunInfo, RunReport, RunnerEvent, RunnerOptions, StopTarget, new_run_uid, status_counts};
use expman_os::hardware::{GpuPolicy, Gpus, Sample, Sampler};
use expman_os::process;
use expman_os::time::now_ms;
use expman_store::{ActiveRun, RunFinish, RunRef, RunStatus, Store};
use expman_trackers::TrackerEnv;
use expman_trackers::thread::TrackerThread;

/// Why, and how far, a run is being stopped.
struct Stopping {
    status: RunStatus,
    message: Option<String>,
    /// When to send SIGTERM (after a polite request).
    terminate_at: Option<Instant>,
    /// When to send SIGKILL.
    kill_at: Option<Instant>,
}

struct Active {
    info: RunInfo,
    stopper: Stopper,
    started: Instant,
    deadline: Option<Instant>,
    stopping: Option<Stopping>,
    grace: Duration,
    gpus: Vec<u32>,
}

pub struct Scheduler<'a> {
    ctx: LaunchContext<'a>,
    options: &'a RunnerOptions,
    observer: &'a mut dyn Observer,
    store: Store,
    experiment_id: i64,
    runner_id: i64,
    queue: VecDeque<Queued>,
    active: HashMap<i64, Active>,
    parallel: usize,
    gpu_pool: Option<GpuPool>,
    report: RunReport,
    cancelling: bool,
    tx: Sender<Message>,
    rx: Receiver<Message>,
    ingest: Sender<ingest_thread::Command>,
    threads: Vec<JoinHandle<()>>,
    sampler: Option<(SamplerThread, SamplerHandle)>,
    trackers: Option<TrackerThread>,
    /// Sends stored artifacts to the workspace's remote, when it has one.
    uploader: Option<crate::upload::Uploader>,
    #[cfg_attr(not(feature = "team"), allow(dead_code))]
    team: Option<TeamThread>,
    last_heartbeat: Instant,
    /// When run directories were last checked for `expman stop` requests.
    last_stop_scan: Instant,
    /// Why the record's disk is full, once it is (see `stop_for_space`).
    out_of_space: Option<String>,
    /// Exits received while waiting for them there, to record.
    exited: Vec<(i64, Outcome)>,
    /// The trials with a `search:`, making runs as slots free up.
    searches: Vec<ActiveSearch<'a>>,
    /// Which search each active run of a search belongs to.
    search_runs: HashMap<i64, usize>,
    /// Where claimed runs are recorded.
    target: RunTarget<'a>,
}

impl<'a> Scheduler<'a> {
    /// Opens the record, creates the experiment, trials and PENDING runs,
    /// and starts the ingest and sampling threads.
    pub fn start(
        workspace: &'a Workspace,
        project: &'a Project,
        plans: &[RunPlan],
        searches: &'a [SearchJob<'a>],
        pipelines: &'a PipelineRegistry,
        options: &'a RunnerOptions,
        observer: &'a mut dyn Observer,
    ) -> Result<Scheduler<'a>, RunError> {
        let checked = check_before_recording(workspace, project, options, observer)?;
        workspace.prepare()?;
        let mut store = workspace.open_store()?;
        let experiment = project.experiment_name();
        let (experiment_id, runner_id) = open_experiment(&mut store, project)?;
        let team = match &workspace.team {
            Some(team) => Some(crate::team::spawn(&workspace.database, team, experiment)?),
            None => None,
        };
        let trackers = if checked.trackers.is_empty() {
            None
        } else {
            Some(
                TrackerThread::spawn(&workspace.database, &workspace.root, experiment_id, checked.trackers)
                    .map_err(|e| RunError::io(&workspace.database, e))?,
            )
        };

        let resources = project.env.resources.clone().unwrap_or_default();
        let slurm = (resources.executor == Some(ExecutorKind::Slurm))
            .then(|| SlurmExecutor::new(SlurmSettings::from_resources(&resources)));
        let to_queue = ToQueue { workspace, experiment, experiment_id, runner_id, resume: options.resume };
        let queued = to_queue.plans(&mut store, plans, slurm.is_some(), observer)?;
        let report = RunReport { experiment_id, skipped: queued.skipped, ..RunReport::default() };
        let budgets: usize = searches.iter().map(|s| s.def.budget as usize).sum();
        let (parallel, gpu_pool) =
            parallelism(&resources, options, slurm.is_some(), queued.runs.len() + queued.adopted.len() + budgets)?;
        let mut active_searches = Vec::new();
        let mut search_left = 0;
        for job in searches {
            let search = ActiveSearch::open(
                job,
                &mut store,
                experiment_id,
                options.resume,
                parallel,
                workspace.database.clone(),
            )?;
            let progress = search.progress(&store)?;
            search_left += progress.left() as usize;
            if search.continued {
                let message = format!("continuing {}", progress.describe());
                store.log_event("search_continued", Some(experiment_id), None, &message)?;
            }
            active_searches.push(search);
        }
        observer.on_event(RunnerEvent::Plan {
            to_run: queued.runs.len() + queued.adopted.len() + search_left,
            skipped: report.skipped,
            parallel,
        });
        for search in &active_searches {
            observer.on_event(RunnerEvent::Search { progress: &search.progress(&store)? });
        }

        let (tx, rx) = mpsc::channel::<Message>();
        let (ingest, threads) = spawn_ingest(workspace, options, &tx)?;
        let hardware = project.env.hardware.clone().unwrap_or_default();
        let sampler = if hardware.enabled.unwrap_or(true) {
            let interval =
                hardware.interval.map(|i| i.0).unwrap_or(Duration::from_secs(2)).max(Duration::from_millis(100));
            let samples = tx.clone();
            let sink = Box::new(move |s: Sample| {
                let _ = samples.send(Message::Sample(Box::new(s)));
            });
            let thread = SamplerThread::spawn(checked.sampler, interval, Some(&workspace.database), Some(sink))
                .map_err(|e| RunError::io(&workspace.database, e))?;
            let handle = thread.handle();
            Some((thread, handle))
        } else {
            None
        };

        // A remote that is misconfigured fails here; one that is down does not.
        let uploader = match &workspace.remote {
            Some(remote) => Some(crate::upload::Uploader::spawn(remote, checked.blobs.clone())?),
            None => None,
        };
        let mut scheduler = Scheduler {
            ctx: LaunchContext {
                workspace,
                project,
                pipelines,
                callbacks: &options.callbacks,
                base_env: std::env::vars().collect(),
                host_json: checked.host_json,
                capture: Default::default(),
                slurm,
                blobs: checked.blobs,
            },
            options,
            observer,
            store,
            experiment_id,
            runner_id,
            queue: queued.runs,
            active: HashMap::new(),
            parallel,
            gpu_pool,
            report,
            cancelling: false,
            tx,
            rx,
            ingest,
            threads,
            sampler,
            trackers,
            uploader,
            team,
            last_heartbeat: Instant::now(),
            last_stop_scan: Instant::now(),
            out_of_space: None,
            exited: Vec::new(),
            searches: active_searches,
            search_runs: HashMap::new(),
            target: RunTarget { workspace, experiment, experiment_id, runner_id },
        };
        for (queued, orphan) in queued.adopted {
            scheduler.reattach(queued, orphan)?;
        }
        Ok(scheduler)
    }

    /// Watches a Slurm job an earlier runner submitted, as if this runner
    /// had: its events from where the record stops, its end, its status.
    fn reattach(&mut self, queued: Queued, orphan: ActiveRun) -> Result<(), RunError> {
        let (Some(slurm), Some(job)) = (&self.ctx.slurm, orphan.job.as_deref()) else { return Ok(()) };
        if !self.store.adopt_run(orphan.run.id, orphan.runner.as_ref().map(|r| r.id), self.runner_id)? {
            return Ok(()); // Another runner was quicker.
        }
        let run_dir = PathBuf::from(orphan.run_dir.clone().unwrap_or_default());
        let running = slurm.attach(job, run_dir.clone());
        let message = format!("re-attached to Slurm job {job}");
        self.store.log_event("run_reattached", Some(self.experiment_id), Some(orphan.run.id), &message)?;
        let info = RunInfo {
            run: queued.run.clone(),
            trial: queued.plan.trial.clone(),
            repeat: queued.plan.repeat,
            repeats: queued.plan.repeats,
            run_dir: run_dir.clone(),
            gpus: Vec::new(),
        };
        let uid = &queued.run.uid;
        let resolved = expman_schema::interp::fill_run_id(&queued.plan.config, uid);
        let env = prepare::run_env(
            self.ctx.workspace,
            self.ctx.project,
            &queued.plan,
            uid,
            &run_dir,
            &run_dir.join("config.yaml"),
            &[],
            &self.ctx.base_env,
            &resolved,
        );
        let callbacks = crate::launch::run_callbacks(&self.ctx, &queued, &run_dir, env).unwrap_or_else(|e| {
            self.observer.on_event(RunnerEvent::Warning { run: Some(&info), message: &e.to_string() });
            None
        });
        let stopper = running.stopper();
        crate::launch::wait_in_thread(running, orphan.run.id, &queued.run.uid, &self.tx)?;
        let _ = self.ingest.send(ingest_thread::Command::Watch {
            run_id: orphan.run.id,
            run_dir,
            offset: orphan.events_offset,
            callbacks,
        });
        self.observer.on_event(RunnerEvent::Warning { run: Some(&info), message: &message });
        self.observer.on_event(RunnerEvent::Started { run: &info });
        let grace = queued.plan.pipeline.grace_period.map(|g| g.0).unwrap_or(crate::DEFAULT_GRACE);
        let active =
            Active { info, stopper, started: Instant::now(), deadline: None, stopping: None, grace, gpus: Vec::new() };
        self.active.insert(orphan.run.id, active);
        Ok(())
    }

    /// Runs everything to the end.
    pub fn run(mut self) -> Result<RunReport, RunError> {
        loop {
            match self.turn() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if e.is_disk_full() && self.out_of_space.is_none() => self.stop_for_space(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        let out_of_space = self.out_of_space.clone();
        let workspace = self.ctx.workspace.root.clone();
        let report = self.close()?;
        match out_of_space {
            Some(cause) => Err(RunError::DiskFull { workspace, cause }),
            None => Ok(report),
        }
    }

    /// One turn of the loop: launch, wait for a message, act on it, check
    /// deadlines. False when everything has ended.
    fn turn(&mut self) -> Result<bool, RunError> {
        for (run_id, outcome) in std::mem::take(&mut self.exited) {
            self.finish(run_id, outcome)?;
        }
        self.launch_while_room()?;
        let searching = self.searches.iter().any(|s| !s.exhausted);
        if self.active.is_empty() && ((self.queue.is_empty() && !searching) || self.cancelling) {
            return Ok(false);
        }
        match self.rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Message::Exit { run_id, outcome }) => self.finish(run_id, outcome)?,
            Ok(Message::Ingest(ingest_thread::Report::Progress { run_id, progress })) => {
                if let Some(a) = self.active.get(&run_id) {
                    self.observer.on_event(RunnerEvent::Progress {
                        run: &a.info,
                        epoch: progress.epoch,
                        latest: &progress.latest,
                    });
                }
            }
            Ok(Message::Ingest(ingest_thread::Report::Error { run_id, message })) => {
                let run = self.active.get(&run_id).map(|a| &a.info);
                self.observer.on_event(RunnerEvent::Warning { run, message: &message });
            }
            Ok(Message::Ingest(ingest_thread::Report::DiskFull { message })) => {
                if self.out_of_space.is_none() {
                    self.stop_for_space(message);
                }
            }
            Ok(Message::Ingest(ingest_thread::Report::Action { run_id, action })) => {
                self.act(run_id, action)?;
            }
            Ok(Message::Sample(sample)) => {
                self.observer.on_event(RunnerEvent::Hardware { sample: &sample });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(false),
        }
        self.take_stop_requests()?;
        self.observer.tick();
        self.enforce_deadlines();
        if self.last_heartbeat.elapsed() > Duration::from_secs(15) {
            self.store.heartbeat(self.runner_id)?;
            self.last_heartbeat = Instant::now();
        }
        Ok(true)
    }

    /// A write that may be given up when the record's disk is full (a
    /// warning in the audit log, say): the first such failure stops every
    /// run for space; the write is not retried.
    fn unless_full(&mut self, written: Result<(), RunError>) -> Result<(), RunError> {
        match written {
            Err(e) if e.is_disk_full() => {
                if self.out_of_space.is_none() {
                    self.stop_for_space(e.to_string());
                }
                Ok(())
            }
            other => other,
        }
    }

    /// The record's disk is full: every run is killed at once (a run that
    /// cannot be recorded must not go on, nor fill the disk further), and
    /// once they have exited the workspace's reserve is freed so that their
    /// ends can be recorded (FAILED, saying why). Nothing more is started.
    fn stop_for_space(&mut self, cause: String) {
        let _ = self.ingest.send(ingest_thread::Command::Halt);
        let message = format!(
            "stopped: the workspace's disk is full ({cause}); free some space, then `expman run --resume` runs it again"
        );
        self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
        self.out_of_space = Some(cause);
        self.cancelling = true;
        for a in self.active.values_mut() {
            a.stopper.kill();
            a.stopping = Some(Stopping {
                status: RunStatus::Failed,
                message: Some(message.clone()),
                terminate_at: None,
                kill_at: None,
            });
        }
        // Their exits, before the reserve is freed: a trial still writing
        // would take the space the record needs.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.exited.len() < self.active.len() && Instant::now() < deadline {
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Message::Exit { run_id, outcome }) => self.exited.push((run_id, outcome)),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !self.ctx.workspace.release_reserve() {
            tracing::warn!(
                "the workspace had no reserve to free; the runs' ends may not be recorded until there is space"
            );
        }
    }

    fn launch_while_room(&mut self) -> Result<(), RunError> {
        while !self.cancelling && self.active.len() < self.parallel {
            // Submitting hundreds of Slurm jobs takes a while: Ctrl-C stops
            // the submitting, and the runner keeps saying it is alive.
            if self.options.cancel.load(Ordering::SeqCst) {
                break;
            }
            if self.last_heartbeat.elapsed() > Duration::from_secs(15) {
                self.store.heartbeat(self.runner_id)?;
                self.last_heartbeat = Instant::now();
            }
            let next = match self.queue.pop_front() {
                Some(next) => next,
                None => match self.claim()? {
                    Some(next) => next,
                    None => break,
                },
            };
            let gpus = match self.gpu_pool.as_mut() {
                Some(pool) => match pool.take() {
                    Some(g) => g,
                    None => {
                        self.queue.push_front(next);
                        break;
                    }
                },
                None => Vec::new(),
            };
            match launch(&mut self.ctx, &mut self.store, &next, &gpus, &self.tx) {
                (info, Ok(Launched { stopper, grace, pid, callbacks })) => {
                    let _ = self.ingest.send(ingest_thread::Command::Watch {
                        run_id: info.run.id,
                        run_dir: info.run_dir.clone(),
                        offset: 0,
                        callbacks,
                    });
                    if let (Some((_, handle)), Some(pid)) = (&self.sampler, pid) {
                        handle.add(info.run.id, pid);
                    }
                    self.observer.on_event(RunnerEvent::Started { run: &info });
                    // On Slurm the job's time limit is the timeout (it
                    // counts from the job's start, not its submission).
                    let deadline = match self.ctx.slurm {
                        Some(_) => None,
                        None => next.plan.pipeline.timeout.map(|t| Instant::now() + t.0),
                    };
                    if let Some(link) = &next.search {
                        self.search_runs.insert(info.run.id, link.index);
                    }
                    let active =
                        Active { info, stopper, started: Instant::now(), deadline, stopping: None, grace, gpus };
                    self.active.insert(active.info.run.id, active);
                }
                (info, Err(error)) => {
                    let message = error.to_string();
                    if let Some(pool) = self.gpu_pool.as_mut() {
                        pool.give_back(&gpus);
                    }
                    self.end_unstarted(info, RunStatus::Failed, &message)?;
                    if let Some(link) = &next.search {
                        self.search_run_ended(link.index)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A run's process ended: drain its events, decide its status, run the
    /// end callbacks, record it.
    fn finish(&mut self, run_id: i64, outcome: Outcome) -> Result<(), RunError> {
        let Some(done) = self.active.remove(&run_id) else { return Ok(()) };
        let search = self.search_runs.remove(&run_id);
        let (reply_tx, reply_rx) = mpsc::channel();
        let _ = self.ingest.send(ingest_thread::Command::Drain { run_id, reply: reply_tx });
        let drained = reply_rx.recv().unwrap_or_default();
        if drained.malformed > 0 {
            let message = format!(
                "{} malformed event line(s) skipped; first at {}",
                drained.malformed,
                drained.first_malformed.as_deref().unwrap_or("?")
            );
            let logged = self.store.log_event("malformed_events", Some(self.experiment_id), Some(run_id), &message);
            self.unless_full(logged.map_err(RunError::from))?;
            self.observer.on_event(RunnerEvent::Warning { run: Some(&done.info), message: &message });
        }
        if let Some(error) = &drained.error {
            self.observer.on_event(RunnerEvent::Warning { run: Some(&done.info), message: error });
        }
        if drained.epoch.is_some() || !drained.latest.is_empty() {
            self.observer.on_event(RunnerEvent::Progress {
                run: &done.info,
                epoch: drained.epoch,
                latest: &drained.latest,
            });
        }
        // A stop a callback asked for that the scheduler had not acted on
        // yet (the process ended first) still decides the status.
        let mut stopping = done.stopping;
        if stopping.is_none()
            && let Some(Action::Stop { status, message, tags }) = drained.stop
        {
            let annotated = self.store.annotate_run(run_id, &tags);
            self.unless_full(annotated.map_err(RunError::from))?;
            let logged = self.store.log_event("stop_requested", Some(self.experiment_id), Some(run_id), &message);
            self.unless_full(logged.map_err(RunError::from))?;
            stopping = Some(Stopping { status, message: Some(message), terminate_at: None, kill_at: None });
        }
        let (status, error) = judge(&outcome, stopping.as_ref(), &done.info.run_dir, done.grace);
        if let Some(mut callbacks) = drained.callbacks {
            let actions = callbacks.end(status);
            let applied = self.apply_end_actions(&done.info, actions);
            self.unless_full(applied)?;
        }
        // Its files are final now: into the artifact store.
        let absorbed = crate::artifacts::absorb_run(
            &mut self.store,
            &self.ctx.blobs,
            &self.ctx.workspace.root,
            run_id,
            &done.info.run_dir,
        );
        if let Some(uploader) = &self.uploader {
            for digest in &absorbed.digests {
                uploader.push(digest);
            }
        }
        for warning in &absorbed.warnings {
            let logged = self.store.log_event("warning", None, Some(run_id), warning);
            self.unless_full(logged.map_err(RunError::from))?;
            self.observer.on_event(RunnerEvent::Warning { run: Some(&done.info), message: warning });
        }
        let wall_ms = done.started.elapsed().as_millis() as i64;
        if let Some((_, handle)) = &self.sampler {
            handle.remove(run_id, wall_ms, outcome.usage);
        }
        let end = RunFinish {
            status,
            exit_code: outcome.exit_code,
            signal: outcome.signal,
            error: error.clone(),
            ended_at: now_ms(),
        };
        if let Err(e) = self.store.finish_run(run_id, &end) {
            // The end of a run is recorded whatever else could not be: on a
            // full disk, once the reserve is freed.
            let e = RunError::from(e);
            if !e.is_disk_full() {
                return Err(e);
            }
            if self.out_of_space.is_none() {
                self.stop_for_space(e.to_string());
            }
            self.store.finish_run(run_id, &end)?;
        }
        if let Some(pool) = self.gpu_pool.as_mut() {
            pool.give_back(&done.gpus);
        }
        self.observer.on_event(RunnerEvent::Finished {
            run: &done.info,
            status,
            duration: done.started.elapsed(),
            error: error.as_deref(),
        });
        self.report.runs.push((done.info, status));
        if let Some(index) = search {
            self.search_run_ended(index)?;
        }
        Ok(())
    }

    /// The next run of a search with room (in turn), recorded PENDING; a
    /// suggestion whose config is invalid is recorded FAILED and the next
    /// one tried.
    fn claim(&mut self) -> Result<Option<Queued>, RunError> {
        if self.cancelling || self.out_of_space.is_some() {
            return Ok(None);
        }
        for index in 0..self.searches.len() {
            loop {
                let search = &mut self.searches[index];
                if search.exhausted || search.running_here >= search.parallel {
                    break;
                }
                let Some(claimed) = search.claim(&mut self.store, &self.target, self.options.resume)? else {
                    let progress = search.progress(&self.store)?;
                    self.observer.on_event(RunnerEvent::Search { progress: &progress });
                    break;
                };
                let link = SearchLink { index, number: claimed.number, pruning: search.pruning.clone() };
                let queued = Queued { plan: claimed.plan, run: claimed.run, search: Some(link) };
                let Some(invalid) = claimed.invalid else { return Ok(Some(queued)) };
                let message = format!("the settings the search suggested are invalid: {invalid}");
                self.end_unstarted(unstarted_info(queued), RunStatus::Failed, &message)?;
                self.search_run_ended(index)?;
            }
        }
        Ok(None)
    }

    /// A run of search `index` ended (or will not start): its slot frees,
    /// and front ends see how the search stands.
    fn search_run_ended(&mut self, index: usize) -> Result<(), RunError> {
        let Some(search) = self.searches.get_mut(index) else { return Ok(()) };
        search.running_here = search.running_here.saturating_sub(1);
        let points = search.points(&self.store)?;
        let mut progress = crate::search::progress(&search.job.trial, &search.job.def, &points);
        progress.continued = search.continued;
        progress.finished = search.exhausted;
        let silent = points
            .iter()
            .filter(|p| matches!(p.status, Some(RunStatus::Success | RunStatus::EarlyStopped)) && p.value.is_none());
        if !search.warned_missing
            && let Some(point) = silent.clone().next()
        {
            search.warned_missing = true;
            let message = format!(
                "{} run(s) of search `{}` ended without reporting `{}` (the first: {}): the search counts them as failed; does the program log that metric?",
                silent.count(),
                search.job.trial,
                search.job.def.metric,
                point.run.as_ref().map_or("?", |r| r.uid.as_str()),
            );
            self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
        }
        self.observer.on_event(RunnerEvent::Search { progress: &progress });
        Ok(())
    }

    fn apply_end_actions(&mut self, info: &RunInfo, actions: Vec<Action>) -> Result<(), RunError> {
        for action in actions {
            match action {
                Action::ArtifactsDeleted(paths) => self.store.mark_artifacts_deleted(info.run.id, &paths)?,
                Action::Event { kind, detail } => self.store.log_event(&kind, None, Some(info.run.id), &detail)?,
                Action::Warning(message) => {
                    self.store.log_event("warning", None, Some(info.run.id), &message)?;
                    self.observer.on_event(RunnerEvent::Warning { run: Some(info), message: &message });
                }
                Action::Stop { .. } => {}
            }
        }
        Ok(())
    }

    /// What a callback asked of a running run.
    fn act(&mut self, run_id: i64, action: Action) -> Result<(), RunError> {
        match action {
            Action::Stop { status, message, tags } => {
                // A run already ended had its stop applied when it was drained.
                let Some(a) = self.active.get_mut(&run_id) else { return Ok(()) };
                if a.stopping.is_some() {
                    return Ok(());
                }
                self.store.annotate_run(run_id, &tags)?;
                self.store.log_event("stop_requested", Some(self.experiment_id), Some(run_id), &message)?;
                ask_to_stop(&a.info, &a.stopper);
                a.stopping = Some(Stopping {
                    status,
                    message: Some(message.clone()),
                    terminate_at: Some(Instant::now() + a.grace),
                    kill_at: None,
                });
                self.observer.on_event(RunnerEvent::Stopping { run: &a.info, message: &message });
            }
            Action::Warning(message) => {
                // Also for a run that has just ended: hooks report late.
                self.store.log_event("warning", None, Some(run_id), &message)?;
                let info = self
                    .active
                    .get(&run_id)
                    .map(|a| &a.info)
                    .or_else(|| self.report.runs.iter().find(|(r, _)| r.run.id == run_id).map(|(r, _)| r));
                self.observer.on_event(RunnerEvent::Warning { run: info, message: &message });
            }
            Action::ArtifactsDeleted(paths) => self.store.mark_artifacts_deleted(run_id, &paths)?,
            Action::Event { kind, detail } => self.store.log_event(&kind, None, Some(run_id), &detail)?,
        }
        Ok(())
    }

    /// Acts on `%expman stop` requests: active runs are asked to stop and
    /// terminated like a cancellation; queued ones never start.
    fn take_stop_requests(&mut self) -> Result<(), RunError> {
        let mut targets = self.options.stop.take();
        if self.last_stop_scan.elapsed() >= Duration::from_secs(1) {
            self.last_stop_scan = Instant::now();
            targets.extend(self.stop_files());
        }
        if targets.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let hits = |uid: &str, trial: &str| targets.iter().any(|t| t.matches(uid, trial));
        for a in self.active.values_mut() {
            if a.stopping.is_none() && hits(&a.info.run.uid, &a.info.trial) {
                self.store.log_event("stop_requested", Some(self.experiment_id), Some(a.info.run.id), "by the user")?;
                ask_to_stop(&a.info, &a.stopper);
                a.stopper.terminate();
                a.stopping = Some(Stopping {
                    status: RunStatus::Killed,
                    message: Some(expman_store::STOPPED_BY_USER.into()),
                    terminate_at: None,
                    kill_at: Some(now + a.grace),
                });
            }
        }
        let (stopped, kept): (Vec<Queued>, Vec<Queued>) =
            std::mem::take(&mut self.queue).into_iter().partition(|q| hits(&q.run.uid, &q.plan.trial));
        self.queue = kept.into();
        for queued in stopped {
            self.never_started(queued, "stopped by the user before it started")?;
        }
        Ok(())
    }

    /// Runs `expman stop` asked to stop (a request file in the run directory).
    fn stop_files(&self) -> Vec<StopTarget> {
        let experiment = self.ctx.project.experiment_name();
        let active = self.active.values().map(|a| (a.info.run.uid.clone(), a.info.run_dir.clone()));
        let queued = self
            .queue
            .iter()
            .map(|q| (q.run.uid.clone(), self.ctx.workspace.run_dir(experiment, &q.plan.trial, &q.run.uid)));
        active
            .chain(queued)
            .filter(|(_, dir)| dir.join(STOP_REQUEST_FILE).exists())
            .map(|(uid, _)| StopTarget::Run(uid))
            .collect()
    }

    /// Records a queued run that will not start.
    fn never_started(&mut self, queued: Queued, why: &str) -> Result<(), RunError> {
        let search = queued.search.as_ref().map(|link| link.index);
        self.end_unstarted(unstarted_info(queued), RunStatus::Killed, why)?;
        if let Some(index) = search {
            self.search_run_ended(index)?;
        }
        Ok(())
    }

    /// Records the end of a run that never started (it could not be
    /// launched, its config was invalid, or it was cancelled first).
    fn end_unstarted(&mut self, info: RunInfo, status: RunStatus, why: &str) -> Result<(), RunError> {
        let finish = RunFinish { status, exit_code: None, signal: None, error: Some(why.into()), ended_at: now_ms() };
        self.store.finish_run(info.run.id, &finish)?;
        self.observer.on_event(RunnerEvent::Finished {
            run: &info,
            status,
            duration: Duration::ZERO,
            error: Some(why),
        });
        self.report.runs.push((info, status));
        Ok(())
    }

    fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        if self.options.cancel.load(Ordering::SeqCst) && !self.cancelling {
            self.cancelling = true;
            self.observer.on_event(RunnerEvent::Cancelling { active: self.active.len() });
            // Slurm jobs: one scancel for all of them.
            let mut jobs = Vec::new();
            for a in self.active.values_mut() {
                ask_to_stop(&a.info, &a.stopper);
                match &a.stopper {
                    Stopper::Job { id, .. } => jobs.push(id.clone()),
                    other => other.terminate(),
                }
                let stopping = a.stopping.get_or_insert(Stopping {
                    status: RunStatus::Killed,
                    message: None,
                    terminate_at: None,
                    kill_at: None,
                });
                stopping.terminate_at = None;
                stopping.kill_at = Some(now + a.grace);
            }
            crate::slurm::cancel_all(&jobs);
        }
        for a in self.active.values_mut() {
            if a.stopping.is_none() && a.deadline.is_some_and(|d| now >= d) {
                ask_to_stop(&a.info, &a.stopper);
                a.stopper.terminate();
                a.stopping = Some(Stopping {
                    status: RunStatus::Timeout,
                    message: None,
                    terminate_at: None,
                    kill_at: Some(now + a.grace),
                });
            }
            if let Some(s) = a.stopping.as_mut() {
                if s.terminate_at.is_some_and(|t| now >= t) {
                    a.stopper.terminate();
                    s.terminate_at = None;
                    s.kill_at = Some(now + a.grace);
                }
                if s.kill_at.is_some_and(|k| now >= k) {
                    a.stopper.kill();
                    s.kill_at = None;
                }
            }
        }
    }

    fn close(mut self) -> Result<RunReport, RunError> {
        // Runs never started because of Ctrl-C.
        let why = if self.out_of_space.is_some() {
            "not started: the workspace's disk is full"
        } else {
            "cancelled before it started"
        };
        for queued in std::mem::take(&mut self.queue) {
            self.never_started(queued, why)?;
        }
        let _ = self.ingest.send(ingest_thread::Command::Shutdown);
        if let Some(slurm) = &self.ctx.slurm {
            slurm.poller.stop();
        }
        if let Some((thread, _)) = self.sampler.take() {
            thread.stop();
        }
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
        // Late warnings (a hook that failed as its run ended) still count.
        while let Ok(message) = self.rx.try_recv() {
            if let Message::Ingest(ingest_thread::Report::Action { run_id, action: action @ Action::Warning(_) }) =
                message
            {
                self.act(run_id, action)?;
            }
        }
        self.store.end_runner(self.runner_id)?;
        // The record is complete: the trackers catch up as far as they can.
        if let Some(thread) = self.trackers.take() {
            let reports = thread.finish(self.options.tracker_flush);
            for r in &reports {
                let behind = !r.caught_up || r.pending_points > 0 || r.pending_ends > 0;
                if behind {
                    let message = format!("{}; `expman sync` sends the rest later", r.describe());
                    self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
                }
                for refused in &r.rejected {
                    let message = format!("{}: refused: {refused}", r.tracker);
                    self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
                }
            }
            self.report.trackers = reports;
        }
        if let Some(uploader) = self.uploader.take() {
            let report = uploader.finish(self.options.tracker_flush);
            if report.left > 0 {
                let why = report.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                let message = format!(
                    "{} artifact(s) not uploaded to {} yet{why}; `expman artifacts push` sends them",
                    report.left, report.url
                );
                self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
            }
            self.report.uploads = Some(report);
        }
        self.report.cancelled = self.cancelling;
        for search in &self.searches {
            self.report.searches.push(search.progress(&self.store)?);
        }
        let summary = format!("{} runs: {}", self.report.runs.len(), status_counts(&self.report));
        let kind = if self.cancelling { "experiment_cancelled" } else { "experiment_finished" };
        self.store.log_event(kind, Some(self.experiment_id), None, &summary)?;
        #[cfg(feature = "team")]
        if let Some(thread) = self.team.take() {
            let report = thread.finish(self.options.tracker_flush);
            if !report.complete() {
                let message = format!(
                    "{}; they are kept in {} and sent by the next `expman run`, `expman db push` or read of the record",
                    report.describe(),
                    self.ctx.workspace.database.display()
                );
                self.observer.on_event(RunnerEvent::Warning { run: None, message: &message });
            }
            self.report.team = Some(report);
        }
        Ok(std::mem::take(&mut self.report))
    }
}

/// A queued run as front ends see it, before it has a directory or GPUs.
fn unstarted_info(queued: Queued) -> RunInfo {
    RunInfo {
        run: queued.run,
        trial: queued.plan.trial,
        repeat: queued.plan.repeat,
        repeats: queued.plan.repeats,
        run_dir: PathBuf::new(),
        gpus: Vec::new(),
    }
}

/// Asks a run to stop by itself: the stop file that `should_stop()` looks
/// for, and the flag of an in-process pipeline.
fn ask_to_stop(info: &RunInfo, stopper: &Stopper) {
    let _ = std::fs::write(info.run_dir.join(STOP_FILE), b"expman asks this run to stop\n");
    if let Stopper::Flag(_) = stopper {
        stopper.terminate();
    }
}

/// A scheduler that ends on an error (not through `close`) still stops
/// its squeue thread: a long-lived kernel must not collect them.
impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        if let Some(slurm) = &self.ctx.slurm {
            slurm.poller.stop();
        }
    }
}

/// What is checked before anything is recorded, so that a bad setting
/// fails the experiment at once: Slurm's extra arguments, GPUs when they
/// are required, the trackers' entries, the team database's login.
struct Checked {
    sampler: Sampler,
    host_json: String,
    trackers: Vec<expman_trackers::NamedTracker>,
    blobs: expman_blobs::BlobStore,
}

fn check_before_recording(
    workspace: &Workspace,
    project: &Project,
    options: &RunnerOptions,
    observer: &mut dyn Observer,
) -> Result<Checked, RunError> {
    if let Some(r) = project.env.resources.as_ref().filter(|r| r.executor == Some(ExecutorKind::Slurm)) {
        crate::slurm::check_extra_args(r.extra_args.as_deref().unwrap_or(&[]))?;
    }
    let hardware = project.env.hardware.clone().unwrap_or_default();
    let gpu_mode = match hardware.gpu.clone().unwrap_or(GpuMode::Auto) {
        GpuMode::Off => GpuPolicy::Off,
        GpuMode::Required => GpuPolicy::Required,
        _ => GpuPolicy::Auto,
    };
    let gpus = Gpus::open(gpu_mode)?;
    let sampler = Sampler::new(gpus)?;
    let host_json = sampler.host_info().to_string();
    // A bad tracker entry (no MLflow URI, an unknown type) fails at once.
    let trackers = options
        .trackers
        .build(project.env.trackers.as_deref().unwrap_or(&[]), &TrackerEnv::from_process(&workspace.root))?;
    // An encrypting store without its key fails before anything runs.
    let artifacts = project.env.artifacts.as_ref();
    let key = crate::artifacts::key_for(artifacts, &project.dir, &workspace.root)?;
    let blobs = crate::artifacts::store_for(&workspace.root, artifacts, key);
    // A team database that is down is not an error: the runs are recorded
    // locally and sent later.
    if let Some(team) = &workspace.team
        && let Some(warning) = crate::team::check(team)?
    {
        observer.on_event(RunnerEvent::Warning { run: None, message: &warning });
    }
    Ok(Checked { sampler, host_json, trackers, blobs })
}

/// The experiment's row and this runner's.
fn open_experiment(store: &mut Store, project: &Project) -> Result<(i64, i64), RunError> {
    let experiment_id = store.ensure_experiment(
        project.experiment_name(),
        project.experiment.desc.as_deref(),
        &project.dir.display().to_string(),
    )?;
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let me = std::process::id();
    let runner_id = store.register_runner(
        &process::host_name(),
        me,
        process::start_time(me),
        &process::user_name(),
        &command_line,
    )?;
    store.log_event("experiment_started", Some(experiment_id), None, &command_line)?;
    Ok((experiment_id, runner_id))
}

/// Where the planned runs go: rows in the record, PENDING.
struct ToQueue<'w> {
    workspace: &'w Workspace,
    experiment: &'w str,
    experiment_id: i64,
    runner_id: i64,
    resume: bool,
}

/// The runs to start, and the Slurm jobs of an earlier runner to watch.
struct Queue {
    runs: VecDeque<Queued>,
    adopted: Vec<(Queued, ActiveRun)>,
    skipped: usize,
}

impl ToQueue<'_> {
    /// A PENDING run for every plan, except (with `--resume`) those that
    /// already ended well, and Slurm jobs still queued or running from an
    /// earlier runner, which are watched again instead of submitted again.
    fn plans(
        &self,
        store: &mut Store,
        plans: &[RunPlan],
        on_slurm: bool,
        observer: &mut dyn Observer,
    ) -> Result<Queue, RunError> {
        let mut orphans =
            if on_slurm && self.resume { slurm_orphans(store, self.experiment_id)? } else { HashMap::new() };
        let mut queue = Queue { runs: VecDeque::new(), adopted: Vec::new(), skipped: 0 };
        let mut trial_ids: HashMap<String, i64> = HashMap::new();
        for plan in plans {
            let trial_id = match trial_ids.get(&plan.trial) {
                Some(id) => *id,
                None => {
                    let id = ensure_trial(store, self.experiment_id, plan)?;
                    trial_ids.insert(plan.trial.clone(), id);
                    id
                }
            };
            if self.resume
                && let Some(done) = store.find_done(self.experiment_id, trial_id, plan.repeat, &plan.config_hash)?
            {
                queue.skipped += 1;
                observer.on_event(RunnerEvent::Skipped { trial: &plan.trial, repeat: plan.repeat, done_as: &done });
                continue;
            }
            if let Some(orphan) = orphans.remove(&(plan.trial.clone(), plan.repeat, plan.config_hash.clone())) {
                queue.adopted.push((Queued { plan: plan.clone(), run: orphan.run.clone(), search: None }, orphan));
                continue;
            }
            let run = self.create_run(store, plan, trial_id)?;
            queue.runs.push_back(Queued { plan: plan.clone(), run, search: None });
        }
        Ok(queue)
    }

    fn create_run(&self, store: &mut Store, plan: &RunPlan, trial_id: i64) -> Result<RunRef, RunError> {
        let attempt = store.attempts(self.experiment_id, trial_id, plan.repeat, &plan.config_hash)? + 1;
        let uid = new_run_uid();
        let target = RunTarget {
            workspace: self.workspace,
            experiment: self.experiment,
            experiment_id: self.experiment_id,
            runner_id: self.runner_id,
        };
        let mut new = target.new_run(plan, trial_id, &uid);
        new.attempt = attempt;
        Ok(store.create_run(&new, &uid)?)
    }
}

/// The trial's row (with its sweep point, when it has one).
fn ensure_trial(store: &mut Store, experiment_id: i64, plan: &RunPlan) -> Result<i64, RunError> {
    let sweep = sweep_json(plan);
    Ok(store.ensure_trial(experiment_id, &plan.trial, &plan.trial_base, sweep.as_deref(), plan.desc.as_deref())?)
}

/// How many runs go at once, and the GPU slots they take turns on.
fn parallelism(
    resources: &expman_schema::model::ResourcesConfig,
    options: &RunnerOptions,
    on_slurm: bool,
    runs: usize,
) -> Result<(usize, Option<GpuPool>), RunError> {
    // On Slurm the cluster decides what runs when: every queued run is
    // submitted unless a limit is set; GPUs are the cluster's too.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let default_parallel = if on_slurm { runs.max(1) } else { cores };
    let gpu_pool = resources
        .gpus
        .as_ref()
        .filter(|g| !g.is_empty() && !on_slurm)
        .map(|g| GpuPool::new(g, resources.gpus_per_run.unwrap_or(1), resources.runs_per_gpu.unwrap_or(1)));
    let mut parallel =
        options.max_parallel.or(resources.max_parallel.map(|n| n as usize)).unwrap_or(default_parallel).max(1);
    if let Some(pool) = &gpu_pool {
        if pool.capacity() == 0 {
            return Err(RunError::Invalid("`resources.gpus` has fewer GPUs than `gpus_per_run` asks for".into()));
        }
        parallel = parallel.min(pool.capacity());
    }
    Ok((parallel, gpu_pool))
}

/// The ingest thread (tailing event files into the store) and the thread
/// that forwards its reports to the scheduler's channel.
fn spawn_ingest(
    workspace: &Workspace,
    options: &RunnerOptions,
    tx: &Sender<Message>,
) -> Result<(Sender<ingest_thread::Command>, Vec<JoinHandle<()>>), RunError> {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel::<ingest_thread::Report>();
    let ingest = ingest_thread::spawn(&workspace.database, options.poll, cmd_rx, report_tx)
        .map_err(|e| RunError::io(&workspace.database, e))?;
    let forward = tx.clone();
    let forwarder = std::thread::spawn(move || {
        for r in report_rx {
            if forward.send(Message::Ingest(r)).is_err() {
                break;
            }
        }
    });
    Ok((cmd_tx, vec![ingest, forwarder]))
}

/// This experiment's RUNNING Slurm runs whose runner is gone, by what
/// `--resume` matches plans with (trial, repeat, config hash). Recovery has
/// already ended those whose job ended; these are still on the cluster.
fn slurm_orphans(store: &Store, experiment_id: i64) -> Result<HashMap<(String, u32, String), ActiveRun>, RunError> {
    let host = process::host_name();
    let mut out = HashMap::new();
    for run in store.active_runs()? {
        if run.experiment_id != experiment_id
            || run.job.is_none()
            || run.status != RunStatus::Running
            || crate::recovery::runner_gone(&run, &host).is_none()
        {
            continue;
        }
        out.insert(store.run_identity(run.run.id)?, run);
    }
    Ok(out)
}

/// The status and message of an ended run.
fn judge(
    outcome: &Outcome,
    stopping: Option<&Stopping>,
    run_dir: &std::path::Path,
    grace: Duration,
) -> (RunStatus, Option<String>) {
    if let Some(s) = stopping {
        let how = match (outcome.signal, outcome.exit_code) {
            (Some(9), _) => format!("it did not stop within the {}s grace period and was killed", grace.as_secs_f64()),
            (Some(sig), _) => format!("it stopped on {}", process::describe_signal(sig)),
            (None, Some(c)) => format!("it exited with code {c}"),
            _ => "it stopped".into(),
        };
        let why = match (s.status, &s.message) {
            (_, Some(m)) => m.clone(),
            (RunStatus::Timeout, None) => "the run exceeded `pipeline.timeout`".into(),
            _ => "the run was cancelled".into(),
        };
        return (s.status, Some(format!("{why}; {how}")));
    }
    crate::outcome::judge_ended(outcome, run_dir)
}
