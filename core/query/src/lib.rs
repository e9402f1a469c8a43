//! expman-query: the record as polars DataFrames, an MLflow-style filter
//! language, statistics across repeats, SQL over the tables, and export.
//!
//! Invariant: the only engine crate that links polars (the binary's output
//! is the only other place). The CLI prints these frames; the kernel gets
//! them from the binary as its own text tables.

pub mod arrow;
pub mod curves;
pub mod downsample;
pub mod export;
pub mod filter;
pub mod frames;
pub mod sql;
pub mod stats;

pub use filter::{FilterError, Query};
pub use frames::{Frames, format_cell};
/// The frame type every answer is, for crates that name it without
/// depending on polars themselves.
pub use polars::prelude::DataFrame;

/// Problems answering a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] expman_store::StoreError),
    #[error("{}", .0.render())]
    Filter(#[from] FilterError),
    #[error("{0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        QueryError::Invalid(format!("database: {e}"))
    }
}
