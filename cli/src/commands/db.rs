//! `expman db status|migrate|rollback`.

use std::process::ExitCode;

use expman_core::Store;
use expman_core::store::MIGRATIONS;

use super::record::locate;
use crate::args::DbCommand;

pub fn db(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Status(record) => {
            let workspace = locate(&record)?;
            println!("database   {}", workspace.database.display());
            if !workspace.has_database() {
                println!("version    none (the database does not exist yet; the first run creates it)");
                return Ok(ExitCode::SUCCESS);
            }
            let store = Store::open_unmigrated(&workspace.database)?;
            let version = store.schema_version()?;
            let latest = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
            println!("version    {version} (this expman: {latest})");
            for m in MIGRATIONS {
                let state = if m.version <= version { "applied" } else { "pending" };
                println!("  {:04} {:<20} {state}", m.version, m.name);
            }
        }
        DbCommand::Migrate(record) => {
            let workspace = locate(&record)?;
            let mut store = Store::open_unmigrated(&workspace.database)?;
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("{} is up to date (version {})", workspace.database.display(), store.schema_version()?);
            }
            for m in applied {
                println!("applied {:04} {}", m.version, m.name);
            }
        }
        DbCommand::Rollback { record, to } => {
            let workspace = locate(&record)?;
            let mut store = Store::open_unmigrated(&workspace.database)?;
            for m in store.rollback(to)? {
                println!("rolled back {:04} {}", m.version, m.name);
            }
            println!("{} is at version {}", workspace.database.display(), store.schema_version()?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
