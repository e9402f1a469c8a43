//! `expman ui`: serves the web dashboard of a workspace's record until
//! Ctrl-C (binds first, prints the URL with the token when one is
//! required, then opens the browser when asked), answering the page
//! ([`expman_ui::Record`]) from the same store and query layer as the CLI,
//! as the JSON the page reads.
//!
//! - [`table`]: the runs table (one cached frame, filtered and sorted per
//!   request, a window of rows out).
//! - [`run`]: one run: detail, logs, hardware, artifacts (checked paths).
//! - [`series`]: metric curves, downsampled for the chart's width.
//! - [`watch`]: the runs going on, the record's version, stopping runs.
//!
//! Each request reads on a connection of its own (from a small pool of
//! read-only ones), so a long read never holds up the live view.

mod run;
mod series;
mod table;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use expman_query::QueryError;
use expman_runner::Workspace;
use expman_store::{RunRef, Store, StoreError};
use expman_ui::{ApiError, CurvesQuery, LogStream, Record, RunsQuery};
use serde_json::{Value, json};

use super::record::locate;
use crate::args::UiArgs;

/// The record a `expman ui` serves.
pub struct Dashboard {
    workspace: Workspace,
    /// The database the page reads (the workspace's, or with a team
    /// database, the view of everyone's runs made at start).
    database: PathBuf,
    /// Idle read-only connections.
    idle: Mutex<Vec<Store>>,
    runs: table::RunsCache,
    series: series::SeriesCache,
    watch: watch::Watch,
}

impl Dashboard {
    /// Opens the record (recovering runs whose runner died, as every
    /// command does) and keeps its path for the requests to come.
    pub fn open(workspace: Workspace) -> anyhow::Result<Dashboard> {
        if !workspace.has_database() {
            anyhow::bail!(
                "no database at {} yet: run an experiment first (`expman run CONFIG_DIR`)",
                workspace.database.display()
            );
        }
        let view = workspace.open_view()?;
        let database = view.path().to_path_buf();
        Ok(Dashboard {
            workspace,
            database,
            idle: Mutex::new(vec![view]),
            runs: table::RunsCache::default(),
            series: series::SeriesCache::default(),
            watch: watch::Watch::default(),
        })
    }

    /// Runs `f` on a connection from the pool.
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let taken = self.idle.lock().map_err(|_| ApiError::internal("connection pool poisoned"))?.pop();
        let store = match taken {
            Some(store) => store,
            None => Store::open_read_only(&self.database).map_err(store_error)?,
        };
        let result = f(&store);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 4
        {
            idle.push(store);
        }
        result
    }
}

/// A store error as the page sees it.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NoSuchRun(id) => ApiError::not_found(format!("no run `{id}` in the record")),
        StoreError::AmbiguousRun(id) => {
            ApiError::bad_request(format!("`{id}` matches several runs: give more of the id"))
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// A query error as the page sees it: a filter error with its caret.
pub(crate) fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Filter(f) => {
            let at = f.input[..f.at.min(f.input.len())].chars().count();
            let len = f.input[f.at.min(f.input.len())..].chars().take(f.len.max(1)).count().max(1);
            let detail = json!({"kind": "filter", "rendered": f.render(), "at": at, "len": len});
            ApiError::bad_request(f.message.clone()).with_detail(detail.as_object().cloned().unwrap_or_default())
        }
        QueryError::Store(e) => store_error(e),
        QueryError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal(other.to_string()),
    }
}

/// A run by its id (or a unique prefix).
pub(crate) fn resolve(store: &Store, id: &str) -> Result<RunRef, ApiError> {
    store.resolve_run(id).map_err(store_error)
}

/// A float as JSON (NaN and infinities, which JSON lacks, as null).
pub(crate) fn number(value: f64) -> Value {
    serde_json::Number::from_f64(value).map(Value::Number).unwrap_or(Value::Null)
}

impl Record for Dashboard {
    fn info(&self) -> Result<Value, ApiError> {
        self.with_store(|store| {
            let frame = expman_query::Frames::new(store).experiments().map_err(query_error)?;
            let names = frame
                .column("experiment")
                .and_then(|c| c.str().cloned())
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let runs =
                frame.column("runs").and_then(|c| c.i64().cloned()).map_err(|e| ApiError::internal(e.to_string()))?;
            let experiments: Vec<Value> = names
                .iter()
                .zip(runs.iter())
                .map(|(name, runs)| json!({"name": name, "runs": runs.unwrap_or(0)}))
                .collect();
            Ok(json!({
                "workspace": self.workspace.root.display().to_string(),
                "database": self.database.display().to_string(),
                "version": env!("CARGO_PKG_VERSION"),
                "experiments": experiments,
            }))
        })
    }

    fn runs(&self, query: &RunsQuery) -> Result<Value, ApiError> {
        let frame = self.with_store(|store| self.runs.frame(store, query.experiment.as_deref(), self.version()))?;
        table::window(&frame, query)
    }

    fn run(&self, id: &str) -> Result<Value, ApiError> {
        self.with_store(|store| run::detail(store, id))
    }

    fn log(&self, id: &str, stream: LogStream, tail: usize) -> Result<Value, ApiError> {
        self.with_store(|store| run::log(store, id, stream, tail))
    }

    fn hardware(&self, id: &str) -> Result<Value, ApiError> {
        self.with_store(|store| run::hardware(store, id))
    }

    fn artifact(&self, id: &str, path: &str) -> Result<PathBuf, ApiError> {
        self.with_store(|store| run::artifact_file(store, &self.workspace.root, id, path))
    }

    fn metric_keys(&self, runs: &[String]) -> Result<Value, ApiError> {
        self.with_store(|store| {
            let ids = runs.iter().map(|id| resolve(store, id).map(|r| r.id)).collect::<Result<Vec<_>, _>>()?;
            Ok(json!({"keys": store.metric_keys(&ids).map_err(store_error)?}))
        })
    }

    fn curves(&self, query: &CurvesQuery) -> Result<Value, ApiError> {
        self.with_store(|store| series::curves(store, &self.series, query))
    }

    fn live(&self) -> Result<Value, ApiError> {
        self.watch.recover_now_and_then(&self.workspace);
        self.with_store(watch::live)
    }

    fn version(&self) -> u64 {
        watch::version(&self.database)
    }

    fn stop(&self, id: &str) -> Result<Value, ApiError> {
        self.with_store(|store| watch::stop(store, id))
    }

    fn searches(&self, experiment: Option<&str>) -> Result<Value, ApiError> {
        self.with_store(|store| {
            let searches =
                super::search::searches_json(store, experiment).map_err(|e| ApiError::internal(format!("{e:#}")))?;
            Ok(json!({"searches": searches}))
        })
    }
}

/// `expman ui`.
pub fn ui(args: UiArgs) -> anyhow::Result<ExitCode> {
    let workspace = locate(&args.record)?;
    if !workspace.has_database() && args.record.dir.is_some() {
        // A config directory names its workspace: make the (empty) record,
        // as `expman run` would, so the page can watch the first runs come.
        workspace.prepare()?;
        workspace.open_store().with_context(|| format!("cannot create {}", workspace.database.display()))?;
        eprintln!("expman ui: nothing recorded yet in {}; runs appear as they start", workspace.root.display());
    }
    let dashboard = Dashboard::open(workspace.clone())?;
    let options = expman_ui::Options { host: args.host, port: args.port, token: args.token.clone() };
    let bound = expman_ui::bind(&options).with_context(|| format!("cannot start the web UI on {}", args.host))?;
    let url = bound.url();
    eprintln!("expman ui: the record of {} at", workspace.root.display());
    println!("{url}");
    if bound.access.token_required() {
        eprintln!("(every request needs the token in that URL; Ctrl-C stops the server)");
    } else {
        eprintln!("(Ctrl-C stops the server)");
    }
    if args.open {
        open_browser(&url);
    }
    bound.serve(Arc::new(dashboard)).context("the web UI stopped")?;
    Ok(ExitCode::SUCCESS)
}

/// Opens `url` in the desktop's browser, or says how to.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let cwd = std::env::temp_dir();
    match expman_os::process::tool(opener, &[url], &cwd).spawn() {
        Ok(_) => {}
        Err(e) => eprintln!("cannot open a browser ({opener}: {e}); open {url} yourself"),
    }
}
