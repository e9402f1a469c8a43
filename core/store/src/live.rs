//! Reads for watching runs from outside their runner (the web UI): the
//! runs going on with their latest metrics and hardware sample, a run's
//! hardware over time, its metric summaries, whether an artifact is
//! recorded. Each is a few indexed lookups, cheap enough to poll.

use rusqlite::{OptionalExtension, params};

use crate::read::{RUN_COLUMNS, RunRow, run_row};
use crate::{SqlContext, Store, StoreError};

/// A run as watched: its row, its epoch, its latest values.
#[derive(Clone, Debug)]
pub struct LiveRun {
    pub row: RunRow,
    /// The epoch of its latest metric point.
    pub epoch: Option<i64>,
    /// The latest value of each metric, by key.
    pub metrics: Vec<(String, f64)>,
    pub hardware: Option<HardwarePoint>,
}

/// One hardware sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HardwarePoint {
    pub timestamp: i64,
    pub cpu_percent: Option<f64>,
    pub mem_used: Option<i64>,
    pub mem_total: Option<i64>,
    pub gpu_percent: Option<f64>,
    pub gpu_mem: Option<i64>,
}

/// A metric's summary for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSummary {
    pub key: String,
    pub last: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub count: i64,
    pub last_step: i64,
    /// When the last value was reported (ms).
    pub last_ts: i64,
}

/// What a metric's x is, for [`Store::metric_xy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricX {
    Step,
    Epoch,
    Timestamp,
}

const HARDWARE_COLUMNS: &str = "timestamp, cpu_percent, mem_used, mem_total, gpu_percent, gpu_mem";

fn hardware_point(r: &rusqlite::Row<'_>) -> rusqlite::Result<HardwarePoint> {
    Ok(HardwarePoint {
        timestamp: r.get(0)?,
        cpu_percent: r.get(1)?,
        mem_used: r.get(2)?,
        mem_total: r.get(3)?,
        gpu_percent: r.get(4)?,
        gpu_mem: r.get(5)?,
    })
}

impl Store {
    /// The runs not ended (at most `limit`, oldest first), then the runs
    /// that ended at or after `ended_since` (ms), latest first.
    pub fn live_runs(&self, ended_since: i64, limit: usize) -> Result<(Vec<LiveRun>, Vec<LiveRun>), StoreError> {
        let select = |condition: &str, order: &str| -> Result<Vec<RunRow>, StoreError> {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN trials t ON t.id = r.trial_id
                 WHERE {condition} ORDER BY {order} LIMIT ?2"
            );
            let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
            let rows = stmt.query_map(params![ended_since, limit as i64], run_row).ctx(&self.path)?;
            rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
        };
        let going = select("r.ended_at IS NULL AND ?1 IS NOT NULL", "r.id")?;
        let ended = select("r.ended_at >= ?1", "r.ended_at DESC")?;
        let watch = |rows: Vec<RunRow>| rows.into_iter().map(|row| self.watch(row)).collect::<Result<Vec<_>, _>>();
        Ok((watch(going)?, watch(ended)?))
    }

    fn watch(&self, row: RunRow) -> Result<LiveRun, StoreError> {
        let summaries = self.metric_summaries(row.id)?;
        // The epoch of the most recent point: one indexed lookup.
        let latest = summaries.iter().max_by_key(|s| s.last_ts).map(|s| (s.key.as_str(), s.last_step, s.last_ts));
        let epoch = match latest {
            Some((key, step, _)) => self
                .conn()
                .prepare_cached(
                    "SELECT epoch FROM metrics WHERE run_id = ?1 AND key = ?2 AND step = ?3 ORDER BY timestamp DESC LIMIT 1",
                )
                .ctx(&self.path)?
                .query_row(params![row.id, key, step], |r| r.get::<_, Option<i64>>(0))
                .optional()
                .ctx(&self.path)?
                .flatten(),
            None => None,
        };
        let hardware = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {HARDWARE_COLUMNS} FROM hardware_samples WHERE run_id = ?1 ORDER BY timestamp DESC LIMIT 1"
            ))
            .ctx(&self.path)?
            .query_row([row.id], hardware_point)
            .optional()
            .ctx(&self.path)?;
        let metrics = summaries.into_iter().filter_map(|s| Some((s.key, s.last?))).collect();
        Ok(LiveRun { row, epoch, metrics, hardware })
    }

    /// Last, min, max and count of each metric of a run, by key.
    pub fn metric_summaries(&self, run_id: i64) -> Result<Vec<MetricSummary>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT key, last_value, min_value, max_value, count, last_step, last_ts FROM metric_summaries WHERE run_id = ?1 ORDER BY key",
            )
            .ctx(&self.path)?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(MetricSummary {
                    key: r.get(0)?,
                    last: r.get(1)?,
                    min: r.get(2)?,
                    max: r.get(3)?,
                    count: r.get(4)?,
                    last_step: r.get(5)?,
                    last_ts: r.get(6)?,
                })
            })
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// A run's hardware samples, oldest first.
    pub fn hardware_series(&self, run_id: i64) -> Result<Vec<HardwarePoint>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {HARDWARE_COLUMNS} FROM hardware_samples WHERE run_id = ?1 ORDER BY timestamp"
            ))
            .ctx(&self.path)?;
        let rows = stmt.query_map([run_id], hardware_point).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// One metric of one run as (x, value) pairs in step order, reading only
    /// the columns needed: x is the step, the epoch (NaN where none) or the
    /// timestamp (ms). What a chart of a million points needs, fast.
    pub fn metric_xy(&self, run_id: i64, key: &str, x: MetricX) -> Result<(Vec<f64>, Vec<f64>), StoreError> {
        let column = match x {
            MetricX::Step => "step",
            MetricX::Epoch => "epoch",
            MetricX::Timestamp => "timestamp",
        };
        let sql = format!("SELECT {column}, value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step");
        let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
        let mut rows = stmt.query(params![run_id, key]).ctx(&self.path)?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let number = |v: rusqlite::types::ValueRef<'_>| match v {
            rusqlite::types::ValueRef::Integer(i) => i as f64,
            rusqlite::types::ValueRef::Real(f) => f,
            _ => f64::NAN,
        };
        while let Some(r) = rows.next().ctx(&self.path)? {
            xs.push(number(r.get_ref(0).ctx(&self.path)?));
            ys.push(number(r.get_ref(1).ctx(&self.path)?));
        }
        Ok((xs, ys))
    }

    /// Whether `path` is an artifact recorded for the run (and not deleted
    /// by the checkpoint policy).
    pub fn has_artifact(&self, run_id: i64, path: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM artifacts WHERE run_id = ?1 AND path = ?2 AND deleted_at IS NULL)",
                params![run_id, path],
                |r| r.get(0),
            )
            .ctx(&self.path)
    }

    /// The metric keys the runs have (all runs when `run_ids` is empty).
    pub fn metric_keys(&self, run_ids: &[i64]) -> Result<Vec<String>, StoreError> {
        let mut keys = std::collections::BTreeSet::new();
        if run_ids.is_empty() {
            let mut stmt = self.conn().prepare_cached("SELECT DISTINCT key FROM metric_summaries").ctx(&self.path)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).ctx(&self.path)?;
            keys.extend(rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)?);
        } else {
            let mut stmt =
                self.conn().prepare_cached("SELECT key FROM metric_summaries WHERE run_id = ?1").ctx(&self.path)?;
            for id in run_ids {
                let rows = stmt.query_map([id], |r| r.get::<_, String>(0)).ctx(&self.path)?;
                keys.extend(rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)?);
            }
        }
        Ok(keys.into_iter().collect())
    }
}
