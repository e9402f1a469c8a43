//! expman-core: the engine behind every front end.
//!
//! - [`store`]: the record, an embedded SQLite database per workspace
//!   (versioned migrations, batched writes, safe for several processes);
//! - [`runner`]: expands nothing itself (that is `expman-schema`'s job) but
//!   launches [`RunPlan`](expman_schema::RunPlan)s, at most N at a time, and
//!   watches them to their end;
//! - [`protocol`] and [`ingest`]: how a trial reports (JSON lines appended to
//!   a file in its run directory) and how those lines reach the store;
//! - [`pipeline`]: the `Pipeline` trait (the `process` pipeline and Rust
//!   pipelines) and the run context they report through;
//! - [`recovery`]: runs whose runner died are marked LOST, with everything
//!   they reported ingested;
//! - [`trackers`]: the record fanned out to MLflow, TensorBoard, CSV and
//!   log files (or a back end a Rust user adds), never holding up a run;
//! - [`workspace`]: where a workspace and its database are.
//!
//! Invariant: trials start only through [`process::command`], which forces
//! a working directory, an explicit environment and a process group of
//! their own.

pub mod callbacks;
pub mod capture;
pub mod error;
pub mod hardware;
pub mod ingest;
pub mod pipeline;
pub mod process;
pub mod protocol;
pub mod query;
pub mod recovery;
pub mod runner;
pub mod slurm;
pub mod store;
pub mod summary;
pub mod team;
pub mod time;
pub mod trackers;
pub mod workspace;

pub use error::{RunError, StoreError};
pub use expman_schema::suggest::closest as suggest_closest;
pub use store::{RunStatus, Store};
pub use workspace::Workspace;
