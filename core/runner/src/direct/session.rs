//! What the runs one process starts from code share, per workspace: the
//! runner row (this process), a connection for starting and ending runs,
//! the writer thread, the hardware sampler (started by the first run that
//! asks), and the team database's sender. A session lives while a run of
//! it does; when the last one ends, the threads stop (the writer and the
//! team sender after a last pass) and the runner row is ended.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use expman_os::hardware::{GpuPolicy, Gpus, Sampler};
use expman_os::process;
use expman_os::time::now_ms;
use expman_store::{Artifact, Capture, Started, Store};

use super::writer::Writer;
use super::{DirectError, PARENT_TAG, RunIdentity, new_run};
use crate::capture;
use crate::error::RunError;
use crate::sampling::{SamplerHandle, SamplerThread};
use crate::team::TeamThread;
use crate::workspace::Workspace;

/// A run opened for logging: its row and where its counters start.
pub struct Opened {
    pub run_id: i64,
    pub identity: RunIdentity,
    pub offset: u64,
    pub next_step: HashMap<String, i64>,
}

pub struct Session {
    workspace: Workspace,
    /// Where ended runs' artifacts go (encrypting when the workspace does).
    blobs: expman_blobs::BlobStore,
    runner_id: i64,
    store: Mutex<Store>,
    writer: Mutex<Writer>,
    sampler: Mutex<Option<(SamplerThread, SamplerHandle)>>,
    #[cfg_attr(not(feature = "team"), allow(dead_code))]
    team: Mutex<Vec<(String, TeamThread)>>,
}

/// The live sessions of this process, by database.
fn sessions() -> &'static Mutex<HashMap<PathBuf, Weak<Session>>> {
    static SESSIONS: OnceLock<Mutex<HashMap<PathBuf, Weak<Session>>>> = OnceLock::new();
    SESSIONS.get_or_init(Mutex::default)
}

impl Session {
    /// The workspace this session records to.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// The workspace's artifact store, as this session writes to it.
    pub fn blobs(&self) -> &expman_blobs::BlobStore {
        &self.blobs
    }

    /// This process's session on `workspace`: the live one, or a new one
    /// (the workspace prepared, its record opened and recovered, this
    /// process registered as a runner, the writer started).
    pub fn open(workspace: Workspace, flush_interval: Duration) -> Result<Arc<Session>, DirectError> {
        let mut live = sessions().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = live.get(&workspace.database).and_then(Weak::upgrade) {
            return Ok(session);
        }
        // A workspace whose runs encrypt their artifacts (a config's
        // `artifacts.encrypt`, remembered in its marker): these too.
        let blobs = expman_blobs::BlobStore::for_workspace(&workspace.root);
        let blobs = if workspace.encrypt {
            let var = crate::artifacts::KEY_VAR;
            let text = std::env::var(var).ok().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                RunError::Invalid(format!(
                    "the workspace {} encrypts its artifacts (`artifacts.encrypt`): set {var} to its key",
                    workspace.root.display()
                ))
            })?;
            let key = expman_blobs::Key::from_hex(&text, var).map_err(|e| RunError::Invalid(e.to_string()))?;
            blobs.with_key(Some(key))
        } else {
            blobs
        };
        workspace.prepare()?;
        let mut store = workspace.open_store()?;
        let me = std::process::id();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let runner_id = store.register_runner(
            &process::host_name(),
            me,
            process::start_time(me),
            &process::user_name(),
            &command,
        )?;
        let writer = Writer::spawn(&workspace.database, runner_id, flush_interval)?;
        let session = Arc::new(Session {
            workspace,
            blobs,
            runner_id,
            store: Mutex::new(store),
            writer: Mutex::new(writer),
            sampler: Mutex::new(None),
            team: Mutex::new(Vec::new()),
        });
        live.retain(|_, s| s.strong_count() > 0);
        live.insert(session.workspace.database.clone(), Arc::downgrade(&session));
        Ok(session)
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new RUNNING run of `trial` (the trial's next repeat).
    pub fn create(
        &self,
        experiment: &str,
        trial: &str,
        parent: Option<&str>,
        tags: &[(String, String)],
        started: &Started<'_>,
    ) -> Result<Opened, DirectError> {
        let mut store = self.store();
        let config_dir = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
        let experiment_id = store.ensure_experiment(experiment, None, &config_dir)?;
        let trial_id = store.ensure_trial(experiment_id, trial, trial, None, None)?;
        let repeat = store.next_repeat(trial_id)?;
        let uid = crate::new_run_uid();
        let run_dir = self.workspace.run_dir(experiment, trial, &uid);
        std::fs::create_dir_all(&run_dir).map_err(|source| DirectError::Io { path: run_dir.clone(), source })?;
        let mut new = new_run(experiment_id, trial_id, repeat, &run_dir, self.runner_id);
        new.tags = tags.to_vec();
        if let Some(parent) = parent {
            new.tags.push((PARENT_TAG.to_string(), parent.to_string()));
        }
        let run = store.create_run(&new, &uid)?;
        store.mark_running(run.id, started)?;
        Ok(Opened {
            run_id: run.id,
            identity: RunIdentity {
                uid,
                experiment: experiment.to_string(),
                trial: trial.to_string(),
                repeat,
                run_dir,
                workspace: self.workspace.root.clone(),
                parent: parent.map(str::to_string),
                attached: false,
            },
            offset: 0,
            next_step: HashMap::new(),
        })
    }

    /// An ended run of this workspace goes on (RUNNING again, metric
    /// steps continuing after its last).
    pub fn reopen(&self, uid: &str, started: &Started<'_>) -> Result<Opened, DirectError> {
        let mut store = self.store();
        let run =
            store.resolve_run(uid).ok().filter(|r| r.uid == uid).ok_or_else(|| DirectError::NoSuchRun(uid.into()))?;
        let row = store.runs_by_id(&[run.id])?.into_iter().next().ok_or_else(|| DirectError::NoSuchRun(uid.into()))?;
        if !store.reopen_run(run.id, self.runner_id, started)? {
            // Opening the store recovered runs whose process died: this
            // one has a live one.
            let active = store.active_runs()?.into_iter().find(|a| a.run.id == run.id);
            let (pid, host) = active.map(|a| (a.pid.unwrap_or(0), a.host.unwrap_or_default())).unwrap_or_default();
            return Err(DirectError::StillRunning { uid: uid.into(), pid, host });
        }
        let (offset, run_dir) = store.events_position(run.id)?;
        let run_dir =
            run_dir.map(PathBuf::from).unwrap_or_else(|| self.workspace.run_dir(&row.experiment, &row.trial, uid));
        std::fs::create_dir_all(&run_dir).map_err(|source| DirectError::Io { path: run_dir.clone(), source })?;
        let parent = store.run_tags(run.id)?.into_iter().find(|(k, _)| k == PARENT_TAG).map(|(_, v)| v);
        store.log_event("run_continued", None, Some(run.id), &format!("continued by pid {}", std::process::id()))?;
        Ok(Opened {
            run_id: run.id,
            identity: RunIdentity {
                uid: uid.to_string(),
                experiment: row.experiment,
                trial: row.trial,
                repeat: row.repeat,
                run_dir,
                workspace: self.workspace.root.clone(),
                parent,
                attached: false,
            },
            offset,
            next_step: store.next_steps(run.id)?,
        })
    }

    /// The hardware sampler, started on first use.
    pub fn sampler(&self, interval: Duration) -> Result<SamplerHandle, DirectError> {
        let mut slot = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, handle)) = slot.as_ref() {
            return Ok(handle.clone());
        }
        let gpus = Gpus::open(GpuPolicy::Auto).map_err(crate::error::RunError::from)?;
        let sampler = Sampler::new(gpus).map_err(crate::error::RunError::from)?;
        let interval = interval.max(Duration::from_millis(100));
        let thread = SamplerThread::spawn(sampler, interval, Some(&self.workspace.database), None)
            .map_err(DirectError::Thread)?;
        let handle = thread.handle();
        *slot = Some((thread, handle.clone()));
        Ok(handle)
    }

    /// Stops sampling a run and records its resource summary.
    pub fn sampler_remove(&self, run_id: i64, wall_ms: i64) {
        if let Some((_, handle)) = self.sampler.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            handle.remove(run_id, wall_ms, None);
        }
    }

    /// Starts sending `experiment` to the workspace's team database, once.
    pub fn team_for(&self, experiment: &str) {
        let Some(team) = &self.workspace.team else { return };
        #[cfg(feature = "team")]
        {
            let mut threads = self.team.lock().unwrap_or_else(|e| e.into_inner());
            if threads.iter().any(|(e, _)| e == experiment) {
                return;
            }
            match crate::team::spawn(&self.workspace.database, team, experiment) {
                Ok(thread) => threads.push((experiment.to_string(), thread)),
                Err(e) => tracing::warn!("runs stay local for now (`expman db push` sends them later): {e}"),
            }
        }
        #[cfg(not(feature = "team"))]
        tracing::warn!(
            "this workspace names a team database ({}), but this build has no `team` feature: runs stay local",
            team.url
        );
        let _ = experiment;
    }

    /// Git state, diff and a snapshot of the code in `dir`, recorded for
    /// the run: the capture row now, the files as the returned artifacts.
    /// Problems are warnings: code is never kept from running by them.
    pub fn capture_code(&self, run_id: i64, run: &RunIdentity, dir: &Path, globs: &[String]) -> Vec<Artifact> {
        let now = now_ms();
        let mut artifacts = Vec::new();
        let git = capture::repo_root(dir).and_then(|root| capture::git_state(&root));
        if let Some(diff) = git.as_ref().and_then(|g| g.diff.as_deref()) {
            let path = run.run_dir.join("git.diff");
            match std::fs::write(&path, diff) {
                Ok(()) => {
                    let (size, sha) = crate::ingest::file_digest(&path)
                        .map(|(s, h)| (Some(s as i64), Some(h)))
                        .unwrap_or((None, None));
                    artifacts.push(Artifact {
                        path: "git.diff".into(),
                        size,
                        sha256: sha,
                        kind: "git-diff".into(),
                        epoch: None,
                        created_at: now,
                    });
                }
                Err(e) => tracing::warn!("cannot save the git diff of run {}: {e}", run.uid),
            }
        }
        let snapshots = self.workspace.root.join(".expman").join("snapshots");
        let files = capture::matching_files(dir, globs, std::slice::from_ref(&self.workspace.root));
        match capture::code_snapshot(dir, &files, &snapshots) {
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
                    sha256: Some(file.sha256),
                    kind: "code-snapshot".into(),
                    epoch: None,
                    created_at: now,
                });
            }
            Err(e) => tracing::warn!("cannot snapshot the code of run {}: {e}", run.uid),
        }
        let mut store = self.store();
        if let Some(g) = &git
            && let Err(e) = store.set_git(run_id, &g.commit, g.dirty)
        {
            tracing::warn!("cannot record the git state of run {}: {e}", run.uid);
        }
        let host = Sampler::new(Gpus::open(GpuPolicy::Auto).ok().flatten())
            .map(|s| s.host_info().to_string())
            .unwrap_or_else(|_| "{}".into());
        let record = Capture {
            env: "{}".into(),
            git_branch: git.as_ref().and_then(|g| g.branch.clone()),
            host,
            expman_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        if let Err(e) = store.write_capture(run_id, &record) {
            tracing::warn!("cannot record how run {} was started: {e}", run.uid);
        }
        artifacts
    }
}

impl Drop for Session {
    /// The last run of the session has ended: a last pass of the writer,
    /// the sampler stopped, the team database caught up (for a few
    /// seconds at most), the runner row ended.
    fn drop(&mut self) {
        self.writer().stop();
        if let Some((thread, _)) = self.sampler.lock().unwrap_or_else(|e| e.into_inner()).take() {
            thread.stop();
        }
        #[cfg(feature = "team")]
        for (_, thread) in self.team.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let report = thread.finish(Duration::from_secs(10));
            if !report.complete() {
                tracing::warn!("team database: {}", report.describe());
            }
        }
        if let Err(e) = self.store().end_runner(self.runner_id) {
            tracing::warn!("cannot record the end of this process's runs: {e}");
        }
    }
}
