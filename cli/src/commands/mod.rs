//! One module per subcommand; [`dispatch`] routes to them.

mod config;
mod db;
mod hw;
mod record;
mod run;

use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::output::use_color;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = use_color(cli.global.color);
    match cli.command {
        Command::Run(args) => run::run(args, color),
        Command::Runs(args) => record::runs(args),
        Command::Show(args) => record::show(args),
        Command::Db(command) => db::db(command),
        Command::Hw(args) => hw::hw(args),
        Command::Validate(args) => config::validate(args, color),
        Command::Preview(args) => config::preview(args, color),
        Command::Schema(args) => config::schema(args),
        Command::Init(args) => config::init(args),
    }
}
