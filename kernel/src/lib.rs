//! expman-kernel: the Jupyter kernel (`expman kernel start -f FILE`).
//!
//! The kernel speaks the Jupyter messaging protocol (5.3) over ZeroMQ
//! (jupyter-zmq-client, pure Rust) and gives cells to an [`Interpreter`];
//! expman's interpreter, the `%expman` magics, lives in the `expman`
//! binary beside the CLI it shares its parser with.
//!
//! - [`server`]: the sockets and their loops (shell, control, iopub,
//!   heartbeat), busy/idle, replies; `wire`: reading requests (signature
//!   check, the spec's defaults for fields a client leaves out);
//! - [`cell`]: a running cell's outputs (streams, displays updated in place,
//!   results) and its interrupt flag;
//! - [`dispatch`], [`shell`]: `!command` cells;
//! - [`render`]: tables and charts; [`view`]: the tables it is given;
//! - [`kernelspec`]: `expman kernel install`;
//! - [`session`]: execution counts and history; [`info`]: kernel_info.
//!
//! Invariant: nothing here prints to stdout or stderr except through
//! `tracing`; a cell's output goes to IOPub.
//! Invariant: a bad message never kills the kernel and never hangs a
//! client: badly signed ones are dropped (and logged), unknown requests get
//! an error reply, a panicking cell becomes an error output.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cell;
pub mod dispatch;
mod error;
pub mod info;
pub mod interpreter;
pub mod kernelspec;
mod message;
pub mod offsets;
pub mod render;
mod server;
pub mod session;
pub mod shell;
pub mod view;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

pub use cell::{Bundle, Cell, DisplayHandle, Output};
pub use error::KernelError;
pub use interpreter::{CellError, Completeness, Completions, Inspection, Interpreter};

/// Serves the kernel described by `connection_file` until a shutdown
/// request.
pub fn run(connection_file: &Path, interpreter: Arc<dyn Interpreter>) -> Result<(), KernelError> {
    let text = std::fs::read_to_string(connection_file)
        .map_err(|source| KernelError::ConnectionFile { path: connection_file.to_path_buf(), source })?;
    let info: jupyter_protocol::ConnectionInfo = serde_json::from_str(&text)
        .map_err(|e| KernelError::BadConnectionFile { path: connection_file.to_path_buf(), message: e.to_string() })?;
    // One thread for the sockets' tasks: a request goes from the shell
    // socket's reader to the loop, to IOPub and back as hops between tasks,
    // and on one thread a hop is a queue push, not another thread woken.
    // Cells run on blocking threads, so the loops stay free while one runs.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(KernelError::Runtime)?;
    runtime.block_on(server::serve(info, interpreter))?;
    // Cells still running in the background are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}
