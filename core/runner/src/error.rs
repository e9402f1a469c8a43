//! Problems running an experiment (not problems of a run: those are the
//! run's status).

use std::path::PathBuf;

use expman_os::hardware::{GpuError, HardwareError};
use expman_store::StoreError;
use expman_trackers::TrackerBuildError;

/// Problems running an experiment (not problems of a run: those are the
/// run's status).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("pipeline type `{0}` is not one expman can run; known types: {1}")]
    UnknownPipeline(String, String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Hardware(#[from] HardwareError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    #[error(transparent)]
    Trackers(#[from] TrackerBuildError),
    #[error("cannot start a waiter thread: {0}")]
    WaiterThread(#[source] std::io::Error),
    /// The record's disk filled up: the runs were stopped and recorded.
    #[error(
        "the disk of the workspace {workspace} is full: {cause}; every run was stopped and recorded as FAILED; free some space, then `expman run --resume` runs them again"
    )]
    DiskFull { workspace: PathBuf, cause: String },
}

impl RunError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RunError {
        RunError::Io { path: path.into(), source }
    }

    /// Whether this is the record's disk being full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            RunError::Store(e) => e.unwritable() == Some(expman_store::Unwritable::DiskFull),
            RunError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            RunError::DiskFull { .. } => true,
            _ => false,
        }
    }
}

/// What went wrong talking to Slurm, or with what was asked of it
/// (`slurm::SlurmError`; defined here so that this module need not import
/// `slurm`, which imports it).
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot write {path}: {source}")]
    WriteScript {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make {path} executable: {source}")]
    ScriptMode {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `sbatch` or `squeue` could not be started.
    #[error("cannot run {program} (is Slurm installed and on PATH?): {source}")]
    CannotRun {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("sbatch refused the job: {stderr}")]
    Refused { stderr: String },
    #[error("sbatch printed no job id: {stdout}")]
    NoJobId { stdout: String },
    #[error("{program} failed: {stderr}")]
    Failed { program: &'static str, stderr: String },
    #[error("squeue printed no JSON: {source}")]
    NotJson {
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`resources.extra_args`: `{arg}` (several clusters) is not supported; submit from a login node of the cluster the runs are for"
    )]
    SeveralClusters { arg: String },
    #[error("job {job} is not watched")]
    NotWatched { job: String },
    #[error("Slurm no longer knows job {job}, and it left no exit code: it was lost (after {after_s}s)")]
    Lost { job: String, after_s: u64 },
    #[error("the runner stopped watching")]
    StoppedWatching,
}
