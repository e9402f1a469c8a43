//! One module per subcommand; [`dispatch`] routes to them.

pub mod config;
mod db;
pub mod hw;
pub mod kernel;
pub mod plot;
pub mod query;
pub mod record;
mod run;
mod stop;
mod trackers;

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::output::use_color;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = use_color(cli.global.color);
    match cli.command {
        Command::Run(args) => run::run(args, color),
        Command::Runs(args) => query::print(query::runs(&args)?, Some(&args.output)),
        Command::Metrics(args) => query::print(query::metrics(&args)?, Some(&args.output)),
        Command::Compare(args) => query::print(query::compare(&args)?, None),
        Command::Summary(args) => query::print(query::summary(&args)?, Some(&args.output)),
        Command::Rank(args) => query::print(query::rank(&args)?, Some(&args.output)),
        Command::Diff(args) => query::print(query::diff(&args)?, None),
        Command::Sql(args) => query::print(query::sql(&args)?, Some(&args.output)),
        Command::Export(args) => query::print(query::export(&args)?, None),
        Command::Experiments(args) => query::print(query::experiments(&args)?, None),
        Command::Plot(args) => plot::plot(args),
        Command::Show(args) => record::show(args),
        Command::Stop(args) => stop::stop(args),
        Command::Db(command) => db::db(command),
        Command::Hw(args) => hw::hw(args),
        Command::Kernel(command) => kernel::kernel(command),
        Command::Lsp => {
            expman_lsp::run_stdio()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => config::validate(args, color),
        Command::Preview(args) => config::preview(args, color),
        Command::Schema(args) => config::schema(args),
        Command::Init(args) => config::init(args),
        Command::Sync(args) => trackers::sync(args),
        Command::ExportMlflow(args) => trackers::export_mlflow(args),
    }
}
