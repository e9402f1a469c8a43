//! The `expman` binary: parses the command line, installs logging (tracing
//! to stderr, `RUST_LOG` over `-v`), and hands each subcommand to its module
//! under `commands/`.

mod args;
mod commands;
#[cfg(feature = "kernel")]
mod magics;
mod output;
#[cfg(feature = "kernel")]
mod view;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    if !matches!(cli.command, args::Command::Kernel(_) | args::Command::Lsp) {
        expman_os::process::default_sigpipe();
    }
    output::init_logging(cli.global.verbose, cli.global.quiet);
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(2)
        }
    }
}
