//! The ingest thread: tails the event files of active runs and commits
//! what they report, in batches, on a database connection of its own.
//! The scheduler tells it which runs to watch and asks it to drain a run
//! completely when its process has exited.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::callbacks::{Action, RunCallbacks};
use crate::ingest::{EventReader, Progress};
use expman_store::{Store, StoreError, Unwritable};

/// What the scheduler asks of the ingest thread.
pub enum Command {
    /// Start reading a run's events; its callbacks see them as they come.
    Watch {
        run_id: i64,
        run_dir: PathBuf,
        offset: u64,
        callbacks: Option<Box<RunCallbacks>>,
    },
    /// Read a run to the end of its file and stop watching it; the reply
    /// carries the count and first reason of malformed lines.
    Drain {
        run_id: i64,
        reply: Sender<Drained>,
    },
    /// Record nothing more (the record's disk is full: what is left of the
    /// event files stays there); drains answer at once.
    Halt,
    Shutdown,
}

/// The result of draining a run; its callbacks come back for `on_end`.
#[derive(Default)]
pub struct Drained {
    pub malformed: u64,
    pub first_malformed: Option<String>,
    pub error: Option<String>,
    pub callbacks: Option<Box<RunCallbacks>>,
    /// The first stop a callback asked for, even if the process ended
    /// before the scheduler heard of it.
    pub stop: Option<Action>,
    /// The run's last epoch and the last value of each of its metrics, over
    /// everything it reported (the scheduler reports them before the run's
    /// end: a `Report::Progress` still queued when the run ends is dropped).
    pub epoch: Option<i64>,
    pub latest: Vec<(String, f64)>,
}

/// What the ingest thread tells the scheduler.
pub enum Report {
    Progress {
        run_id: i64,
        progress: Progress,
    },
    Error {
        run_id: i64,
        message: String,
    },
    /// A callback asked for something only the scheduler can do.
    Action {
        run_id: i64,
        action: Action,
    },
    /// The record's disk is full: nothing more can be recorded.
    DiskFull {
        message: String,
    },
}

struct Watched {
    reader: EventReader,
    callbacks: Option<Box<RunCallbacks>>,
    stop: Option<Action>,
    /// Last epoch and last value per metric key so far.
    epoch: Option<i64>,
    latest: Vec<(String, f64)>,
}

impl Watched {
    fn remember(&mut self, progress: &Progress) {
        self.epoch = progress.epoch.or(self.epoch);
        for (key, value) in &progress.latest {
            match self.latest.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = *value,
                None => self.latest.push((key.clone(), *value)),
            }
        }
    }
}

/// Carries out what the store can do here; hands the rest to the scheduler.
fn act(store: &mut Store, run_id: i64, actions: Vec<Action>, reports: &Sender<Report>) {
    for action in actions {
        match action {
            Action::ArtifactsDeleted(paths) => {
                if let Err(e) = store.mark_artifacts_deleted(run_id, &paths) {
                    let _ = reports.send(Report::Error { run_id, message: e.to_string() });
                }
            }
            Action::Event { kind, detail } => {
                if let Err(e) = store.log_event(&kind, None, Some(run_id), &detail) {
                    let _ = reports.send(Report::Error { run_id, message: e.to_string() });
                }
            }
            other => {
                let _ = reports.send(Report::Action { run_id, action: other });
            }
        }
    }
}

pub fn spawn(
    database: &Path,
    poll: Duration,
    commands: Receiver<Command>,
    reports: Sender<Report>,
) -> std::io::Result<JoinHandle<()>> {
    let database = database.to_path_buf();
    std::thread::Builder::new().name("expman-ingest".into()).spawn(move || {
        let mut store = match Store::open(&database) {
            Ok(s) => s,
            Err(e) => {
                let _ = reports.send(Report::Error { run_id: 0, message: e.to_string() });
                return;
            }
        };
        let mut readers: HashMap<i64, Watched> = HashMap::new();
        let mut busy = false;
        let mut halted = false;
        loop {
            let command = if busy {
                match commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(std::sync::mpsc::TryRecvError::Empty) => None,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                }
            } else {
                match commands.recv_timeout(poll) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            match command {
                Some(Command::Watch { run_id, run_dir, offset, mut callbacks }) => {
                    let streaming = callbacks.as_ref().is_some_and(|c| !c.is_empty());
                    let (reader, stop) = if offset == 0 {
                        if let Some(cbs) = callbacks.as_mut() {
                            let actions = cbs.start();
                            act(&mut store, run_id, actions, &reports);
                        }
                        (EventReader::new(run_id, &run_dir, 0, HashMap::new()).streaming(streaming), None)
                    } else {
                        reread(&mut store, run_id, &run_dir, offset, streaming, callbacks.as_deref_mut(), &reports)
                    };
                    readers.insert(run_id, Watched { reader, callbacks, stop, epoch: None, latest: Vec::new() });
                }
                Some(Command::Drain { run_id, reply }) => {
                    let drained = match readers.remove(&run_id) {
                        Some(mut watched) if !halted => drain(&mut store, &mut watched, &reports),
                        Some(watched) => Drained {
                            callbacks: watched.callbacks,
                            stop: watched.stop,
                            epoch: watched.epoch,
                            latest: watched.latest,
                            ..Drained::default()
                        },
                        None => Drained::default(),
                    };
                    let _ = reply.send(drained);
                }
                Some(Command::Halt) => halted = true,
                Some(Command::Shutdown) => return,
                None => {}
            }
            busy = false;
            if halted {
                continue;
            }
            for watched in readers.values_mut() {
                let run_id = watched.reader.run_id();
                match step(&mut store, &mut watched.reader, false) {
                    Ok(Some((mut progress, full))) => {
                        busy |= full;
                        feed(&mut store, watched, &mut progress, &reports);
                        watched.remember(&progress);
                        let _ = reports.send(Report::Progress { run_id, progress });
                    }
                    Ok(None) => {}
                    Err(StepError::Record(e)) if e.unwritable() == Some(Unwritable::DiskFull) => {
                        let _ = reports.send(Report::DiskFull { message: e.to_string() });
                    }
                    Err(error) => {
                        let _ = reports.send(Report::Error { run_id, message: error.to_string() });
                    }
                }
            }
        }
    })
}

/// A run watched again (a Slurm job a runner re-attached to): what it
/// reported up to `offset` is in the record already, so it is read again
/// without ingesting, for the reader's epoch and step counters and for the
/// callbacks' state (replayed: hooks do not run again); reading for the
/// record goes on from `offset`. A stop the replay leads to is kept.
fn reread(
    store: &mut Store,
    run_id: i64,
    run_dir: &Path,
    offset: u64,
    streaming: bool,
    mut callbacks: Option<&mut RunCallbacks>,
    reports: &Sender<Report>,
) -> (EventReader, Option<Action>) {
    let mut reader = EventReader::new(run_id, run_dir, 0, HashMap::new()).streaming(streaming).until(offset);
    let mut stop = None;
    while reader.offset() < offset {
        let Ok((batch, progress)) = reader.read(false) else { break };
        if batch.offset == batch.from_offset {
            break;
        }
        if let Some(cbs) = callbacks.as_deref_mut() {
            let actions = cbs.replay(&progress.stream);
            stop = stop.or_else(|| actions.first().cloned());
            act(store, run_id, actions, reports);
        }
    }
    if reader.offset() == offset {
        reader.unlimited();
        return (reader, stop);
    }
    // The file is shorter than the record says (it was truncated): go on
    // from the offset with the record's step counters.
    let next = store.next_steps(run_id).unwrap_or_default();
    (EventReader::new(run_id, run_dir, offset, next).streaming(streaming), stop)
}

/// Hands a read's events to the run's callbacks.
fn feed(store: &mut Store, watched: &mut Watched, progress: &mut Progress, reports: &Sender<Report>) {
    let stream = std::mem::take(&mut progress.stream);
    if let Some(cbs) = watched.callbacks.as_mut() {
        let actions = cbs.feed(&stream);
        if watched.stop.is_none() {
            watched.stop = actions.iter().find(|a| matches!(a, Action::Stop { .. })).cloned();
        }
        act(store, watched.reader.run_id(), actions, reports);
    }
}

/// Why one read-and-commit did not commit.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("cannot read events: {0}")]
    Read(#[source] std::io::Error),
    #[error("another process committed these events first")]
    Taken,
    #[error("cannot record events (will retry): {0}")]
    Record(#[source] StoreError),
}

/// Reads and commits once. `Ok(Some((progress, more)))` when something was
/// read (`more`: the batch was full, read again at once).
fn step(store: &mut Store, reader: &mut EventReader, finished: bool) -> Result<Option<(Progress, bool)>, StepError> {
    let before = reader.offset();
    let (batch, progress) = reader.read(finished).map_err(StepError::Read)?;
    if batch.offset == before {
        return Ok(None);
    }
    let full = (batch.offset - before) as usize >= crate::ingest::MAX_BATCH_BYTES;
    match store.ingest(&batch) {
        Ok(true) => Ok(Some((progress, full))),
        Ok(false) => Err(StepError::Taken),
        Err(e) => {
            // Not committed: read these lines again next time.
            reader.rewind();
            Err(StepError::Record(e))
        }
    }
}

fn drain(store: &mut Store, watched: &mut Watched, reports: &Sender<Report>) -> Drained {
    let mut drained = Drained::default();
    let mut failures = 0;
    loop {
        match step(store, &mut watched.reader, true) {
            Ok(Some((mut progress, _))) => {
                feed(store, watched, &mut progress, reports);
                watched.remember(&progress);
            }
            Ok(None) => break,
            Err(error) => {
                failures += 1;
                if failures >= 5 {
                    drained.error = Some(error.to_string());
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let (count, first) = watched.reader.malformed();
    drained.malformed = count;
    drained.first_malformed = first.map(|(at, why)| format!("byte {at}: {why}"));
    drained.callbacks = watched.callbacks.take();
    drained.stop = watched.stop.take();
    // Reported with the drain, not as a message the scheduler would read
    // after it has let the run go.
    drained.epoch = watched.epoch;
    drained.latest = std::mem::take(&mut watched.latest);
    drained
}
