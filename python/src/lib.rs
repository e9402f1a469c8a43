//! The Python package's native half, `expman._expman` (PyO3, abi3 for
//! CPython 3.9+). `expman/__init__.py` is the public face; this module
//! gives it:
//!
//! - `run`: [`run::Run`], a run started from code (or the run expman
//!   launched this process as), with its logging calls; the stack of
//!   active runs the module-level shortcuts use;
//! - `values`: Python values turned into what the record keeps, with
//!   `TypeError`/`ValueError` naming the key for what it refuses;
//! - `query`: the record as Arrow streams (`__arrow_c_stream__`) that
//!   polars takes without copying, through the CLI's own query commands;
//! - `artifacts`: a run's artifacts listed and fetched, and its lineage,
//!   through the CLI's own commands;
//! - `magics`: the `%expman` magics in IPython, the kernel's own
//!   interpreter with its outputs shown through IPython's display.
//!
//! Invariant: the Python interpreter is never held while expman waits
//! (on the record, on runs, on a cell): those calls run detached.

mod artifacts;
mod magics;
mod query;
mod run;
mod values;

use pyo3::prelude::*;

pyo3::create_exception!(
    expman._expman,
    ExpmanError,
    pyo3::exceptions::PyException,
    "expman could not do what was asked: the record, a workspace, a query."
);

/// Warnings and errors of the engine go to stderr, as the CLI's do
/// (`RUST_LOG` chooses more).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

#[pymodule(name = "_expman", module = "expman")]
mod module {
    #[pymodule_export]
    use super::ExpmanError;
    #[pymodule_export]
    use super::artifacts::{artifacts_json, get_artifact, lineage_json};
    #[pymodule_export]
    use super::magics::Magics;
    #[pymodule_export]
    use super::query::{Table, compare, metrics, runs, sql, summary};
    #[pymodule_export]
    use super::run::{EpochScope, Run, active_run, start};

    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    #[pymodule_init]
    fn init(_m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        super::init_logging();
        Ok(())
    }
}
