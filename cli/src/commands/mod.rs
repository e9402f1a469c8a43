//! One module per subcommand; [`dispatch`] routes to them.

pub mod artifacts;
pub mod config;
#[cfg(feature = "team")]
mod db;
pub mod hw;
#[cfg(feature = "kernel")]
pub mod kernel;
pub mod lineage;
#[cfg(feature = "kernel")]
pub mod plot;
pub mod query;
pub mod record;
pub mod run;
pub mod search;
pub mod stop;
mod trackers;
#[cfg(feature = "ui")]
mod ui;

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::output::use_color;

/// What `expman kernel start` serves cells with: the magics, which sit
/// above the commands (they call them), so the caller hands them in.
#[cfg(feature = "kernel")]
pub type MakeInterpreter = fn() -> std::sync::Arc<dyn expman_kernel::Interpreter>;
#[cfg(not(feature = "kernel"))]
pub type MakeInterpreter = fn();

pub fn dispatch(cli: Cli, interpreter: MakeInterpreter) -> anyhow::Result<ExitCode> {
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
        #[cfg(feature = "kernel")]
        Command::Plot(args) => plot::plot(args),
        #[cfg(not(feature = "kernel"))]
        Command::Plot(_) => Err(not_built("plot", "kernel")),
        Command::Search(args) => search::search(args),
        Command::Show(args) => record::show(args),
        Command::Artifacts(command) => artifacts::artifacts(command),
        Command::Gc(args) => artifacts::gc(args),
        Command::Lineage(args) => lineage::lineage(args),
        Command::Stop(args) => stop::stop(args),
        #[cfg(feature = "team")]
        Command::Db(command) => db::db(command),
        #[cfg(not(feature = "team"))]
        Command::Db(_) => Err(not_built("db", "team")),
        Command::Hw(args) => hw::hw(args),
        #[cfg(feature = "ui")]
        Command::Ui(args) => ui::ui(args),
        #[cfg(not(feature = "ui"))]
        Command::Ui(_) => Err(not_built("ui", "ui")),
        #[cfg(feature = "kernel")]
        Command::Kernel(command) => kernel::kernel(command, interpreter),
        #[cfg(not(feature = "kernel"))]
        Command::Kernel(_) => {
            let _ = interpreter;
            Err(not_built("kernel", "kernel"))
        }
        #[cfg(feature = "lsp")]
        Command::Lsp => {
            expman_lsp::run_stdio()?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "lsp"))]
        Command::Lsp => Err(not_built("lsp", "lsp")),
        Command::Validate(args) => config::validate(args, color),
        Command::Preview(args) => config::preview(args, color),
        Command::Schema(args) => config::schema(args),
        Command::Init(args) => config::init(args),
        Command::Sync(args) => trackers::sync(args),
        Command::ExportMlflow(args) => trackers::export_mlflow(args),
    }
}

/// A command whose part this expman was built without.
#[cfg(not(all(feature = "team", feature = "kernel", feature = "lsp", feature = "ui")))]
fn not_built(command: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`expman {command}` needs the `{feature}` feature, which this expman was built without; build it with `--features {feature}` (on by default)"
    )
}
