//! What trackers need from the record: their own progress (`tracker_state`,
//! `tracker_status`), and the record read in the order it was written
//! (metric rows and hardware samples after a cursor, by rowid), so that
//! each tracker resumes exactly where its back end last acknowledged.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::read::RUN_COLUMNS;
use crate::{ParamValue, RunRow, SqlContext, Store};
use expman_os::time::now_ms;

/// One thing a tracker has sent: its id on the back end, what the tracker
/// keeps about it, and whether its end was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerEntity {
    pub remote_id: Option<String>,
    pub data: Option<String>,
    pub done: bool,
}

/// A tracker's health as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerStatusRow {
    pub tracker: String,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub failures: i64,
}

/// A metric row with its place in the record.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    pub rowid: i64,
    pub run_id: i64,
    pub key: String,
    pub step: i64,
    pub epoch: Option<i64>,
    /// NaN where the record holds NULL.
    pub value: f64,
    pub timestamp: i64,
}

/// A per-run hardware sample with its place in the record.
#[derive(Clone, Debug, PartialEq)]
pub struct HardwareRow {
    pub id: i64,
    pub run_id: i64,
    pub timestamp: i64,
    pub cpu_percent: Option<f64>,
    pub rss: Option<i64>,
    pub gpu_percent: Option<f64>,
    pub gpu_mem: Option<i64>,
}

/// An artifact row.
#[derive(Clone, Debug, PartialEq)]
pub struct ArtifactRow {
    pub id: i64,
    pub path: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub kind: String,
    pub epoch: Option<i64>,
    pub deleted: bool,
}

/// An experiment as trackers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub config_dir: Option<String>,
    pub created_at: i64,
}

impl Store {
    /// Everything `tracker` has recorded, by (kind, local id).
    pub fn tracker_entities(&self, tracker: &str) -> Result<HashMap<(String, i64), TrackerEntity>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT kind, local_id, remote_id, data, done FROM tracker_state WHERE tracker = ?1")
            .ctx(self.path())?;
        let rows = stmt
            .query_map([tracker], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                    TrackerEntity { remote_id: r.get(2)?, data: r.get(3)?, done: r.get::<_, i64>(4)? != 0 },
                ))
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>().ctx(self.path())
    }

    /// Records what `tracker` has sent, all in one transaction.
    pub fn save_tracker_entities(
        &mut self,
        tracker: &str,
        entities: &[(&str, i64, &TrackerEntity)],
    ) -> Result<(), StoreError> {
        if entities.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO tracker_state (tracker, kind, local_id, remote_id, data, done, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (tracker, kind, local_id) DO UPDATE SET
                   remote_id = excluded.remote_id, data = excluded.data, done = excluded.done,
                   updated_at = excluded.updated_at",
            )?;
            for (kind, local_id, e) in entities {
                stmt.execute(params![tracker, kind, local_id, e.remote_id, e.data, i64::from(e.done), now])?;
            }
            Ok(())
        })
    }

    /// Forgets everything `tracker` sent (to send it all again).
    pub fn reset_tracker(&mut self, tracker: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM tracker_state WHERE tracker = ?1", [tracker])?;
            tx.execute("DELETE FROM tracker_status WHERE tracker = ?1", [tracker])?;
            Ok(())
        })
    }

    /// Records that `tracker` worked (`error` None) or failed.
    pub fn record_tracker_status(&mut self, tracker: &str, error: Option<&str>) -> Result<(), StoreError> {
        let now = now_ms();
        self.write(|tx| {
            match error {
                None => tx.execute(
                    "INSERT INTO tracker_status (tracker, last_ok_at, last_error, failures, updated_at)
                     VALUES (?1, ?2, NULL, 0, ?2)
                     ON CONFLICT (tracker) DO UPDATE SET last_ok_at = ?2, last_error = NULL, failures = 0, updated_at = ?2",
                    params![tracker, now],
                )?,
                Some(e) => tx.execute(
                    "INSERT INTO tracker_status (tracker, last_ok_at, last_error, failures, updated_at)
                     VALUES (?1, NULL, ?2, 1, ?3)
                     ON CONFLICT (tracker) DO UPDATE SET last_error = ?2, failures = failures + 1, updated_at = ?3",
                    params![tracker, e, now],
                )?,
            };
            Ok(())
        })
    }

    /// Every tracker's recorded health.
    pub fn tracker_statuses(&self) -> Result<Vec<TrackerStatusRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT tracker, last_ok_at, last_error, failures FROM tracker_status ORDER BY tracker")
            .ctx(self.path())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TrackerStatusRow {
                    tracker: r.get(0)?,
                    last_ok_at: r.get(1)?,
                    last_error: r.get(2)?,
                    failures: r.get(3)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// An experiment by id.
    pub fn experiment_row(&self, id: i64) -> Result<Option<ExperimentRow>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, name, description, config_dir, created_at FROM experiments WHERE id = ?1",
                [id],
                |r| {
                    Ok(ExperimentRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        description: r.get(2)?,
                        config_dir: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .ctx(self.path())
    }

    /// Every experiment, oldest first.
    pub fn experiment_rows(&self) -> Result<Vec<ExperimentRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, name, description, config_dir, created_at FROM experiments ORDER BY id")
            .ctx(self.path())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ExperimentRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    config_dir: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// The runs of an experiment, oldest first, with their trial ids.
    pub fn experiment_runs(&self, experiment_id: i64) -> Result<Vec<(RunRow, i64)>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, r.trial_id FROM runs r JOIN experiments e ON e.id = r.experiment_id
             JOIN trials t ON t.id = r.trial_id WHERE r.experiment_id = ?1 ORDER BY r.id"
        );
        let mut stmt = self.conn().prepare(&sql).ctx(self.path())?;
        let rows = stmt
            .query_map([experiment_id], |r| Ok((crate::read::run_row(r)?, r.get::<_, i64>(16)?)))
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// How many repeats each trial of an experiment has in the record.
    pub fn trial_repeats(&self, experiment_id: i64) -> Result<HashMap<i64, u32>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT trial_id, MAX(repeat) + 1 FROM runs WHERE experiment_id = ?1 GROUP BY trial_id")
            .ctx(self.path())?;
        let rows = stmt.query_map([experiment_id], |r| Ok((r.get(0)?, r.get(1)?))).ctx(self.path())?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>().ctx(self.path())
    }

    /// A run's params, by key.
    pub fn run_params(&self, run_id: i64) -> Result<Vec<(String, ParamValue)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT key, value_type, value_text, value_num FROM params WHERE run_id = ?1 ORDER BY key")
            .ctx(self.path())?;
        let rows = stmt
            .query_map([run_id], |r| {
                let kind: String = r.get(1)?;
                let text: Option<String> = r.get(2)?;
                let num: Option<f64> = r.get(3)?;
                let value = match (kind.as_str(), text, num) {
                    ("bool", _, Some(n)) => ParamValue::Bool(n != 0.0),
                    ("int", Some(t), _) => t.parse().map(ParamValue::Int).unwrap_or(ParamValue::Text(t)),
                    ("float", _, Some(n)) => ParamValue::Float(n),
                    ("json", Some(t), _) => ParamValue::Json(t),
                    (_, Some(t), _) => ParamValue::Text(t),
                    _ => ParamValue::Null,
                };
                Ok((r.get::<_, String>(0)?, value))
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// A run's tags, by key.
    pub fn run_tags(&self, run_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key")
            .ctx(self.path())?;
        let rows = stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?))).ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// A run's artifacts, in the order reported.
    pub fn run_artifacts(&self, run_id: i64) -> Result<Vec<ArtifactRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT id, path, size, sha256, kind, epoch, deleted_at IS NOT NULL FROM artifacts WHERE run_id = ?1 ORDER BY id",
            )
            .ctx(self.path())?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(ArtifactRow {
                    id: r.get(0)?,
                    path: r.get(1)?,
                    size: r.get(2)?,
                    sha256: r.get(3)?,
                    kind: r.get(4)?,
                    epoch: r.get(5)?,
                    deleted: r.get(6)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// The highest metric rowid now in the record (0 when none).
    pub fn last_metric_rowid(&self) -> Result<i64, StoreError> {
        self.conn().query_row("SELECT COALESCE(MAX(rowid), 0) FROM metrics", [], |r| r.get(0)).ctx(self.path())
    }

    /// Up to `limit` metric rows of an experiment's runs after `after` (by
    /// rowid, the order they were written), up to `upto`.
    pub fn metric_rows_after(
        &self,
        experiment_id: i64,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<MetricRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT m.rowid, m.run_id, m.key, m.step, m.epoch, m.value, m.timestamp FROM metrics m
                 WHERE m.rowid > ?2 AND m.rowid <= ?3
                   AND m.run_id IN (SELECT id FROM runs WHERE experiment_id = ?1)
                 ORDER BY m.rowid LIMIT ?4",
            )
            .ctx(self.path())?;
        let rows = stmt
            .query_map(params![experiment_id, after, upto, limit as i64], |r| {
                Ok(MetricRow {
                    rowid: r.get(0)?,
                    run_id: r.get(1)?,
                    key: r.get(2)?,
                    step: r.get(3)?,
                    epoch: r.get(4)?,
                    value: r.get::<_, Option<f64>>(5)?.unwrap_or(f64::NAN),
                    timestamp: r.get(6)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// The highest hardware sample id now in the record (0 when none).
    pub fn last_hardware_id(&self) -> Result<i64, StoreError> {
        self.conn().query_row("SELECT COALESCE(MAX(id), 0) FROM hardware_samples", [], |r| r.get(0)).ctx(self.path())
    }

    /// Up to `limit` per-run hardware samples of an experiment's runs after
    /// `after`, up to `upto`.
    pub fn hardware_rows_after(
        &self,
        experiment_id: i64,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<HardwareRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT h.id, h.run_id, h.timestamp, h.cpu_percent, h.mem_used, h.gpu_percent, h.gpu_mem
                 FROM hardware_samples h
                 WHERE h.id > ?2 AND h.id <= ?3 AND h.run_id IN (SELECT id FROM runs WHERE experiment_id = ?1)
                 ORDER BY h.id LIMIT ?4",
            )
            .ctx(self.path())?;
        let rows = stmt
            .query_map(params![experiment_id, after, upto, limit as i64], |r| {
                Ok(HardwareRow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    timestamp: r.get(2)?,
                    cpu_percent: r.get(3)?,
                    rss: r.get(4)?,
                    gpu_percent: r.get(5)?,
                    gpu_mem: r.get(6)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }

    /// Metric rows of an experiment's runs after `after`.
    pub fn metric_count_after(&self, experiment_id: i64, after: i64) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM metrics WHERE rowid > ?2 AND run_id IN (SELECT id FROM runs WHERE experiment_id = ?1)",
                params![experiment_id, after],
                |r| r.get(0),
            )
            .ctx(self.path())
    }

    /// Runs of a trial that have not started yet.
    pub fn pending_runs_of_trial(&self, trial_id: i64) -> Result<i64, StoreError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM runs WHERE trial_id = ?1 AND status = 'PENDING'", [trial_id], |r| r.get(0))
            .ctx(self.path())
    }

    /// Every metric row of one run up to `upto` (by rowid), in order.
    pub fn metric_rows_of_run(&self, run_id: i64, upto: i64) -> Result<Vec<MetricRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT rowid, run_id, key, step, epoch, value, timestamp FROM metrics
                 WHERE run_id = ?1 AND rowid <= ?2 ORDER BY rowid",
            )
            .ctx(self.path())?;
        let rows = stmt
            .query_map(params![run_id, upto], |r| {
                Ok(MetricRow {
                    rowid: r.get(0)?,
                    run_id: r.get(1)?,
                    key: r.get(2)?,
                    step: r.get(3)?,
                    epoch: r.get(4)?,
                    value: r.get::<_, Option<f64>>(5)?.unwrap_or(f64::NAN),
                    timestamp: r.get(6)?,
                })
            })
            .ctx(self.path())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(self.path())
    }
}
