//! The record on a MySQL 8 / MariaDB 10.11 server (a team's shared
//! database): connecting (the password from the environment, never from a
//! file; TLS when the URL asks; connection failures retried), the schema's
//! migrations (`core/team/migrations/mysql/`, numbered as the SQLite ones), and
//! the plain reads and writes `db copy` needs.
//!
//! MySQL has no transactional DDL, so a migration is applied statement by
//! statement and the statement reached is saved after each: a migration
//! cut off half-way (a lost connection, a killed process) goes on from
//! where it stopped the next time. `GET_LOCK` keeps two processes from
//! migrating at once.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, SslOpts, Value};

use expman_store::Migration;
use expman_store::StoreError;

/// The environment variable the password comes from.
pub use expman_store::PASSWORD_ENV;

/// How long connecting keeps trying while the server does not answer.
pub const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// Every MySQL migration, in order; version N is SQLite's version N.
pub const MYSQL_MIGRATIONS: &[Migration] = &[
    expman_store::migration!("../migrations/mysql/", 1, "0001", "init"),
    expman_store::migration!("../migrations/mysql/", 2, "0002", "resources_capture"),
    expman_store::migration!("../migrations/mysql/", 3, "0003", "metric_summaries"),
    expman_store::migration!("../migrations/mysql/", 4, "0004", "trackers"),
    expman_store::migration!("../migrations/mysql/", 5, "0005", "slurm"),
    expman_store::migration!("../migrations/mysql/", 6, "0006", "replication"),
    expman_store::migration!("../migrations/mysql/", 7, "0007", "revision"),
    expman_store::migration!("../migrations/mysql/", 8, "0008", "searches"),
    expman_store::migration!("../migrations/mysql/", 9, "0009", "lineage"),
];

/// A server to connect to: `mysql://user@host[:port]/database`, with
/// `?ssl-mode=DISABLED|REQUIRED|VERIFY_IDENTITY` (default: DISABLED).
#[derive(Clone)]
pub struct MysqlTarget {
    /// The URL without password or parameters: what messages show.
    shown: String,
    opts: Opts,
}

impl std::fmt::Debug for MysqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl MysqlTarget {
    /// Parses a URL. The password is `password` (from the environment or
    /// a config's `${env:...}`); one written into the URL is refused, so
    /// that it cannot end up in shell history, logs or stored configs.
    pub fn parse(url: &str, password: Option<String>) -> Result<MysqlTarget, StoreError> {
        let bad = |why: String| StoreError::Mysql { target: redact(url), source: why.into() };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = base
            .strip_prefix("mysql://")
            .or_else(|| base.strip_prefix("mariadb://"))
            .ok_or_else(|| bad("the URL must start with mysql:// (mysql://user@host:3306/database)".into()))?;
        let (userinfo, _) = rest.rsplit_once('@').unwrap_or(("", rest));
        if userinfo.contains(':') {
            return Err(bad(format!(
                "the URL holds a password; give it in {PASSWORD_ENV} (or `database.password: ${{env:...}}`) instead"
            )));
        }
        let mut ssl = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (key.to_ascii_lowercase().replace('_', "-").as_str(), value.to_ascii_uppercase().as_str()) {
                ("ssl-mode", "DISABLED") => ssl = None,
                // Encrypted, the server's certificate not checked (MySQL's REQUIRED).
                ("ssl-mode", "REQUIRED") => {
                    ssl = Some(
                        SslOpts::default()
                            .with_danger_accept_invalid_certs(true)
                            .with_danger_skip_domain_validation(true),
                    )
                }
                ("ssl-mode", "VERIFY-IDENTITY" | "VERIFY_IDENTITY" | "VERIFY-CA" | "VERIFY_CA") => {
                    ssl = Some(SslOpts::default())
                }
                _ => {
                    return Err(bad(format!(
                        "unknown URL parameter `{pair}` (known: ssl-mode=DISABLED|REQUIRED|VERIFY_IDENTITY)"
                    )));
                }
            }
        }
        let opts = Opts::from_url(base).map_err(|e| bad(format!("not a MySQL URL: {e}")))?;
        if opts.get_db_name().is_none_or(str::is_empty) {
            return Err(bad("the URL names no database (mysql://user@host:3306/DATABASE)".into()));
        }
        let opts = OptsBuilder::from_opts(opts)
            .pass(password)
            .ssl_opts(ssl)
            // No gap locks: writers of different runs do not block each other.
            .init(vec!["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"])
            .tcp_connect_timeout(Some(Duration::from_secs(5)))
            .read_timeout(Some(Duration::from_secs(120)))
            .write_timeout(Some(Duration::from_secs(120)));
        Ok(MysqlTarget { shown: base.to_string(), opts: opts.into() })
    }

    /// [`MysqlTarget::parse`] with the password from [`PASSWORD_ENV`].
    pub fn from_env(url: &str) -> Result<MysqlTarget, StoreError> {
        MysqlTarget::parse(url, std::env::var(PASSWORD_ENV).ok())
    }

    /// The URL as messages show it (no password, no parameters).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// A URL with whatever follows `user:` up to `@` replaced, for messages
/// about a URL that did not parse.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => url.to_string(),
    }
}

/// A connection to the server.
pub struct MysqlDb {
    conn: Conn,
    target: MysqlTarget,
}

impl MysqlDb {
    /// Connects, trying again for `patience` while the server cannot be
    /// reached (it may be restarting); a refused login fails at once.
    pub fn connect(target: &MysqlTarget, patience: Duration) -> Result<MysqlDb, StoreError> {
        MysqlDb::reach(target, patience).map_err(|(_, e)| e)
    }

    /// [`MysqlDb::connect`], telling why it failed: `true` when the server
    /// could not be reached (worth trying later), `false` when it refused.
    pub fn reach(target: &MysqlTarget, patience: Duration) -> Result<MysqlDb, (bool, StoreError)> {
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_millis(100);
        loop {
            match Conn::new(target.opts.clone()) {
                Ok(conn) => return Ok(MysqlDb { conn, target: target.clone() }),
                Err(e) if is_unreachable(&e) && Instant::now() < deadline => {
                    tracing::warn!("{}: {e}; trying again in {} ms", target.shown, pause.as_millis());
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    let down = is_unreachable(&e);
                    return Err((down, StoreError::Mysql { target: target.shown.clone(), source: e.into() }));
                }
            }
        }
    }

    /// Connects and brings the schema up to date.
    pub fn open(target: &MysqlTarget) -> Result<MysqlDb, StoreError> {
        let mut db = MysqlDb::connect(target, CONNECT_PATIENCE)?;
        db.migrate()?;
        Ok(db)
    }

    pub fn target(&self) -> &MysqlTarget {
        &self.target
    }

    fn err(&self, e: mysql::Error) -> StoreError {
        StoreError::Mysql { target: self.target.shown.clone(), source: e.into() }
    }

    /// Runs a statement without results.
    pub fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<(), StoreError> {
        let result = if params.is_empty() { self.conn.query_drop(sql) } else { self.conn.exec_drop(sql, params) };
        result.map_err(|e| self.err(e))
    }

    /// Runs a query; every row's values (binary protocol: typed).
    pub fn rows(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, StoreError> {
        let rows: Result<Vec<mysql::Row>, _> = self.conn.exec(sql, params);
        rows.map(|rows| rows.into_iter().map(mysql::Row::unwrap).collect()).map_err(|e| self.err(e))
    }

    /// The id the last INSERT gave its row.
    pub fn last_insert_id(&self) -> i64 {
        self.conn.last_insert_id() as i64
    }

    /// The schema version (0: expman has not set this database up yet).
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self.version_row()?.map_or(0, |(v, _)| v))
    }

    /// (version, statements of the next migration already applied).
    fn version_row(&mut self) -> Result<Option<(i64, usize)>, StoreError> {
        let exists = self.rows(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'expman_schema'",
            Vec::new(),
        )?;
        if exists.first().and_then(|r| r.first()).and_then(as_i64).unwrap_or(0) == 0 {
            return Ok(None);
        }
        let rows = self.rows("SELECT version, step FROM expman_schema WHERE id = 1", Vec::new())?;
        Ok(rows
            .first()
            .map(|r| (r.first().and_then(as_i64).unwrap_or(0), r.get(1).and_then(as_i64).unwrap_or(0).max(0) as usize)))
    }

    /// Applies every migration above the current version.
    pub fn migrate(&mut self) -> Result<Vec<Migration>, StoreError> {
        self.with_lock(|db| {
            db.exec(
                "CREATE TABLE IF NOT EXISTS expman_schema (id INT NOT NULL PRIMARY KEY, version BIGINT NOT NULL, step BIGINT NOT NULL) ENGINE = InnoDB",
                Vec::new(),
            )?;
            db.exec("INSERT IGNORE INTO expman_schema (id, version, step) VALUES (1, 0, 0)", Vec::new())?;
            let latest = MYSQL_MIGRATIONS.last().map_or(0, |m| m.version);
            let mut applied = Vec::new();
            loop {
                let (version, step) = db.version_row()?.unwrap_or((0, 0));
                if version > latest {
                    return Err(StoreError::Mysql {
                        target: db.target.shown.clone(),
                        source: format!(
                            "written by a newer expman (schema version {version}; this expman knows up to {latest}); upgrade expman to use it, nothing was changed"
                        ).into(),
                    });
                }
                let Some(next) = MYSQL_MIGRATIONS.iter().find(|m| m.version == version + 1) else {
                    return Ok(applied);
                };
                for (i, statement) in statements(next.up).enumerate().skip(step) {
                    match db.exec(statement, Vec::new()) {
                        // MySQL commits each DDL statement by itself: an
                        // expman killed between a statement and the update
                        // of `step` below left it applied, step not advanced.
                        Err(e) if i == step && already_applied(&e) => {
                            tracing::info!("migration {} step {}: already applied ({e})", next.version, i + 1);
                        }
                        result => result?,
                    }
                    db.exec("UPDATE expman_schema SET step = ? WHERE id = 1", vec![Value::from(i as i64 + 1)])?;
                }
                db.exec("UPDATE expman_schema SET version = ?, step = 0 WHERE id = 1", vec![Value::from(next.version)])?;
                applied.push(*next);
            }
        })
    }

    /// Undoes migrations: the last one, or down to `to`.
    pub fn rollback(&mut self, to: Option<i64>) -> Result<Vec<Migration>, StoreError> {
        self.with_lock(|db| {
            let current = db.schema_version()?;
            let target = to.unwrap_or(current - 1).max(0);
            if target > current {
                return Err(StoreError::Mysql {
                    target: db.target.shown.clone(),
                    source: format!("cannot roll back to version {target}: it is at {current}").into(),
                });
            }
            let mut undone = Vec::new();
            for m in MYSQL_MIGRATIONS.iter().rev().filter(|m| m.version > target && m.version <= current) {
                for statement in statements(m.down) {
                    db.exec(statement, Vec::new())?;
                }
                db.exec(
                    "UPDATE expman_schema SET version = ?, step = 0 WHERE id = 1",
                    vec![Value::from(m.version - 1)],
                )?;
                undone.push(*m);
            }
            Ok(undone)
        })
    }

    /// Runs `f` holding this database's migration lock.
    fn with_lock<T>(&mut self, f: impl FnOnce(&mut MysqlDb) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let got = self.rows("SELECT GET_LOCK(CONCAT(DATABASE(), '.expman_migrate'), 60)", Vec::new())?;
        if got.first().and_then(|r| r.first()).and_then(as_i64) != Some(1) {
            return Err(StoreError::Mysql {
                target: self.target.shown.clone(),
                source: "another expman has been migrating this database for 60 s; try again later".into(),
            });
        }
        let result = f(self);
        let _ = self.exec("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.expman_migrate'))", Vec::new());
        result
    }
}

/// Whether an error means the server could not be reached (worth trying
/// again), as opposed to a refusal.
fn is_unreachable(e: &mysql::Error) -> bool {
    matches!(
        e,
        mysql::Error::IoError(_)
            | mysql::Error::DriverError(mysql::DriverError::ConnectTimeout | mysql::DriverError::CouldNotConnect(_))
    )
}

/// Whether a migration statement failed because what it makes is already
/// there: a table (1050), column (1060), index (1061) or row (1062).
fn already_applied(e: &StoreError) -> bool {
    match e {
        StoreError::Mysql { source, .. } => matches!(
            source.downcast_ref::<mysql::Error>(),
            Some(mysql::Error::MySqlError(e)) if matches!(e.code, 1050 | 1060 | 1061 | 1062)
        ),
        _ => false,
    }
}

/// The statements of a migration file (each ends with `;` at a line's end;
/// comment lines are dropped).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n").map(|s| s.trim().trim_end_matches(';').trim()).filter(|s| {
        s.lines().any(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with("--")
        })
    })
}

/// A MySQL value as an integer (counts, versions, ids).
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A MySQL value as text (names, messages).
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::NULL => None,
        other => Some(other.as_sql(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_passwords_and_tls() {
        let t = MysqlTarget::parse("mysql://me@db.example:3306/team?ssl-mode=REQUIRED", Some("s3cret".into())).unwrap();
        assert_eq!(t.shown(), "mysql://me@db.example:3306/team");
        assert!(!format!("{t:?}").contains("s3cret"));
        let e = MysqlTarget::parse("mysql://me:s3cret@db/team", None).unwrap_err().to_string();
        assert!(e.contains("holds a password") && !e.contains("s3cret"), "{e}");
        let e = MysqlTarget::parse("mysql://me@db", None).unwrap_err().to_string();
        assert!(e.contains("names no database"), "{e}");
        let e = MysqlTarget::parse("mysql://me@db/x?tls=1", None).unwrap_err().to_string();
        assert!(e.contains("unknown URL parameter `tls=1`"), "{e}");
        assert!(MysqlTarget::parse("postgres://me@db/x", None).is_err());
    }

    #[test]
    fn migration_files_split_into_statements() {
        for m in MYSQL_MIGRATIONS {
            assert!(statements(m.up).count() >= 1, "{}", m.name);
            assert!(statements(m.up).all(|s| !s.ends_with(';') && !s.is_empty()));
        }
        assert_eq!(statements(MYSQL_MIGRATIONS[0].up).count(), 10);
        assert_eq!(MYSQL_MIGRATIONS.len(), expman_store::MIGRATIONS.len(), "one MySQL migration per SQLite one");
        for (a, b) in MYSQL_MIGRATIONS.iter().zip(expman_store::MIGRATIONS) {
            assert_eq!((a.version, a.name), (b.version, b.name));
        }
    }
}
