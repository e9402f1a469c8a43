//! One pass of one tracker over one experiment, in the order the module
//! doc of [`crate::sync`] gives: the experiment, trials and runs that
//! started, params and tags that changed, metric rows and hardware samples
//! after the tracker's cursors (in chunks, each acknowledged with the
//! memos it changed), the ends of runs, the ends of trials.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::report::SyncReport;
use crate::{
    Memo, NamedTracker, TrackedExperiment, TrackedRun, TrackedTrial, Tracker, TrackerContext, TrackerError,
    TrackerResult,
};
use expman_store::{HardwareRow, RunStatus, Store, StoreError, TrackerEntity};

/// Rows read per chunk.
const CHUNK: usize = 20_000;

/// What a pass failed on: the tracker (keep the work, retry) or the record.
pub(crate) enum PassError {
    Tracker(String),
    Store(StoreError),
}

impl From<StoreError> for PassError {
    fn from(e: StoreError) -> Self {
        PassError::Store(e)
    }
}

/// What the tracker acknowledged so far, by (kind, id): `experiment`,
/// `trial`, `run`, and the cursors `cursor.metrics` / `cursor.hardware`.
pub(crate) type Entities = HashMap<(String, i64), TrackerEntity>;

/// The runs of the pass, and their trials, as the tracker knows them.
#[derive(Default)]
struct Seen {
    trials: HashMap<i64, TrackedTrial>,
    runs: HashMap<i64, TrackedRun>,
    /// Run ids in the record's order.
    order: Vec<i64>,
}

/// A pass in progress.
pub(crate) struct Pass<'a> {
    store: &'a mut Store,
    workspace: &'a Path,
    deadline: Option<Instant>,
    key: String,
    tracker: &'a mut dyn Tracker,
    report: &'a mut SyncReport,
    experiment_id: i64,
    entities: Entities,
    experiment: TrackedExperiment,
    seen: Seen,
}

impl<'a> Pass<'a> {
    /// Everything the record holds up to now (as far as the deadline
    /// allows), or until the tracker fails.
    pub fn run(
        store: &'a mut Store,
        workspace: &'a Path,
        deadline: Option<Instant>,
        named: &'a mut NamedTracker,
        experiment_id: i64,
        report: &'a mut SyncReport,
    ) -> Result<(), PassError> {
        let key = named.key.clone();
        let tracker = named.tracker.as_mut();
        let entities = store.tracker_entities(&key)?;
        let Some(row) = store.experiment_row(experiment_id)? else { return Ok(()) };
        let experiment = TrackedExperiment {
            id: row.id,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            remote_id: None,
        };
        let mut pass = Pass {
            store,
            workspace,
            deadline,
            key,
            tracker,
            report,
            experiment_id,
            entities,
            experiment,
            seen: Seen::default(),
        };
        pass.experiment()?;
        // Runs are read before the last rowids: see the module doc of `sync`.
        pass.runs()?;
        let last_metric = pass.store.last_metric_rowid()?;
        let last_sample = pass.store.last_hardware_id()?;
        pass.params_and_tags()?;
        if !pass.metrics(last_metric)? {
            pass.report.caught_up = false;
            return Ok(());
        }
        pass.hardware(last_sample)?;
        pass.run_ends()?;
        pass.trial_ends()?;
        pass.report.caught_up = true;
        Ok(())
    }

    /// Asks the tracker something about the record (`f` gets the runs and
    /// trials of the pass) and settles its answer.
    fn ask<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Tracker, &TrackerContext<'_>, &Seen) -> TrackerResult<T>,
    ) -> Result<Option<T>, PassError> {
        let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &self.experiment };
        settle(f(self.tracker, &cx, &self.seen), self.report)
    }

    fn entity(&self, kind: &str, id: i64) -> Option<TrackerEntity> {
        self.entities.get(&(kind.to_string(), id)).cloned()
    }

    /// Saves acknowledgements together, and remembers them.
    fn save(&mut self, acknowledged: Vec<(&str, i64, TrackerEntity)>) -> Result<(), StoreError> {
        let rows: Vec<(&str, i64, &TrackerEntity)> = acknowledged.iter().map(|(k, id, e)| (*k, *id, e)).collect();
        self.store.save_tracker_entities(&self.key, &rows)?;
        for (kind, id, entity) in acknowledged {
            self.entities.insert((kind.to_string(), id), entity);
        }
        Ok(())
    }

    fn experiment(&mut self) -> Result<(), PassError> {
        if let Some(e) = self.entity("experiment", self.experiment_id) {
            self.experiment.remote_id = e.remote_id;
            return Ok(());
        }
        let remote = self.ask(|t, cx, _| t.experiment(cx))?.flatten();
        let entity = TrackerEntity { remote_id: remote.clone(), data: None, done: false };
        self.save(vec![("experiment", self.experiment_id, entity)])?;
        self.experiment.remote_id = remote;
        Ok(())
    }

    /// Every run that started, and its trial, announced to the tracker once.
    fn runs(&mut self) -> Result<(), PassError> {
        let repeats = self.store.trial_repeats(self.experiment_id)?;
        for (row, trial_id) in self.store.experiment_runs(self.experiment_id)? {
            if row.status == RunStatus::Pending {
                continue;
            }
            let run_entity = self.entity("run", row.id);
            self.trial(trial_id, &row.trial, run_entity.is_none())?;
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
                    run.remote_id = self
                        .ask(|t, cx, seen| t.run_started(cx, &seen.trials[&trial_id], &run, &mut kept.memo))?
                        .flatten();
                    let entity = TrackerEntity { remote_id: run.remote_id.clone(), data: kept.data(), done: false };
                    self.save(vec![("run", run.id, entity)])?;
                    self.report.runs_started += 1;
                }
            }
            self.seen.order.push(run.id);
            self.seen.runs.insert(run.id, run);
        }
        Ok(())
    }

    /// A run's trial, announced when the tracker does not know it yet, or
    /// when it had ended and gets a new run (`--resume`: it is open again,
    /// and the tracker gets its id back to reuse).
    fn trial(&mut self, trial_id: i64, name: &str, new_run: bool) -> Result<(), PassError> {
        if self.seen.trials.contains_key(&trial_id) {
            return Ok(());
        }
        let mut trial = TrackedTrial { id: trial_id, name: name.to_string(), remote_id: None };
        match self.entity("trial", trial_id) {
            Some(e) if !(e.done && new_run) => trial.remote_id = e.remote_id,
            known => {
                trial.remote_id = known.and_then(|e| e.remote_id);
                trial.remote_id = self.ask(|t, cx, _| t.trial(cx, &trial))?.flatten();
                let entity = TrackerEntity { remote_id: trial.remote_id.clone(), data: None, done: false };
                self.save(vec![("trial", trial_id, entity)])?;
            }
        }
        self.seen.trials.insert(trial_id, trial);
        Ok(())
    }

    /// Params and tags that changed since they were last sent.
    fn params_and_tags(&mut self) -> Result<(), PassError> {
        for id in self.seen.order.clone() {
            let entity = self.entity("run", id).unwrap_or_default();
            if entity.done {
                continue;
            }
            let params = self.store.run_params(id)?;
            let tags = self.store.run_tags(id)?;
            let fingerprint = fingerprint(&params, &tags);
            let mut kept = Kept::of(Some(&entity));
            if kept.sent.as_deref() == Some(fingerprint.as_str()) {
                continue;
            }
            self.ask(|t, cx, seen| t.params_and_tags(cx, &seen.runs[&id], &params, &tags, &mut kept.memo))?;
            kept.sent = Some(fingerprint);
            self.save(vec![("run", id, TrackerEntity { data: kept.data(), ..entity })])?;
        }
        Ok(())
    }

    /// Metric rows up to `last`, chunk by chunk; `false` when the deadline
    /// came first (the rest next time).
    fn metrics(&mut self, last: i64) -> Result<bool, PassError> {
        let batch = self.tracker.batch_size().max(1);
        // A chunk is acknowledged whole: a few batches of the tracker's.
        let chunk = CHUNK.min(batch.saturating_mul(4)).max(batch);
        let mut cursor = cursor_of(&self.entities, "cursor.metrics", self.experiment_id);
        while cursor < last {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            let rows = self.store.metric_rows_after(self.experiment_id, cursor, last, chunk)?;
            let Some(end) = rows.last().map(|r| r.rowid) else {
                cursor = last;
                break;
            };
            let mut memos: HashMap<i64, Kept> = HashMap::new();
            for (run_id, points) in by_run(&rows, |r| r.run_id) {
                if !self.seen.runs.contains_key(&run_id) {
                    continue;
                }
                let kept = memos.entry(run_id).or_insert_with(|| Kept::of(self.entities.get(&("run".into(), run_id))));
                for part in points.chunks(batch) {
                    let cx =
                        TrackerContext { workspace: self.workspace, store: self.store, experiment: &self.experiment };
                    settle(self.tracker.metrics(&cx, &self.seen.runs[&run_id], part, &mut kept.memo), self.report)?;
                }
            }
            self.acknowledge_chunk(memos, "cursor.metrics", end)?;
            self.report.points += rows.len();
            cursor = end;
        }
        self.advance_cursor("cursor.metrics", cursor)?;
        Ok(true)
    }

    /// Hardware samples up to `last`, chunk by chunk.
    fn hardware(&mut self, last: i64) -> Result<(), PassError> {
        let mut cursor = cursor_of(&self.entities, "cursor.hardware", self.experiment_id);
        while cursor < last {
            let rows = self.store.hardware_rows_after(self.experiment_id, cursor, last, CHUNK)?;
            let Some(end) = rows.last().map(|r| r.id) else {
                cursor = last;
                break;
            };
            let mut memos: HashMap<i64, Kept> = HashMap::new();
            for (run_id, samples) in by_run(&rows, |r: &HardwareRow| r.run_id) {
                if !self.seen.runs.contains_key(&run_id) {
                    continue;
                }
                let kept = memos.entry(run_id).or_insert_with(|| Kept::of(self.entities.get(&("run".into(), run_id))));
                let cx = TrackerContext { workspace: self.workspace, store: self.store, experiment: &self.experiment };
                settle(self.tracker.hardware(&cx, &self.seen.runs[&run_id], &samples, &mut kept.memo), self.report)?;
            }
            self.acknowledge_chunk(memos, "cursor.hardware", end)?;
            self.report.samples += rows.len();
            cursor = end;
        }
        self.advance_cursor("cursor.hardware", cursor)?;
        Ok(())
    }

    /// A chunk sent: the cursor and the memos it changed, in one transaction.
    fn acknowledge_chunk(&mut self, memos: HashMap<i64, Kept>, cursor: &str, end: i64) -> Result<(), StoreError> {
        let mut acknowledged: Vec<(&str, i64, TrackerEntity)> = memos
            .iter()
            .map(|(run_id, kept)| {
                let old = self.entity("run", *run_id).unwrap_or_default();
                ("run", *run_id, TrackerEntity { data: kept.data(), ..old })
            })
            .collect();
        acknowledged.push((cursor, self.experiment_id, cursor_entity(end)));
        self.save(acknowledged)
    }

    /// Moves a cursor past rows of other experiments (nothing to send).
    fn advance_cursor(&mut self, cursor: &str, to: i64) -> Result<(), StoreError> {
        if cursor_of(&self.entities, cursor, self.experiment_id) < to {
            self.save(vec![(cursor, self.experiment_id, cursor_entity(to))])?;
        }
        Ok(())
    }

    /// Ends of runs (all their points are at or below the pass's last
    /// rowid, so sent).
    fn run_ends(&mut self) -> Result<(), PassError> {
        for id in self.seen.order.clone() {
            let entity = self.entity("run", id).unwrap_or_default();
            if entity.done || !self.seen.runs[&id].status.is_final() {
                continue;
            }
            let artifacts = self.store.run_artifacts(id)?;
            let mut kept = Kept::of(Some(&entity));
            self.ask(|t, cx, seen| t.run_ended(cx, &seen.runs[&id], &artifacts, &mut kept.memo))?;
            self.save(vec![("run", id, TrackerEntity { data: kept.data(), done: true, ..entity })])?;
            self.report.runs_ended += 1;
        }
        Ok(())
    }

    /// Ends of trials whose runs have all ended, none waiting to start.
    fn trial_ends(&mut self) -> Result<(), PassError> {
        let mut looked_at: HashSet<i64> = HashSet::new();
        for id in self.seen.order.clone() {
            let trial_id = self.seen.runs[&id].trial_id;
            if !looked_at.insert(trial_id) {
                continue;
            }
            let entity = self.entity("trial", trial_id).unwrap_or_default();
            if entity.done {
                continue;
            }
            let members: Vec<&TrackedRun> =
                self.seen.order.iter().map(|i| &self.seen.runs[i]).filter(|r| r.trial_id == trial_id).collect();
            let all_ended = members.iter().all(|r| self.entity("run", r.id).is_some_and(|e| e.done));
            let statuses: Vec<RunStatus> = members.iter().map(|r| r.status).collect();
            if !all_ended || self.store.pending_runs_of_trial(trial_id)? > 0 {
                continue;
            }
            self.ask(|t, cx, seen| t.trial_ended(cx, &seen.trials[&trial_id], &statuses))?;
            self.save(vec![("trial", trial_id, TrackerEntity { done: true, ..entity })])?;
        }
        Ok(())
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

fn cursor_entity(rowid: i64) -> TrackerEntity {
    TrackerEntity { remote_id: Some(rowid.to_string()), data: None, done: false }
}

/// Where a cursor stands (0: nothing sent).
pub(crate) fn cursor_of(entities: &Entities, kind: &str, experiment_id: i64) -> i64 {
    entities
        .get(&(kind.to_string(), experiment_id))
        .and_then(|e| e.remote_id.as_deref())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Rows grouped by run, each group in row order, groups in the order their
/// runs first appear.
fn by_run<R: Clone>(rows: &[R], run_of: impl Fn(&R) -> i64) -> Vec<(i64, Vec<R>)> {
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut out: Vec<(i64, Vec<R>)> = Vec::new();
    for row in rows {
        let i = *index.entry(run_of(row)).or_insert_with(|| {
            out.push((run_of(row), Vec::new()));
            out.len() - 1
        });
        out[i].1.push(row.clone());
    }
    out
}

fn fingerprint(params: &[(String, expman_store::ParamValue)], tags: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in params {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(crate::param_text(v).as_bytes());
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

#[cfg(test)]
mod tests {
    use super::by_run;

    #[test]
    fn rows_group_by_run_in_first_seen_order() {
        let rows = [(2, 'a'), (1, 'b'), (2, 'c'), (3, 'd'), (1, 'e')];
        let grouped = by_run(&rows, |r| r.0);
        let flat: Vec<(i64, String)> = grouped.iter().map(|(id, rs)| (*id, rs.iter().map(|r| r.1).collect())).collect();
        assert_eq!(flat, [(2, "ac".to_string()), (1, "be".to_string()), (3, "d".to_string())]);
    }
}
