//! One `squeue` for every job a runner watches: a thread asks Slurm about
//! all of them every few seconds (not one call per run), and each run's
//! waiter sleeps until its job has ended.
//!
//! A job that has left the queue (Slurm forgets finished jobs after
//! `MinJobAge`, and a restarted controller forgets them at once) ends as
//! its job script's exit code file, else the job completion log says.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{JobInfo, JobState, SlurmError, Standing, query, standing};

/// How often Slurm is asked.
const INTERVAL: Duration = Duration::from_secs(2);
/// A job neither in the queue nor in the completion log for this long is lost.
const GIVE_UP: Duration = Duration::from_secs(120);

struct Watched {
    run_dir: PathBuf,
    last: Option<JobInfo>,
    /// Since when the job is nowhere to be found.
    missing_since: Option<Instant>,
    done: Option<JobInfo>,
}

#[derive(Default)]
struct Shared {
    jobs: HashMap<String, Watched>,
    stop: bool,
}

/// The poller: cheap to clone.
#[derive(Clone)]
pub struct Poller {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

/// How a job ended, or why nobody can tell.
pub type JobEnd = Result<JobInfo, SlurmError>;

impl Poller {
    /// Starts the polling thread.
    pub fn start() -> Poller {
        let poller = Poller { shared: Arc::new((Mutex::new(Shared::default()), Condvar::new())) };
        let worker = poller.clone();
        let _ = std::thread::Builder::new().name("expman-squeue".into()).spawn(move || worker.run());
        poller
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches `job` (whose run directory is `run_dir`).
    pub fn watch(&self, job: &str, run_dir: PathBuf) {
        // Picked up by the next round: one call for many new jobs.
        self.lock().jobs.insert(job.to_string(), Watched { run_dir, last: None, missing_since: None, done: None });
    }

    /// The job's last known state (while it is queued or running).
    pub fn last(&self, job: &str) -> Option<JobInfo> {
        self.lock().jobs.get(job).and_then(|w| w.done.clone().or_else(|| w.last.clone()))
    }

    /// Blocks until `job` has ended; forgets it then.
    pub fn wait(&self, job: &str) -> JobEnd {
        let (lock, cvar) = &*self.shared;
        let mut shared = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match shared.jobs.get(job) {
                None => return Err(SlurmError::NotWatched { job: job.to_string() }),
                Some(w) if w.done.is_some() => {
                    let info = shared.jobs.remove(job).and_then(|w| w.done).expect("done");
                    if info.state == JobState::Ended("LOST".into()) {
                        return Err(SlurmError::Lost { job: job.to_string(), after_s: GIVE_UP.as_secs() });
                    }
                    return Ok(info);
                }
                Some(_) if shared.stop => return Err(SlurmError::StoppedWatching),
                Some(_) => {}
            }
            shared = cvar.wait_timeout(shared, INTERVAL).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Ends the polling thread (waiters get an error).
    pub fn stop(&self) {
        self.lock().stop = true;
        self.shared.1.notify_all();
    }

    fn run(&self) {
        // Since when Slurm does not answer (said once, not every round).
        let mut failing_since: Option<Instant> = None;
        loop {
            let (ids, dirs): (Vec<String>, HashMap<String, PathBuf>) = {
                let shared = self.lock();
                if shared.stop {
                    return;
                }
                let open: Vec<(&String, &Watched)> = shared.jobs.iter().filter(|(_, w)| w.done.is_none()).collect();
                (
                    open.iter().map(|(id, _)| (*id).clone()).collect(),
                    open.iter().map(|(id, w)| ((*id).clone(), w.run_dir.clone())).collect(),
                )
            };
            if !ids.is_empty() {
                match query(&ids) {
                    Ok(found) => {
                        let now = Instant::now();
                        if let Some(since) = failing_since.take() {
                            tracing::info!("Slurm answers again (after {} s)", since.elapsed().as_secs());
                        }
                        // Outside the lock: exit files and the completion log.
                        let standings: Vec<(String, Standing)> =
                            ids.iter().map(|id| (id.clone(), standing(id, found.get(id), &dirs[id]))).collect();
                        let mut shared = self.lock();
                        for (id, standing) in standings {
                            let Some(w) = shared.jobs.get_mut(&id) else { continue };
                            match standing {
                                Standing::Ended(info) => w.done = Some(info),
                                Standing::Alive(info) => {
                                    w.last = Some(info);
                                    w.missing_since = None;
                                }
                                Standing::Unknown => {
                                    let since = *w.missing_since.get_or_insert(now);
                                    if now.duration_since(since) > GIVE_UP {
                                        w.done = Some(JobInfo {
                                            state: JobState::Ended("LOST".into()),
                                            exit: None,
                                            reason: None,
                                            name: None,
                                        });
                                    }
                                }
                            }
                        }
                        drop(shared);
                        self.shared.1.notify_all();
                    }
                    Err(e) => {
                        if failing_since.is_none() {
                            tracing::warn!(
                                "{e}; the jobs are left as they are, and Slurm is asked again every {} s",
                                INTERVAL.as_secs()
                            );
                            failing_since = Some(Instant::now());
                        }
                    }
                }
            }
            // Until the next round, or until a new job is watched.
            let (lock, cvar) = &*self.shared;
            let shared = lock.lock().unwrap_or_else(|e| e.into_inner());
            if shared.stop {
                return;
            }
            let _ = cvar.wait_timeout(shared, INTERVAL);
        }
    }
}
