//! The `expman` crate: the command line and the `%expman` magics, as a
//! library, so that the binary (`main.rs`) and the Python package
//! (`python/`, `%load_ext expman`) run the same code: a magic in IPython
//! and in the expman kernel is parsed by the same clap types and answered
//! by the same functions as its subcommand.
//!
//! - [`args`]: the command line (clap);
//! - [`commands`]: one module per subcommand;
//! - [`magics`]: the kernel's interpreter (feature `kernel`);
//! - `output`: colours, diagnostics, tables and progress in a terminal;
//! - `searches`: a config's searches as the runner takes them;
//! - `view`: polars frames as the kernel's tables.

pub mod args;
pub mod commands;
#[cfg(feature = "kernel")]
pub mod magics;
mod output;
mod searches;
#[cfg(feature = "kernel")]
mod view;

use std::process::ExitCode;

use clap::Parser;

/// The kernel's interpreter: the magics.
#[cfg(feature = "kernel")]
fn interpreter() -> std::sync::Arc<dyn expman_kernel::Interpreter> {
    std::sync::Arc::new(magics::Magics::new())
}

#[cfg(not(feature = "kernel"))]
fn interpreter() {}

/// The `expman` program: parses the command line, installs logging
/// (tracing to stderr, `RUST_LOG` over `-v`) and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = args::Cli::parse();
    // Commands that only read and print end quietly on a closed pipe
    // (`expman runs | head`). The others talk to servers (trackers, the
    // team database, S3, clients of the kernel, the language server and
    // the web UI): a peer that goes away mid-write must be an error they
    // handle, never a signal that kills a runner with its runs.
    use args::Command as C;
    let prints_only = matches!(
        cli.command,
        C::Runs(_)
            | C::Metrics(_)
            | C::Compare(_)
            | C::Summary(_)
            | C::Rank(_)
            | C::Diff(_)
            | C::Sql(_)
            | C::Export(_)
            | C::Search(_)
            | C::Show(_)
            | C::Experiments(_)
            | C::Plot(_)
            | C::Lineage(_)
            | C::Validate(_)
            | C::Preview(_)
            | C::Schema(_)
    );
    if prints_only {
        expman_os::process::default_sigpipe();
    }
    output::init_logging(cli.global.verbose, cli.global.quiet);
    match commands::dispatch(cli, interpreter) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(2)
        }
    }
}
