//! The ingest thread: tails the event files of active runs and commits
//! what they report, in batches, on a database connection of its own.
//! The scheduler tells it which runs to watch and asks it to drain a run
//! completely when its process has exited.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::ingest::{EventReader, Progress};
use crate::store::Store;

/// What the scheduler asks of the ingest thread.
pub enum Command {
    Watch {
        run_id: i64,
        run_dir: PathBuf,
        offset: u64,
    },
    /// Read a run to the end of its file and stop watching it; the reply
    /// carries the count and first reason of malformed lines.
    Drain {
        run_id: i64,
        reply: Sender<Drained>,
    },
    Shutdown,
}

/// The result of draining a run.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    pub malformed: u64,
    pub first_malformed: Option<String>,
    pub error: Option<String>,
}

/// What the ingest thread tells the scheduler.
pub enum Report {
    Progress { run_id: i64, progress: Progress },
    Error { run_id: i64, message: String },
}

pub fn spawn(
    database: &Path,
    poll: Duration,
    commands: Receiver<Command>,
    reports: Sender<Report>,
) -> std::io::Result<JoinHandle<()>> {
    let database = database.to_path_buf();
    std::thread::Builder::new()
        .name("expman-ingest".into())
        .spawn(move || {
            let mut store = match Store::open(&database) {
                Ok(s) => s,
                Err(e) => {
                    let _ = reports.send(Report::Error {
                        run_id: 0,
                        message: e.to_string(),
                    });
                    return;
                }
            };
            let mut readers: HashMap<i64, EventReader> = HashMap::new();
            let mut busy = false;
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
                    Some(Command::Watch {
                        run_id,
                        run_dir,
                        offset,
                    }) => {
                        readers.insert(
                            run_id,
                            EventReader::new(run_id, &run_dir, offset, HashMap::new()),
                        );
                    }
                    Some(Command::Drain { run_id, reply }) => {
                        let drained = match readers.remove(&run_id) {
                            Some(mut reader) => drain(&mut store, &mut reader, &reports),
                            None => Drained::default(),
                        };
                        let _ = reply.send(drained);
                    }
                    Some(Command::Shutdown) => return,
                    None => {}
                }
                busy = false;
                for reader in readers.values_mut() {
                    match step(&mut store, reader, false) {
                        Ok(Some((progress, full))) => {
                            busy |= full;
                            let _ = reports.send(Report::Progress {
                                run_id: reader_id(reader),
                                progress,
                            });
                        }
                        Ok(None) => {}
                        Err(message) => {
                            let _ = reports.send(Report::Error {
                                run_id: reader_id(reader),
                                message,
                            });
                        }
                    }
                }
            }
        })
}

fn reader_id(reader: &EventReader) -> i64 {
    reader.run_id()
}

/// Reads and commits once. `Ok(Some((progress, more)))` when something was
/// read (`more`: the batch was full, read again at once).
fn step(
    store: &mut Store,
    reader: &mut EventReader,
    finished: bool,
) -> Result<Option<(Progress, bool)>, String> {
    let before = reader.offset();
    let (batch, progress) = reader
        .read(finished)
        .map_err(|e| format!("cannot read events: {e}"))?;
    if batch.offset == before {
        return Ok(None);
    }
    let full = (batch.offset - before) as usize >= crate::ingest::MAX_BATCH_BYTES;
    match store.ingest(&batch) {
        Ok(true) => Ok(Some((progress, full))),
        Ok(false) => Err("another process committed these events first".into()),
        Err(e) => {
            // Not committed: read these lines again next time.
            reader.rewind();
            Err(format!("cannot record events (will retry): {e}"))
        }
    }
}

fn drain(store: &mut Store, reader: &mut EventReader, reports: &Sender<Report>) -> Drained {
    let mut drained = Drained::default();
    let mut failures = 0;
    loop {
        match step(store, reader, true) {
            Ok(Some((progress, _))) => {
                let _ = reports.send(Report::Progress {
                    run_id: reader.run_id(),
                    progress,
                });
            }
            Ok(None) => break,
            Err(message) => {
                failures += 1;
                if failures >= 5 {
                    drained.error = Some(message);
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let (count, first) = reader.malformed();
    drained.malformed = count;
    drained.first_malformed = first.map(|(at, why)| format!("byte {at}: {why}"));
    drained
}
