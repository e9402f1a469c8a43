//! Writes: experiments, trials, runs and their life cycle, ingest batches,
//! the audit log. Each public method is one `BEGIN IMMEDIATE` transaction.
//! A write that changes a run outside its state columns raises the run's
//! `revision` in the same transaction (see `revise`).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::StoreError;
use crate::records::{Capture, IngestBatch, NewRun, ResourceSummary, RunFinish, RunRef, RunStatus};
use crate::{SqlContext, Store};
use expman_os::time::now_ms;

/// What was launched for a run (see [`Store::mark_running`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Started<'a> {
    pub host: &'a str,
    /// The process, for local runs.
    pub pid: Option<u32>,
    pub pid_started: Option<i64>,
    /// What was started, as JSON (the argv, or the `sbatch` line and job).
    pub command: &'a str,
    /// Git commit and whether the tree was dirty.
    pub git: Option<(&'a str, bool)>,
    /// The Slurm job id, for runs on Slurm.
    pub job: Option<&'a str>,
}

impl Store {
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&path)?;
        let value = f(&tx).ctx(&path)?;
        tx.commit().ctx(&path)?;
        Ok(value)
    }

    /// The id of the experiment `name`, created if new.
    pub fn ensure_experiment(
        &mut self,
        name: &str,
        description: Option<&str>,
        config_dir: &str,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO experiments (name, description, config_dir, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET description = COALESCE(excluded.description, experiments.description),
                                                  config_dir = excluded.config_dir",
                params![name, description, config_dir, now_ms()],
            )?;
            tx.query_row("SELECT id FROM experiments WHERE name = ?1", [name], |r| r.get(0))
        })
    }

    /// The id of a trial (by its full name), created if new.
    pub fn ensure_trial(
        &mut self,
        experiment_id: i64,
        name: &str,
        base_name: &str,
        sweep: Option<&str>,
        description: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.write(|tx| upsert_trial(tx, experiment_id, name, base_name, sweep, description))
    }

    /// Records this process as a runner; returns its id.
    pub fn register_runner(
        &mut self,
        host: &str,
        pid: u32,
        pid_started: Option<i64>,
        user: &str,
        command: &str,
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runners (host, pid, pid_started, user_name, command, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![host, pid, pid_started, user, command, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub fn heartbeat(&mut self, runner_id: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("UPDATE runners SET heartbeat_at = ?2 WHERE id = ?1", params![runner_id, now_ms()]).map(|_| ())
        })
    }

    /// Hands a RUNNING run whose runner is gone (`from`) to `runner_id`;
    /// false when another runner took it first.
    pub fn adopt_run(&mut self, run_id: i64, from: Option<i64>, runner_id: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE runs SET runner_id = ?3, revision = revision + 1 WHERE id = ?1 AND runner_id IS ?2 AND status = 'RUNNING'",
                params![run_id, from, runner_id],
            )?;
            Ok(changed > 0)
        })
    }

    /// A run's trial name, repeat and config hash: what `--resume` matches plans by.
    pub fn run_identity(&self, run_id: i64) -> Result<(String, u32, String), StoreError> {
        self.conn()
            .query_row(
                "SELECT t.name, r.repeat, r.config_hash FROM runs r JOIN trials t ON t.id = r.trial_id WHERE r.id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ctx(&self.path)
    }

    pub fn end_runner(&mut self, runner_id: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("UPDATE runners SET ended_at = ?2 WHERE id = ?1", params![runner_id, now_ms()]).map(|_| ())
        })
    }

    /// Creates a PENDING run with its params and tags.
    pub fn create_run(&mut self, run: &NewRun, uid: &str) -> Result<RunRef, StoreError> {
        let id = self.write(|tx| insert_run(tx, run, uid))?;
        Ok(RunRef { id, uid: uid.to_string() })
    }

    /// PENDING → RUNNING, with what was launched.
    pub fn mark_running(&mut self, run_id: i64, started: &Started<'_>) -> Result<(), StoreError> {
        let executor = if started.job.is_some() { "slurm" } else { "local" };
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'RUNNING', started_at = ?2, host = ?3, pid = ?4, pid_started = ?5, command = ?6,
                                 git_commit = ?7, git_dirty = ?8, executor = ?9, job_id = ?10 WHERE id = ?1",
                params![
                    run_id,
                    now_ms(),
                    started.host,
                    started.pid,
                    started.pid_started,
                    started.command,
                    started.git.map(|g| g.0),
                    started.git.map(|g| g.1),
                    executor,
                    started.job
                ],
            )
            .map(|_| ())
        })
    }

    /// Records how a run ended, only while `runner` (the one recovery found
    /// gone) still owns it: a runner that re-attached meanwhile wins.
    pub fn finish_orphan(&mut self, run_id: i64, runner: Option<i64>, finish: &RunFinish) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, signal = ?4, error = ?5, ended_at = ?6
                 WHERE id = ?1 AND status IN ('PENDING', 'RUNNING') AND runner_id IS ?7",
                params![
                    run_id,
                    finish.status.as_str(),
                    finish.exit_code,
                    finish.signal,
                    finish.error,
                    finish.ended_at,
                    runner
                ],
            )?;
            Ok(changed > 0)
        })
    }

    /// Records how a run ended. A run already final is left as it is.
    pub fn finish_run(&mut self, run_id: i64, finish: &RunFinish) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, signal = ?4, error = ?5, ended_at = ?6
                 WHERE id = ?1 AND status IN ('PENDING', 'RUNNING')",
                params![run_id, finish.status.as_str(), finish.exit_code, finish.signal, finish.error, finish.ended_at],
            )?;
            Ok(changed > 0)
        })
    }

    /// Writes what was read from a run's event file, and the new offset, in
    /// one transaction. Returns false (writing nothing) when the committed
    /// offset is no longer the batch's start: someone else ingested it.
    pub fn ingest(&mut self, batch: &IngestBatch) -> Result<bool, StoreError> {
        self.write(|tx| {
            let claimed = tx.execute(
                "UPDATE runs SET events_offset = ?2, malformed_lines = malformed_lines + ?3, revision = revision + 1
                 WHERE id = ?1 AND events_offset = ?4",
                params![batch.run_id, batch.offset as i64, batch.malformed as i64, batch.from_offset as i64],
            )?;
            if claimed == 0 {
                return Ok(false);
            }
            if !batch.metrics.is_empty() {
                insert_metrics(tx, batch.run_id, &batch.metrics)?;
                upsert_summaries(tx, batch)?;
            }
            if !batch.params.is_empty() {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO params (run_id, key, value_type, value_text, value_num) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (run_id, key) DO UPDATE SET value_type = excluded.value_type, value_text = excluded.value_text, value_num = excluded.value_num",
                )?;
                for (key, value) in &batch.params {
                    let (text, num) = value.columns();
                    stmt.execute(params![batch.run_id, key, value.type_name(), text, num])?;
                }
            }
            if !batch.tags.is_empty() {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                )?;
                for (key, value) in &batch.tags {
                    stmt.execute(params![batch.run_id, key, value])?;
                }
            }
            if !batch.artifacts.is_empty() {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO artifacts (run_id, path, size, sha256, kind, epoch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for a in &batch.artifacts {
                    stmt.execute(params![batch.run_id, a.path, a.size, a.sha256, a.kind, a.epoch, a.created_at])?;
                }
            }
            if !batch.events.is_empty() {
                let mut stmt = tx.prepare_cached("INSERT INTO events (timestamp, run_id, kind, detail) VALUES (?1, ?2, ?3, ?4)")?;
                for (ts, kind, detail) in &batch.events {
                    stmt.execute(params![ts, batch.run_id, kind, detail])?;
                }
            }
            Ok(true)
        })
    }

    /// Records one hardware sample: a machine row and a row per run.
    pub fn insert_hardware(&mut self, sample: &expman_os::hardware::Sample) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO hardware_samples (run_id, timestamp, host, cpu_percent, mem_used, mem_total, gpu_percent, gpu_mem, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let m = &sample.machine;
            let gpu_util = (!sample.gpus.is_empty())
                .then(|| sample.gpus.iter().map(|g| f64::from(g.util_percent)).sum::<f64>() / sample.gpus.len() as f64);
            let gpu_mem = (!sample.gpus.is_empty()).then(|| sample.gpus.iter().map(|g| g.mem_used as i64).sum::<i64>());
            let data = serde_json::json!({
                "per_core": m.per_core, "swap_used": m.swap_used, "swap_total": m.swap_total,
                "load": m.load, "gpus": sample.gpus,
            });
            stmt.execute(params![
                Option::<i64>::None,
                sample.timestamp,
                sample.host,
                f64::from(m.cpu_percent),
                m.mem_used as i64,
                m.mem_total as i64,
                gpu_util,
                gpu_mem,
                data.to_string()
            ])?;
            for r in &sample.runs {
                let data = serde_json::json!({"pid": r.pid, "processes": r.processes, "cpu_ms": r.cpu_ms});
                stmt.execute(params![
                    r.run_id,
                    sample.timestamp,
                    sample.host,
                    f64::from(r.cpu_percent),
                    r.rss as i64,
                    Option::<i64>::None,
                    r.gpu_util.map(f64::from),
                    (r.gpu_mem > 0).then_some(r.gpu_mem as i64),
                    data.to_string()
                ])?;
                revise(tx, r.run_id)?;
            }
            Ok(())
        })
    }

    /// Records what a run cost the machine.
    pub fn write_resources(&mut self, run_id: i64, r: &ResourceSummary) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO run_resources (run_id, wall_ms, cpu_ms, mean_cpu_percent, peak_cpu_percent, peak_rss, mean_gpu_util, peak_gpu_util, mean_gpu_mem, peak_gpu_mem, samples)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (run_id) DO UPDATE SET wall_ms = excluded.wall_ms, cpu_ms = excluded.cpu_ms,
                    mean_cpu_percent = excluded.mean_cpu_percent, peak_cpu_percent = excluded.peak_cpu_percent,
                    peak_rss = excluded.peak_rss, mean_gpu_util = excluded.mean_gpu_util, peak_gpu_util = excluded.peak_gpu_util,
                    mean_gpu_mem = excluded.mean_gpu_mem, peak_gpu_mem = excluded.peak_gpu_mem, samples = excluded.samples",
                params![
                    run_id,
                    r.wall_ms,
                    r.cpu_ms,
                    r.mean_cpu_percent,
                    r.peak_cpu_percent,
                    r.peak_rss,
                    r.mean_gpu_util,
                    r.peak_gpu_util,
                    r.mean_gpu_mem,
                    r.peak_gpu_mem,
                    r.samples
                ],
            )?;
            revise(tx, run_id)
        })
    }

    /// Records what is needed to reproduce a run.
    pub fn write_capture(&mut self, run_id: i64, c: &Capture) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO run_capture (run_id, env, git_branch, host, expman_version) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (run_id) DO UPDATE SET env = excluded.env, git_branch = excluded.git_branch, host = excluded.host, expman_version = excluded.expman_version",
                params![run_id, c.env, c.git_branch, c.host, c.expman_version],
            )?;
            revise(tx, run_id)
        })
    }

    /// Marks artifacts of a run as deleted (by path).
    pub fn mark_artifacts_deleted(&mut self, run_id: i64, paths: &[String]) -> Result<(), StoreError> {
        let now = now_ms();
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE artifacts SET deleted_at = ?3 WHERE run_id = ?1 AND path = ?2 AND deleted_at IS NULL",
            )?;
            for path in paths {
                stmt.execute(params![run_id, path, now])?;
            }
            revise(tx, run_id)
        })
    }

    /// Corrects an artifact's size and SHA-256 to what its file held when
    /// it was stored (a file written again after it was reported).
    pub fn set_artifact_digest(
        &mut self,
        run_id: i64,
        artifact_id: i64,
        size: i64,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE artifacts SET size = ?3, sha256 = ?4 WHERE run_id = ?1 AND id = ?2",
                params![run_id, artifact_id, size, sha256],
            )?;
            revise(tx, run_id)
        })
    }

    /// Adds artifacts to a run outside an event batch (captured files).
    pub fn add_artifacts(&mut self, run_id: i64, artifacts: &[crate::records::Artifact]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO artifacts (run_id, path, size, sha256, kind, epoch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for a in artifacts {
                stmt.execute(params![run_id, a.path, a.size, a.sha256, a.kind, a.epoch, a.created_at])?;
            }
            revise(tx, run_id)
        })
    }

    /// Records a message on a run's status (an early stop's reason, say)
    /// and tags, without ending it.
    pub fn annotate_run(&mut self, run_id: i64, tags: &[(String, String)]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut tag = tx.prepare_cached(
                "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            )?;
            for (k, v) in tags {
                tag.execute(params![run_id, k, v])?;
            }
            revise(tx, run_id)
        })
    }

    /// Appends to the audit log.
    pub fn log_event(
        &mut self,
        kind: &str,
        experiment_id: Option<i64>,
        run_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        let (user, host) = (expman_os::process::user_name(), expman_os::process::host_name());
        let pid = std::process::id();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO events (timestamp, user_name, host, pid, experiment_id, run_id, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![now_ms(), user, host, pid, experiment_id, run_id, kind, detail],
            )?;
            run_id.map_or(Ok(()), |id| revise(tx, id))
        })
    }

    /// The uid of a finished run with this identity, if one ended done
    /// (for `--resume`).
    pub fn find_done(
        &self,
        experiment_id: i64,
        trial_id: i64,
        repeat: u32,
        config_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT uid FROM runs WHERE experiment_id = ?1 AND trial_id = ?2 AND repeat = ?3 AND config_hash = ?4
                   AND status IN ('SUCCESS', 'EARLY_STOPPED', 'PRUNED') ORDER BY id DESC LIMIT 1",
                params![experiment_id, trial_id, repeat, config_hash],
                |r| r.get(0),
            )
            .optional()
            .ctx(&self.path)
    }

    /// The next automatic step of each metric key of a run (after a
    /// restart, so that steps continue rather than repeat).
    pub fn next_steps(&self, run_id: i64) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT key, MAX(step) + 1 FROM metrics WHERE run_id = ?1 GROUP BY key")
            .ctx(&self.path)?;
        let rows = stmt.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?))).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// The ids of an experiment and a trial, without creating them.
    pub fn find_trial(&self, experiment: &str, trial: &str) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn()
            .query_row(
                "SELECT e.id, t.id FROM experiments e JOIN trials t ON t.experiment_id = e.id WHERE e.name = ?1 AND t.name = ?2",
                params![experiment, trial],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx(&self.path)
    }

    /// How many attempts at this identity exist already.
    pub fn attempts(
        &self,
        experiment_id: i64,
        trial_id: i64,
        repeat: u32,
        config_hash: &str,
    ) -> Result<u32, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE experiment_id = ?1 AND trial_id = ?2 AND repeat = ?3 AND config_hash = ?4",
                params![experiment_id, trial_id, repeat, config_hash],
                |r| r.get(0),
            )
            .ctx(&self.path)
    }

    /// The repeat a new run of a trial started from code gets: one more
    /// than the trial's highest so far (0 for its first run).
    pub fn next_repeat(&self, trial_id: i64) -> Result<u32, StoreError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(repeat) + 1, 0) FROM runs WHERE trial_id = ?1", [trial_id], |r| r.get(0))
            .ctx(&self.path)
    }

    /// A run that has ended goes on under `runner_id` (a training script
    /// started again with the run's id, e.g. after preemption): RUNNING
    /// again with what was launched, its end cleared. False when it has
    /// not ended (someone is still writing it).
    pub fn reopen_run(&mut self, run_id: i64, runner_id: i64, started: &Started<'_>) -> Result<bool, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE runs SET status = 'RUNNING', ended_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                                 runner_id = ?2, host = ?3, pid = ?4, pid_started = ?5, command = ?6, revision = revision + 1
                 WHERE id = ?1 AND status NOT IN ('PENDING', 'RUNNING')",
                params![run_id, runner_id, started.host, started.pid, started.pid_started, started.command],
            )?;
            Ok(changed > 0)
        })
    }

    /// The git commit a run's code is at, and whether the tree was dirty
    /// (for runs whose code was captured after they started).
    pub fn set_git(&mut self, run_id: i64, commit: &str, dirty: bool) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET git_commit = ?2, git_dirty = ?3, revision = revision + 1 WHERE id = ?1",
                params![run_id, commit, dirty],
            )
            .map(|_| ())
        })
    }

    /// Where a run's event file was read up to and its run directory.
    pub fn events_position(&self, run_id: i64) -> Result<(u64, Option<String>), StoreError> {
        self.conn()
            .query_row("SELECT events_offset, run_dir FROM runs WHERE id = ?1", [run_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .ctx(&self.path)
    }

    /// Marks a run as final without touching its other columns (recovery).
    pub fn set_status(&mut self, run_id: i64, status: RunStatus, error: Option<&str>) -> Result<bool, StoreError> {
        self.finish_run(
            run_id,
            &RunFinish { status, exit_code: None, signal: None, error: error.map(str::to_string), ended_at: now_ms() },
        )
    }
}

/// Metric rows per `INSERT` statement: one statement runs many rows, so
/// SQLite's per-statement work is paid once per chunk.
const METRIC_ROWS_PER_INSERT: usize = 64;

/// Inserts a run's metric points (NaN as NULL), many rows per statement,
/// in the order they came: rowids are the order of recording, which
/// trackers and the metrics frame rely on.
fn insert_metrics(
    tx: &rusqlite::Transaction<'_>,
    run_id: i64,
    points: &[crate::records::MetricPoint],
) -> rusqlite::Result<()> {
    fn sql(rows: usize) -> String {
        let mut sql = String::from("INSERT INTO metrics (run_id, key, step, epoch, value, timestamp) VALUES ");
        for i in 0..rows {
            sql.push_str(if i == 0 { "(?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?)" });
        }
        sql
    }
    let bind = |stmt: &mut rusqlite::CachedStatement<'_>, at: usize, m: &crate::records::MetricPoint| {
        let value = if m.value.is_nan() { None } else { Some(m.value) };
        stmt.raw_bind_parameter(at + 1, run_id)?;
        stmt.raw_bind_parameter(at + 2, m.key.as_str())?;
        stmt.raw_bind_parameter(at + 3, m.step)?;
        stmt.raw_bind_parameter(at + 4, m.epoch)?;
        stmt.raw_bind_parameter(at + 5, value)?;
        stmt.raw_bind_parameter(at + 6, m.timestamp)
    };
    let mut chunks = points.chunks_exact(METRIC_ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut stmt = tx.prepare_cached(&sql(METRIC_ROWS_PER_INSERT))?;
        for chunk in chunks.by_ref() {
            for (i, point) in chunk.iter().enumerate() {
                bind(&mut stmt, i * 6, point)?;
            }
            stmt.raw_execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut one = tx.prepare_cached(&sql(1))?;
        for point in rest {
            bind(&mut one, 0, point)?;
            one.raw_execute()?;
        }
    }
    Ok(())
}

/// Raises a run's revision: what is recorded of it changed outside its
/// state columns (replication sends a run again when it did).
pub(crate) fn revise(tx: &rusqlite::Transaction<'_>, run_id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE runs SET revision = revision + 1 WHERE id = ?1")?.execute([run_id]).map(|_| ())
}

/// Per key of a batch: (last step, last timestamp, last value, min, max, count).
type BatchSummary = (i64, i64, Option<f64>, Option<f64>, Option<f64>, i64);

/// Folds a batch's points into `metric_summaries` (last by step, then
/// timestamp; min and max ignore NaN).
fn upsert_summaries(tx: &rusqlite::Transaction<'_>, batch: &IngestBatch) -> rusqlite::Result<()> {
    let mut per_key: std::collections::HashMap<&str, BatchSummary> = std::collections::HashMap::new();
    for m in &batch.metrics {
        let value = (!m.value.is_nan()).then_some(m.value);
        let s = per_key.entry(&m.key).or_insert((m.step, m.timestamp, value, None, None, 0));
        if (m.step, m.timestamp) >= (s.0, s.1) {
            s.0 = m.step;
            s.1 = m.timestamp;
            s.2 = value;
        }
        if let Some(v) = value {
            s.3 = Some(s.3.map_or(v, |x: f64| x.min(v)));
            s.4 = Some(s.4.map_or(v, |x: f64| x.max(v)));
        }
        s.5 += 1;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO metric_summaries (run_id, key, last_step, last_ts, last_value, min_value, max_value, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (run_id, key) DO UPDATE SET
            last_value = CASE WHEN excluded.last_step > last_step OR (excluded.last_step = last_step AND excluded.last_ts >= last_ts)
                              THEN excluded.last_value ELSE last_value END,
            last_ts = CASE WHEN excluded.last_step > last_step OR (excluded.last_step = last_step AND excluded.last_ts >= last_ts)
                           THEN excluded.last_ts ELSE last_ts END,
            last_step = CASE WHEN excluded.last_step > last_step THEN excluded.last_step ELSE last_step END,
            min_value = CASE WHEN min_value IS NULL OR excluded.min_value < min_value THEN excluded.min_value ELSE min_value END,
            max_value = CASE WHEN max_value IS NULL OR excluded.max_value > max_value THEN excluded.max_value ELSE max_value END,
            count = count + excluded.count",
    )?;
    for (key, s) in per_key {
        stmt.execute(params![batch.run_id, key, s.0, s.1, s.2, s.3, s.4, s.5])?;
    }
    Ok(())
}

/// The id of a trial (by its full name), inserted if new.
pub(crate) fn upsert_trial(
    tx: &rusqlite::Transaction<'_>,
    experiment_id: i64,
    name: &str,
    base_name: &str,
    sweep: Option<&str>,
    description: Option<&str>,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO trials (experiment_id, name, base_name, sweep, description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (experiment_id, name) DO NOTHING",
        params![experiment_id, name, base_name, sweep, description, now_ms()],
    )?;
    tx.query_row("SELECT id FROM trials WHERE experiment_id = ?1 AND name = ?2", params![experiment_id, name], |r| {
        r.get(0)
    })
}

/// Inserts a PENDING run with its params and tags; returns its id.
pub(crate) fn insert_run(tx: &rusqlite::Transaction<'_>, run: &NewRun, uid: &str) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO runs (uid, experiment_id, trial_id, repeat, attempt, status, created_at, config, config_hash, seed, run_dir, runner_id)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            uid,
            run.experiment_id,
            run.trial_id,
            run.repeat,
            run.attempt,
            now_ms(),
            run.config_json,
            run.config_hash,
            run.seed,
            run.run_dir,
            run.runner_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut param = tx.prepare_cached(
        "INSERT INTO params (run_id, key, value_type, value_text, value_num) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (run_id, key) DO UPDATE SET value_type = excluded.value_type, value_text = excluded.value_text, value_num = excluded.value_num",
    )?;
    for (key, value) in &run.params {
        let (text, num) = value.columns();
        param.execute(params![id, key, value.type_name(), text, num])?;
    }
    let mut tag = tx.prepare_cached(
        "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in &run.tags {
        tag.execute(params![id, key, value])?;
    }
    Ok(id)
}
