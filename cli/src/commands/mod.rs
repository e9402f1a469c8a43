//! One module per subcommand; [`dispatch`] routes to them.

mod config;
mod db;
mod hw;
mod query;
mod record;
mod run;

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::output::use_color;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = use_color(cli.global.color);
    match cli.command {
        Command::Run(args) => run::run(args, color),
        Command::Runs(args) => query::runs(args),
        Command::Metrics(args) => query::metrics(args),
        Command::Compare(args) => query::compare(args),
        Command::Summary(args) => query::summary(args),
        Command::Rank(args) => query::rank(args),
        Command::Diff(args) => query::diff(args),
        Command::Sql(args) => query::sql(args),
        Command::Export(args) => query::export(args),
        Command::Show(args) => record::show(args),
        Command::Db(command) => db::db(command),
        Command::Hw(args) => hw::hw(args),
        Command::Lsp => {
            expman_lsp::run_stdio()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => config::validate(args, color),
        Command::Preview(args) => config::preview(args, color),
        Command::Schema(args) => config::schema(args),
        Command::Init(args) => config::init(args),
    }
}
