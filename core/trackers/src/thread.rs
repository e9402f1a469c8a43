//! The runner's tracker thread: syncs every tracker of an experiment about
//! twice a second, beside the runs and on a database connection of its
//! own, retrying a failing back end with backoff (1 s doubling to 60 s).
//! When the runner is done it gets a last chance to catch up: local
//! trackers until they are done, remote ones while they make progress (at
//! most `flush` long, and not at all once they failed); what is left is
//! reported and waits for `expman sync`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{NamedTracker, Pending, SyncReport, Syncer};
use expman_store::Store;

/// Time between passes while runs go on.
const INTERVAL: Duration = Duration::from_millis(500);
/// Passes per tracker per wake-up (each pass sends up to the record's
/// state when it began).
const PASSES: usize = 4;
/// While runs go on, a remote tracker sends for at most this long per
/// wake-up (a quarter of the time): on a small machine its server (and
/// our encoding) would otherwise take CPU from the runs and their ingest.
/// Once the runs are done it sends at full speed.
const REMOTE_SHARE: Duration = Duration::from_millis(125);

enum Control {
    Finish(Duration),
}

/// A running tracker thread.
pub struct TrackerThread {
    control: Sender<Control>,
    join: JoinHandle<Vec<SyncReport>>,
}

struct Slot {
    tracker: NamedTracker,
    failures: u32,
    retry_at: Instant,
    last: Option<SyncReport>,
    /// Everything sent since the thread started (and the last state).
    total: SyncReport,
}

impl TrackerThread {
    /// Starts syncing `trackers` with experiment `experiment_id` of the
    /// record at `database`.
    pub fn spawn(
        database: &Path,
        workspace: &Path,
        experiment_id: i64,
        trackers: Vec<NamedTracker>,
    ) -> std::io::Result<TrackerThread> {
        let (control, commands) = mpsc::channel();
        let database = database.to_path_buf();
        let workspace: PathBuf = workspace.to_path_buf();
        let join = std::thread::Builder::new().name("expman-trackers".into()).spawn(move || {
            let mut store = match Store::open(&database) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("trackers: {e}");
                    return Vec::new();
                }
            };
            let mut slots: Vec<Slot> = trackers
                .into_iter()
                .map(|tracker| {
                    let total = SyncReport { tracker: tracker.name.clone(), ..SyncReport::default() };
                    Slot { tracker, failures: 0, retry_at: Instant::now(), last: None, total }
                })
                .collect();
            loop {
                match commands.recv_timeout(INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => {
                        for slot in slots.iter_mut().filter(|s| Instant::now() >= s.retry_at) {
                            let deadline = slot.tracker.tracker.is_remote().then(|| Instant::now() + REMOTE_SHARE);
                            sync_slot(&mut store, &workspace, experiment_id, slot, PASSES, deadline, Pending::Skip);
                        }
                    }
                    Ok(Control::Finish(flush)) => {
                        return finish(&mut store, &workspace, experiment_id, &mut slots, flush);
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        return finish(&mut store, &workspace, experiment_id, &mut slots, Duration::ZERO);
                    }
                }
            }
        })?;
        Ok(TrackerThread { control, join })
    }

    /// Catches up as far as `flush` allows; the last report of each tracker.
    pub fn finish(self, flush: Duration) -> Vec<SyncReport> {
        let _ = self.control.send(Control::Finish(flush));
        self.join.join().unwrap_or_default()
    }
}

fn sync_slot(
    store: &mut Store,
    workspace: &Path,
    experiment_id: i64,
    slot: &mut Slot,
    passes: usize,
    deadline: Option<Instant>,
    pending: Pending,
) {
    let result = Syncer { store, workspace, deadline }.sync(&mut slot.tracker, experiment_id, passes, pending);
    match result {
        Ok(report) => {
            if let Some(e) = &report.error {
                slot.failures += 1;
                let wait = Duration::from_secs(1 << slot.failures.min(6)).min(Duration::from_secs(60));
                if slot.failures == 1 {
                    tracing::warn!("{}: {e}; retrying in the background", report.tracker);
                } else {
                    tracing::debug!("{}: {e}; next try in {wait:?}", report.tracker);
                }
                slot.retry_at = Instant::now() + wait;
            } else {
                if slot.failures > 0 {
                    tracing::info!("{}: reachable again, catching up", report.tracker);
                }
                slot.failures = 0;
            }
            slot.total.absorb(report.clone());
            slot.last = Some(report);
        }
        Err(e) => {
            tracing::warn!("{}: cannot read the record: {e}", slot.tracker.name);
            slot.retry_at = Instant::now() + Duration::from_secs(1);
        }
    }
}

fn finish(
    store: &mut Store,
    workspace: &Path,
    experiment_id: i64,
    slots: &mut [Slot],
    flush: Duration,
) -> Vec<SyncReport> {
    let deadline = Instant::now() + flush;
    for slot in slots.iter_mut() {
        let remote = slot.tracker.tracker.is_remote();
        loop {
            // A remote tracker that was failing gets one more try, no waiting.
            let failing = slot.failures > 0;
            sync_slot(store, workspace, experiment_id, slot, PASSES, remote.then_some(deadline), Pending::Count);
            let Some(report) = &slot.last else { break };
            let done = report.caught_up && report.pending_points == 0 && report.pending_ends == 0;
            if done || report.error.is_some() && (remote || failing) {
                break;
            }
            if remote && Instant::now() >= deadline {
                break;
            }
            if report.error.is_some() {
                // A local tracker that failed (a full disk): once more, then stop.
                sync_slot(store, workspace, experiment_id, slot, PASSES, None, Pending::Count);
                break;
            }
        }
    }
    slots.iter().filter(|s| s.last.is_some()).map(|s| s.total.clone()).collect()
}
