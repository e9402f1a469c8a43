//! Queries: the record as polars DataFrames, an MLflow-style filter
//! language, statistics across repeats, SQL over the tables, and export.
//!
//! This module is the only part of expman that links polars; the kernel
//! renders exactly these frames, the CLI prints them.

pub mod curves;
pub mod export;
pub mod filter;
pub mod frames;
pub mod sql;
pub mod stats;
pub mod view;

pub use filter::{FilterError, Query};
pub use frames::{Frames, format_cell};
pub use view::{TableView, ViewColumn};

/// Problems answering a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] crate::error::StoreError),
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
