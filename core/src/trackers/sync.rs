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

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Memo, NamedTracker, TrackedExperiment, TrackedRun, TrackedTrial, TrackerContext, TrackerError, TrackerResult,
};
use crate::error::StoreError;
use crate::store::{MetricRow, RunStatus, Store, TrackerEntity};

/// Metric rows read per chunk.
const CHUNK: usize = 20_000;

/// What one sync of one tracker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub tracker: String,
    pub runs_started: usize,
    pub points: usize,
    pub samples: usize,
    pub runs_ended: usize,
    /// Everything the record held at the start of the pass is sent.
    pub caught_up: bool,
    /// Metric points still to send.
    pub pending_points: i64,
    /// Run ends still to send.
    pub pending_ends: usize,
    /// Why it stopped early (the back end is down, ...).
    pub error: Option<String>,
    /// Data the back end refused for good (skipped).
    pub rejected: Vec<String>,
}

impl SyncReport {
    /// `mlflow: 1,234 points, 3 runs ended; caught up`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.runs_started > 0 {
            parts.push(format!("{} run(s)", self.runs_started));
        }
        if self.points > 0 {
            parts.push(format!("{} point(s)", self.points));
        }
        if self.samples > 0 {
            parts.push(format!("{} hardware sample(s)", self.samples));
        }
        if self.runs_ended > 0 {
            parts.push(format!("{} run end(s)", self.runs_ended));
        }
        let done =
            if parts.is_empty() { "nothing new to send".to_string() } else { format!("sent {}", parts.join(", ")) };
        let state = match &self.error {
            None if self.caught_up => "up to date".to_string(),
            None => format!("{} point(s) and {} run end(s) still to send", self.pending_points, self.pending_ends),
            Some(e) => format!("{} point(s) and {} run end(s) wait: {e}", self.pending_points, self.pending_ends),
        };
        format!("{}: {done}; {state}", self.tracker)
    }

    /// Adds what `other` sent; its state (caught up, pending, error) wins.
    pub fn absorb(&mut self, other: SyncReport) {
        self.runs_started += other.runs_started;
        self.points += other.points;
        self.samples += other.samples;
        self.runs_ended += other.runs_ended;
        self.caught_up = other.caught_up;
        self.pending_points = other.pending_points;
        self.pending_ends = other.pending_ends;
        self.error = other.error;
        self.rejected.extend(other.rejected);
    }
}

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

/// What a pass failed on: the tracker (keep the work, retry) or the record.
enum PassError {
    Tracker(String),
    Store(StoreError),
}

impl From<StoreError> for PassError {
    fn from(e: StoreError) -> Self {
        PassError::Store(e)
    }
}

/// The entity's memo and the fingerprint of what was last sent, as kept in
/// `tracker_state.data`.
#[derive(Default)]
struct Kept {
    memo: Memo,
    sent: Option<String>,
}

impl Kept {
    fn of(entity: Option<&TrackerEntity>) -> Kept {
        let Some(data) = entity.and_then(|e| e.data.as_deref()) else { return Kept::default() };
        let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
        Kept {
            memo: value.get("memo").and_then(|m| m.as_str()).map(str::to_string),
            sent: value.get("sent").and_then(|m| m.as_str()).map(str::to_string),
        }
    }

    fn data(&self) -> Option<String> {
        (self.memo.is_some() || self.sent.is_some()).then(|| json!({"memo": self.memo, "sent": self.sent}).to_string())
    }
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
        match self.try_pass(tracker, experiment_id, &mut report) {
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

    fn try_pass(
        &mut self,
        named: &mut NamedTracker,
        experiment_id: i64,
        report: &mut SyncReport,
    ) -> Result<(), PassError> {
        let key = named.key.clone();
        let tracker = named.tracker.as_mut();
        let mut entities = self.store.tracker_entities(&key)?;
        let Some(row) = self.store.experiment_row(experiment_id)? else { return Ok(()) };
        let mut experiment = TrackedExperiment {
            id: row.id,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            remote_id: None,
        };
        let entity_of = |entities: &HashMap<(String, i64), TrackerEntity>, kind: &str, id: i64| {
            entities.get(&(kind.to_string(), id)).cloned()
        };

        // The experiment.
        match entity_of(&entities, "experiment", experiment_id) {
            Some(e) => experiment.remote_id = e.remote_id,
            None => {
                let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
                let remote = settle(tracker.experiment(&cx), report)?.flatten();
                let entity = TrackerEntity { remote_id: remote.clone(), data: None, done: false };
                self.store.save_tracker_entities(&key, &[("experiment", experiment_id, &entity)])?;
                entities.insert(("experiment".into(), experiment_id), entity);
                experiment.remote_id = remote;
            }
        }

        // Runs (read before the last rowid: see the module doc), trials.
        let repeats = self.store.trial_repeats(experiment_id)?;
        let rows = self.store.experiment_runs(experiment_id)?;
        let last_metric = self.store.last_metric_rowid()?;
        let last_sample = self.store.last_hardware_id()?;
        let mut trials: HashMap<i64, TrackedTrial> = HashMap::new();
        let mut runs: HashMap<i64, TrackedRun> = HashMap::new();
        let mut order: Vec<i64> = Vec::new();
        for (row, trial_id) in rows {
            if row.status == RunStatus::Pending {
                continue;
            }
            let run_entity = entity_of(&entities, "run", row.id);
            let trial = match trials.get(&trial_id) {
                Some(t) => t.clone(),
                None => {
                    let mut trial = TrackedTrial { id: trial_id, name: row.trial.clone(), remote_id: None };
                    let known = entity_of(&entities, "trial", trial_id);
                    match known {
                        // A trial that ended gets a new run (`--resume`): it is
                        // open again (the tracker gets its id back to reuse).
                        Some(e) if !(e.done && run_entity.is_none()) => trial.remote_id = e.remote_id,
                        _ => {
                            trial.remote_id = known.and_then(|e| e.remote_id);
                            let cx = TrackerContext {
                                workspace: self.workspace,
                                store: self.store,
                                experiment: &experiment,
                            };
                            trial.remote_id = settle(tracker.trial(&cx, &trial), report)?.flatten();
                            let entity = TrackerEntity { remote_id: trial.remote_id.clone(), data: None, done: false };
                            self.store.save_tracker_entities(&key, &[("trial", trial_id, &entity)])?;
                            entities.insert(("trial".into(), trial_id), entity);
                        }
                    }
                    trials.insert(trial_id, trial.clone());
                    trial
                }
            };
            let mut run = TrackedRun {
                id: row.id,
                uid: row.uid,
                trial: row.trial,
                trial_id,
                repeat: row.repeat,
                repeats: repeats.get(&trial_id).copied().unwrap_or(row.repeat + 1),
                status: row.status,
                created_at: row.created_at,
                started_at: row.started_at,
                ended_at: row.ended_at,
                config_hash: row.config_hash,
                seed: row.seed,
                run_dir: row.run_dir.map(Into::into),
                error: row.error,
                remote_id: None,
            };
            match run_entity {
                Some(e) => run.remote_id = e.remote_id,
                None => {
                    let mut kept = Kept::default();
                    let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
                    run.remote_id = settle(tracker.run_started(&cx, &trial, &run, &mut kept.memo), report)?.flatten();
                    let entity = TrackerEntity { remote_id: run.remote_id.clone(), data: kept.data(), done: false };
                    self.store.save_tracker_entities(&key, &[("run", run.id, &entity)])?;
                    entities.insert(("run".into(), run.id), entity);
                    report.runs_started += 1;
                }
            }
            order.push(run.id);
            runs.insert(run.id, run);
        }

        // Params and tags that changed since they were last sent.
        for id in &order {
            let run = &runs[id];
            let entity = entity_of(&entities, "run", *id).unwrap_or_default();
            if entity.done {
                continue;
            }
            let params = self.store.run_params(*id)?;
            let tags = self.store.run_tags(*id)?;
            let fingerprint = fingerprint(&params, &tags);
            let mut kept = Kept::of(Some(&entity));
            if kept.sent.as_deref() == Some(fingerprint.as_str()) {
                continue;
            }
            let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
            settle(tracker.params_and_tags(&cx, run, &params, &tags, &mut kept.memo), report)?;
            kept.sent = Some(fingerprint);
            let entity = TrackerEntity { data: kept.data(), ..entity };
            self.store.save_tracker_entities(&key, &[("run", *id, &entity)])?;
            entities.insert(("run".into(), *id), entity);
        }

        // Metric points, chunk by chunk.
        let mut cursor = cursor_of(&entities, "cursor.metrics", experiment_id);
        let batch = tracker.batch_size().max(1);
        // A chunk is acknowledged whole: a few batches of the tracker's.
        let chunk = CHUNK.min(batch.saturating_mul(4)).max(batch);
        while cursor < last_metric {
            if self.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                // Out of time for this pass: the rest next time.
                report.caught_up = false;
                return Ok(());
            }
            let rows = self.store.metric_rows_after(experiment_id, cursor, last_metric, chunk)?;
            let Some(last) = rows.last().map(|r| r.rowid) else {
                cursor = last_metric;
                break;
            };
            let mut memos: HashMap<i64, Kept> = HashMap::new();
            for (run_id, points) in by_run(&rows) {
                let Some(run) = runs.get(&run_id) else { continue };
                let kept = memos.entry(run_id).or_insert_with(|| Kept::of(entities.get(&("run".to_string(), run_id))));
                for part in points.chunks(batch) {
                    let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
                    settle(tracker.metrics(&cx, run, part, &mut kept.memo), report)?;
                }
            }
            // The chunk and the memos it changed, together.
            let mut saved: Vec<(i64, TrackerEntity)> = Vec::new();
            for (run_id, kept) in &memos {
                let old = entity_of(&entities, "run", *run_id).unwrap_or_default();
                saved.push((*run_id, TrackerEntity { data: kept.data(), ..old }));
            }
            let cursor_entity = TrackerEntity { remote_id: Some(last.to_string()), data: None, done: false };
            let mut batch_save: Vec<(&str, i64, &TrackerEntity)> =
                saved.iter().map(|(id, e)| ("run", *id, e)).collect();
            batch_save.push(("cursor.metrics", experiment_id, &cursor_entity));
            self.store.save_tracker_entities(&key, &batch_save)?;
            for (id, e) in saved {
                entities.insert(("run".into(), id), e);
            }
            report.points += rows.len();
            cursor = last;
        }
        if cursor_of(&entities, "cursor.metrics", experiment_id) < cursor {
            let e = TrackerEntity { remote_id: Some(cursor.to_string()), data: None, done: false };
            self.store.save_tracker_entities(&key, &[("cursor.metrics", experiment_id, &e)])?;
        }

        // Hardware samples.
        let mut sample_cursor = cursor_of(&entities, "cursor.hardware", experiment_id);
        while sample_cursor < last_sample {
            let rows = self.store.hardware_rows_after(experiment_id, sample_cursor, last_sample, CHUNK)?;
            let Some(last) = rows.last().map(|r| r.id) else {
                sample_cursor = last_sample;
                break;
            };
            let mut grouped: Vec<(i64, Vec<crate::store::HardwareRow>)> = Vec::new();
            for row in rows.iter().cloned() {
                match grouped.iter_mut().find(|(id, _)| *id == row.run_id) {
                    Some((_, v)) => v.push(row),
                    None => grouped.push((row.run_id, vec![row])),
                }
            }
            let mut memos: HashMap<i64, Kept> = HashMap::new();
            for (run_id, samples) in grouped {
                let Some(run) = runs.get(&run_id) else { continue };
                let kept = memos.entry(run_id).or_insert_with(|| Kept::of(entities.get(&("run".to_string(), run_id))));
                let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
                settle(tracker.hardware(&cx, run, &samples, &mut kept.memo), report)?;
            }
            let mut saved: Vec<(i64, TrackerEntity)> = Vec::new();
            for (run_id, kept) in &memos {
                let old = entity_of(&entities, "run", *run_id).unwrap_or_default();
                saved.push((*run_id, TrackerEntity { data: kept.data(), ..old }));
            }
            let cursor_entity = TrackerEntity { remote_id: Some(last.to_string()), data: None, done: false };
            let mut batch_save: Vec<(&str, i64, &TrackerEntity)> =
                saved.iter().map(|(id, e)| ("run", *id, e)).collect();
            batch_save.push(("cursor.hardware", experiment_id, &cursor_entity));
            self.store.save_tracker_entities(&key, &batch_save)?;
            for (id, e) in saved {
                entities.insert(("run".into(), id), e);
            }
            report.samples += rows.len();
            sample_cursor = last;
        }
        if cursor_of(&entities, "cursor.hardware", experiment_id) < sample_cursor {
            let e = TrackerEntity { remote_id: Some(sample_cursor.to_string()), data: None, done: false };
            self.store.save_tracker_entities(&key, &[("cursor.hardware", experiment_id, &e)])?;
        }

        // Ends of runs (all their points are at or below `last_metric`, sent).
        for id in &order {
            let run = &runs[id];
            let entity = entity_of(&entities, "run", *id).unwrap_or_default();
            if entity.done || !run.status.is_final() {
                continue;
            }
            let artifacts = self.store.run_artifacts(*id)?;
            let mut kept = Kept::of(Some(&entity));
            let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
            settle(tracker.run_ended(&cx, run, &artifacts, &mut kept.memo), report)?;
            let entity = TrackerEntity { data: kept.data(), done: true, ..entity };
            self.store.save_tracker_entities(&key, &[("run", *id, &entity)])?;
            entities.insert(("run".into(), *id), entity);
            report.runs_ended += 1;
        }

        // Ends of trials whose runs have all ended.
        let mut seen: HashSet<i64> = HashSet::new();
        for id in &order {
            let trial_id = runs[id].trial_id;
            if !seen.insert(trial_id) {
                continue;
            }
            let entity = entity_of(&entities, "trial", trial_id).unwrap_or_default();
            if entity.done {
                continue;
            }
            let members: Vec<&TrackedRun> = order.iter().map(|i| &runs[i]).filter(|r| r.trial_id == trial_id).collect();
            let all_ended = members.iter().all(|r| entity_of(&entities, "run", r.id).is_some_and(|e| e.done));
            // A trial may still have runs waiting to start.
            let waiting = self.store.pending_runs_of_trial(trial_id)?;
            if !all_ended || waiting > 0 {
                continue;
            }
            let statuses: Vec<RunStatus> = members.iter().map(|r| r.status).collect();
            let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &experiment };
            settle(tracker.trial_ended(&cx, &trials[&trial_id], &statuses), report)?;
            let entity = TrackerEntity { done: true, ..entity };
            self.store.save_tracker_entities(&key, &[("trial", trial_id, &entity)])?;
            entities.insert(("trial".into(), trial_id), entity);
        }

        report.caught_up = true;
        Ok(())
    }
}

/// A tracker's answer: `Retry` ends the pass (the work stays pending),
/// `Rejected` is noted and counts as done.
fn settle<T>(result: TrackerResult<T>, report: &mut SyncReport) -> Result<Option<T>, PassError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(TrackerError::Retry(e)) => Err(PassError::Tracker(e)),
        Err(TrackerError::Rejected(e)) => {
            tracing::warn!("{}: {e}", report.tracker);
            if report.rejected.len() < 20 {
                report.rejected.push(e);
            }
            Ok(None)
        }
    }
}

fn cursor_of(entities: &HashMap<(String, i64), TrackerEntity>, kind: &str, experiment_id: i64) -> i64 {
    entities
        .get(&(kind.to_string(), experiment_id))
        .and_then(|e| e.remote_id.as_deref())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Rows grouped by run, each group in rowid order, groups in the order
/// their runs first appear.
fn by_run(rows: &[MetricRow]) -> Vec<(i64, Vec<MetricRow>)> {
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut out: Vec<(i64, Vec<MetricRow>)> = Vec::new();
    for row in rows {
        let i = *index.entry(row.run_id).or_insert_with(|| {
            out.push((row.run_id, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(row.clone());
    }
    out
}

fn fingerprint(params: &[(String, crate::store::ParamValue)], tags: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in params {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(super::param_text(v).as_bytes());
        h.update([1]);
    }
    h.update([2]);
    for (k, v) in tags {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([1]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}
