//! The upload thread: stored artifacts sent to the workspace's remote
//! (`artifacts.store`) in the background, one blob at a time, in the order
//! runs ended. A run never waits for it; a remote that is down only falls
//! behind: each failure is retried with a growing pause (up to 30 s). When
//! the runner finishes, the queue is sent for at most the trackers' wait,
//! or not at all if the remote is failing then; what is left is for
//! `expman artifacts push`, which sends it without sending anything twice.

#[cfg(feature = "remote")]
use std::collections::VecDeque;
use std::sync::mpsc;
#[cfg(feature = "remote")]
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(feature = "remote")]
use expman_blobs::remote::{Pushed, Remote};
use expman_blobs::{BlobStore, RemoteConfig};

use crate::error::RunError;

/// What the thread did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    pub url: String,
    pub sent: usize,
    pub bytes: u64,
    /// Blobs not sent when it finished.
    pub left: usize,
    pub last_error: Option<String>,
}

#[cfg_attr(not(feature = "remote"), allow(dead_code))]
enum Message {
    Push(String),
    Finish(Instant),
}

/// The running thread.
pub struct Uploader {
    tx: mpsc::Sender<Message>,
    thread: JoinHandle<UploadReport>,
}

impl Uploader {
    /// Starts the thread for `remote` (a bad URL is an error at once).
    pub fn spawn(remote: &RemoteConfig, blobs: BlobStore) -> Result<Uploader, RunError> {
        #[cfg(feature = "remote")]
        {
            let remote = Remote::open(remote, &blobs).map_err(|e| RunError::Invalid(e.to_string()))?;
            let (tx, rx) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("expman-upload".into())
                .spawn(move || work(remote, blobs, rx))
                .map_err(RunError::WaiterThread)?;
            Ok(Uploader { tx, thread })
        }
        #[cfg(not(feature = "remote"))]
        {
            let _ = blobs;
            Err(RunError::Invalid(format!(
                "`artifacts.store: {}`: this expman was built without remote artifact stores (feature `remote`)",
                remote.url
            )))
        }
    }

    /// Queues a blob.
    pub fn push(&self, sha256: &str) {
        let _ = self.tx.send(Message::Push(sha256.to_string()));
    }

    /// Sends what is queued for at most `wait`, then stops.
    pub fn finish(self, wait: Duration) -> UploadReport {
        let _ = self.tx.send(Message::Finish(Instant::now() + wait));
        self.thread.join().unwrap_or_default()
    }
}

/// Blobs taken from the queue at a time, and small ones sent at once.
#[cfg(feature = "remote")]
const BATCH: usize = 256;
#[cfg(feature = "remote")]
const CONCURRENCY: usize = 16;

#[cfg(feature = "remote")]
fn work(remote: Remote, blobs: BlobStore, rx: mpsc::Receiver<Message>) -> UploadReport {
    let mut report = UploadReport { url: remote.url().to_string(), ..Default::default() };
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut deadline: Option<Instant> = None;
    let mut pause = Duration::ZERO;
    let mut failing = false;
    loop {
        // Finishing: done when the queue is, or the time is up.
        if deadline.is_some_and(|d| queue.is_empty() || Instant::now() >= d) {
            break;
        }
        // Take what arrived; wait for more only when there is nothing to do
        // (or while pausing after a failure).
        let timeout = if queue.is_empty() { Duration::from_secs(3600) } else { pause };
        let timeout = match deadline {
            Some(d) => timeout.min(d.saturating_duration_since(Instant::now())),
            None => timeout,
        };
        match rx.recv_timeout(timeout) {
            Ok(Message::Push(sha)) => {
                if !queue.contains(&sha) {
                    queue.push_back(sha);
                }
                continue;
            }
            Ok(Message::Finish(at)) => {
                // A remote that is down now is not waited for: what is left
                // is for `expman artifacts push`.
                if failing {
                    break;
                }
                deadline = Some(at);
                pause = Duration::ZERO;
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The runner is gone without finishing (it panicked): stop.
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // Up to a batch at a time: small blobs go several at once.
        let batch: Vec<String> = queue.iter().take(BATCH).cloned().collect();
        if batch.is_empty() {
            continue;
        }
        let mut failed = None;
        for (sha, outcome) in remote.push_many(&blobs, &batch, CONCURRENCY) {
            match outcome {
                Ok(pushed) => {
                    queue.retain(|q| q != &sha);
                    if let Pushed::Sent { bytes, .. } = pushed {
                        report.sent += 1;
                        report.bytes += bytes;
                    }
                }
                // Gone from the store (freed by gc): nothing to send.
                Err(expman_blobs::BlobError::Missing(_)) => queue.retain(|q| q != &sha),
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            None => {
                if failing {
                    tracing::info!("artifact remote {} reachable again", remote.url());
                    failing = false;
                }
                pause = Duration::ZERO;
            }
            Some(e) => {
                if !failing {
                    tracing::warn!(
                        "cannot upload artifacts ({e}); trying again, `expman artifacts push` sends the rest later"
                    );
                    failing = true;
                }
                report.last_error = Some(e.to_string());
                pause = (pause * 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
            }
        }
    }
    report.left = queue.len();
    report
}
