//! What can go wrong with the record.

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
    /// A MySQL/MariaDB server (expman-team): the error as the client
    /// library gave it, so its code can be told apart.
    #[error("database {target}: {source}")]
    Mysql {
        target: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// What this build of expman cannot do (a feature left out).
    #[error("{0}")]
    Unsupported(String),
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
