//! Problems running an experiment (not problems of a run: those are the
//! run's status).

use std::path::PathBuf;

use expman_store::StoreError;

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
    Hardware(#[from] expman_os::hardware::HardwareError),
}

impl RunError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RunError {
        RunError::Io { path: path.into(), source }
    }
}
