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
    #[error(
        "database {path} can only be read here, and it has schema version {found} (this expman writes {latest}); migrate it where it can be written (`expman db migrate`)"
    )]
    ReadOnlyOld { path: PathBuf, found: i64, latest: i64 },
}

/// Why the record cannot be written where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwritable {
    /// No space left on its disk.
    DiskFull,
    /// A read-only file system or file.
    ReadOnly,
}

impl StoreError {
    /// Whether this error means the record cannot be written where it is
    /// (rather than that something about it is wrong).
    pub fn unwritable(&self) -> Option<Unwritable> {
        match self {
            StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. } => match e.code {
                rusqlite::ErrorCode::DiskFull => Some(Unwritable::DiskFull),
                rusqlite::ErrorCode::ReadOnly => Some(Unwritable::ReadOnly),
                _ => None,
            },
            StoreError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::StorageFull => Some(Unwritable::DiskFull),
                std::io::ErrorKind::ReadOnlyFilesystem => Some(Unwritable::ReadOnly),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether SQLite could not open the file (or its WAL index): on a
    /// read-only file system, opening an existing database for writing
    /// fails this way rather than as [`Unwritable::ReadOnly`].
    pub fn cannot_open(&self) -> bool {
        matches!(self, StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(f, _), .. } if f.code == rusqlite::ErrorCode::CannotOpen)
    }
}
