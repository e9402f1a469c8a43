//! The sync engine: one pass hands a tracker what the record holds and it
//! has not acknowledged, in order, and records each acknowledgement.
//!
//! Order of a pass, per experiment: the experiment; each trial with a run
//! that started, and each such run (`run_started`); params and tags that
//! changed; metric rows after the tracker's cursor, by rowid (the order
//! they were written), in chunks, the cursor saved with each chunk;
//! hardware samples likewise; then the end of every run that had ended
//! when the pass began and whose points are all sent; then the end of
//! trials whose runs all ended.
//!
//! Runs are read before the last rowid is taken: a run's status turns
//! final only after its last points are committed, so a run seen ended
//! has all its points at or below that rowid.

use std::path::Path;

use crate::NamedTracker;
use crate::pass::{Pass, PassError, cursor_of};
pub use crate::report::SyncReport;
use expman_store::{Store, StoreError};

/// Syncs trackers from a record.
pub struct Syncer<'a> {
    pub store: &'a mut Store,
    pub workspace: &'a Path,
    /// Stop sending metric chunks after this (while runs go on, a remote
    /// tracker gets a share of the time, not all of it); `None`: no limit.
    pub deadline: Option<std::time::Instant>,
}

/// Counting what is still to send scans the unsent rows: done when a sync
/// ends, not on every pass while runs go on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    Count,
    Skip,
}

impl Syncer<'_> {
    /// Syncs `tracker` with experiment `experiment_id` until it is up to
    /// date, or `passes` passes are done, or the tracker fails.
    pub fn sync(
        &mut self,
        tracker: &mut NamedTracker,
        experiment_id: i64,
        passes: usize,
        pending: Pending,
    ) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport { tracker: tracker.name.clone(), ..SyncReport::default() };
        for _ in 0..passes.max(1) {
            let pass = self.pass(tracker, experiment_id, pending)?;
            let out_of_time = self.deadline.is_some_and(|d| std::time::Instant::now() >= d);
            let stop = pass.caught_up || pass.error.is_some() || out_of_time;
            report.absorb(pass);
            if stop {
                break;
            }
        }
        self.store.record_tracker_status(&tracker.key, report.error.as_deref())?;
        Ok(report)
    }

    /// One pass: everything up to the record's state at its start (as far
    /// as the chunks allowed), or until the tracker fails.
    pub fn pass(
        &mut self,
        tracker: &mut NamedTracker,
        experiment_id: i64,
        pending: Pending,
    ) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport { tracker: tracker.name.clone(), ..SyncReport::default() };
        let passed = Pass::run(self.store, self.workspace, self.deadline, tracker, experiment_id, &mut report);
        match passed {
            Ok(()) => {}
            Err(PassError::Tracker(e)) => report.error = Some(e),
            Err(PassError::Store(e)) => return Err(e),
        }
        report.caught_up &= report.error.is_none();
        if pending == Pending::Skip {
            return Ok(report);
        }
        let entities = self.store.tracker_entities(&tracker.key)?;
        let cursor = cursor_of(&entities, "cursor.metrics", experiment_id);
        report.pending_points = self.store.metric_count_after(experiment_id, cursor)?;
        report.pending_ends = self
            .store
            .experiment_runs(experiment_id)?
            .iter()
            .filter(|(r, _)| r.status.is_final())
            .filter(|(r, _)| !entities.get(&("run".to_string(), r.id)).is_some_and(|e| e.done))
            .count();
        Ok(report)
    }
}
