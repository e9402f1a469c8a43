//! Reads: what the runner, recovery and the `runs` listing need. (The
//! DataFrame query layer comes on top of the same tables.)

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::records::{Capture, ResourceSummary, RunRef, RunStatus, Runner};
use crate::{SqlContext, Store};

/// A run that has not ended, with its runner.
#[derive(Clone, Debug)]
pub struct ActiveRun {
    pub run: RunRef,
    pub experiment_id: i64,
    pub status: RunStatus,
    pub pid: Option<i64>,
    pub pid_started: Option<i64>,
    pub host: Option<String>,
    pub run_dir: Option<String>,
    pub events_offset: u64,
    pub runner: Option<Runner>,
    /// The Slurm job id, for runs on Slurm.
    pub job: Option<String>,
}

/// One run for listings.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: i64,
    pub uid: String,
    pub experiment: String,
    pub trial: String,
    pub trial_base: String,
    pub repeat: u32,
    pub status: RunStatus,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub seed: Option<i64>,
    pub config_hash: String,
    pub run_dir: Option<String>,
    pub host: Option<String>,
}

/// Everything about one run, for `expman show`.
#[derive(Clone, Debug)]
pub struct RunDetail {
    pub row: RunRow,
    pub config: String,
    pub command: Option<String>,
    pub signal: Option<i64>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub malformed_lines: i64,
    pub params: Vec<(String, String, Option<String>)>,
    pub tags: Vec<(String, String)>,
    pub artifacts: Vec<(String, String, Option<i64>, Option<String>)>,
    /// Artifacts deleted by the checkpoint policy.
    pub deleted_artifacts: Vec<String>,
    pub resources: Option<ResourceSummary>,
    pub capture: Option<Capture>,
}

/// The points of one metric of one run, in step order.
#[derive(Clone, Debug, Default)]
pub struct MetricSeries {
    pub steps: Vec<i64>,
    pub epochs: Vec<Option<i64>>,
    pub values: Vec<f64>,
}

/// Per trial, the final value of every metric of every run (for summaries).
#[derive(Clone, Debug, Default)]
pub struct TrialSummaryInput {
    pub trial: String,
    pub statuses: Vec<RunStatus>,
    /// metric key → final values (one per run that reported it).
    pub finals: Vec<(String, Vec<f64>)>,
}

pub(super) const RUN_COLUMNS: &str =
    "r.id, r.uid, e.name, t.name, t.base_name, r.repeat, r.status, r.created_at, r.started_at, r.ended_at,
    r.exit_code, r.error, r.seed, r.config_hash, r.run_dir, r.host";

pub(super) fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(6)?;
    Ok(RunRow {
        id: r.get(0)?,
        uid: r.get(1)?,
        experiment: r.get(2)?,
        trial: r.get(3)?,
        trial_base: r.get(4)?,
        repeat: r.get(5)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Lost),
        created_at: r.get(7)?,
        started_at: r.get(8)?,
        ended_at: r.get(9)?,
        exit_code: r.get(10)?,
        error: r.get(11)?,
        seed: r.get(12)?,
        config_hash: r.get(13)?,
        run_dir: r.get(14)?,
        host: r.get(15)?,
    })
}

impl Store {
    /// Runs that are PENDING or RUNNING, with their runners.
    pub fn active_runs(&self) -> Result<Vec<ActiveRun>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT r.id, r.uid, r.experiment_id, r.status, r.pid, r.pid_started, r.host, r.run_dir, r.events_offset,
                        n.id, n.host, n.pid, n.pid_started, n.heartbeat_at, n.ended_at, r.job_id
                 FROM runs r LEFT JOIN runners n ON n.id = r.runner_id
                 WHERE r.status IN ('PENDING', 'RUNNING') ORDER BY r.id",
            )
            .ctx(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                let status: String = r.get(3)?;
                let runner = match r.get::<_, Option<i64>>(9)? {
                    Some(id) => Some(Runner {
                        id,
                        host: r.get(10)?,
                        pid: r.get(11)?,
                        pid_started: r.get(12)?,
                        heartbeat_at: r.get(13)?,
                        ended_at: r.get(14)?,
                    }),
                    None => None,
                };
                Ok(ActiveRun {
                    run: RunRef { id: r.get(0)?, uid: r.get(1)? },
                    experiment_id: r.get(2)?,
                    status: RunStatus::parse(&status).unwrap_or(RunStatus::Running),
                    pid: r.get(4)?,
                    pid_started: r.get(5)?,
                    host: r.get(6)?,
                    run_dir: r.get(7)?,
                    events_offset: r.get::<_, i64>(8)? as u64,
                    runner,
                    job: r.get(15)?,
                })
            })
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)
    }

    /// Runs, newest first; only those of `experiment` when given.
    pub fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN trials t ON t.id = r.trial_id
             WHERE (?1 IS NULL OR e.name = ?1) ORDER BY r.id"
        );
        let mut stmt = self.conn().prepare(&sql).ctx(&self.path)?;
        let rows = stmt.query_map([experiment], run_row).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)
    }

    /// The runs with these database ids.
    pub fn runs_by_id(&self, ids: &[i64]) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN trials t ON t.id = r.trial_id
             WHERE r.id = ?1"
        );
        let mut stmt = self.conn().prepare_cached(&sql).ctx(&self.path)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = stmt.query_row([id], run_row).optional().ctx(&self.path)? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The last value (highest step) of each metric of the given runs.
    pub fn final_metrics(&self, run_ids: &[i64]) -> Result<HashMap<i64, Vec<(String, f64)>>, StoreError> {
        let mut out: HashMap<i64, Vec<(String, f64)>> = HashMap::new();
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT key, last_value FROM metric_summaries WHERE run_id = ?1 ORDER BY key")
            .ctx(&self.path)?;
        for &id in run_ids {
            let rows = stmt
                .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN))))
                .ctx(&self.path)?;
            let values = rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)?;
            out.insert(id, values);
        }
        Ok(out)
    }

    /// The points of one metric of one run.
    pub fn metric_series(&self, run_id: i64, key: &str) -> Result<MetricSeries, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT step, epoch, value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step")
            .ctx(&self.path)?;
        let mut series = MetricSeries::default();
        let mut rows = stmt.query(params![run_id, key]).ctx(&self.path)?;
        while let Some(r) = rows.next().ctx(&self.path)? {
            series.steps.push(r.get(0).ctx(&self.path)?);
            series.epochs.push(r.get(1).ctx(&self.path)?);
            series.values.push(r.get::<_, Option<f64>>(2).ctx(&self.path)?.unwrap_or(f64::NAN));
        }
        Ok(series)
    }

    /// The runs recorded as children of run `uid` (tag [`crate::PARENT_TAG`]):
    /// (uid, trial, status), oldest first.
    pub fn child_runs(&self, uid: &str) -> Result<Vec<(String, String, RunStatus)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT r.uid, t.name, r.status FROM tags g JOIN runs r ON r.id = g.run_id JOIN trials t ON t.id = r.trial_id
                 WHERE g.key = ?1 AND g.value = ?2 ORDER BY r.id",
            )
            .ctx(&self.path)?;
        let rows = stmt
            .query_map([crate::PARENT_TAG, uid], |r| {
                let status: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, RunStatus::parse(&status).unwrap_or(RunStatus::Lost)))
            })
            .ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// Number of metric points of a run.
    pub fn count_events(&self, run_id: i64, kind: &str) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM events WHERE run_id = ?1 AND kind = ?2",
                rusqlite::params![run_id, kind],
                |r| r.get(0),
            )
            .ctx(&self.path)
    }

    /// Hardware samples recorded for a run (`None`: machine-wide ones).
    pub fn hardware_sample_count(&self, run_id: Option<i64>) -> Result<i64, StoreError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM hardware_samples WHERE run_id IS ?1", [run_id], |r| r.get(0))
            .ctx(&self.path)
    }

    pub fn metric_count(&self, run_id: i64) -> Result<i64, StoreError> {
        self.conn().query_row("SELECT COUNT(*) FROM metrics WHERE run_id = ?1", [run_id], |r| r.get(0)).ctx(&self.path)
    }

    /// A run by its uid or a unique prefix of it.
    pub fn resolve_run(&self, id: &str) -> Result<RunRef, StoreError> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let mut stmt = self.conn().prepare("SELECT id, uid FROM runs WHERE uid LIKE ?1 LIMIT 2").ctx(&self.path)?;
        let found: Vec<RunRef> = stmt
            .query_map([pattern], |r| Ok(RunRef { id: r.get(0)?, uid: r.get(1)? }))
            .ctx(&self.path)?
            .collect::<rusqlite::Result<_>>()
            .ctx(&self.path)?;
        match found.len() {
            0 => Err(StoreError::NoSuchRun(id.to_string())),
            1 => Ok(found.into_iter().next().expect("one")),
            _ => Err(StoreError::AmbiguousRun(id.to_string())),
        }
    }

    /// Everything about one run.
    pub fn run_detail(&self, run: &RunRef) -> Result<RunDetail, StoreError> {
        let row =
            self.runs_by_id(&[run.id])?.into_iter().next().ok_or_else(|| StoreError::NoSuchRun(run.uid.clone()))?;
        let (config, command, signal, git_commit, git_dirty, malformed_lines) = self
            .conn()
            .query_row(
                "SELECT config, command, signal, git_commit, git_dirty, malformed_lines FROM runs WHERE id = ?1",
                [run.id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, Option<i64>>(4)?.map(|d| d != 0),
                        r.get(5)?,
                    ))
                },
            )
            .ctx(&self.path)?;
        let collect3 = |sql: &str| -> Result<Vec<(String, String, Option<String>)>, StoreError> {
            let mut stmt = self.conn().prepare(sql).ctx(&self.path)?;
            let rows = stmt.query_map([run.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).ctx(&self.path)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&self.path)
        };
        let params = collect3("SELECT key, value_type, value_text FROM params WHERE run_id = ?1 ORDER BY key")?;
        let tags = collect3("SELECT key, value, NULL FROM tags WHERE run_id = ?1 ORDER BY key")?
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect();
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT path, kind, size, sha256 FROM artifacts WHERE run_id = ?1 AND deleted_at IS NULL ORDER BY id",
            )
            .ctx(&self.path)?;
        let artifacts = stmt
            .query_map([run.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .ctx(&self.path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx(&self.path)?;
        let mut stmt = self
            .conn()
            .prepare("SELECT path FROM artifacts WHERE run_id = ?1 AND deleted_at IS NOT NULL ORDER BY id")
            .ctx(&self.path)?;
        let deleted_artifacts = stmt
            .query_map([run.id], |r| r.get(0))
            .ctx(&self.path)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .ctx(&self.path)?;
        let resources = self
            .conn()
            .query_row(
                "SELECT wall_ms, cpu_ms, mean_cpu_percent, peak_cpu_percent, peak_rss, mean_gpu_util, peak_gpu_util, mean_gpu_mem, peak_gpu_mem, samples
                 FROM run_resources WHERE run_id = ?1",
                [run.id],
                |r| {
                    Ok(ResourceSummary {
                        wall_ms: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        cpu_ms: r.get(1)?,
                        mean_cpu_percent: r.get(2)?,
                        peak_cpu_percent: r.get(3)?,
                        peak_rss: r.get(4)?,
                        mean_gpu_util: r.get(5)?,
                        peak_gpu_util: r.get(6)?,
                        mean_gpu_mem: r.get(7)?,
                        peak_gpu_mem: r.get(8)?,
                        samples: r.get(9)?,
                    })
                },
            )
            .optional()
            .ctx(&self.path)?;
        let capture = self
            .conn()
            .query_row(
                "SELECT env, git_branch, host, expman_version FROM run_capture WHERE run_id = ?1",
                [run.id],
                |r| {
                    Ok(Capture {
                        env: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        git_branch: r.get(1)?,
                        host: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        expman_version: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
            .ctx(&self.path)?;
        Ok(RunDetail {
            row,
            config,
            command,
            signal,
            git_commit,
            git_dirty,
            malformed_lines,
            params,
            tags,
            artifacts,
            deleted_artifacts,
            resources,
            capture,
        })
    }

    /// For each trial of the given runs: statuses and final metric values.
    /// Trials come in the order their first run was created.
    pub fn trial_summaries(&self, run_ids: &[i64]) -> Result<Vec<TrialSummaryInput>, StoreError> {
        let mut sorted = run_ids.to_vec();
        sorted.sort_unstable();
        let rows = self.runs_by_id(&sorted)?;
        let finals = self.final_metrics(run_ids)?;
        let mut out: Vec<TrialSummaryInput> = Vec::new();
        for row in rows {
            let index = match out.iter().position(|t| t.trial == row.trial) {
                Some(i) => i,
                None => {
                    out.push(TrialSummaryInput { trial: row.trial.clone(), ..TrialSummaryInput::default() });
                    out.len() - 1
                }
            };
            let entry = &mut out[index];
            entry.statuses.push(row.status);
            for (key, value) in finals.get(&row.id).into_iter().flatten() {
                match entry.finals.iter_mut().find(|(k, _)| k == key) {
                    Some((_, values)) => values.push(*value),
                    None => entry.finals.push((key.clone(), vec![*value])),
                }
            }
        }
        Ok(out)
    }
}
