//! expman-ui: the HTTP server of `expman ui`, a web dashboard of the record.
//!
//! This crate knows HTTP, the page and who may ask; it knows nothing of
//! the record. The binary hands in a [`Record`]: answers as JSON, built
//! from the same query layer as the CLI's. Handlers call it on blocking
//! threads (SQLite and polars are synchronous).
//!
//! - [`access`]: the token, the Host check against DNS rebinding, the
//!   Origin check on requests that change anything, security headers.
//! - [`routes`]: the page's files and the JSON API (`/api/...`).
//! - [`events`]: server-sent events (`/api/events`): the live runs and
//!   "the record changed", from one poller shared by every page.
//! - [`assets`]: the page (HTML, JS, CSS written here, no JS library),
//!   embedded in the binary.
//!
//! Invariant: no engine crate (as for expman-kernel): the binary turns
//! engine answers into JSON.

pub mod access;
pub mod assets;
pub mod events;
pub mod routes;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub use access::Access;

/// What the server answers with: the record, read on blocking threads.
///
/// Every method returns JSON (shapes documented on the routes in
/// [`routes`]) or an [`ApiError`] the page shows as it is.
pub trait Record: Send + Sync + 'static {
    /// The workspace, its database and its experiments.
    fn info(&self) -> Result<serde_json::Value, ApiError>;
    /// A window of the runs table (filtered, sorted, chosen columns).
    fn runs(&self, query: &RunsQuery) -> Result<serde_json::Value, ApiError>;
    /// Everything about one run.
    fn run(&self, id: &str) -> Result<serde_json::Value, ApiError>;
    /// The last `tail` lines of a run's stdout or stderr.
    fn log(&self, id: &str, stream: LogStream, tail: usize) -> Result<serde_json::Value, ApiError>;
    /// A run's hardware samples over time.
    fn hardware(&self, id: &str) -> Result<serde_json::Value, ApiError>;
    /// The file of an artifact recorded for the run, checked to lie inside
    /// the workspace; anything else is an error.
    fn artifact(&self, id: &str, path: &str) -> Result<PathBuf, ApiError>;
    /// The metric keys the runs have.
    fn metric_keys(&self, runs: &[String]) -> Result<serde_json::Value, ApiError>;
    /// Curves of one metric, downsampled to about one point per pixel.
    fn curves(&self, query: &CurvesQuery) -> Result<serde_json::Value, ApiError>;
    /// The runs going on (and those that ended lately).
    fn live(&self) -> Result<serde_json::Value, ApiError>;
    /// A value that changes whenever the record does (cheap: polled).
    fn version(&self) -> u64;
    /// Asks the runner of a run to stop it.
    fn stop(&self, id: &str) -> Result<serde_json::Value, ApiError>;
    /// The searches and their progress.
    fn searches(&self, experiment: Option<&str>) -> Result<serde_json::Value, ApiError>;
}

/// The runs table's window, as the page asks for it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RunsQuery {
    pub experiment: Option<String>,
    /// The filter language (`status = 'FINISHED' and metrics.loss < 0.5`).
    pub filter: Option<String>,
    /// A column to sort by.
    pub sort: Option<String>,
    /// Descending (`desc=1`).
    pub desc: Option<String>,
    pub offset: usize,
    pub limit: Option<usize>,
    /// Comma-separated column names; the server's choice when absent.
    pub columns: Option<String>,
    /// Comma-separated run ids: only these.
    pub runs: Option<String>,
}

impl RunsQuery {
    pub fn descending(&self) -> bool {
        matches!(self.desc.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// One metric's curves.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CurvesQuery {
    /// Comma-separated run ids.
    pub runs: String,
    pub key: String,
    /// `step` (default), `epoch` or `time`.
    pub x: Option<String>,
    /// `run` (default) or `trial` (mean ± std across repeats).
    pub by: Option<String>,
    /// The chart's width in pixels: about one point per pixel comes back.
    pub width: Option<usize>,
}

/// A comma-separated list, without empty items.
pub fn split_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn name(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout.log",
            LogStream::Stderr => "stderr.log",
        }
    }
}

/// What went wrong answering, as the page sees it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// More fields for the error's JSON body (a filter error's caret).
    pub detail: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Forbidden,
    Internal,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into(), detail: None }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Forbidden, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Internal, message)
    }
    pub fn with_detail(mut self, detail: serde_json::Map<String, serde_json::Value>) -> ApiError {
        self.detail = Some(detail);
        self
    }
}

/// Problems starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct Options {
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// The token; generated when `None`.
    pub token: Option<String>,
}

/// A server bound and ready: where it listens and the URL to open.
pub struct Bound {
    listener: tokio::net::TcpListener,
    runtime: tokio::runtime::Runtime,
    pub address: SocketAddr,
    pub access: Arc<Access>,
}

impl Bound {
    /// The URL to open: with the token when one is needed.
    pub fn url(&self) -> String {
        let host = match self.address.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let base = format!("http://{host}:{}/", self.address.port());
        if self.access.token_required() { format!("{base}?token={}", self.access.token()) } else { base }
    }

    /// Serves until the process ends (or the listener fails).
    pub fn serve(self, record: Arc<dyn Record>) -> Result<(), ServeError> {
        let Bound { listener, runtime, access, .. } = self;
        runtime.block_on(async move {
            let app = routes::router(record, access);
            axum::serve(listener, app.into_make_service()).await
        })?;
        Ok(())
    }
}

/// Binds the address (the runtime is made here too), without serving yet:
/// the caller prints the URL first.
pub fn bind(options: &Options) -> Result<Bound, ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let address = SocketAddr::new(options.host, options.port);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(address))
        .map_err(|source| ServeError::Bind { address, source })?;
    let address = listener.local_addr()?;
    let access = Access::new(address, options.token.clone());
    Ok(Bound { listener, runtime, address, access: Arc::new(access) })
}
