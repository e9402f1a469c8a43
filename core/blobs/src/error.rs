//! What can go wrong with the artifact store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A blob whose content no longer hashes to its name: changed on disk
    /// (or, encrypted, tampered with or read with another key).
    #[error("{what}: {why}; the stored copy cannot be trusted")]
    Corrupt { what: String, why: String },
    #[error("`{0}` is not a SHA-256 (64 hexadecimal digits)")]
    BadDigest(String),
    #[error("no blob {0} in this workspace's artifact store")]
    Missing(String),
    #[error("{0}")]
    Key(String),
    /// A remote store: unreachable, refused, misconfigured.
    #[error("artifact remote {0}")]
    Remote(String),
}

impl BlobError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> BlobError {
        BlobError::Io { path: path.to_path_buf(), source }
    }
}
