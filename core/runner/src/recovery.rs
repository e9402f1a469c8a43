//! Crash recovery. When a runner dies (kill -9, power loss), its runs stay
//! PENDING or RUNNING in the record. The next expman that opens the
//! workspace finds them: their runner process is gone (same host: its pid
//! no longer names the process that started at the recorded time; other
//! hosts: no heartbeat for [`STALE_AFTER_MS`]). For each such run it stops
//! the trial's process group if it is still alive on this host, ingests
//! whatever the trial had written to its event file after the last commit,
//! and marks the run LOST. Nothing a trial reported is lost; `--resume`
//! runs it again.
//!
//! A run on Slurm lives on without its runner: while its job is queued or
//! running it stays RUNNING (a `--resume` re-attaches to it, see the
//! scheduler); once the job has ended, its events are ingested and it ends
//! with the job's status (one `squeue` call for all such runs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::ingest::EventReader;
use crate::slurm::{self, JobInfo, Standing};
use crate::workspace::Workspace;
use expman_os::process;
use expman_os::time::now_ms;
use expman_store::StoreError;
use expman_store::{ActiveRun, RunFinish, RunStatus, Store};

/// Opening a workspace's record: recovery runs first, so every reader
/// sees runs whose runner died as ended.
impl Workspace {
    /// Opens the database (creating and migrating it if needed) and
    /// recovers runs whose runner died.
    ///
    /// A record that cannot be written where it is (a read-only file
    /// system, a full disk) is still read: opened read-only, with the
    /// runs whose runner died shown as they were left (recovery records
    /// them once the record can be written again).
    pub fn open_store(&self) -> Result<Store, StoreError> {
        let mut store = match Store::open(&self.database) {
            Ok(store) => store,
            Err(e) if (e.unwritable().is_some() || e.cannot_open()) && self.database.is_file() => {
                tracing::warn!("{e}; reading the record without changing it");
                return Store::open_read_only(&self.database);
            }
            Err(e) => return Err(e),
        };
        match recover(&mut store) {
            Ok(recovered) => {
                for r in &recovered {
                    tracing::warn!("run {} ({}) marked {}: {}", r.uid, r.trial, r.status, r.reason);
                }
            }
            Err(e) if e.unwritable().is_some() => {
                tracing::warn!(
                    "runs whose runner died cannot be marked as such yet ({e}); they are shown as they were left"
                );
            }
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// The record as commands that read see it: the local record, or
    /// with a team database, everyone's runs (see [`crate::team`]).
    pub fn open_view(&self) -> Result<Store, StoreError> {
        let mut local = self.open_store()?;
        match &self.team {
            Some(team) => crate::team::open_view(&self.root, &mut local, team),
            None => Ok(local),
        }
    }
}

/// A runner on another host whose heartbeat is older than this is gone.
pub const STALE_AFTER_MS: i64 = 5 * 60 * 1000;

/// A run found without a runner.
#[derive(Clone, Debug)]
pub struct Recovered {
    pub uid: String,
    pub trial: String,
    pub status: RunStatus,
    pub points: usize,
    pub reason: String,
}

/// Why the runner of `run` is gone, or `None` when it may still be alive.
pub fn runner_gone(run: &ActiveRun, host: &str) -> Option<String> {
    let Some(runner) = &run.runner else {
        return Some("it has no runner on record".into());
    };
    if runner.ended_at.is_some() {
        return Some(format!("its runner (pid {} on {}) ended before it", runner.pid, runner.host));
    }
    if runner.host == host {
        if !process::is_alive(runner.pid as u32, runner.pid_started) {
            return Some(format!("its runner (pid {} on {}) is gone", runner.pid, runner.host));
        }
        return None;
    }
    let silent = now_ms() - runner.heartbeat_at;
    (silent > STALE_AFTER_MS).then(|| format!("its runner on {} has been silent for {} s", runner.host, silent / 1000))
}

/// How a run without a runner ends.
enum End {
    Lost,
    Job(String, JobInfo),
}

/// Finds runs whose runner is gone, ingests what they reported, and ends
/// them: LOST, or as their Slurm job ended.
pub fn recover(store: &mut Store) -> Result<Vec<Recovered>, StoreError> {
    let host = process::host_name();
    let orphans: Vec<(ActiveRun, String)> =
        store.active_runs()?.into_iter().filter_map(|run| runner_gone(&run, &host).map(|why| (run, why))).collect();
    let jobs: Vec<String> = orphans.iter().filter_map(|(run, _)| run.job.clone()).collect();
    let queue = if jobs.is_empty() { Ok(HashMap::new()) } else { slurm::query(&jobs) };
    let mut recovered = Vec::new();
    for (run, reason) in orphans {
        let dir = run.run_dir.as_deref().map(PathBuf::from);
        let end = match &run.job {
            None => End::Lost,
            Some(job) => match &queue {
                Err(e) => {
                    tracing::warn!("run {}: cannot ask Slurm about job {job} ({e}); it is left as it is", run.run.uid);
                    continue;
                }
                Ok(found) => match slurm::standing(job, found.get(job), dir.as_deref().unwrap_or(Path::new("/"))) {
                    // Still on the cluster: `--resume` re-attaches to it.
                    Standing::Alive(_) => continue,
                    Standing::Ended(info) => End::Job(job.clone(), info),
                    Standing::Unknown => End::Lost,
                },
            },
        };
        // A trial that outlived its runner (a grandchild that escaped the
        // parent-death signal) is stopped: nobody is watching it any more.
        if let (Some(pid), Some(run_host)) = (run.pid, run.host.as_deref())
            && run_host == host
            && process::is_alive(pid as u32, run.pid_started)
        {
            process::signal_group(pid as u32, Signal::SIGKILL);
        }
        let points = match &dir {
            Some(dir) => ingest_rest(store, &run, dir)?,
            None => 0,
        };
        let trial = store.runs_by_id(&[run.run.id])?.into_iter().next().map(|r| r.trial).unwrap_or_default();
        let (status, message, finish) = match end {
            End::Lost => {
                let what = if run.status == RunStatus::Pending { "never started" } else { "did not finish" };
                let message = format!(
                    "{what}: {reason}; everything it reported until then is recorded ({points} metric points recovered)"
                );
                let finish = RunFinish {
                    status: RunStatus::Lost,
                    exit_code: None,
                    signal: None,
                    error: Some(message.clone()),
                    ended_at: now_ms(),
                };
                (RunStatus::Lost, message, finish)
            }
            End::Job(job, info) => {
                let outcome = slurm::running::outcome(&job, &info);
                let run_dir = dir.clone().unwrap_or_default();
                let (status, error) = crate::outcome::judge_ended(&outcome, &run_dir);
                let message = format!(
                    "Slurm job {job} ended while no runner watched it ({reason}); {points} metric points recovered"
                );
                let finish = RunFinish {
                    status,
                    exit_code: outcome.exit_code,
                    signal: outcome.signal,
                    error,
                    ended_at: now_ms(),
                };
                (status, message, finish)
            }
        };
        if store.finish_orphan(run.run.id, run.runner.as_ref().map(|r| r.id), &finish)? {
            let kind = if status == RunStatus::Lost { "run_lost" } else { "run_recovered" };
            store.log_event(kind, Some(run.experiment_id), Some(run.run.id), &message)?;
            recovered.push(Recovered { uid: run.run.uid.clone(), trial, status, points, reason: message });
        }
    }
    Ok(recovered)
}

/// Ingests what the run wrote to its event file after the last commit;
/// the number of metric points.
fn ingest_rest(store: &mut Store, run: &ActiveRun, dir: &Path) -> Result<usize, StoreError> {
    let next = store.next_steps(run.run.id)?;
    let mut reader = EventReader::new(run.run.id, dir, run.events_offset, next);
    let mut points = 0;
    loop {
        let (batch, _) = match reader.read(true) {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!("cannot read the events of run {}: {e}", run.run.uid);
                break;
            }
        };
        if batch.offset == batch.from_offset {
            break;
        }
        points += batch.metrics.len();
        if !store.ingest(&batch)? {
            break; // Another process is recovering this run.
        }
    }
    Ok(points)
}
