//! expman-team: the team database (`env.yaml` `database: {type: mysql, url: ...}`): a
//! MySQL 8 / MariaDB 10.11 server that several people and runners on
//! different machines record into, and everyone reads.
//!
//! A runner never writes straight to the server. Its runs are recorded in
//! the workspace's SQLite file as always (the local record: a run never
//! waits for the network, and an outage loses nothing), and a
//! [`TeamThread`] beside the runs sends them to the server about once a
//! second through [`crate::copy::replicate`], which is exactly-once
//! and resumable. When the server cannot be reached the thread keeps
//! trying with backoff; what it has not sent stays in the local record,
//! and the next `expman run`, `expman db push` or any read of the record
//! sends it.
//!
//! Commands that read (tables, compare, plots, the kernel's magics) read
//! a local replica (`.expman/team.db`), which [`open_view`] first brings up
//! to date from the server (and from the local record, for what the
//! server has not got yet), so every front end runs its usual queries and
//! builds the same polars frames, on everyone's runs.

pub mod copy;
pub mod mysql;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::copy::CopyReport;
use crate::mysql::{MysqlDb, MysqlTarget};
use expman_store::Store;
use expman_store::StoreError;

/// Time between sends while runs go on.
const INTERVAL: Duration = Duration::from_secs(1);
/// The longest wait between tries while the server is down.
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long a command that reads waits for the server before it shows
/// what the replica and the local record hold.
const READ_PATIENCE: Duration = Duration::from_secs(3);

/// The replica commands read the team database through.
pub fn replica_path(workspace: &Path) -> PathBuf {
    workspace.join(".expman").join("team.db")
}

/// Connects without waiting and brings the schema up to date.
fn connect(target: &MysqlTarget, patience: Duration) -> Result<MysqlDb, (bool, StoreError)> {
    let mut db = MysqlDb::reach(target, patience)?;
    db.migrate().map_err(|e| (false, e))?;
    Ok(db)
}

/// Checks, before anything runs, that the server takes this login: a
/// refusal (a wrong password, an unknown database) is an error; a server
/// that cannot be reached only a warning (runs are recorded locally and
/// sent when it answers).
pub fn check(target: &MysqlTarget) -> Result<Option<String>, StoreError> {
    match connect(target, Duration::from_secs(2)) {
        Ok(_) => Ok(None),
        Err((true, e)) => Ok(Some(format!(
            "{e}; runs are recorded in the local database and sent to the team database when it answers"
        ))),
        Err((false, e)) => Err(e),
    }
}

/// Sends the local record's runs (of `experiment`, or all) that the
/// server lacks or holds in an older state: one pass.
pub fn push(local: &mut Store, server: &mut MysqlDb, experiment: Option<&str>) -> Result<CopyReport, StoreError> {
    copy::replicate(local, server, experiment, &mut |_| {})
}

/// How many runs of the local record the server lacks or holds in an
/// older state.
pub fn behind(local: &mut Store, server: &mut MysqlDb) -> Result<usize, StoreError> {
    Ok(copy::behind(local, server)?.len())
}

/// The record as a command that reads should see it: the replica,
/// brought up to date from the server (after sending it what the local
/// record has that it lacks) and from the local record. When the server
/// cannot be reached, a warning says so and the replica shows what it
/// last saw plus the local runs.
pub fn open_view(workspace: &Path, local: &mut Store, target: &MysqlTarget) -> Result<Store, StoreError> {
    let mut replica = Store::open(&replica_path(workspace))?;
    let synced = connect(target, READ_PATIENCE).map_err(|(_, e)| e).and_then(|mut server| {
        let sent = push(local, &mut server, None)?;
        if sent.runs_copied + sent.runs_updated > 0 {
            tracing::info!("{}: sent {}", target.shown(), sent.describe());
        }
        copy::replicate(&mut server, &mut replica, None, &mut |_| {})
    });
    if let Err(e) = synced {
        // Lost mid-way too: what was read so far is whole runs.
        tracing::warn!("{e}; showing the runs last read from it and this machine's own");
    }
    copy::replicate(local, &mut replica, None, &mut |_| {})?;
    Ok(replica)
}

enum Control {
    Finish(Duration),
}

/// What the team thread did, told when the runner is done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamReport {
    pub target: String,
    pub sent: CopyReport,
    /// Runs of the local record the server still lacks or holds in an
    /// older state (`None`: unknown, the server did not answer).
    pub behind: Option<usize>,
    /// Why not everything was sent.
    pub error: Option<String>,
}

impl TeamReport {
    pub fn describe(&self) -> String {
        let left = match self.behind {
            Some(0) => return format!("{}: every run sent", self.target),
            Some(n) => format!("{n} run(s) not sent yet"),
            None => "runs not sent yet".to_string(),
        };
        match &self.error {
            None => format!("{}: {left}", self.target),
            Some(e) => format!("{}: {left}: {e}", self.target),
        }
    }

    /// Whether everything is on the server.
    pub fn complete(&self) -> bool {
        self.behind == Some(0)
    }
}

/// The runner's thread that sends its runs to the team database.
pub struct TeamThread {
    control: Sender<Control>,
    join: JoinHandle<TeamReport>,
}

struct Outbox {
    target: MysqlTarget,
    local: Store,
    experiment: String,
    server: Option<MysqlDb>,
    failures: u32,
    retry_at: Instant,
    report: TeamReport,
}

impl Outbox {
    /// One pass; whether it went through.
    fn pass(&mut self) -> bool {
        if Instant::now() < self.retry_at {
            return false;
        }
        let result = (|| {
            if self.server.is_none() {
                self.server = Some(connect(&self.target, Duration::ZERO).map_err(|(_, e)| e)?);
            }
            let server = self.server.as_mut().expect("connected above");
            push(&mut self.local, server, Some(&self.experiment))
        })();
        match result {
            Ok(sent) => {
                if self.failures > 0 {
                    tracing::info!("{}: reachable again; sending what it missed", self.target.shown());
                }
                self.failures = 0;
                self.report.error = None;
                let total = &mut self.report.sent;
                total.runs_copied += sent.runs_copied;
                total.runs_updated += sent.runs_updated;
                total.metric_points += sent.metric_points;
                total.experiments_created += sent.experiments_created;
                total.trials_created += sent.trials_created;
                true
            }
            Err(e) => {
                self.server = None;
                self.failures += 1;
                let wait = (Duration::from_millis(500) * (1 << self.failures.min(5))).min(MAX_BACKOFF);
                if self.failures == 1 {
                    tracing::warn!(
                        "team database: {e}; the runs are kept in the local record and sent when it answers"
                    );
                } else {
                    tracing::debug!("team database: {e}; next try in {wait:?}");
                }
                self.report.error = Some(e.to_string());
                self.retry_at = Instant::now() + wait;
                false
            }
        }
    }

    /// Passes until every run of the experiment is sent in its final
    /// state, or `flush` is over.
    fn finish(mut self, flush: Duration) -> TeamReport {
        let deadline = Instant::now() + flush;
        loop {
            self.retry_at = self.retry_at.min(deadline);
            if self.pass() {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some(server) = self.server.as_mut() {
            match copy::behind(&mut self.local, server) {
                Ok(uids) => self.report.behind = Some(uids.len()),
                Err(e) => self.report.error = Some(e.to_string()),
            }
        }
        self.report
    }
}

impl TeamThread {
    /// Starts sending experiment `experiment` of the local record at
    /// `database` to `team`.
    pub fn spawn(database: &Path, target: &MysqlTarget, experiment: &str) -> Result<TeamThread, StoreError> {
        let target = target.clone();
        let local = Store::open(database)?;
        let (control, commands) = mpsc::channel();
        let mut sender = Outbox {
            report: TeamReport { target: target.shown().to_string(), ..TeamReport::default() },
            target,
            local,
            experiment: experiment.to_string(),
            server: None,
            failures: 0,
            retry_at: Instant::now(),
        };
        let join = std::thread::Builder::new()
            .name("expman-team-db".into())
            .spawn(move || {
                loop {
                    match commands.recv_timeout(INTERVAL) {
                        Err(RecvTimeoutError::Timeout) => {
                            sender.pass();
                        }
                        Ok(Control::Finish(flush)) => return sender.finish(flush),
                        Err(RecvTimeoutError::Disconnected) => return sender.finish(Duration::ZERO),
                    }
                }
            })
            .map_err(|source| StoreError::Io { path: database.to_path_buf(), source })?;
        Ok(TeamThread { control, join })
    }

    /// Sends what is left, for at most `flush` while the server is down.
    pub fn finish(self, flush: Duration) -> TeamReport {
        let _ = self.control.send(Control::Finish(flush));
        self.join.join().unwrap_or_default()
    }
}
