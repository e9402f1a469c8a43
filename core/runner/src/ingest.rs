//! Reading a run's event file into [`IngestBatch`]es.
//!
//! An [`EventReader`] remembers the byte offset it has read up to (the
//! store keeps the committed offset, so a restarted reader resumes exactly
//! where the last commit ended), the current epoch, and the next automatic
//! step per metric key. Only complete lines are read while a run is alive;
//! when it has ended, a last line without its newline is read too.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::callbacks::StreamEvent;
use crate::protocol::{Event, parse_line};
use expman_os::time::now_ms;
use expman_store::{Artifact, IngestBatch, MetricPoint};

/// The most bytes read in one batch (so a flood is committed in pieces).
pub const MAX_BATCH_BYTES: usize = 8 << 20;

/// What a batch changed, for live displays and callbacks: the epoch, the
/// latest value of each metric, and (when the reader streams) the events in
/// order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub epoch: Option<i64>,
    pub latest: Vec<(String, f64)>,
    pub stream: Vec<StreamEvent>,
}

/// Reads one run's event file incrementally.
#[derive(Debug)]
pub struct EventReader {
    path: PathBuf,
    run_dir: PathBuf,
    run_id: i64,
    offset: u64,
    epoch: Option<i64>,
    next_step: HashMap<String, i64>,
    malformed_seen: u64,
    first_malformed: Option<(u64, String)>,
    buffer: Vec<u8>,
    before_last_read: Option<(u64, HashMap<String, i64>, Option<i64>)>,
    /// Whether to collect [`StreamEvent`]s (only runs with callbacks need them).
    streaming: bool,
    /// The epoch started and not yet ended.
    open_epoch: Option<i64>,
    /// Read no further than this offset (see [`EventReader::until`]).
    limit: Option<u64>,
}

impl EventReader {
    /// A reader starting at `offset` (what the store has committed).
    /// `next_steps` seeds the automatic step counters (after a restart).
    pub fn new(run_id: i64, run_dir: &Path, offset: u64, next_steps: HashMap<String, i64>) -> EventReader {
        EventReader {
            path: run_dir.join(EVENTS_FILE),
            run_dir: run_dir.to_path_buf(),
            run_id,
            offset,
            epoch: None,
            next_step: next_steps,
            malformed_seen: 0,
            first_malformed: None,
            buffer: Vec::new(),
            before_last_read: None,
            streaming: false,
            open_epoch: None,
            limit: None,
        }
    }

    /// Reads no further than `end` (a committed offset: a line boundary)
    /// until [`EventReader::unlimited`]; to replay what was ingested before.
    pub fn until(mut self, end: u64) -> EventReader {
        self.limit = Some(end);
        self
    }

    /// Lifts the limit of [`EventReader::until`].
    pub fn unlimited(&mut self) {
        self.limit = None;
    }

    /// Also collect the event stream for callbacks.
    pub fn streaming(mut self, on: bool) -> EventReader {
        self.streaming = on;
        self
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Undoes the last [`EventReader::read`] (its batch could not be
    /// committed): the same lines will be read again, with the same steps.
    pub fn rewind(&mut self) {
        if let Some((offset, steps, epoch)) = self.before_last_read.take() {
            self.offset = offset;
            self.next_step = steps;
            self.epoch = epoch;
        }
    }

    /// Malformed lines so far and the first one (line offset, reason).
    pub fn malformed(&self) -> (u64, Option<&(u64, String)>) {
        (self.malformed_seen, self.first_malformed.as_ref())
    }

    /// Reads what was appended since the last call. With `finished`, a
    /// trailing line without a newline is read as well.
    pub fn read(&mut self, finished: bool) -> std::io::Result<(IngestBatch, Progress)> {
        let mut batch = IngestBatch {
            run_id: self.run_id,
            from_offset: self.offset,
            offset: self.offset,
            ..IngestBatch::default()
        };
        let mut progress = Progress::default();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((batch, progress)),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let len = self.limit.map_or(len, |end| len.min(end));
        if len <= self.offset {
            return Ok((batch, progress));
        }
        self.before_last_read = Some((self.offset, self.next_step.clone(), self.epoch));
        let want = ((len - self.offset) as usize).min(MAX_BATCH_BYTES);
        file.seek(SeekFrom::Start(self.offset))?;
        self.buffer.clear();
        self.buffer.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            let n = file.read(&mut self.buffer[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.buffer.truncate(filled);
        let at_end = self.offset + filled as u64 >= len;
        // Only whole lines, unless the writer is gone and this is the end.
        let usable = if finished && at_end {
            filled
        } else {
            self.buffer.iter().rposition(|&b| b == b'\n').map(|last| last + 1).unwrap_or(0)
        };
        let data = std::mem::take(&mut self.buffer);
        let now = now_ms();
        let mut line_start = 0;
        while line_start < usable {
            let end =
                data[line_start..usable].iter().position(|&b| b == b'\n').map(|p| line_start + p).unwrap_or(usable);
            let line = trim(&data[line_start..end]);
            if !line.is_empty() {
                let at = self.offset + line_start as u64;
                match parse_line(line) {
                    Ok(event) => self.apply(event, now, &mut batch, &mut progress),
                    Err(reason) => {
                        batch.malformed += 1;
                        self.malformed_seen += 1;
                        if self.first_malformed.is_none() {
                            self.first_malformed = Some((at, reason.to_string()));
                        }
                    }
                }
            }
            line_start = end + 1;
        }
        self.buffer = data;
        self.offset += usable as u64;
        batch.offset = self.offset;
        progress.epoch = self.epoch;
        if finished && at_end && self.streaming {
            // The run is over: an epoch left open ends here.
            if let Some(open) = self.open_epoch.take() {
                progress.stream.push(StreamEvent::EpochEnd { epoch: open });
            }
        }
        Ok((batch, progress))
    }

    fn apply(&mut self, event: Event, now: i64, batch: &mut IngestBatch, progress: &mut Progress) {
        match event {
            Event::Metrics { values, step, epoch, ts } => {
                let epoch = epoch.or(self.epoch);
                for (key, value) in values {
                    let step = assign_step(&mut self.next_step, &key, step);
                    remember(progress, &key, value);
                    if self.streaming {
                        progress.stream.push(StreamEvent::Metric { key: key.clone(), step, epoch, value });
                    }
                    batch.metrics.push(MetricPoint { key, step, epoch, value, timestamp: ts.unwrap_or(now) });
                }
            }
            Event::Params(values) => batch.params.extend(values),
            Event::Tags(values) => batch.tags.extend(values),
            Event::Artifact { path, kind, epoch } => {
                let full = if Path::new(&path).is_absolute() { PathBuf::from(&path) } else { self.run_dir.join(&path) };
                let (size, sha256) = match file_digest(&full) {
                    Some((size, digest)) => (Some(size as i64), Some(digest)),
                    None => (None, None),
                };
                if self.streaming && kind == "checkpoint" {
                    progress.stream.push(StreamEvent::Checkpoint { path: path.clone(), epoch: epoch.or(self.epoch) });
                }
                batch.artifacts.push(Artifact {
                    path,
                    size,
                    sha256,
                    kind,
                    epoch: epoch.or(self.epoch),
                    created_at: now,
                });
            }
            Event::EpochStart { epoch, .. } => {
                if let Some(open) = self.open_epoch.filter(|e| *e != epoch)
                    && self.streaming
                {
                    progress.stream.push(StreamEvent::EpochEnd { epoch: open });
                }
                self.epoch = Some(epoch);
                self.open_epoch = Some(epoch);
            }
            Event::EpochEnd { epoch, ts, values } => {
                self.epoch = Some(epoch);
                if !values.is_empty() {
                    self.apply(
                        Event::Metrics { values, step: Some(epoch), epoch: Some(epoch), ts },
                        now,
                        batch,
                        progress,
                    );
                }
                self.open_epoch = None;
                if self.streaming {
                    progress.stream.push(StreamEvent::EpochEnd { epoch });
                }
            }
            Event::BatchEnd { epoch, batch: index, values } => {
                if let Some(e) = epoch {
                    self.epoch = Some(e);
                }
                if !values.is_empty() {
                    self.apply(Event::Metrics { values, step: None, epoch, ts: None }, now, batch, progress);
                }
                if self.streaming {
                    progress.stream.push(StreamEvent::BatchEnd { epoch, batch: index });
                }
            }
            Event::Note(text) => batch.events.push((now, "note".into(), text)),
        }
    }
}

/// The step of a point of metric `key`: `explicit` when given (later
/// automatic steps continue after it), else the key's next step (0, 1,
/// 2, ...). `next` holds each key's next automatic step.
pub fn assign_step(next: &mut HashMap<String, i64>, key: &str, explicit: Option<i64>) -> i64 {
    let slot = match next.get_mut(key) {
        Some(slot) => slot,
        None => next.entry(key.to_string()).or_insert(0),
    };
    match explicit {
        Some(s) => {
            *slot = (*slot).max(s + 1);
            s
        }
        None => {
            *slot += 1;
            *slot - 1
        }
    }
}

/// The name of the event file in a run directory.
pub const EVENTS_FILE: &str = "events.jsonl";

fn remember(progress: &mut Progress, key: &str, value: f64) {
    match progress.latest.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => progress.latest.push((key.to_string(), value)),
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let mut line = line;
    while let [rest @ .., b'\r' | b' ' | b'\t'] = line {
        line = rest;
    }
    while let [b' ' | b'\t', rest @ ..] = line {
        line = rest;
    }
    line
}

/// Size and SHA-256 (hex) of a file, streamed.
pub fn file_digest(path: &Path) -> Option<(u64, String)> {
    let mut file = File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Some((size, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_run_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("expman-ingest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_whole_lines_then_the_tail_when_finished() {
        let dir = temp_run_dir("tail");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(EVENTS_FILE)).unwrap();
        writeln!(f, r#"{{"type":"metric","key":"a","value":1}}"#).unwrap();
        writeln!(f, "not json").unwrap();
        write!(f, r#"{{"type":"metric","key":"a","value":2}}"#).unwrap();
        let mut reader = EventReader::new(1, &dir, 0, HashMap::new());
        let (batch, _) = reader.read(false).unwrap();
        assert_eq!(batch.metrics.len(), 1);
        assert_eq!(batch.malformed, 1);
        let (batch, progress) = reader.read(true).unwrap();
        assert_eq!(batch.metrics.len(), 1);
        assert_eq!(batch.metrics[0].step, 1, "automatic steps continue per key");
        assert_eq!(progress.latest, vec![("a".to_string(), 2.0)]);
        assert_eq!(reader.offset(), std::fs::metadata(dir.join(EVENTS_FILE)).unwrap().len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn epochs_carry_over_and_artifacts_are_hashed() {
        let dir = temp_run_dir("epochs");
        std::fs::write(dir.join("model.bin"), b"abc").unwrap();
        let text = concat!(
            r#"{"type":"epoch_start","epoch":2}"#,
            "\n",
            r#"{"type":"metrics","values":{"loss":0.5,"acc":0.9}}"#,
            "\n",
            r#"{"type":"artifact","path":"model.bin"}"#,
            "\n",
        );
        std::fs::write(dir.join(EVENTS_FILE), text).unwrap();
        let mut reader = EventReader::new(7, &dir, 0, HashMap::new());
        let (batch, progress) = reader.read(false).unwrap();
        assert!(batch.metrics.iter().all(|m| m.epoch == Some(2)));
        assert_eq!(progress.epoch, Some(2));
        assert_eq!(batch.artifacts[0].size, Some(3));
        assert_eq!(
            batch.artifacts[0].sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
