//! Lineage and artifact names: what a run used (`run_inputs`, written
//! before it starts), which runs used a run's outputs (by the source run,
//! or by content: an input with the SHA-256 of one of its artifacts), and
//! aliases (`artifact_aliases`).

use rusqlite::{OptionalExtension, params};

use crate::records::RunRef;
use crate::trackers::ArtifactRow;
use expman_os::time::now_ms;

use crate::write::revise;
use crate::{SqlContext, Store, StoreError};

/// One input of a run, as resolved before it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInput {
    pub name: String,
    /// As written in the config.
    pub reference: String,
    /// `file`, `directory` or `artifact`.
    pub kind: String,
    pub path: String,
    pub sha256: String,
    pub size: i64,
    /// The run whose artifact it is.
    pub source_run: Option<RunRef>,
}

/// An input of some run, with that run (for "used by").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputUse {
    pub run: RunRef,
    pub trial: String,
    pub experiment: String,
    pub input: RunInput,
}

/// A named artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub name: String,
    pub run: RunRef,
    pub artifact: ArtifactRow,
    pub created_at: i64,
}

const ARTIFACT_COLUMNS: &str = "a.id, a.path, a.size, a.sha256, a.kind, a.epoch, a.deleted_at IS NOT NULL";

fn artifact_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ArtifactRow> {
    Ok(ArtifactRow {
        id: r.get(at)?,
        path: r.get(at + 1)?,
        size: r.get(at + 2)?,
        sha256: r.get(at + 3)?,
        kind: r.get(at + 4)?,
        epoch: r.get(at + 5)?,
        deleted: r.get(at + 6)?,
    })
}

const INPUT_COLUMNS: &str = "i.name, i.reference, i.kind, i.path, i.sha256, i.size, s.id, s.uid";

fn input_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<RunInput> {
    let source_id: Option<i64> = r.get(at + 6)?;
    let source_uid: Option<String> = r.get(at + 7)?;
    Ok(RunInput {
        name: r.get(at)?,
        reference: r.get(at + 1)?,
        kind: r.get(at + 2)?,
        path: r.get(at + 3)?,
        sha256: r.get(at + 4)?,
        size: r.get(at + 5)?,
        source_run: source_id.zip(source_uid).map(|(id, uid)| RunRef { id, uid }),
    })
}

impl Store {
    /// Records a run's inputs (before it starts).
    pub fn record_inputs(&mut self, run_id: i64, inputs: &[RunInput]) -> Result<(), StoreError> {
        let now = now_ms();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO run_inputs (run_id, name, reference, kind, path, sha256, size, source_run_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for i in inputs {
                let source = i.source_run.as_ref().map(|r| r.id);
                stmt.execute(params![run_id, i.name, i.reference, i.kind, i.path, i.sha256, i.size, source, now])?;
            }
            revise(tx, run_id)
        })
    }

    /// What a run used, in the order declared.
    pub fn run_inputs(&self, run_id: i64) -> Result<Vec<RunInput>, StoreError> {
        let sql = format!(
            "SELECT {INPUT_COLUMNS} FROM run_inputs i LEFT JOIN runs s ON s.id = i.source_run_id
             WHERE i.run_id = ?1 ORDER BY i.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
        let rows = stmt.query_map([run_id], |r| input_row(r, 0)).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// The runs that used run `run_id`'s outputs: inputs that name it as
    /// their source, or that have the content of one of its artifacts.
    pub fn runs_using(&self, run_id: i64) -> Result<Vec<InputUse>, StoreError> {
        let sql = format!(
            "SELECT u.id, u.uid, t.name, e.name, {INPUT_COLUMNS}
             FROM run_inputs i
             JOIN runs u ON u.id = i.run_id
             JOIN trials t ON t.id = u.trial_id
             JOIN experiments e ON e.id = u.experiment_id
             LEFT JOIN runs s ON s.id = i.source_run_id
             WHERE i.run_id != ?1 AND (i.source_run_id = ?1 OR i.sha256 IN
                 (SELECT sha256 FROM artifacts WHERE run_id = ?1 AND sha256 IS NOT NULL))
             ORDER BY u.id, i.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(InputUse {
                    run: RunRef { id: r.get(0)?, uid: r.get(1)? },
                    trial: r.get(2)?,
                    experiment: r.get(3)?,
                    input: input_row(r, 4)?,
                })
            })
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// The runs that produced content `sha256` as an artifact (kept), newest
    /// first: where a plain file input came from.
    pub fn runs_with_content(&self, sha256: &str) -> Result<Vec<RunRef>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT DISTINCT r.id, r.uid FROM artifacts a JOIN runs r ON r.id = a.run_id
                 WHERE a.sha256 = ?1 AND a.deleted_at IS NULL ORDER BY r.id DESC",
            )
            .ctx(&self.path)?;
        let rows = stmt.query_map([sha256], |r| Ok(RunRef { id: r.get(0)?, uid: r.get(1)? })).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// The newest run that ended well (SUCCESS, EARLY_STOPPED) of a trial
    /// named `trial` (its declared name, or its name with a sweep point):
    /// in `experiment` when it has one, else in any experiment.
    pub fn latest_good_run_of_trial(
        &self,
        trial: &str,
        experiment: Option<&str>,
    ) -> Result<Option<RunRef>, StoreError> {
        self.conn()
            .query_row(
                "SELECT r.id, r.uid FROM runs r
                 JOIN trials t ON t.id = r.trial_id
                 JOIN experiments e ON e.id = r.experiment_id
                 WHERE (t.base_name = ?1 OR t.name = ?1) AND r.status IN ('SUCCESS', 'EARLY_STOPPED')
                 ORDER BY (?2 IS NOT NULL AND e.name = ?2) DESC, COALESCE(r.ended_at, r.created_at) DESC, r.id DESC
                 LIMIT 1",
                params![trial, experiment],
                |r| Ok(RunRef { id: r.get(0)?, uid: r.get(1)? }),
            )
            .optional()
            .ctx(&self.path)
    }

    /// Names an artifact (replacing what the name named before).
    pub fn set_alias(&mut self, name: &str, artifact_id: i64) -> Result<(), StoreError> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO artifact_aliases (name, artifact_id, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET artifact_id = excluded.artifact_id, created_at = excluded.created_at",
                params![name, artifact_id, now],
            )?;
            Ok(())
        })
    }

    /// Every alias, by name; or only `name`'s.
    pub fn aliases(&self, name: Option<&str>) -> Result<Vec<Alias>, StoreError> {
        let sql = format!(
            "SELECT x.name, x.created_at, r.id, r.uid, {ARTIFACT_COLUMNS}
             FROM artifact_aliases x JOIN artifacts a ON a.id = x.artifact_id JOIN runs r ON r.id = a.run_id
             WHERE ?1 IS NULL OR x.name = ?1 ORDER BY x.name"
        );
        let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
        let rows = stmt
            .query_map([name], |r| {
                Ok(Alias {
                    name: r.get(0)?,
                    created_at: r.get(1)?,
                    run: RunRef { id: r.get(2)?, uid: r.get(3)? },
                    artifact: artifact_row(r, 4)?,
                })
            })
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }
}
