//! A kernel whose interpreter does nothing: the protocol's own cost, for
//! profiling the kernel without the `expman` binary around it.
//!
//! `cargo build --release -p expman-kernel --example null_kernel`, then
//! `null_kernel CONNECTION_FILE` as a kernelspec's `argv`.

use std::sync::Arc;

use expman_kernel::{Cell, CellError, Completeness, Completions, Inspection, Interpreter};

struct Null;

impl Interpreter for Null {
    fn execute(&self, _code: &str, _cell: &Cell) -> Result<(), CellError> {
        Ok(())
    }

    fn complete(&self, _code: &str, cursor: usize) -> Completions {
        Completions { matches: Vec::new(), start: cursor, end: cursor }
    }

    fn inspect(&self, _code: &str, _cursor: usize) -> Option<Inspection> {
        None
    }

    fn is_complete(&self, _code: &str) -> Completeness {
        Completeness::Complete
    }
}

fn main() {
    let Some(file) = std::env::args_os().nth(1) else {
        eprintln!("usage: null_kernel CONNECTION_FILE");
        std::process::exit(2);
    };
    if let Err(e) = expman_kernel::run(file.as_ref(), Arc::new(Null)) {
        eprintln!("null_kernel: {e}");
        std::process::exit(1);
    }
}
