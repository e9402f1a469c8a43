//! The kernel's errors: what stops it from starting or serving.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("cannot read the connection file {path}: {source}")]
    ConnectionFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the connection file {path} is not valid: {message}")]
    BadConnectionFile { path: PathBuf, message: String },
    #[error("cannot bind the {channel} socket: {message}")]
    Bind { channel: &'static str, message: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("cannot start the kernel's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot install the kernelspec in {path}: {source}")]
    Install {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
