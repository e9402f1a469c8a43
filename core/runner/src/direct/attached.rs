//! Inside a run that expman launched (`EXPMAN_EVENTS` set), the calls of a
//! run started from code go to that run: they become event-protocol lines
//! appended to its event file, which its runner ingests as it does
//! `expman_client`'s. The run's status is its process's; `finish` only
//! notes what the code said. Lines are buffered and written out every
//! 100 ms by a thread (or at once when durable), so one training script
//! works the same launched by expman and on its own.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use expman_os::time::now_ms;
use expman_store::RunStatus;

use super::values::{self, Kind};
use super::{DirectError, RunIdentity, RunLog, files};
use crate::protocol::write;

/// The calls of a launched run, as event lines for its runner.
pub struct AttachedRun {
    identity: RunIdentity,
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    durable: bool,
}

struct Shared {
    path: PathBuf,
    out: Mutex<Out>,
    stop: Mutex<bool>,
    wake: Condvar,
}

struct Out {
    file: File,
    buffer: Vec<u8>,
    ended: bool,
    epoch: Option<i64>,
}

impl AttachedRun {
    /// The launched run the environment describes (`env` reads a
    /// variable), or `None` when this process was not launched by expman.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, durable: bool) -> Option<Result<AttachedRun, DirectError>> {
        let events = PathBuf::from(env("EXPMAN_EVENTS").filter(|e| !e.is_empty())?);
        let run_dir = env("EXPMAN_RUN_DIR")
            .map(PathBuf::from)
            .or_else(|| events.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let identity = RunIdentity {
            uid: env("EXPMAN_RUN_ID").unwrap_or_default(),
            experiment: env("EXPMAN_EXPERIMENT").unwrap_or_default(),
            trial: env("EXPMAN_TRIAL").unwrap_or_default(),
            repeat: env("EXPMAN_REPEAT").and_then(|r| r.parse().ok()).unwrap_or(0),
            workspace: env("EXPMAN_WORKSPACE").map(PathBuf::from).unwrap_or_default(),
            run_dir,
            parent: None,
            attached: true,
        };
        Some(AttachedRun::open(identity, &events, durable))
    }

    fn open(identity: RunIdentity, events: &Path, durable: bool) -> Result<AttachedRun, DirectError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(events)
            .map_err(|source| DirectError::Io { path: events.to_path_buf(), source })?;
        let shared = Arc::new(Shared {
            path: events.to_path_buf(),
            out: Mutex::new(Out { file, buffer: Vec::with_capacity(64 << 10), ended: false, epoch: None }),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let flusher = if durable {
            None
        } else {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name("expman-events".into())
                .spawn(move || flush_every(&shared, Duration::from_millis(100)))
                .map_err(DirectError::Thread)?;
            Some(thread)
        };
        Ok(AttachedRun { identity, shared, flusher: Mutex::new(flusher), durable })
    }

    /// Appends lines; written out now when durable, else by the flusher.
    fn append(&self, lines: impl FnOnce(&mut Vec<u8>, Option<i64>) -> Option<i64>) -> Result<(), DirectError> {
        let mut out = self.shared.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.ended {
            return Err(DirectError::Ended { uid: self.identity.uid.clone() });
        }
        let epoch = out.epoch;
        let next = lines(&mut out.buffer, epoch);
        out.epoch = next;
        if self.durable || out.buffer.len() >= 1 << 20 {
            out.write_out(&self.shared.path)?;
        }
        Ok(())
    }
}

impl Out {
    fn write_out(&mut self, path: &Path) -> Result<(), DirectError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buffer);
        self.buffer.clear();
        result.map_err(|source| DirectError::Io { path: path.to_path_buf(), source })
    }
}

fn line(buffer: &mut Vec<u8>, text: String) {
    buffer.extend_from_slice(text.as_bytes());
    buffer.push(b'\n');
}

fn flush_every(shared: &Shared, interval: Duration) {
    loop {
        let stop = {
            let stop = shared.stop.lock().unwrap_or_else(|e| e.into_inner());
            let (stop, _) = shared.wake.wait_timeout(stop, interval).unwrap_or_else(|e| e.into_inner());
            *stop
        };
        let mut out = shared.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_out(&shared.path) {
            tracing::warn!("{e}");
        }
        if stop {
            return;
        }
    }
}

impl RunLog for AttachedRun {
    fn identity(&self) -> &RunIdentity {
        &self.identity
    }

    fn log_metric(
        &self,
        key: &str,
        value: f64,
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError> {
        values::check_key(Kind::Metric, key)?;
        values::check_number(key, value)?;
        let ts = ts_ms.unwrap_or_else(now_ms);
        self.append(|b, current| {
            line(b, write::metric(key, value, step, epoch, ts));
            current
        })
    }

    fn log_metrics(
        &self,
        values: &[(&str, f64)],
        step: Option<i64>,
        epoch: Option<i64>,
        ts_ms: Option<i64>,
    ) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(Kind::Metric, key)?;
            values::check_number(key, *value)?;
        }
        let ts = ts_ms.unwrap_or_else(now_ms);
        self.append(|b, current| {
            line(b, write::metrics(values, step, epoch, ts));
            current
        })
    }

    fn log_params(&self, values: &[(String, serde_json::Value)]) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(Kind::Param, key)?;
            values::check_text(Kind::Param, key, &value.to_string())?;
        }
        let map = values.iter().cloned().collect();
        self.append(|b, current| {
            line(b, write::params(&map));
            current
        })
    }

    fn set_tags(&self, values: &[(String, String)]) -> Result<(), DirectError> {
        for (key, value) in values {
            values::check_key(Kind::Tag, key)?;
            values::check_text(Kind::Tag, key, value)?;
        }
        self.append(|b, current| {
            for (key, value) in values {
                line(b, write::tag(key, value));
            }
            current
        })
    }

    fn log_artifact(&self, path: &Path, kind: &str) -> Result<Vec<String>, DirectError> {
        let epoch = self.shared.out.lock().unwrap_or_else(|e| e.into_inner()).epoch;
        let artifacts = files::collect(&self.identity.run_dir, path, kind, epoch)?;
        let paths: Vec<String> = artifacts.iter().map(|a| a.path.clone()).collect();
        self.append(|b, current| {
            for a in &artifacts {
                line(b, write::artifact(&a.path, &a.kind, a.epoch));
            }
            current
        })?;
        Ok(paths)
    }

    fn epoch_start(&self, epoch: i64) -> Result<(), DirectError> {
        let ts = now_ms();
        self.append(|b, _| {
            line(b, write::epoch_start(epoch, ts));
            Some(epoch)
        })
    }

    fn epoch_end(&self, epoch: i64) -> Result<(), DirectError> {
        let ts = now_ms();
        self.append(|b, _| {
            line(b, write::epoch_end(epoch, ts));
            Some(epoch)
        })
    }

    fn note(&self, text: &str) -> Result<(), DirectError> {
        self.append(|b, current| {
            line(b, write::note(text));
            current
        })
    }

    fn flush(&self) -> Result<(), DirectError> {
        self.shared.out.lock().unwrap_or_else(|e| e.into_inner()).write_out(&self.shared.path)
    }

    fn finish(&self, status: RunStatus, error: Option<&str>) -> Result<(), DirectError> {
        if self.shared.out.lock().unwrap_or_else(|e| e.into_inner()).ended {
            return Ok(());
        }
        if status != RunStatus::Success {
            let text = match error {
                Some(error) => format!("the code reported {status}: {error}"),
                None => format!("the code reported {status}"),
            };
            self.note(&text)?;
        }
        let mut out = self.shared.out.lock().unwrap_or_else(|e| e.into_inner());
        out.ended = true;
        out.write_out(&self.shared.path)?;
        drop(out);
        *self.shared.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.flusher.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
        Ok(())
    }
}

impl Drop for AttachedRun {
    fn drop(&mut self) {
        if let Err(e) = self.finish(RunStatus::Success, None) {
            tracing::error!("run {}: {e}", self.identity.uid);
        }
    }
}
