//! The `expman` binary: everything is in the library (`lib.rs`), shared
//! with the Python package.

fn main() -> std::process::ExitCode {
    expman::main()
}
