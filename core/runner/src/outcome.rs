//! How a run's execution ended ([`Outcome`], from a pipeline or an
//! executor) and what status and message the record gives it
//! ([`judge_ended`]): the scheduler, and recovery for a Slurm job that
//! ended while no runner watched it.

use std::fs::File;
use std::path::Path;

use expman_os::process::Usage;
use expman_store::RunStatus;

/// How a run's execution ended (the runner turns it into a status).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Why it failed, when the pipeline knows better than an exit code.
    pub error: Option<String>,
    /// What the process and the children it waited for used, from the
    /// kernel (`wait4`), when the run was a process.
    pub usage: Option<Usage>,
    /// The status when the executor knows it better than an exit code
    /// (Slurm: a time limit, a cancelled job, a failed node), and why.
    pub verdict: Option<(RunStatus, String)>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && self.signal.is_none() && self.error.is_none() && self.verdict.is_none()
    }
}

/// The status of a run that ended by itself (nobody was stopping it).
pub fn judge_ended(outcome: &Outcome, run_dir: &Path) -> (RunStatus, Option<String>) {
    if let Some((status, why)) = &outcome.verdict {
        let mut message = why.clone();
        if let Some(tail) = stderr_tail(run_dir, 20) {
            message.push_str("\n--- last lines of stderr.log ---\n");
            message.push_str(&tail);
        }
        return (*status, Some(message));
    }
    if outcome.succeeded() {
        return (RunStatus::Success, None);
    }
    let mut message = match (&outcome.error, outcome.signal, outcome.exit_code) {
        (Some(e), _, _) => e.clone(),
        (None, Some(s), _) => format!("killed by {}", expman_os::process::describe_signal(s)),
        (None, None, Some(c)) => format!("exited with code {c}"),
        _ => "ended without an exit status".into(),
    };
    if let Some(tail) = stderr_tail(run_dir, 20) {
        message.push_str("\n--- last lines of stderr.log ---\n");
        message.push_str(&tail);
    }
    (RunStatus::Failed, Some(message))
}

/// The last `lines` lines of a run's stderr.log.
pub fn stderr_tail(run_dir: &Path, lines: usize) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(run_dir.join("stderr.log")).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(8192);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    (!tail.trim().is_empty()).then_some(tail)
}
