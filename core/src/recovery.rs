//! Crash recovery. When a runner dies (kill -9, power loss), its runs stay
//! PENDING or RUNNING in the record. The next expman that opens the
//! workspace finds them: their runner process is gone (same host: its pid
//! no longer names the process that started at the recorded time; other
//! hosts: no heartbeat for [`STALE_AFTER_MS`]). For each such run it stops
//! the trial's process group if it is still alive on this host, ingests
//! whatever the trial had written to its event file after the last commit,
//! and marks the run LOST. Nothing a trial reported is lost; `--resume`
//! runs it again.

use std::path::PathBuf;

use nix::sys::signal::Signal;

use crate::error::StoreError;
use crate::ingest::EventReader;
use crate::process;
use crate::store::{ActiveRun, RunStatus, Store};
use crate::time::now_ms;

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
fn runner_gone(run: &ActiveRun, host: &str) -> Option<String> {
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

/// Finds runs whose runner is gone, ingests what they reported, marks them LOST.
pub fn recover(store: &mut Store) -> Result<Vec<Recovered>, StoreError> {
    let host = process::host_name();
    let mut recovered = Vec::new();
    for run in store.active_runs()? {
        let Some(reason) = runner_gone(&run, &host) else {
            continue;
        };
        // A trial that outlived its runner (a grandchild that escaped the
        // parent-death signal) is stopped: nobody is watching it any more.
        if let (Some(pid), Some(run_host)) = (run.pid, run.host.as_deref())
            && run_host == host
            && process::is_alive(pid as u32, run.pid_started)
        {
            process::signal_group(pid as u32, Signal::SIGKILL);
        }
        let mut points = 0;
        if let Some(dir) = run.run_dir.as_deref().map(PathBuf::from) {
            let next = store.next_steps(run.run.id)?;
            let mut reader = EventReader::new(run.run.id, &dir, run.events_offset, next);
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
        }
        let trial = store.runs_by_id(&[run.run.id])?.into_iter().next().map(|r| r.trial).unwrap_or_default();
        let what = if run.status == RunStatus::Pending { "never started" } else { "did not finish" };
        let message = format!(
            "{what}: {reason}; everything it reported until then is recorded ({points} metric points recovered)"
        );
        if store.set_status(run.run.id, RunStatus::Lost, Some(&message))? {
            store.log_event("run_lost", Some(run.experiment_id), Some(run.run.id), &message)?;
            recovered.push(Recovered {
                uid: run.run.uid.clone(),
                trial,
                status: RunStatus::Lost,
                points,
                reason: message,
            });
        }
    }
    Ok(recovered)
}
