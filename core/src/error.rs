//! The error types of the engine's library API.

use std::path::PathBuf;

/// Problems with the record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} was written by a newer expman (schema version {found}; this expman knows up to {supported}); upgrade expman to use it, nothing was changed"
    )]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("database {path}: cannot roll back below version {target} (at {current})")]
    BadRollback { path: PathBuf, current: i64, target: i64 },
    #[error("database {target}: {message}")]
    Mysql { target: String, message: String },
    #[error("no run matches `{0}`")]
    NoSuchRun(String),
    #[error("`{0}` matches several runs; give more of the id")]
    AmbiguousRun(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

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
}

impl RunError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RunError {
        RunError::Io { path: path.into(), source }
    }
}
