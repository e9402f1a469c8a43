//! Versioned migrations: numbered, append-only SQL files under
//! `core/store/migrations/`, each with a down-migration; the version lives in
//! `PRAGMA user_version`. A released file is never edited.

use rusqlite::TransactionBehavior;

use crate::StoreError;
use crate::{SqlContext, Store};

/// One schema change.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub up: &'static str,
    pub down: &'static str,
}

/// A migration from its files `<dir>NNNN_name.{up,down}.sql`, `dir`
/// relative to the file that names it (`include_str!` resolves paths from
/// the outermost call site): SQLite's here, MySQL's in expman-team.
#[macro_export]
macro_rules! migration {
    ($dir:literal, $version:literal, $file:literal, $name:literal) => {
        $crate::Migration {
            version: $version,
            name: $name,
            up: include_str!(concat!($dir, $file, "_", $name, ".up.sql")),
            down: include_str!(concat!($dir, $file, "_", $name, ".down.sql")),
        }
    };
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!("../migrations/", 1, "0001", "init"),
    migration!("../migrations/", 2, "0002", "resources_capture"),
    migration!("../migrations/", 3, "0003", "metric_summaries"),
    migration!("../migrations/", 4, "0004", "trackers"),
    migration!("../migrations/", 5, "0005", "slurm"),
    migration!("../migrations/", 6, "0006", "replication"),
    migration!("../migrations/", 7, "0007", "revision"),
    migration!("../migrations/", 8, "0008", "searches"),
    migration!("../migrations/", 9, "0009", "lineage"),
];

/// The version this expman writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

impl Store {
    /// Applies every migration above the current version, each in its own
    /// transaction; returns the ones applied.
    pub fn migrate(&mut self) -> Result<Vec<Migration>, StoreError> {
        self.migrate_to(latest())
    }

    /// Applies migrations up to `target`.
    pub fn migrate_to(&mut self, target: i64) -> Result<Vec<Migration>, StoreError> {
        let mut applied = Vec::new();
        loop {
            let path = self.path.clone();
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&path)?;
            // Read the version inside the write lock: another process may
            // have migrated meanwhile.
            let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).ctx(&path)?;
            if current > latest() {
                return Err(StoreError::TooNew { path, found: current, supported: latest() });
            }
            let Some(next) = MIGRATIONS.iter().find(|m| m.version == current + 1 && m.version <= target) else {
                return Ok(applied);
            };
            tx.execute_batch(next.up).ctx(&path)?;
            tx.pragma_update(None, "user_version", next.version).ctx(&path)?;
            tx.commit().ctx(&path)?;
            tracing::info!(version = next.version, name = next.name, "migrated {}", path.display());
            applied.push(*next);
        }
    }

    /// Undoes migrations down to `target` (one step when `None`); returns
    /// the ones undone.
    pub fn rollback(&mut self, target: Option<i64>) -> Result<Vec<Migration>, StoreError> {
        let current = self.schema_version()?;
        let target = target.unwrap_or(current - 1);
        if target < 0 || target > current {
            return Err(StoreError::BadRollback { path: self.path.clone(), current, target });
        }
        let mut undone = Vec::new();
        let mut version = current;
        while version > target {
            let path = self.path.clone();
            let Some(m) = MIGRATIONS.iter().find(|m| m.version == version) else {
                return Err(StoreError::BadRollback { path, current, target });
            };
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&path)?;
            tx.execute_batch(m.down).ctx(&path)?;
            tx.pragma_update(None, "user_version", version - 1).ctx(&path)?;
            tx.commit().ctx(&path)?;
            undone.push(*m);
            version -= 1;
        }
        Ok(undone)
    }

    /// The schema as SQL text (`sqlite_master`), for tests and `db status`.
    pub fn schema_sql(&self) -> Result<String, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            .ctx(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} {}: {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?.unwrap_or_default()
                ))
            })
            .ctx(&self.path)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.ctx(&self.path)?);
        }
        Ok(out.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("expman-migrate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("expman.db")
    }

    /// Every migration goes up and comes back down to exactly the schema
    /// before it, and up again.
    #[test]
    fn every_migration_has_a_working_down() {
        let path = temp_db("updown");
        let mut store = Store::open_unmigrated(&path).unwrap();
        let mut schemas = vec![store.schema_sql().unwrap()];
        for m in MIGRATIONS {
            let before = store.schema_version().unwrap();
            assert_eq!(before, m.version - 1);
            store.migrate_to(m.version).unwrap();
            schemas.push(store.schema_sql().unwrap());
        }
        for m in MIGRATIONS.iter().rev() {
            store.rollback(Some(m.version - 1)).unwrap();
            assert_eq!(store.schema_sql().unwrap(), schemas[(m.version - 1) as usize], "down of {:04}", m.version);
        }
        assert_eq!(store.schema_version().unwrap(), 0);
        store.migrate().unwrap();
        assert_eq!(store.schema_sql().unwrap(), *schemas.last().unwrap());
        insta::assert_snapshot!("schema", store.schema_sql().unwrap());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let path = temp_db("newer");
        {
            let store = Store::open(&path).unwrap();
            store.conn().pragma_update(None, "user_version", 99).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        match Store::open(&path) {
            Err(StoreError::TooNew { found: 99, supported, .. }) => assert_eq!(supported, latest()),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a database from a newer expman was opened"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let message = Store::open(&path).err().unwrap().to_string();
        assert!(message.contains("newer expman") && message.contains("nothing was changed"), "{message}");
    }
}
