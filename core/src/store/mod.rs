//! The record: one SQLite database per workspace.
//!
//! Opened in WAL mode with a busy timeout and foreign keys on; every write
//! is one short `BEGIN IMMEDIATE` transaction, so several `expman`
//! processes can write to one database at once without "database is
//! locked" failures. The SQL is kept portable (integer keys, TEXT, REAL,
//! integer millisecond timestamps) and all of it lives in this module, the
//! one interface the rest of expman uses.

mod migrate;
mod read;
mod records;
mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use migrate::{MIGRATIONS, Migration};
pub use read::{ActiveRun, MetricSeries, RunDetail, RunRow, TrialSummaryInput};
pub use records::{
    Artifact, Capture, IngestBatch, MetricPoint, NewRun, ParamValue, ResourceSummary, RunFinish, RunRef, RunStatus,
    Runner,
};

use crate::error::StoreError;

/// How long a writer waits for another process's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to a workspace's database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Attaches the database path to rusqlite errors.
pub(crate) trait SqlContext<T> {
    fn ctx(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), source })
    }
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to
    /// date. A database written by a newer expman is refused untouched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut store = Store::open_unmigrated(path)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens without migrating (for `expman db status` and `rollback`).
    pub fn open_unmigrated(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx(path)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(path)?;
        // WAL: readers never block the writer; NORMAL: commits do not fsync
        // (the WAL is synced at checkpoints), durable across process crashes.
        conn.pragma_update(None, "journal_mode", "WAL").ctx(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL").ctx(path)?;
        conn.pragma_update(None, "foreign_keys", "ON").ctx(path)?;
        let store = Store { conn, path: path.to_path_buf() };
        store.refuse_newer()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).ctx(&self.path)
    }

    fn refuse_newer(&self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        let supported = migrate::latest();
        if found > supported {
            return Err(StoreError::TooNew { path: self.path.clone(), found, supported });
        }
        Ok(())
    }
}
