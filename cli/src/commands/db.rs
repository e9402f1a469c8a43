//! `expman db status|migrate|rollback|copy`: the schema of a workspace's
//! SQLite database or of a MySQL/MariaDB database, and copying histories
//! between them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use expman_store::Store;
use expman_store::{MIGRATIONS, Migration};
use expman_team::copy::{CopyReport, Side, copy};
use expman_team::mysql::{MYSQL_MIGRATIONS, MysqlDb, MysqlTarget};

use super::record::locate;
use crate::args::{DbArgs, DbCommand};

/// A database a `db` command works on.
enum Db {
    Sqlite(PathBuf),
    Mysql(MysqlTarget),
}

impl Db {
    fn of(args: &DbArgs) -> anyhow::Result<Db> {
        match &args.database {
            Some(url) => Ok(Db::Mysql(MysqlTarget::from_env(url)?)),
            None => {
                let workspace = locate(&args.record)?;
                match &workspace.team {
                    Some(team) => Ok(Db::Mysql(team.target()?)),
                    None => Ok(Db::Sqlite(workspace.database)),
                }
            }
        }
    }

    /// `sqlite:PATH` or `mysql://...`.
    fn parse(spec: &str) -> anyhow::Result<Db> {
        if let Some(path) = spec.strip_prefix("sqlite:") {
            return Ok(Db::Sqlite(PathBuf::from(path)));
        }
        if spec.starts_with("mysql://") || spec.starts_with("mariadb://") {
            return Ok(Db::Mysql(MysqlTarget::from_env(spec)?));
        }
        anyhow::bail!("`{spec}`: give sqlite:PATH or mysql://user@host:port/database")
    }

    fn shown(&self) -> String {
        match self {
            Db::Sqlite(path) => path.display().to_string(),
            Db::Mysql(target) => target.shown().to_string(),
        }
    }
}

pub fn db(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Status(args) => {
            let db = Db::of(&args)?;
            println!("database   {}", db.shown());
            let (version, migrations) = match &db {
                Db::Sqlite(path) => {
                    if !path.is_file() {
                        println!("version    none (the database does not exist yet; the first run creates it)");
                        return Ok(ExitCode::SUCCESS);
                    }
                    (Store::open_unmigrated(path)?.schema_version()?, MIGRATIONS)
                }
                Db::Mysql(target) => {
                    (MysqlDb::connect(target, std::time::Duration::ZERO)?.schema_version()?, MYSQL_MIGRATIONS)
                }
            };
            let latest = migrations.last().map(|m| m.version).unwrap_or(0);
            println!("version    {version} (this expman: {latest})");
            for m in migrations {
                let state = if m.version <= version { "applied" } else { "pending" };
                println!("  {:04} {:<20} {state}", m.version, m.name);
            }
        }
        DbCommand::Migrate(args) => {
            let db = Db::of(&args)?;
            let (applied, version) = match &db {
                Db::Sqlite(path) => {
                    let mut store = Store::open_unmigrated(path)?;
                    (store.migrate()?, store.schema_version()?)
                }
                Db::Mysql(target) => {
                    let mut mysql = MysqlDb::connect(target, expman_team::mysql::CONNECT_PATIENCE)?;
                    (mysql.migrate()?, mysql.schema_version()?)
                }
            };
            print_migrations("applied", &applied);
            if applied.is_empty() {
                println!("{} is up to date (version {version})", db.shown());
            }
        }
        DbCommand::Rollback { db: args, to } => {
            let db = Db::of(&args)?;
            let (undone, version) = match &db {
                Db::Sqlite(path) => {
                    let mut store = Store::open_unmigrated(path)?;
                    (store.rollback(to)?, store.schema_version()?)
                }
                Db::Mysql(target) => {
                    let mut mysql = MysqlDb::connect(target, expman_team::mysql::CONNECT_PATIENCE)?;
                    (mysql.rollback(to)?, mysql.schema_version()?)
                }
            };
            print_migrations("rolled back", &undone);
            println!("{} is at version {version}", db.shown());
        }
        DbCommand::Push(args) => {
            let workspace = locate(&args.record)?;
            let target = match (&args.database, &workspace.team) {
                (Some(url), _) => MysqlTarget::from_env(url)?,
                (None, Some(team)) => team.target()?,
                (None, None) => anyhow::bail!(
                    "{} has no team database: set `database: {{type: mysql, url: mysql://user@host/db}}` in env.yaml, or pass --database",
                    workspace.root.display()
                ),
            };
            if !workspace.database.is_file() {
                println!("nothing to send: {} does not exist yet", workspace.database.display());
                return Ok(ExitCode::SUCCESS);
            }
            let mut local = workspace.open_store()?;
            let mut server = MysqlDb::open(&target)?;
            let report = expman_team::push(&mut local, &mut server, None)
                .with_context(|| format!("sending {} to {}", workspace.database.display(), target.shown()))?;
            let behind = expman_team::behind(&mut local, &mut server)?;
            println!("{} -> {}: {}", workspace.database.display(), target.shown(), report.describe());
            if behind > 0 {
                println!("{behind} run(s) still to send (still going on, or changed meanwhile)");
            }
        }
        DbCommand::Copy { from, to } => {
            let (from, to) = (Db::parse(&from)?, Db::parse(&to)?);
            if let Db::Sqlite(path) = &from
                && !path.is_file()
            {
                anyhow::bail!("{} does not exist", path.display());
            }
            let mut source = open_side(&from)?;
            let mut destination = open_side(&to)?;
            let mut last_said = std::time::Instant::now();
            let report = copy(source.as_mut(), destination.as_mut(), &mut |r: &CopyReport| {
                if last_said.elapsed() >= std::time::Duration::from_secs(2) {
                    eprintln!("copied {} runs ({} metric points) so far", r.runs_copied, r.metric_points);
                    last_said = std::time::Instant::now();
                }
            })
            .with_context(|| format!("copying {} into {}", from.shown(), to.shown()))?;
            println!(
                "{} -> {}: {}; {} experiment(s) and {} trial(s) created",
                from.shown(),
                to.shown(),
                report.describe(),
                report.experiments_created,
                report.trials_created
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open_side(db: &Db) -> anyhow::Result<Box<dyn Side>> {
    Ok(match db {
        Db::Sqlite(path) => Box::new(Store::open(path)?),
        Db::Mysql(target) => Box::new(MysqlDb::open(target)?),
    })
}

fn print_migrations(what: &str, migrations: &[Migration]) {
    for m in migrations {
        println!("{what} {:04} {}", m.version, m.name);
    }
}
