//! Reads for the artifact store (expman-blobs): which contents the record
//! still wants, and which ended runs have artifacts to store.

use std::collections::HashSet;

use crate::{SqlContext, Store, StoreError};

/// An ended run with artifacts recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunWithArtifacts {
    pub run_id: i64,
    pub uid: String,
    pub run_dir: Option<String>,
}

impl Store {
    /// The SHA-256 of every artifact the record keeps (not deleted): the
    /// blobs that must stay.
    pub fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT DISTINCT sha256 FROM artifacts WHERE deleted_at IS NULL AND sha256 IS NOT NULL")
            .ctx(&self.path)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// Runs that have ended (not PENDING or RUNNING) with artifacts still
    /// recorded, oldest first.
    pub fn ended_runs_with_artifacts(&self) -> Result<Vec<RunWithArtifacts>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT r.id, r.uid, r.run_dir FROM runs r
                 WHERE r.status NOT IN ('PENDING', 'RUNNING')
                   AND EXISTS (SELECT 1 FROM artifacts a WHERE a.run_id = r.id AND a.deleted_at IS NULL)
                 ORDER BY r.id",
            )
            .ctx(&self.path)?;
        let rows = stmt
            .query_map([], |r| Ok(RunWithArtifacts { run_id: r.get(0)?, uid: r.get(1)?, run_dir: r.get(2)? }))
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }
}
