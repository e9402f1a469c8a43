//! The record as DataFrames: `runs` (one row per run, a column per param,
//! metric summary and tag), `metrics` (long: one row per point), `params`
//! and `tags` (long), `trials`, `experiments`, `hardware`, `artifacts`.
//!
//! Columns are typed (integers stay integers, times are datetimes in
//! milliseconds) and in a stable order; a param or tag some runs lack is
//! null there.

use std::collections::HashMap;

use polars::prelude::*;

use super::QueryError;
use expman_store::Store;

/// Builds frames from one store.
pub struct Frames<'a> {
    store: &'a Store,
    /// Only runs of this experiment.
    experiment: Option<String>,
}

/// One param value as read.
enum Cell {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Null,
}

/// A param column while it is being filled: the values seen so far.
#[derive(Default)]
struct ParamColumn {
    ints: bool,
    floats: bool,
    bools: bool,
    texts: bool,
    values: Vec<(usize, Cell)>,
}

fn datetime(name: &str, values: Vec<Option<i64>>) -> Result<Column, QueryError> {
    Ok(Column::new(name.into(), values).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?)
}

impl<'a> Frames<'a> {
    pub fn new(store: &'a Store) -> Frames<'a> {
        Frames { store, experiment: None }
    }

    /// Only runs of `experiment`.
    pub fn experiment(mut self, experiment: Option<&str>) -> Frames<'a> {
        self.experiment = experiment.map(str::to_string);
        self
    }

    /// `WHERE` fragment selecting the run ids in scope (`?1` = experiment).
    fn run_scope(&self, column: &str) -> String {
        format!(
            "(?1 IS NULL OR {column} IN (SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = ?1))"
        )
    }

    /// One row per run: identity, status and times, then `params.*`,
    /// `metrics.<key>` (last value), `metrics.<key>.min`/`.max`, `tags.*`.
    ///
    /// Params are most of the reading (a row per run and key): with a file
    /// database they are read on a second connection, on a thread of their
    /// own, while this one reads the metric summaries and tags.
    pub fn runs(&self) -> Result<DataFrame, QueryError> {
        let (ids, mut columns) = self.run_columns()?;
        let n = ids.len();
        let scope = self.run_scope("run_id");
        let (params, summaries, tags) = std::thread::scope(|s| {
            let beside = (n > 1_000).then(|| {
                let (ids, scope, experiment, path) = (&ids, &scope, &self.experiment, self.store.path());
                s.spawn(move || reader(path).map(|conn| param_columns(&conn, scope, experiment, ids)))
            });
            let summaries = self.metric_summary_columns(&ids);
            let tags = self.tag_columns(&ids);
            let params = match beside.and_then(|thread| thread.join().ok().flatten()) {
                Some(params) => params,
                None => param_columns(self.store.conn(), &scope, &self.experiment, &ids),
            };
            (params, summaries, tags)
        });
        columns.extend(params?);
        columns.extend(summaries?);
        columns.extend(tags?);
        Ok(DataFrame::new(n, columns)?)
    }

    /// The run ids in order, and the columns of what a run is: identity,
    /// status, times, host, seed, exit code, error, config hash, directory.
    fn run_columns(&self) -> Result<(Vec<i64>, Vec<Column>), QueryError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT r.id, r.uid, e.name, t.name, r.repeat, r.status, r.created_at, r.started_at, r.ended_at,
                    r.host, r.seed, r.exit_code, r.config_hash, r.attempt, r.error, r.run_dir
             FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN trials t ON t.id = r.trial_id
             WHERE (?1 IS NULL OR e.name = ?1) ORDER BY r.id",
        )?;
        let mut ids = Vec::new();
        let (mut uid, mut experiment, mut trial, mut repeat, mut status) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut created, mut started, mut ended, mut duration) = (vec![], vec![], vec![], vec![]);
        let (mut host, mut seed, mut exit_code, mut config_hash, mut attempt, mut error, mut run_dir) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut rows = stmt.query([&self.experiment])?;
        while let Some(r) = rows.next()? {
            ids.push(r.get::<_, i64>(0)?);
            uid.push(r.get::<_, String>(1)?);
            experiment.push(r.get::<_, String>(2)?);
            trial.push(r.get::<_, String>(3)?);
            repeat.push(r.get::<_, i64>(4)? + 1);
            status.push(r.get::<_, String>(5)?);
            created.push(Some(r.get::<_, i64>(6)?));
            let s: Option<i64> = r.get(7)?;
            let e: Option<i64> = r.get(8)?;
            started.push(s);
            ended.push(e);
            duration.push(match (s, e) {
                (Some(s), Some(e)) => Some((e - s) as f64 / 1000.0),
                _ => None,
            });
            host.push(r.get::<_, Option<String>>(9)?);
            seed.push(r.get::<_, Option<i64>>(10)?);
            exit_code.push(r.get::<_, Option<i64>>(11)?);
            config_hash.push(r.get::<_, String>(12)?);
            attempt.push(r.get::<_, i64>(13)?);
            error.push(r.get::<_, Option<String>>(14)?);
            run_dir.push(r.get::<_, Option<String>>(15)?);
        }
        drop(rows);
        let columns = vec![
            Column::new("id".into(), uid),
            Column::new("experiment".into(), experiment),
            Column::new("trial".into(), trial),
            Column::new("repeat".into(), repeat),
            Column::new("attempt".into(), attempt),
            Column::new("status".into(), status),
            datetime("created_at", created)?,
            datetime("started_at", started)?,
            datetime("ended_at", ended)?,
            Column::new("duration_s".into(), duration),
            Column::new("host".into(), host),
            Column::new("seed".into(), seed),
            Column::new("exit_code".into(), exit_code),
            Column::new("error".into(), error),
            Column::new("config_hash".into(), config_hash),
            Column::new("run_dir".into(), run_dir),
        ];

        Ok((ids, columns))
    }

    /// Metric summaries: `metrics.<key>` (the last value), then each key's
    /// `.min` and `.max`.
    fn metric_summary_columns(&self, ids: &[i64]) -> Result<Vec<Column>, QueryError> {
        let conn = self.store.conn();
        let n = ids.len();
        let mut index = RunIndex::new(ids);
        let mut columns = Vec::new();
        let mut metrics: Keyed<MetricSummaryColumns> = Keyed::new();
        let sql = format!(
            "SELECT run_id, key, last_value, min_value, max_value, count FROM metric_summaries WHERE {}",
            self.run_scope("run_id")
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([&self.experiment])?;
        while let Some(r) = rows.next()? {
            let Some(row) = index.row(r.get::<_, i64>(0)?) else { continue };
            let key = r.get_ref(1)?.as_str().unwrap_or("");
            let entry = metrics.slot(key, || MetricSummaryColumns::nulls(n));
            // A NULL last value with points means NaN.
            let count: i64 = r.get(5)?;
            let last: Option<f64> = r.get(2)?;
            entry.last[row] = last.or((count > 0).then_some(f64::NAN));
            entry.min[row] = r.get(3)?;
            entry.max[row] = r.get(4)?;
        }
        drop(rows);
        let metrics = metrics.sorted();
        for (key, summary) in &metrics {
            columns.push(Column::new(format!("metrics.{key}").into(), &summary.last));
        }
        for (key, summary) in metrics {
            columns.push(Column::new(format!("metrics.{key}.min").into(), summary.min));
            columns.push(Column::new(format!("metrics.{key}.max").into(), summary.max));
        }

        Ok(columns)
    }

    /// Tags: a text column per key.
    fn tag_columns(&self, ids: &[i64]) -> Result<Vec<Column>, QueryError> {
        let conn = self.store.conn();
        let n = ids.len();
        let mut index = RunIndex::new(ids);
        let mut tags: Keyed<Vec<Option<String>>> = Keyed::new();
        let sql = format!("SELECT run_id, key, value FROM tags WHERE {}", self.run_scope("run_id"));
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([&self.experiment])?;
        while let Some(r) = rows.next()? {
            let Some(row) = index.row(r.get::<_, i64>(0)?) else { continue };
            let key = r.get_ref(1)?.as_str().unwrap_or("");
            tags.slot(key, || vec![None; n])[row] = Some(r.get(2)?);
        }
        drop(rows);
        Ok(tags.sorted().into_iter().map(|(key, values)| Column::new(format!("tags.{key}").into(), values)).collect())
    }

    /// Metric points, long: run, trial, key, step, epoch, value, timestamp.
    /// `runs` are run uids (all in scope when empty), `keys` metric keys
    /// (all when empty). Rows come in the order they were recorded.
    pub fn metrics(&self, runs: &[String], keys: &[String]) -> Result<DataFrame, QueryError> {
        self.metrics_columns(runs, keys, &METRIC_COLUMNS)
    }

    /// Like [`Frames::metrics`], with only the named columns (a SQL query
    /// that never names `timestamp` need not read it).
    pub fn metrics_columns(&self, runs: &[String], keys: &[String], columns: &[&str]) -> Result<DataFrame, QueryError> {
        let want = |c: &str| columns.contains(&c);
        let conn = self.store.conn();
        // The runs in scope, as small lookup tables: one row per point only
        // carries integers until the columns are built.
        let mut stmt = conn.prepare(
            "SELECT r.id, r.uid, t.name FROM runs r JOIN trials t ON t.id = r.trial_id
             JOIN experiments e ON e.id = r.experiment_id WHERE (?1 IS NULL OR e.name = ?1) ORDER BY r.id",
        )?;
        let mut dims: HashMap<i64, (String, String)> = HashMap::new();
        let mut rows = stmt.query([&self.experiment])?;
        while let Some(r) = rows.next()? {
            let uid: String = r.get(1)?;
            if runs.is_empty() || runs.contains(&uid) {
                dims.insert(r.get(0)?, (uid, r.get(2)?));
            }
        }
        drop(rows);
        let mut sql = String::from("SELECT run_id, key");
        for c in ["step", "epoch", "value", "timestamp"] {
            sql.push_str(if want(c) { ", " } else { ", NULL AS " });
            sql.push_str(c);
        }
        sql.push_str(" FROM metrics");
        let mut clauses = Vec::new();
        let run_ids: Vec<i64> = dims.keys().copied().collect();
        if !runs.is_empty() || self.experiment.is_some() {
            clauses.push(format!("run_id IN ({})", run_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")));
        }
        if !keys.is_empty() {
            clauses.push(format!("key IN ({})", placeholders(1, keys.len())));
        }
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        let mut stmt = conn.prepare(&sql)?;
        let bind: Vec<&dyn rusqlite::ToSql> = keys.iter().map(|k| k as &dyn rusqlite::ToSql).collect();
        let mut rows = stmt.query(bind.as_slice())?;
        let mut key_names: Vec<String> = Vec::new();
        let mut key_index: HashMap<String, u32> = HashMap::new();
        let (mut run_col, mut key_col, mut step, mut epoch, mut value, mut ts) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            let run_id: i64 = r.get(0)?;
            if !dims.contains_key(&run_id) {
                continue;
            }
            let key = r.get_ref(1)?.as_str().map_err(|e| QueryError::Invalid(e.to_string()))?;
            let k = match key_index.get(key) {
                Some(k) => *k,
                None => {
                    key_names.push(key.to_string());
                    key_index.insert(key.to_string(), key_names.len() as u32 - 1);
                    key_names.len() as u32 - 1
                }
            };
            run_col.push(run_id);
            key_col.push(k);
            if want("step") {
                step.push(r.get::<_, i64>(2)?);
            }
            if want("epoch") {
                epoch.push(r.get::<_, Option<i64>>(3)?);
            }
            if want("value") {
                value.push(r.get::<_, Option<f64>>(4)?.unwrap_or(f64::NAN));
            }
            if want("timestamp") {
                ts.push(Some(r.get::<_, i64>(5)?));
            }
        }
        drop(rows);
        let n = run_col.len();
        let mut out = Vec::new();
        if want("run") {
            out.push(Column::new("run".into(), run_col.iter().map(|id| dims[id].0.as_str()).collect::<Vec<_>>()));
        }
        if want("trial") {
            out.push(Column::new("trial".into(), run_col.iter().map(|id| dims[id].1.as_str()).collect::<Vec<_>>()));
        }
        if want("key") {
            out.push(Column::new(
                "key".into(),
                key_col.iter().map(|k| key_names[*k as usize].as_str()).collect::<Vec<_>>(),
            ));
        }
        if want("step") {
            out.push(Column::new("step".into(), step));
        }
        if want("epoch") {
            out.push(Column::new("epoch".into(), epoch));
        }
        if want("value") {
            out.push(Column::new("value".into(), value));
        }
        if want("timestamp") {
            out.push(datetime("timestamp", ts)?);
        }
        Ok(DataFrame::new(n, out)?)
    }

    /// The full history of one metric of one run (fast path: one index range).
    pub fn history(&self, run_uid: &str, key: &str) -> Result<DataFrame, QueryError> {
        let run = self.store.resolve_run(run_uid)?;
        let mut stmt = self.store.conn().prepare_cached(
            "SELECT step, epoch, value, timestamp FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step",
        )?;
        let mut rows = stmt.query(rusqlite::params![run.id, key])?;
        let (mut step, mut epoch, mut value, mut ts) = (vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            step.push(r.get::<_, i64>(0)?);
            epoch.push(r.get::<_, Option<i64>>(1)?);
            value.push(r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN));
            ts.push(Some(r.get::<_, i64>(3)?));
        }
        let n = step.len();
        Ok(DataFrame::new(
            n,
            vec![
                Column::new("step".into(), step),
                Column::new("epoch".into(), epoch),
                Column::new("value".into(), value),
                datetime("timestamp", ts)?,
            ],
        )?)
    }

    /// Params, long: run, trial, key, value (text), value_num.
    pub fn params(&self) -> Result<DataFrame, QueryError> {
        self.long(
            "SELECT r.uid, t.name, p.key, p.value_text, p.value_num FROM params p JOIN runs r ON r.id = p.run_id
             JOIN trials t ON t.id = r.trial_id JOIN experiments e ON e.id = r.experiment_id
             WHERE (?1 IS NULL OR e.name = ?1) ORDER BY p.run_id, p.key",
            &["run", "trial", "key", "value", "value_num"],
        )
    }

    /// Tags, long: run, trial, key, value.
    pub fn tags(&self) -> Result<DataFrame, QueryError> {
        self.long(
            "SELECT r.uid, t.name, g.key, g.value, NULL FROM tags g JOIN runs r ON r.id = g.run_id
             JOIN trials t ON t.id = r.trial_id JOIN experiments e ON e.id = r.experiment_id
             WHERE (?1 IS NULL OR e.name = ?1) ORDER BY g.run_id, g.key",
            &["run", "trial", "key", "value", "value_num"],
        )
    }

    fn long(&self, sql: &str, names: &[&str; 5]) -> Result<DataFrame, QueryError> {
        let mut stmt = self.store.conn().prepare(sql)?;
        let mut rows = stmt.query([&self.experiment])?;
        let (mut a, mut b, mut c, mut d, mut e) = (vec![], vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            a.push(r.get::<_, String>(0)?);
            b.push(r.get::<_, String>(1)?);
            c.push(r.get::<_, String>(2)?);
            d.push(r.get::<_, Option<String>>(3)?);
            e.push(r.get::<_, Option<f64>>(4)?);
        }
        let n = a.len();
        let mut columns = vec![
            Column::new(names[0].into(), a),
            Column::new(names[1].into(), b),
            Column::new(names[2].into(), c),
            Column::new(names[3].into(), d),
        ];
        if e.iter().any(Option::is_some) || names[4] == "value_num" && sql.contains("value_num") {
            columns.push(Column::new(names[4].into(), e));
        }
        Ok(DataFrame::new(n, columns)?)
    }

    /// One row per trial: runs and their statuses, first start, last end.
    pub fn trials(&self) -> Result<DataFrame, QueryError> {
        let mut stmt = self.store.conn().prepare(
            "SELECT e.name, t.name, t.base_name, t.sweep, COUNT(r.id),
                    SUM(r.status = 'SUCCESS'), SUM(r.status = 'EARLY_STOPPED'), SUM(r.status = 'PRUNED'),
                    SUM(r.status IN ('FAILED', 'TIMEOUT', 'LOST')), SUM(r.status = 'KILLED'),
                    SUM(r.status IN ('PENDING', 'RUNNING')), MIN(r.started_at), MAX(r.ended_at)
             FROM trials t JOIN experiments e ON e.id = t.experiment_id LEFT JOIN runs r ON r.trial_id = t.id
             WHERE (?1 IS NULL OR e.name = ?1) GROUP BY t.id ORDER BY t.id",
        )?;
        let mut rows = stmt.query([&self.experiment])?;
        let mut cols: (Vec<String>, Vec<String>, Vec<String>, Vec<Option<String>>) = (vec![], vec![], vec![], vec![]);
        let mut counts: [Vec<i64>; 7] = Default::default();
        let (mut first, mut last) = (vec![], vec![]);
        while let Some(r) = rows.next()? {
            cols.0.push(r.get(0)?);
            cols.1.push(r.get(1)?);
            cols.2.push(r.get(2)?);
            cols.3.push(r.get(3)?);
            for (i, c) in counts.iter_mut().enumerate() {
                c.push(r.get::<_, Option<i64>>(4 + i)?.unwrap_or(0));
            }
            first.push(r.get::<_, Option<i64>>(11)?);
            last.push(r.get::<_, Option<i64>>(12)?);
        }
        let n = cols.0.len();
        let [runs, success, early, pruned, failed, killed, active] = counts;
        Ok(DataFrame::new(
            n,
            vec![
                Column::new("experiment".into(), cols.0),
                Column::new("trial".into(), cols.1),
                Column::new("base_trial".into(), cols.2),
                Column::new("sweep".into(), cols.3),
                Column::new("runs".into(), runs),
                Column::new("success".into(), success),
                Column::new("early_stopped".into(), early),
                Column::new("pruned".into(), pruned),
                Column::new("failed".into(), failed),
                Column::new("killed".into(), killed),
                Column::new("active".into(), active),
                datetime("first_started", first)?,
                datetime("last_ended", last)?,
            ],
        )?)
    }

    /// One row per experiment.
    pub fn experiments(&self) -> Result<DataFrame, QueryError> {
        let mut stmt = self.store.conn().prepare(
            "SELECT e.name, e.description, e.config_dir, e.created_at,
                    (SELECT COUNT(*) FROM trials t WHERE t.experiment_id = e.id),
                    COUNT(r.id), SUM(r.status IN ('SUCCESS', 'EARLY_STOPPED', 'PRUNED')), MAX(r.ended_at)
             FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
             WHERE (?1 IS NULL OR e.name = ?1) GROUP BY e.id ORDER BY e.id",
        )?;
        let mut rows = stmt.query([&self.experiment])?;
        let (mut name, mut desc, mut dir, mut created, mut trials, mut runs, mut done, mut last) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            name.push(r.get::<_, String>(0)?);
            desc.push(r.get::<_, Option<String>>(1)?);
            dir.push(r.get::<_, Option<String>>(2)?);
            created.push(Some(r.get::<_, i64>(3)?));
            trials.push(r.get::<_, i64>(4)?);
            runs.push(r.get::<_, i64>(5)?);
            done.push(r.get::<_, Option<i64>>(6)?.unwrap_or(0));
            last.push(r.get::<_, Option<i64>>(7)?);
        }
        let n = name.len();
        Ok(DataFrame::new(
            n,
            vec![
                Column::new("experiment".into(), name),
                Column::new("description".into(), desc),
                Column::new("config_dir".into(), dir),
                datetime("created_at", created)?,
                Column::new("trials".into(), trials),
                Column::new("runs".into(), runs),
                Column::new("succeeded".into(), done),
                datetime("last_ended", last)?,
            ],
        )?)
    }

    /// Hardware samples: run (null for the machine), time, host, CPU %,
    /// memory, GPU % and memory.
    pub fn hardware(&self) -> Result<DataFrame, QueryError> {
        let mut stmt = self.store.conn().prepare(
            "SELECT r.uid, h.timestamp, h.host, h.cpu_percent, h.mem_used, h.mem_total, h.gpu_percent, h.gpu_mem
             FROM hardware_samples h LEFT JOIN runs r ON r.id = h.run_id LEFT JOIN experiments e ON e.id = r.experiment_id
             WHERE (?1 IS NULL OR h.run_id IS NULL OR e.name = ?1) ORDER BY h.timestamp, h.id",
        )?;
        let mut rows = stmt.query([&self.experiment])?;
        let (mut run, mut ts, mut host, mut cpu, mut mem, mut total, mut gpu, mut gmem) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            run.push(r.get::<_, Option<String>>(0)?);
            ts.push(Some(r.get::<_, i64>(1)?));
            host.push(r.get::<_, Option<String>>(2)?);
            cpu.push(r.get::<_, Option<f64>>(3)?);
            mem.push(r.get::<_, Option<i64>>(4)?);
            total.push(r.get::<_, Option<i64>>(5)?);
            gpu.push(r.get::<_, Option<f64>>(6)?);
            gmem.push(r.get::<_, Option<i64>>(7)?);
        }
        let n = run.len();
        Ok(DataFrame::new(
            n,
            vec![
                Column::new("run".into(), run),
                datetime("timestamp", ts)?,
                Column::new("host".into(), host),
                Column::new("cpu_percent".into(), cpu),
                Column::new("mem_used".into(), mem),
                Column::new("mem_total".into(), total),
                Column::new("gpu_percent".into(), gpu),
                Column::new("gpu_mem".into(), gmem),
            ],
        )?)
    }

    /// Artifacts: run, trial, path, kind, size, sha256, epoch, time, deleted.
    pub fn artifacts(&self) -> Result<DataFrame, QueryError> {
        let mut stmt = self.store.conn().prepare(
            "SELECT r.uid, t.name, a.path, a.kind, a.size, a.sha256, a.epoch, a.created_at, a.deleted_at IS NOT NULL
             FROM artifacts a JOIN runs r ON r.id = a.run_id JOIN trials t ON t.id = r.trial_id
             JOIN experiments e ON e.id = r.experiment_id WHERE (?1 IS NULL OR e.name = ?1) ORDER BY a.id",
        )?;
        let mut rows = stmt.query([&self.experiment])?;
        let (mut run, mut trial, mut path, mut kind, mut size, mut sha, mut epoch, mut ts, mut deleted) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        while let Some(r) = rows.next()? {
            run.push(r.get::<_, String>(0)?);
            trial.push(r.get::<_, String>(1)?);
            path.push(r.get::<_, String>(2)?);
            kind.push(r.get::<_, String>(3)?);
            size.push(r.get::<_, Option<i64>>(4)?);
            sha.push(r.get::<_, Option<String>>(5)?);
            epoch.push(r.get::<_, Option<i64>>(6)?);
            ts.push(Some(r.get::<_, i64>(7)?));
            deleted.push(r.get::<_, bool>(8)?);
        }
        let n = run.len();
        Ok(DataFrame::new(
            n,
            vec![
                Column::new("run".into(), run),
                Column::new("trial".into(), trial),
                Column::new("path".into(), path),
                Column::new("kind".into(), kind),
                Column::new("size".into(), size),
                Column::new("sha256".into(), sha),
                Column::new("epoch".into(), epoch),
                datetime("created_at", ts)?,
                Column::new("deleted".into(), deleted),
            ],
        )?)
    }
}

/// The columns of the metrics frame.
pub const METRIC_COLUMNS: [&str; 7] = ["run", "trial", "key", "step", "epoch", "value", "timestamp"];

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

/// A param column of the narrowest type that holds every value: integers,
/// floats (integers and floats mixed), booleans, else text.
/// A second connection to a database file, for reading beside the store's
/// own (`None` for an in-memory database, or when it cannot be opened).
fn reader(path: &std::path::Path) -> Option<rusqlite::Connection> {
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return None;
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).ok()?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).ok()?;
    Some(conn)
}

/// Rows of the runs frame by run id, for rows read in run id order (as
/// the params, summaries and tags tables keep them): the last row found
/// is tried first, then a binary search.
struct RunIndex<'a> {
    ids: &'a [i64],
    at: usize,
}

impl<'a> RunIndex<'a> {
    /// `ids` in ascending order.
    fn new(ids: &'a [i64]) -> RunIndex<'a> {
        RunIndex { ids, at: 0 }
    }

    fn row(&mut self, id: i64) -> Option<usize> {
        if self.ids.get(self.at) != Some(&id) {
            self.at = self.ids.binary_search(&id).ok()?;
        }
        Some(self.at)
    }
}

/// Columns by key, for rows that give the keys of one run in the same
/// order as the run before: the key after the last one found is tried
/// first, then a map.
struct Keyed<T> {
    columns: Vec<(String, T)>,
    by_key: HashMap<String, usize>,
    last: usize,
}

impl<T> Keyed<T> {
    fn new() -> Keyed<T> {
        Keyed { columns: Vec::new(), by_key: HashMap::new(), last: 0 }
    }

    fn slot(&mut self, key: &str, make: impl FnOnce() -> T) -> &mut T {
        let next = self.last + 1;
        let at = if self.columns.get(next).is_some_and(|c| c.0 == key) {
            next
        } else if self.columns.get(self.last).is_some_and(|c| c.0 == key) {
            self.last
        } else if let Some(&at) = self.by_key.get(key) {
            at
        } else {
            self.columns.push((key.to_string(), make()));
            self.by_key.insert(key.to_string(), self.columns.len() - 1);
            self.columns.len() - 1
        };
        self.last = at;
        &mut self.columns[at].1
    }

    /// The columns, by key in order.
    fn sorted(mut self) -> Vec<(String, T)> {
        self.columns.sort_by(|a, b| a.0.cmp(&b.0));
        self.columns
    }
}

/// Params: a typed column per key (`scope`: the `WHERE` of the runs in
/// scope, `?1` the experiment).
fn param_columns(
    conn: &rusqlite::Connection,
    scope: &str,
    experiment: &Option<String>,
    ids: &[i64],
) -> Result<Vec<Column>, QueryError> {
    let n = ids.len();
    let mut index = RunIndex::new(ids);
    let mut params: Keyed<ParamColumn> = Keyed::new();
    let sql = format!("SELECT run_id, key, value_type, value_text, value_num FROM params WHERE {scope}");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([experiment])?;
    while let Some(r) = rows.next()? {
        let Some(row) = index.row(r.get::<_, i64>(0)?) else { continue };
        let text = |i: usize| r.get_ref(i).ok().and_then(|v| v.as_str().ok()).unwrap_or("");
        let col = params.slot(text(1), ParamColumn::default);
        let num: Option<f64> = r.get(4)?;
        let cell = match text(2) {
            "int" => {
                col.ints = true;
                Cell::Int(num.unwrap_or_default() as i64)
            }
            "float" => {
                col.floats = true;
                Cell::Float(num.unwrap_or(f64::NAN))
            }
            "bool" => {
                col.bools = true;
                Cell::Bool(text(3) == "true")
            }
            "null" => Cell::Null,
            _ => {
                col.texts = true;
                Cell::Text(text(3).to_string())
            }
        };
        col.values.push((row, cell));
    }
    drop(rows);
    params.sorted().into_iter().map(|(key, col)| param_column(&format!("params.{key}"), n, col)).collect()
}

fn param_column(name: &str, n: usize, col: ParamColumn) -> Result<Column, QueryError> {
    let only = |flag: bool, others: [bool; 3]| flag && others.iter().all(|o| !o);
    if only(col.ints, [col.floats, col.bools, col.texts]) {
        let mut values: Vec<Option<i64>> = vec![None; n];
        for (row, cell) in col.values {
            if let Cell::Int(i) = cell {
                values[row] = Some(i);
            }
        }
        return Ok(Column::new(name.into(), values));
    }
    if (col.ints || col.floats) && !col.bools && !col.texts {
        let mut values: Vec<Option<f64>> = vec![None; n];
        for (row, cell) in col.values {
            values[row] = match cell {
                Cell::Int(i) => Some(i as f64),
                Cell::Float(f) => Some(f),
                _ => None,
            };
        }
        return Ok(Column::new(name.into(), values));
    }
    if only(col.bools, [col.ints, col.floats, col.texts]) {
        let mut values: Vec<Option<bool>> = vec![None; n];
        for (row, cell) in col.values {
            if let Cell::Bool(b) = cell {
                values[row] = Some(b);
            }
        }
        return Ok(Column::new(name.into(), values));
    }
    let mut values: Vec<Option<String>> = vec![None; n];
    for (row, cell) in col.values {
        values[row] = match cell {
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Text(t) => Some(t),
            Cell::Null => None,
        };
    }
    Ok(Column::new(name.into(), values))
}

/// A cell as text for terminals and plain-text outputs: numbers to four
/// significant digits, times as `YYYY-MM-DD HH:MM:SS`, null as empty.
pub fn format_cell(value: &AnyValue<'_>) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Float64(f) => expman_os::format::format_number(*f),
        AnyValue::Float32(f) => expman_os::format::format_number(f64::from(*f)),
        AnyValue::Datetime(ms, TimeUnit::Milliseconds, _) => expman_os::time::format_utc(*ms),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// One metric's last, min and max value per run, as columns in the making.
struct MetricSummaryColumns {
    last: Vec<Option<f64>>,
    min: Vec<Option<f64>>,
    max: Vec<Option<f64>>,
}

impl MetricSummaryColumns {
    fn nulls(rows: usize) -> Self {
        Self { last: vec![None; rows], min: vec![None; rows], max: vec![None; rows] }
    }
}
