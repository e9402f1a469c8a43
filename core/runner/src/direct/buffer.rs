//! What a run started from code has reported and not yet committed.
//!
//! A call appends to the run's [`Pending`] batch under a mutex: no I/O
//! unless the run is durable, in which case the call's event line is also
//! appended to the run's `events.jsonl` (one `write(2)`), and the batch
//! remembers the file offset it reaches. The writer thread takes the batch
//! and commits it with [`Store::ingest`], which applies it only if the
//! committed offset is still where the batch starts: a line is recorded
//! once, by the writer or (after a kill -9) by recovery, never by both.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use expman_store::{Artifact, IngestBatch, MetricPoint, ParamValue, Store, StoreError};

use crate::ingest::{EVENTS_FILE, assign_step};
use crate::protocol::write;

use super::DirectError;

/// A run's reports waiting for the writer.
pub struct RunBuffer {
    pub run_id: i64,
    pub uid: String,
    pending: Mutex<Pending>,
    /// Held while a batch is taken and committed, so that batches reach
    /// the store in the order they were taken.
    commit: Mutex<()>,
}

struct Pending {
    batch: IngestBatch,
    next_step: HashMap<String, i64>,
    epoch: Option<i64>,
    /// The durable run's event file.
    events: Option<EventsFile>,
    ended: bool,
}

/// `events.jsonl`, appended a line per call.
struct EventsFile {
    path: PathBuf,
    file: File,
}

impl RunBuffer {
    /// A buffer for run `run_id` whose committed event offset is `offset`
    /// and whose metric keys continue at `next_step`; `durable` appends
    /// every call to `run_dir/events.jsonl` too.
    pub fn new(
        run_id: i64,
        uid: &str,
        run_dir: &Path,
        offset: u64,
        next_step: HashMap<String, i64>,
        durable: bool,
    ) -> Result<RunBuffer, DirectError> {
        let events = if durable {
            let path = run_dir.join(EVENTS_FILE);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|source| DirectError::Io { path: path.clone(), source })?;
            Some(EventsFile { path, file })
        } else {
            None
        };
        let batch = IngestBatch { run_id, from_offset: offset, offset, ..IngestBatch::default() };
        Ok(RunBuffer {
            run_id,
            uid: uid.to_string(),
            pending: Mutex::new(Pending { batch, next_step, epoch: None, events, ended: false }),
            commit: Mutex::new(()),
        })
    }

    fn pending(&self) -> Result<MutexGuard<'_, Pending>, DirectError> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.ended {
            return Err(DirectError::Ended { uid: self.uid.clone() });
        }
        Ok(pending)
    }

    /// One metric point (the hot path: no allocation but the key's).
    /// Returns how many points wait for the writer.
    pub fn metric(
        &self,
        key: &str,
        value: f64,
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: i64,
    ) -> Result<usize, DirectError> {
        let mut p = self.pending()?;
        let step = assign_step(&mut p.next_step, key, step);
        let epoch = epoch.or(p.epoch);
        p.append_line(|| write::metric(key, value, Some(step), epoch, ts_ms))?;
        p.batch.metrics.push(MetricPoint { key: key.to_string(), step, epoch, value, timestamp: ts_ms });
        Ok(p.batch.metrics.len())
    }

    /// Several metrics at one step (each key its own step when `step` is
    /// `None`).
    pub fn metrics(
        &self,
        values: &[(&str, f64)],
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: i64,
    ) -> Result<usize, DirectError> {
        let mut p = self.pending()?;
        let epoch = epoch.or(p.epoch);
        let mut steps = Vec::with_capacity(values.len());
        for (key, _) in values {
            steps.push(assign_step(&mut p.next_step, key, step));
        }
        for ((key, value), step) in values.iter().zip(steps) {
            p.append_line(|| write::metric(key, *value, Some(step), epoch, ts_ms))?;
            p.batch.metrics.push(MetricPoint { key: key.to_string(), step, epoch, value: *value, timestamp: ts_ms });
        }
        Ok(p.batch.metrics.len())
    }

    pub fn params(&self, values: &[(String, serde_json::Value)]) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        p.append_line(|| write::params(&values.iter().cloned().collect()))?;
        p.batch.params.extend(values.iter().map(|(k, v)| (k.clone(), ParamValue::from_json(v))));
        Ok(())
    }

    pub fn tags(&self, values: &[(String, String)]) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        for (key, value) in values {
            p.append_line(|| write::tag(key, value))?;
        }
        p.batch.tags.extend(values.iter().cloned());
        Ok(())
    }

    /// Files already in the run directory (`path` relative to it).
    pub fn artifacts(&self, artifacts: Vec<Artifact>) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        for a in &artifacts {
            p.append_line(|| write::artifact(&a.path, &a.kind, a.epoch))?;
        }
        p.batch.artifacts.extend(artifacts);
        Ok(())
    }

    pub fn note(&self, ts_ms: i64, text: &str) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        p.append_line(|| write::note(text))?;
        p.batch.events.push((ts_ms, "note".into(), text.to_string()));
        Ok(())
    }

    pub fn epoch_start(&self, epoch: i64, ts_ms: i64) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        p.append_line(|| write::epoch_start(epoch, ts_ms))?;
        p.epoch = Some(epoch);
        Ok(())
    }

    /// The epoch stays the current one until the next starts, as in the
    /// event protocol.
    pub fn epoch_end(&self, epoch: i64, ts_ms: i64) -> Result<(), DirectError> {
        let mut p = self.pending()?;
        p.append_line(|| write::epoch_end(epoch, ts_ms))?;
        p.epoch = Some(epoch);
        Ok(())
    }

    /// The epoch metrics without one are counted in.
    pub fn epoch(&self) -> Option<i64> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).epoch
    }

    /// Refuses every later call (the run has ended).
    pub fn close(&self) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).ended = true;
    }

    /// Commits what is waiting. On failure the batch goes back in front of
    /// what arrived meanwhile, to be tried again.
    pub fn commit(&self, store: &mut Store) -> Result<(), StoreError> {
        let _order = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        let batch = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let offset = p.batch.offset;
            let fresh = IngestBatch { run_id: self.run_id, from_offset: offset, offset, ..IngestBatch::default() };
            std::mem::replace(&mut p.batch, fresh)
        };
        if batch.is_empty() && batch.offset == batch.from_offset {
            return Ok(());
        }
        match store.ingest(&batch) {
            Ok(true) => Ok(()),
            Ok(false) => {
                // Only recovery in another process commits a run's lines
                // besides its writer: it took this run for dead.
                tracing::error!(
                    "run {}: another process recorded this run's events meanwhile (it took the run for lost); {} points were not recorded twice",
                    self.uid,
                    batch.metrics.len()
                );
                Ok(())
            }
            Err(e) => {
                self.pending.lock().unwrap_or_else(|e| e.into_inner()).put_back(batch);
                Err(e)
            }
        }
    }
}

impl Pending {
    /// Appends `line()` to the event file of a durable run.
    fn append_line(&mut self, line: impl FnOnce() -> String) -> Result<(), DirectError> {
        let Some(events) = self.events.as_mut() else { return Ok(()) };
        let mut text = line();
        text.push('\n');
        events
            .file
            .write_all(text.as_bytes())
            .map_err(|source| DirectError::Io { path: events.path.clone(), source })?;
        self.batch.offset += text.len() as u64;
        Ok(())
    }

    /// A batch that could not be committed goes back in front of what
    /// arrived since it was taken.
    fn put_back(&mut self, mut failed: IngestBatch) {
        let newer = std::mem::take(&mut self.batch);
        failed.metrics.extend(newer.metrics);
        failed.params.extend(newer.params);
        failed.tags.extend(newer.tags);
        failed.artifacts.extend(newer.artifacts);
        failed.events.extend(newer.events);
        failed.offset = failed.offset.max(newer.offset);
        self.batch = failed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("expman-buffer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn steps_continue_per_key_and_epochs_carry_over() {
        let dir = temp("steps");
        let buffer = RunBuffer::new(1, "r1", &dir, 0, HashMap::from([("loss".to_string(), 5)]), false).unwrap();
        buffer.metric("loss", 1.0, None, None, 10).unwrap();
        buffer.epoch_start(3, 11).unwrap();
        buffer.metrics(&[("loss", 0.5), ("acc", 0.9)], None, None, 12).unwrap();
        buffer.metric("acc", 0.95, Some(10), None, 13).unwrap();
        buffer.metric("acc", 0.96, None, Some(4), 14).unwrap();
        let p = buffer.pending.lock().unwrap();
        let got: Vec<(&str, i64, Option<i64>)> =
            p.batch.metrics.iter().map(|m| (m.key.as_str(), m.step, m.epoch)).collect();
        assert_eq!(
            got,
            [("loss", 5, None), ("loss", 6, Some(3)), ("acc", 0, Some(3)), ("acc", 10, Some(3)), ("acc", 11, Some(4))]
        );
        assert!(!dir.join(EVENTS_FILE).exists(), "only durable runs write their events");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_durable_run_writes_the_lines_its_batch_covers() {
        let dir = temp("durable");
        let buffer = RunBuffer::new(1, "r1", &dir, 0, HashMap::new(), true).unwrap();
        buffer.metric("loss", 0.25, None, None, 1000).unwrap();
        buffer.tags(&[("stage".into(), "dev".into())]).unwrap();
        let text = std::fs::read_to_string(dir.join(EVENTS_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2);
        let p = buffer.pending.lock().unwrap();
        assert_eq!(p.batch.offset, text.len() as u64);
        assert_eq!(p.batch.from_offset, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_closed_buffer_refuses_calls() {
        let dir = temp("closed");
        let buffer = RunBuffer::new(1, "r1", &dir, 0, HashMap::new(), false).unwrap();
        buffer.close();
        let e = buffer.metric("loss", 1.0, None, None, 0).unwrap_err();
        assert_eq!(e.to_string(), "run r1 has ended: nothing more can be logged to it");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_put_back_goes_before_newer_points() {
        let dir = temp("putback");
        let buffer = RunBuffer::new(1, "r1", &dir, 0, HashMap::new(), false).unwrap();
        buffer.metric("a", 1.0, None, None, 0).unwrap();
        let taken = std::mem::take(&mut buffer.pending.lock().unwrap().batch);
        buffer.metric("a", 2.0, None, None, 0).unwrap();
        buffer.pending.lock().unwrap().put_back(taken);
        let p = buffer.pending.lock().unwrap();
        let values: Vec<f64> = p.batch.metrics.iter().map(|m| m.value).collect();
        assert_eq!(values, [1.0, 2.0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
