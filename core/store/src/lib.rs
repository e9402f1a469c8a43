//! expman-store: the record, one SQLite database per workspace.
//!
//! Opened in WAL mode with a busy timeout and foreign keys on; every write
//! is one short `BEGIN IMMEDIATE` transaction, so several `expman`
//! processes can write to one database at once without "database is
//! locked" failures. The SQL is kept portable (integer keys, TEXT, REAL,
//! integer millisecond timestamps) and all of it lives in this module, the
//! one interface the rest of expman uses.

mod blobs;
mod error;
mod lineage;
mod live;
mod migrate;
mod read;
mod records;
mod search;
pub mod summary;
mod trackers;
mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use blobs::RunWithArtifacts;
pub use lineage::{Alias, InputUse, RunInput};
pub use live::{HardwarePoint, LiveRun, MetricSummary, MetricX};
pub use migrate::{MIGRATIONS, Migration};
pub use read::{ActiveRun, MetricSeries, RunDetail, RunRow, TrialSummaryInput};
pub use records::{
    Artifact, Capture, IngestBatch, MetricPoint, NewRun, PARENT_TAG, ParamValue, ResourceSummary, RunFinish, RunRef,
    RunStatus, Runner,
};
pub use search::{NewSearch, Objective, PointClaim, STOPPED_BY_USER, SearchPoint, SearchRecord};
pub use trackers::{ArtifactRow, ExperimentRow, HardwareRow, MetricRow, TrackerEntity, TrackerStatusRow};
pub use write::Started;

pub use error::{StoreError, Unwritable};

/// The environment variable a team database's password comes from (never
/// from a URL or a file).
pub const PASSWORD_ENV: &str = "EXPMAN_DB_PASSWORD";

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

/// A path as the path part of a `file:` URI (`?`, `#` and `%` escaped).
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Switches a connection to WAL. A database that does not exist yet is
/// still in rollback-journal mode, where two processes that both read it and
/// then try to write (the switch) deadlock, so SQLite answers one of them
/// SQLITE_BUSY at once instead of calling the busy handler. That answer is
/// retried here, with a growing pause, for as long as [`BUSY_TIMEOUT`].
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// The page size of a database this store creates.
pub const PAGE_SIZE: i64 = 32 * 1024;

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
        // Larger pages for a new database (an existing one keeps its own:
        // SQLite changes it only while the file is empty): fewer levels
        // and page fetches per index insert, the cost of ingest
        // (BENCHMARKS.md, "Store ingest"). Must precede the switch to WAL.
        conn.pragma_update(None, "page_size", PAGE_SIZE).ctx(path)?;
        // WAL: readers never block the writer; NORMAL: commits do not fsync
        // (the WAL is synced at checkpoints), durable across process crashes.
        switch_to_wal(&conn).ctx(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL").ctx(path)?;
        conn.pragma_update(None, "foreign_keys", "ON").ctx(path)?;
        let store = Store { conn, path: path.to_path_buf() };
        store.refuse_newer()?;
        Ok(store)
    }

    /// Opens an existing database for reading only, changing nothing: on a
    /// read-only file system, or a disk too full for the writes that
    /// opening for writing makes. Its schema must be this expman's (an
    /// older one needs migrating where it can be written). When SQLite
    /// cannot share the database's WAL from here (no `-shm` file and no
    /// way to make one), the file is read as it is on disk (`immutable`).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let open = |uri: String| -> Result<Store, StoreError> {
            let conn = Connection::open_with_flags(uri, flags).ctx(path)?;
            conn.busy_timeout(BUSY_TIMEOUT).ctx(path)?;
            let store = Store { conn, path: path.to_path_buf() };
            store.schema_version()?;
            Ok(store)
        };
        if !path.is_file() {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such database");
            return Err(StoreError::Io { path: path.to_path_buf(), source });
        }
        let uri = format!("file:{}", uri_path(path));
        let store = match open(uri.clone()) {
            Ok(store) => store,
            Err(e) if e.unwritable().is_some() || e.cannot_open() => open(format!("{uri}?immutable=1"))?,
            Err(e) => return Err(e),
        };
        store.refuse_newer()?;
        let (found, latest) = (store.schema_version()?, migrate::latest());
        if found < latest {
            return Err(StoreError::ReadOnlyOld { path: path.to_path_buf(), found, latest });
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the crates that run their own SQL over the
    /// record (the query layer's frames, the team database's replication).
    pub fn conn(&self) -> &Connection {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::Store;

    /// Several processes opening a database that does not exist yet race
    /// to create it, switch it to WAL and migrate it; none may fail with
    /// "database is locked" (the switch happens in rollback-journal mode,
    /// where SQLite returns SQLITE_BUSY without waiting to avoid deadlock).
    #[test]
    fn racing_first_opens_all_succeed() {
        let dir = std::env::temp_dir().join(format!("expman-store-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for round in 0..30 {
            let path = dir.join(format!("race-{round}.db"));
            let barrier = Arc::new(Barrier::new(6));
            let threads: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Store::open(&path).map(|_| ()).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for t in threads {
                if let Err(e) = t.join().unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
