//! A run as a Slurm job: submitted (or found again after a restart),
//! waited for through the [`Poller`], stopped with `scancel`.

use std::path::PathBuf;

use super::poller::Poller;
use super::{JobInfo, JobState, SlurmSettings, job_script, submit};
use crate::error::RunError;
use crate::pipeline::{LaunchSpec, Outcome, Running, Stopper};
use expman_store::RunStatus;

/// Submits runs to Slurm and watches their jobs.
#[derive(Clone)]
pub struct SlurmExecutor {
    pub settings: SlurmSettings,
    pub poller: Poller,
}

struct SlurmRunning {
    job: String,
    args: Vec<String>,
    poller: Poller,
}

impl SlurmExecutor {
    pub fn new(settings: SlurmSettings) -> SlurmExecutor {
        SlurmExecutor { settings, poller: Poller::start() }
    }

    /// Writes the run's job script and submits it. Without
    /// `resources.time_limit`, the run's `pipeline.timeout` is the job's
    /// time limit: Slurm counts it from when the job starts, not from
    /// submission, and keeps counting when no runner watches.
    pub fn launch(
        &self,
        spec: LaunchSpec,
        name: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<Box<dyn Running>, RunError> {
        let mut settings = self.settings.clone();
        settings.time_limit = settings.time_limit.or(timeout);
        let argv = spec.command("a Slurm run")?;
        let script = job_script(&spec.run_uid, &spec.workdir, &argv, &spec.run_dir);
        let args = settings.sbatch_args(name, &spec.run_dir);
        let job = submit(&args, &script, &spec.run_dir, &spec.env)?;
        self.poller.watch(&job, spec.run_dir.clone());
        Ok(Box::new(SlurmRunning { job, args, poller: self.poller.clone() }))
    }

    /// A job submitted by an earlier runner, watched again.
    pub fn attach(&self, job: &str, run_dir: PathBuf) -> Box<dyn Running> {
        self.poller.watch(job, run_dir);
        Box::new(SlurmRunning { job: job.to_string(), args: Vec::new(), poller: self.poller.clone() })
    }
}

impl Running for SlurmRunning {
    fn pid(&self) -> Option<u32> {
        None
    }

    fn job(&self) -> Option<String> {
        Some(self.job.clone())
    }

    fn description(&self) -> String {
        let mut argv = vec!["sbatch".to_string()];
        argv.extend(self.args.iter().cloned());
        serde_json::json!({"slurm_job": self.job, "submitted": argv}).to_string()
    }

    fn stopper(&self) -> Stopper {
        Stopper::Job { id: self.job.clone(), cancel: super::cancel }
    }

    fn wait(&mut self) -> Outcome {
        match self.poller.wait(&self.job) {
            Ok(info) => outcome(&self.job, &info),
            Err(e) => Outcome { error: Some(e.to_string()), ..Outcome::default() },
        }
    }
}

/// How a job's end reads as a run's outcome.
pub fn outcome(job: &str, info: &JobInfo) -> Outcome {
    let (code, signal) = info.exit.unwrap_or((0, 0));
    let signal = (signal != 0).then_some(signal);
    let reason = info.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let verdict = match &info.state {
        JobState::Completed | JobState::Failed => None,
        JobState::Cancelled => Some((RunStatus::Killed, format!("Slurm job {job} was cancelled{reason}"))),
        JobState::Timeout => Some((RunStatus::Timeout, format!("Slurm job {job} reached its time limit{reason}"))),
        JobState::Ended(state) => Some((RunStatus::Failed, format!("Slurm job {job} ended {state}{reason}"))),
        JobState::Pending | JobState::Running => Some((
            RunStatus::Lost,
            format!("Slurm job {job} was still {:?} when the runner stopped watching", info.state),
        )),
    };
    let exit_code = match info.state {
        JobState::Completed => Some(code),
        JobState::Failed => Some(if code == 0 && signal.is_none() { 1 } else { code }),
        _ => None,
    };
    Outcome {
        exit_code,
        signal: if info.state == JobState::Failed { signal } else { None },
        error: None,
        usage: None,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str, exit: (i32, i32)) -> JobInfo {
        JobInfo { state: JobState::parse(state), exit: Some(exit), reason: None, name: None }
    }

    #[test]
    fn job_ends_as_run_outcomes() {
        assert!(outcome("1", &info("COMPLETED", (0, 0))).succeeded());
        let failed = outcome("2", &info("FAILED", (7, 0)));
        assert_eq!((failed.exit_code, failed.verdict), (Some(7), None));
        assert_eq!(outcome("3", &info("CANCELLED", (0, 15))).verdict.unwrap().0, RunStatus::Killed);
        assert_eq!(outcome("4", &info("TIMEOUT", (0, 15))).verdict.unwrap().0, RunStatus::Timeout);
        let node = outcome("5", &info("NODE_FAIL", (0, 0))).verdict.unwrap();
        assert_eq!(node, (RunStatus::Failed, "Slurm job 5 ended NODE_FAIL".to_string()));
    }
}
