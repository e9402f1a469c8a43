//! Replication from one database into another: `expman db copy` (a local
//! SQLite file into the team's MySQL database, or back), the runner
//! sending its runs to the team database as they go, and the local
//! replica commands read the team database through.
//!
//! Rows get new ids on the other side; what names a thing across
//! databases is kept: an experiment's name, a trial's name within it, a
//! run's uid. The database that first sends a run is its origin there
//! (`replica_cursors`), and only the origin updates it: copying two
//! people's histories into one database keeps both, and a run that came
//! another way is left alone.
//!
//! A run goes over in one transaction per pass: the first pass brings the
//! run with everything of it; later passes update its row, replace its
//! small tables (params, tags, summaries, artifacts, resources, capture)
//! and append the metric points, hardware samples and events after the
//! cursors, which are saved in that same transaction. So a pass cut off
//! at any point (the server restarted, the process killed) loses nothing
//! and sends nothing twice, and the next pass carries on. A run whose
//! state and revision (raised by every write to it: see `runs.revision`)
//! are what was last sent is not read again, whether it goes on or has
//! ended; one changed after it ended (its resource summary, a late hook's
//! warning) is sent again.
//!
//! MySQL's DOUBLE has no infinities: a diverged loss is held there as the
//! largest finite double ([`INFINITY_THERE`]) and read back as infinite.
//! Tracker acknowledgements stay where they are (they belong to the
//! record they were made from).

use std::collections::HashMap;

use crate::mysql::MysqlDb;
use expman_store::Store;
use expman_store::StoreError;

/// One value, as both back ends read and write them.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Text(t) => t.parse().ok(),
            _ => None,
        }
    }
}

/// A database rows are copied from or to.
pub trait Side {
    fn describe(&self) -> String;
    fn select(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError>;
    /// Runs an INSERT; the id of the new row.
    fn insert(&mut self, sql: &str, params: &[Cell]) -> Result<i64, StoreError>;
    fn begin(&mut self) -> Result<(), StoreError>;
    fn commit(&mut self) -> Result<(), StoreError>;
    fn abort(&mut self);
    fn version(&mut self) -> Result<i64, StoreError>;
    /// The column that orders a table's rows as they were written
    /// (SQLite's `rowid`; every MySQL table that grows has an `id`).
    fn row_order(&self) -> &'static str;
    /// What makes a SELECT lock the rows it reads until the transaction
    /// ends (MySQL's `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` already
    /// keeps other writers out).
    fn lock_rows(&self) -> &'static str;
    /// Whether it stores infinite reals as they are. MySQL's DOUBLE has
    /// no infinities: it holds them as the largest finite double (see
    /// [`INFINITY_THERE`]).
    fn keeps_infinities(&self) -> bool {
        true
    }
}

/// What a database without infinities holds for +∞ (and its negation for
/// −∞): the largest finite double, which sorts and compares like ∞ beside
/// every other value. Metric values read back from it are infinite again;
/// a metric of exactly this value reads back as +∞ too.
pub const INFINITY_THERE: f64 = f64::MAX;

impl Side for Store {
    fn describe(&self) -> String {
        let path = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        format!("sqlite:{}", path.display())
    }

    fn select(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let ctx = |e| StoreError::Sqlite { path: self.path().to_path_buf(), source: e };
        let mut stmt = self.conn().prepare_cached(sql).map_err(ctx)?;
        let width = stmt.column_count();
        let values: Vec<rusqlite::types::Value> = params.iter().map(to_sqlite).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(values)).map_err(ctx)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(ctx)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(from_sqlite(row.get::<_, rusqlite::types::Value>(i).map_err(ctx)?));
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn insert(&mut self, sql: &str, params: &[Cell]) -> Result<i64, StoreError> {
        let ctx = |e| StoreError::Sqlite { path: self.path().to_path_buf(), source: e };
        let values: Vec<rusqlite::types::Value> = params.iter().map(to_sqlite).collect();
        self.conn().prepare_cached(sql).and_then(|mut s| s.execute(rusqlite::params_from_iter(values))).map_err(ctx)?;
        Ok(self.conn().last_insert_rowid())
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| StoreError::Sqlite { path: self.path().to_path_buf(), source: e })
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("COMMIT")
            .map_err(|e| StoreError::Sqlite { path: self.path().to_path_buf(), source: e })
    }

    fn abort(&mut self) {
        let _ = self.conn().execute_batch("ROLLBACK");
    }

    fn version(&mut self) -> Result<i64, StoreError> {
        self.schema_version()
    }

    fn row_order(&self) -> &'static str {
        "rowid"
    }

    fn lock_rows(&self) -> &'static str {
        ""
    }
}

impl Side for MysqlDb {
    fn describe(&self) -> String {
        self.target().shown().to_string()
    }

    fn select(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let rows = self.rows(sql, params.iter().map(to_mysql).collect())?;
        Ok(rows.into_iter().map(|r| r.into_iter().map(from_mysql).collect()).collect())
    }

    fn insert(&mut self, sql: &str, params: &[Cell]) -> Result<i64, StoreError> {
        self.exec(sql, params.iter().map(to_mysql).collect())?;
        Ok(self.last_insert_id())
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.exec("START TRANSACTION", Vec::new())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.exec("COMMIT", Vec::new())
    }

    fn abort(&mut self) {
        let _ = self.exec("ROLLBACK", Vec::new());
    }

    fn version(&mut self) -> Result<i64, StoreError> {
        self.schema_version()
    }

    fn row_order(&self) -> &'static str {
        "id"
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn keeps_infinities(&self) -> bool {
        false
    }
}

fn to_sqlite(c: &Cell) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match c {
        Cell::Null => V::Null,
        Cell::Int(i) => V::Integer(*i),
        Cell::Real(f) => V::Real(*f),
        Cell::Text(t) => V::Text(t.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::Value) -> Cell {
    use rusqlite::types::Value as V;
    match v {
        V::Null => Cell::Null,
        V::Integer(i) => Cell::Int(i),
        V::Real(f) => Cell::Real(f),
        V::Text(t) => Cell::Text(t),
        V::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

fn to_mysql(c: &Cell) -> mysql::Value {
    match c {
        Cell::Null => mysql::Value::NULL,
        Cell::Int(i) => mysql::Value::Int(*i),
        Cell::Real(f) if f.is_nan() => mysql::Value::NULL,
        Cell::Real(f) if f.is_infinite() => mysql::Value::Double(INFINITY_THERE.copysign(*f)),
        Cell::Real(f) => mysql::Value::Double(*f),
        Cell::Text(t) => mysql::Value::Bytes(t.clone().into_bytes()),
    }
}

fn from_mysql(v: mysql::Value) -> Cell {
    match v {
        mysql::Value::NULL => Cell::Null,
        mysql::Value::Int(i) => Cell::Int(i),
        mysql::Value::UInt(u) => Cell::Int(u as i64),
        mysql::Value::Float(f) => Cell::Real(f as f64),
        mysql::Value::Double(f) => Cell::Real(f),
        mysql::Value::Bytes(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
        other => Cell::Text(other.as_sql(true)),
    }
}

/// A table a run's rows live in, and its columns (the first is `run_id`;
/// ids are not copied, the other side gives its own).
struct RunTable {
    name: &'static str,
    columns: &'static [&'static str],
    /// For an append-only table, its cursor in `replica_cursors`; the
    /// others are replaced whole on each pass.
    cursor: Option<&'static str>,
    /// Whether its reals may be infinite (metric values).
    infinite: bool,
}

const RUN_COLUMNS: &[&str] = &[
    "uid",
    "experiment_id",
    "trial_id",
    "repeat",
    "attempt",
    "status",
    "created_at",
    "started_at",
    "ended_at",
    "host",
    "pid",
    "pid_started",
    "runner_id",
    "exit_code",
    "signal",
    "error",
    "config",
    "config_hash",
    "seed",
    "command",
    "run_dir",
    "git_commit",
    "git_dirty",
    "events_offset",
    "malformed_lines",
    "executor",
    "job_id",
    "revision",
];

const RUN_TABLES: &[RunTable] = &[
    RunTable {
        name: "params",
        columns: &["run_id", "key", "value_type", "value_text", "value_num"],
        cursor: None,
        infinite: false,
    },
    RunTable { name: "tags", columns: &["run_id", "key", "value"], cursor: None, infinite: false },
    RunTable {
        name: "metrics",
        columns: &["run_id", "key", "step", "epoch", "value", "timestamp"],
        cursor: Some("metrics_upto"),
        infinite: true,
    },
    RunTable {
        name: "metric_summaries",
        columns: &["run_id", "key", "last_step", "last_ts", "last_value", "min_value", "max_value", "count"],
        cursor: None,
        infinite: true,
    },
    RunTable {
        name: "artifacts",
        columns: &["run_id", "path", "size", "sha256", "kind", "epoch", "created_at", "deleted_at"],
        cursor: None,
        infinite: false,
    },
    RunTable {
        name: "run_inputs",
        columns: &["run_id", "name", "reference", "kind", "path", "sha256", "size", "created_at"],
        cursor: None,
        infinite: false,
    },
    RunTable {
        name: "hardware_samples",
        columns: &[
            "run_id",
            "timestamp",
            "host",
            "cpu_percent",
            "mem_used",
            "mem_total",
            "gpu_percent",
            "gpu_mem",
            "data",
        ],
        cursor: Some("hardware_upto"),
        infinite: false,
    },
    RunTable {
        name: "run_resources",
        columns: &[
            "run_id",
            "wall_ms",
            "cpu_ms",
            "mean_cpu_percent",
            "peak_cpu_percent",
            "peak_rss",
            "mean_gpu_util",
            "peak_gpu_util",
            "mean_gpu_mem",
            "peak_gpu_mem",
            "samples",
        ],
        cursor: None,
        infinite: false,
    },
    RunTable {
        name: "run_capture",
        columns: &["run_id", "env", "git_branch", "host", "expman_version"],
        cursor: None,
        infinite: false,
    },
    RunTable {
        name: "events",
        columns: &["run_id", "timestamp", "user_name", "host", "pid", "experiment_id", "kind", "detail"],
        cursor: Some("events_upto"),
        infinite: false,
    },
];

const RUNNER_COLUMNS: &[&str] =
    &["host", "pid", "pid_started", "user_name", "command", "started_at", "heartbeat_at", "ended_at"];

const CURSORS: [&str; 3] = ["metrics_upto", "hardware_upto", "events_upto"];

fn list(columns: &[&str]) -> String {
    columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// What a replication pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub experiments_created: usize,
    pub trials_created: usize,
    /// Runs the destination did not have.
    pub runs_copied: usize,
    /// Runs it had from this origin, brought up to date.
    pub runs_updated: usize,
    /// Runs it had already: up to date, or from another origin.
    pub runs_present: usize,
    /// Runs still going on (PENDING, RUNNING) after this pass.
    pub runs_live: usize,
    pub metric_points: usize,
}

impl CopyReport {
    /// `3 run(s) copied, 1 updated (1,200 point(s)); 10 already there`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} run(s) copied", self.runs_copied)];
        if self.runs_updated > 0 {
            parts.push(format!("{} updated", self.runs_updated));
        }
        let mut text = format!("{} ({} point(s))", parts.join(", "), self.metric_points);
        if self.runs_present > 0 {
            text.push_str(&format!("; {} already there", self.runs_present));
        }
        if self.runs_live > 0 {
            text.push_str(&format!("; {} still going on", self.runs_live));
        }
        text
    }
}

/// Copies every experiment, trial and run of `from` into `to` (merging;
/// see the module's doc). `progress` hears after each run.
pub fn copy(
    from: &mut dyn Side,
    to: &mut dyn Side,
    progress: &mut dyn FnMut(&CopyReport),
) -> Result<CopyReport, StoreError> {
    replicate(from, to, None, progress)
}

/// What the destination knows of a run it has.
struct Held {
    id: i64,
    origin: Option<String>,
    fingerprint: Option<String>,
    cursors: [i64; 3],
}

impl Held {
    /// From (uid, id, origin, fingerprint, three cursors).
    fn from_row(r: &[Cell]) -> Option<(String, Held)> {
        let text = |c: &Cell| if let Cell::Text(t) = c { Some(t.clone()) } else { None };
        let cursors = [r[4].int().unwrap_or(0), r[5].int().unwrap_or(0), r[6].int().unwrap_or(0)];
        let held = Held { id: r[1].int().unwrap_or(0), origin: text(&r[2]), fingerprint: text(&r[3]), cursors };
        Some((text(&r[0])?, held))
    }

    /// Whether `origin` should send this run again: it is the run's origin
    /// here, and the run changed since (every write to a run changes its
    /// state or raises its revision, so an unchanged print means nothing
    /// new, also for a run that goes on).
    fn wants(&self, origin: &str, print: &str) -> bool {
        self.origin.as_deref() == Some(origin) && self.fingerprint.as_deref() != Some(print)
    }
}

/// One pass of replication: the experiment named `experiment` (or every
/// one) of `from`, into `to`.
pub fn replicate(
    from: &mut dyn Side,
    to: &mut dyn Side,
    experiment: Option<&str>,
    progress: &mut dyn FnMut(&CopyReport),
) -> Result<CopyReport, StoreError> {
    let (a, b) = (from.version()?, to.version()?);
    if a != b {
        return Err(StoreError::Mysql {
            target: to.describe(),
            source: format!(
                "schema versions differ ({} is at {a}, {} at {b}); run `expman db migrate` on both first",
                from.describe(),
                to.describe()
            )
            .into(),
        });
    }
    let origin = from.describe();
    let mut report = CopyReport::default();
    let experiments = match_experiments(from, to, experiment, &mut report)?;
    if experiments.is_empty() {
        return Ok(report);
    }
    let trials = match_trials(from, to, &experiments, &mut report)?;

    let ids = |map: &HashMap<i64, i64>, local: bool| {
        map.iter().map(|(k, v)| (if local { *k } else { *v }).to_string()).collect::<Vec<_>>().join(", ")
    };
    let held_sql = format!(
        "SELECT r.`uid`, r.`id`, c.`origin`, c.`fingerprint`, c.`metrics_upto`, c.`hardware_upto`, c.`events_upto` \
         FROM runs r LEFT JOIN replica_cursors c ON c.`run_id` = r.`id` WHERE r.`experiment_id` IN ({})",
        ids(&experiments, false)
    );
    let held: HashMap<String, Held> = to.select(&held_sql, &[])?.iter().filter_map(|r| Held::from_row(r)).collect();

    let mut runners: HashMap<i64, i64> = HashMap::new();
    // What decides whether a run needs sending is read first; a whole row
    // (its config can be large) only for those that do.
    let state_sql = format!(
        "SELECT `id`, {} FROM runs WHERE `experiment_id` IN ({}) ORDER BY `id`",
        list(STATE_COLUMNS),
        ids(&experiments, true)
    );
    for state in from.select(&state_sql, &[])? {
        let local = state[0].int().unwrap_or_default();
        let Cell::Text(uid) = state[1].clone() else { continue };
        let (print, live) = (fingerprint(&state[1..]), is_live(&state[1..]));
        if held.get(&uid).is_some_and(|h| !h.wants(&origin, &print)) {
            report.runs_present += 1;
            report.runs_live += usize::from(live);
            continue;
        }
        let full = format!("SELECT `id`, {} FROM runs WHERE `id` = ?", list(RUN_COLUMNS));
        let Some(mut row) = from.select(&full, &[Cell::Int(local)])?.pop() else { continue };
        // The row read now may be newer than the state read above.
        let state = state_of(&row[1..]);
        let (print, live) = (fingerprint(&state), is_live(&state));
        // Columns after `id`: uid=1, experiment_id=2, trial_id=3, runner_id=13.
        let Some(trial) = trials.get(&row[3].int().unwrap_or_default()) else {
            continue; // its trial came after this pass began: the next pass takes it
        };
        row[2] = Cell::Int(experiments[&row[2].int().unwrap_or_default()]);
        row[3] = Cell::Int(*trial);
        let runner = row[13].int();
        let mut tries = 0;
        let sent = loop {
            to.begin()?;
            let result = (|| {
                // Read again under the transaction's lock: another process
                // sending the same runs (a read of the record beside the
                // runner) may have sent this one meanwhile.
                let there = held_now(to, &uid)?;
                if there.as_ref().is_some_and(|h| !h.wants(&origin, &print)) {
                    return Ok(None);
                }
                if let Some(runner) = runner {
                    row[13] = Cell::Int(match_runner(from, to, runner, &mut runners)?);
                }
                let points = send_run(from, to, local, &row[1..], there.as_ref(), &origin, &print, &experiments)?;
                Ok(Some((there.is_some(), points)))
            })()
            .and_then(|sent| to.commit().map(|()| sent));
            match result {
                Ok(sent) => break sent,
                // Two writers' transactions crossed (or both created this
                // run): the server undid this one; trying again is safe.
                Err(e) if tries < 5 && retryable(&e) => {
                    to.abort();
                    tries += 1;
                    runners.clear();
                    std::thread::sleep(std::time::Duration::from_millis(20 << tries));
                }
                Err(e) => {
                    to.abort();
                    return Err(e);
                }
            }
        };
        report.runs_live += usize::from(live);
        match sent {
            None => report.runs_present += 1,
            Some((updated, points)) => {
                if updated {
                    report.runs_updated += 1;
                } else {
                    report.runs_copied += 1;
                }
                report.metric_points += points;
                progress(&report);
            }
        }
    }
    Ok(report)
}

/// What decides whether a run needs sending (uid first): its state, and
/// its revision, which every other write to the run raises.
const STATE_COLUMNS: &[&str] =
    &["uid", "attempt", "status", "started_at", "ended_at", "exit_code", "error", "job_id", "revision"];

/// A run's state ([`STATE_COLUMNS`]) in one string: a run whose print is
/// unchanged since it was sent is not read again.
fn fingerprint(state: &[Cell]) -> String {
    let show = |c: &Cell| match c {
        Cell::Null => String::new(),
        Cell::Int(i) => i.to_string(),
        Cell::Real(f) => f.to_string(),
        Cell::Text(t) => t.chars().take(64).collect(),
    };
    state[1..].iter().map(show).collect::<Vec<_>>().join("|")
}

/// The [`STATE_COLUMNS`] of a row of [`RUN_COLUMNS`].
fn state_of(row: &[Cell]) -> Vec<Cell> {
    STATE_COLUMNS
        .iter()
        .map(|c| RUN_COLUMNS.iter().position(|r| r == c).map_or(Cell::Null, |i| row[i].clone()))
        .collect()
}

/// Whether a state ([`STATE_COLUMNS`]) is of a run still going on.
fn is_live(state: &[Cell]) -> bool {
    matches!(&state[2], Cell::Text(s) if s == "PENDING" || s == "RUNNING")
}

/// A failure that leaves nothing behind and goes away when tried again: a
/// deadlock, a lock wait timeout, or another process creating the same
/// run (its uid is unique) at the same moment.
fn retryable(e: &StoreError) -> bool {
    match e {
        StoreError::Mysql { source, .. } => matches!(
            source.downcast_ref::<mysql::Error>(),
            Some(mysql::Error::MySqlError(e)) if matches!(e.code, ER_DUP_ENTRY | ER_LOCK_WAIT_TIMEOUT | ER_LOCK_DEADLOCK)
        ),
        StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. } => {
            e.code == rusqlite::ErrorCode::ConstraintViolation
        }
        _ => false,
    }
}

/// MySQL's server error codes (the same on MariaDB) for a unique key
/// taken by another transaction, a lock wait that timed out, a deadlock.
const ER_DUP_ENTRY: u16 = 1062;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;

/// What the destination holds of run `uid` now, locking it until the
/// transaction ends.
fn held_now(to: &mut dyn Side, uid: &str) -> Result<Option<Held>, StoreError> {
    let sql = format!(
        "SELECT r.`uid`, r.`id`, c.`origin`, c.`fingerprint`, c.`metrics_upto`, c.`hardware_upto`, c.`events_upto` \
         FROM runs r LEFT JOIN replica_cursors c ON c.`run_id` = r.`id` WHERE r.`uid` = ?{}",
        to.lock_rows()
    );
    Ok(to.select(&sql, &[Cell::Text(uid.to_string())])?.first().and_then(|r| Held::from_row(r)).map(|(_, h)| h))
}

/// The destination's id of each experiment to send (by name; created
/// where missing).
fn match_experiments(
    from: &mut dyn Side,
    to: &mut dyn Side,
    only: Option<&str>,
    report: &mut CopyReport,
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut experiments = HashMap::new();
    let mut sql = "SELECT `id`, `name`, `description`, `config_dir`, `created_at` FROM experiments".to_string();
    let params: Vec<Cell> = only.map(|n| Cell::Text(n.to_string())).into_iter().collect();
    if only.is_some() {
        sql.push_str(" WHERE `name` = ?");
    }
    for row in from.select(&sql, &params)? {
        let local = row[0].int().unwrap_or_default();
        let there = to.select("SELECT `id` FROM experiments WHERE `name` = ?", &row[1..2])?;
        let id = match there.first().and_then(|r| r[0].int()) {
            Some(id) => id,
            None => {
                to.begin()?;
                let created = create_experiment(from, to, local, &row);
                match created {
                    Ok(id) => to.commit().map(|()| id)?,
                    Err(e) => {
                        to.abort();
                        // Another process created it meanwhile (the name is unique).
                        let there = to.select("SELECT `id` FROM experiments WHERE `name` = ?", &row[1..2])?;
                        there.first().and_then(|r| r[0].int()).ok_or(e)?
                    }
                }
            }
        };
        if there.is_empty() {
            report.experiments_created += 1;
        }
        experiments.insert(local, id);
    }
    Ok(experiments)
}

/// A new experiment and its events that belong to no run.
fn create_experiment(from: &mut dyn Side, to: &mut dyn Side, local: i64, row: &[Cell]) -> Result<i64, StoreError> {
    let id = to.insert(
        "INSERT INTO experiments (`name`, `description`, `config_dir`, `created_at`) VALUES (?, ?, ?, ?)",
        &row[1..],
    )?;
    let columns = ["timestamp", "user_name", "host", "pid", "experiment_id", "kind", "detail"];
    let sql =
        format!("SELECT {} FROM events WHERE `experiment_id` = ? AND `run_id` IS NULL ORDER BY `id`", list(&columns));
    for mut event in from.select(&sql, &[Cell::Int(local)])? {
        event[4] = Cell::Int(id);
        to.insert(&format!("INSERT INTO events ({}) VALUES ({})", list(&columns), marks(columns.len())), &event)?;
    }
    Ok(id)
}

/// The destination's id of each trial of those experiments (by name
/// within its experiment; created where missing).
fn match_trials(
    from: &mut dyn Side,
    to: &mut dyn Side,
    experiments: &HashMap<i64, i64>,
    report: &mut CopyReport,
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut trials = HashMap::new();
    let columns = ["experiment_id", "name", "base_name", "sweep", "description", "created_at"];
    let wanted: Vec<String> = experiments.keys().map(i64::to_string).collect();
    let sql = format!(
        "SELECT `id`, {} FROM trials WHERE `experiment_id` IN ({}) ORDER BY `id`",
        list(&columns),
        wanted.join(", ")
    );
    for mut row in from.select(&sql, &[])? {
        let local = row[0].int().unwrap_or_default();
        row[1] = Cell::Int(experiments[&row[1].int().unwrap_or_default()]);
        let find = "SELECT `id` FROM trials WHERE `experiment_id` = ? AND `name` = ?";
        let id = match to.select(find, &row[1..3])?.first().and_then(|r| r[0].int()) {
            Some(id) => id,
            None => {
                let insert = format!("INSERT INTO trials ({}) VALUES ({})", list(&columns), marks(columns.len()));
                match to.insert(&insert, &row[1..]) {
                    Ok(id) => {
                        report.trials_created += 1;
                        id
                    }
                    // Another process created it meanwhile ((experiment, name) is unique).
                    Err(e) => to.select(find, &row[1..3])?.first().and_then(|r| r[0].int()).ok_or(e)?,
                }
            }
        };
        trials.insert(local, id);
    }
    Ok(trials)
}

/// The destination's id of a runner (inside the run's transaction).
fn match_runner(
    from: &mut dyn Side,
    to: &mut dyn Side,
    runner: i64,
    runners: &mut HashMap<i64, i64>,
) -> Result<i64, StoreError> {
    if let Some(id) = runners.get(&runner) {
        return Ok(*id);
    }
    let sql = format!("SELECT {} FROM runners WHERE `id` = ?", list(RUNNER_COLUMNS));
    let found = from.select(&sql, &[Cell::Int(runner)])?;
    let Some(r) = found.first() else { return Err(missing(from, "runner", runner)) };
    // A runner is its host, pid and start (columns 0, 1, 5): sent once.
    let same = "SELECT `id` FROM runners WHERE `host` = ? AND `pid` = ? AND `started_at` = ?";
    if let Some(id) = to.select(same, &[r[0].clone(), r[1].clone(), r[5].clone()])?.first().and_then(|r| r[0].int()) {
        runners.insert(runner, id);
        return Ok(id);
    }
    let id = to.insert(
        &format!("INSERT INTO runners ({}) VALUES ({})", list(RUNNER_COLUMNS), marks(RUNNER_COLUMNS.len())),
        r,
    )?;
    runners.insert(runner, id);
    Ok(id)
}

/// One run (inside the destination's transaction): created, or brought up
/// to date; the number of metric points sent.
#[allow(clippy::too_many_arguments)]
fn send_run(
    from: &mut dyn Side,
    to: &mut dyn Side,
    local: i64,
    row: &[Cell],
    there: Option<&Held>,
    origin: &str,
    print: &str,
    experiments: &HashMap<i64, i64>,
) -> Result<usize, StoreError> {
    let (run_id, mut cursors) = match there {
        None => {
            let sql = format!("INSERT INTO runs ({}) VALUES ({})", list(RUN_COLUMNS), marks(RUN_COLUMNS.len()));
            (to.insert(&sql, row)?, [0; 3])
        }
        Some(h) => {
            let sets: Vec<String> = RUN_COLUMNS.iter().skip(1).map(|c| format!("`{c}` = ?")).collect();
            let mut params = row[1..].to_vec();
            params.push(Cell::Int(h.id));
            to.insert(&format!("UPDATE runs SET {} WHERE `id` = ?", sets.join(", ")), &params)?;
            (h.id, h.cursors)
        }
    };
    let mut points = 0;
    let order = from.row_order();
    for table in RUN_TABLES {
        let at = table.cursor.and_then(|c| CURSORS.iter().position(|x| *x == c));
        let rows = match at {
            Some(i) => from.select(
                &format!(
                    "SELECT {order}, {} FROM {} WHERE `run_id` = ? AND {order} > ? ORDER BY {order}",
                    list(table.columns),
                    table.name
                ),
                &[Cell::Int(local), Cell::Int(cursors[i])],
            )?,
            None => {
                if there.is_some() {
                    to.insert(&format!("DELETE FROM {} WHERE `run_id` = ?", table.name), &[Cell::Int(run_id)])?;
                }
                from.select(
                    &format!("SELECT 0, {} FROM {} WHERE `run_id` = ?", list(table.columns), table.name),
                    &[Cell::Int(local)],
                )?
            }
        };
        if let (Some(i), Some(last)) = (at, rows.last()) {
            cursors[i] = last[0].int().unwrap_or(cursors[i]);
        }
        if table.name == "metrics" {
            points += rows.len();
        }
        let rows = if table.infinite && !from.keeps_infinities() { restore_infinities(rows) } else { rows };
        insert_rows(to, table, run_id, &rows, experiments)?;
    }
    let values = [
        Cell::Int(run_id),
        Cell::Text(origin.to_string()),
        Cell::Text(print.to_string()),
        Cell::Int(cursors[0]),
        Cell::Int(cursors[1]),
        Cell::Int(cursors[2]),
    ];
    if there.is_some() {
        to.insert("DELETE FROM replica_cursors WHERE `run_id` = ?", &values[..1])?;
    }
    to.insert(
        &format!(
            "INSERT INTO replica_cursors (`run_id`, `origin`, `fingerprint`, {}) VALUES (?, ?, ?, ?, ?, ?)",
            list(&CURSORS)
        ),
        &values,
    )?;
    Ok(points)
}

/// Metric values as they were: what a database without infinities holds
/// for them ([`INFINITY_THERE`]) is infinite again.
fn restore_infinities(mut rows: Vec<Vec<Cell>>) -> Vec<Vec<Cell>> {
    for cell in rows.iter_mut().flatten() {
        if let Cell::Real(f) = cell
            && f.abs() == INFINITY_THERE
        {
            *f = f64::INFINITY.copysign(*f);
        }
    }
    rows
}

/// Rows of one table of a run (each led by its order column, dropped),
/// many per statement: metrics are most of a history.
fn insert_rows(
    to: &mut dyn Side,
    table: &RunTable,
    run_id: i64,
    rows: &[Vec<Cell>],
    experiments: &HashMap<i64, i64>,
) -> Result<(), StoreError> {
    let per = (1000 / table.columns.len()).max(1);
    for chunk in rows.chunks(per) {
        let values = vec![format!("({})", marks(table.columns.len())); chunk.len()].join(", ");
        let sql = format!("INSERT INTO {} ({}) VALUES {values}", table.name, list(table.columns));
        let mut params = Vec::with_capacity(chunk.len() * table.columns.len());
        for r in chunk {
            params.push(Cell::Int(run_id));
            params.extend(r[2..].iter().cloned());
            if table.name == "events" {
                // events.experiment_id (the sixth column) is the destination's.
                let at = params.len() - 3;
                if let Some(e) = params[at].int() {
                    params[at] = Cell::Int(experiments.get(&e).copied().unwrap_or(e));
                }
            }
        }
        to.insert(&sql, &params)?;
    }
    Ok(())
}

/// The runs of `from` (uids) that `to` lacks or holds in an older state.
pub fn behind(from: &mut dyn Side, to: &mut dyn Side) -> Result<Vec<String>, StoreError> {
    let origin = from.describe();
    let mut held: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    let sql =
        "SELECT r.`uid`, c.`origin`, c.`fingerprint` FROM runs r LEFT JOIN replica_cursors c ON c.`run_id` = r.`id`";
    for r in to.select(sql, &[])? {
        let text = |c: &Cell| if let Cell::Text(t) = c { Some(t.clone()) } else { None };
        if let Some(uid) = text(&r[0]) {
            held.insert(uid, (text(&r[1]), text(&r[2])));
        }
    }
    let mut out = Vec::new();
    for state in from.select(&format!("SELECT {} FROM runs ORDER BY `id`", list(STATE_COLUMNS)), &[])? {
        let Cell::Text(uid) = &state[0] else { continue };
        let current = match held.get(uid) {
            None => false,
            Some((o, _)) if o.as_deref() != Some(origin.as_str()) => true,
            Some((_, f)) => f.as_deref() == Some(fingerprint(&state).as_str()),
        };
        if !current {
            out.push(uid.clone());
        }
    }
    Ok(out)
}

fn missing(side: &dyn Side, what: &str, id: i64) -> StoreError {
    StoreError::Mysql { target: side.describe(), source: format!("{what} {id} is referenced but missing").into() }
}
