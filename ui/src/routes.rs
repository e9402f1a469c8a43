//! The routes: the page's files, and the JSON API the page reads.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /`, `/app.js`, `/app.css`, `/favicon.svg` | the page ([`crate::assets`]) |
//! | `GET /api/info` | workspace, database, experiments |
//! | `GET /api/runs?experiment&filter&sort&desc&offset&limit&columns&runs` | a window of the runs table: `total`, `matched`, `columns` (name, kind), `shown`, `rows` |
//! | `GET /api/runs/{id}` | one run: row, config, params, tags, metrics, artifacts, resources |
//! | `GET /api/runs/{id}/log?stream=stdout\|stderr&tail=N` | the last lines of a log |
//! | `GET /api/runs/{id}/hardware` | CPU, memory, GPU over time |
//! | `GET /api/runs/{id}/artifacts/{path}` | a recorded artifact's file |
//! | `POST /api/runs/{id}/stop` | asks the run's runner to stop it |
//! | `GET /api/metric-keys?runs` | metric keys of the runs |
//! | `GET /api/curves?runs&key&x&by&width` | curves, about one point per pixel |
//! | `GET /api/live` | runs going on, and lately ended |
//! | `GET /api/events` | server-sent events `live` and `record` ([`crate::events`]) |
//! | `GET /api/searches?experiment` | searches: progress, best, history |
//! | `POST /api/login` `{"token"}` | sets the token's cookie |
//!
//! Errors are `{"error": message}` with a 4xx/5xx status; a filter error
//! adds `kind: "filter"`, `rendered` (the caret under the place), `at`,
//! `len`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::access::{self, Access};
use crate::events::{self, Pulse};
use crate::{ApiError, CurvesQuery, ErrorKind, LogStream, Record, RunsQuery, assets, split_list};

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub record: Arc<dyn Record>,
    pub access: Arc<Access>,
    pub pulse: Pulse,
}

/// The whole application: routes behind the access guard. Starts the
/// poller of [`crate::events`], so call it inside the runtime.
pub fn router(record: Arc<dyn Record>, access: Arc<Access>) -> Router {
    let pulse = Pulse::start(record.clone());
    let state = AppState { record, access: access.clone(), pulse };
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .route("/favicon.svg", get(assets::icon))
        .route("/api/info", get(info))
        .route("/api/runs", get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/log", get(log))
        .route("/api/runs/{id}/hardware", get(hardware))
        .route("/api/runs/{id}/artifacts/{*path}", get(artifact))
        .route("/api/runs/{id}/stop", post(stop))
        .route("/api/metric-keys", get(metric_keys))
        .route("/api/curves", get(curves))
        .route("/api/live", get(live))
        .route("/api/events", get(events::stream))
        .route("/api/searches", get(searches))
        .route("/api/login", post(login))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(access, access::guard))
        .with_state(state)
}

/// Runs `f` over the record on a blocking thread and answers with its JSON.
async fn answer<F>(state: &AppState, f: F) -> Response
where
    F: FnOnce(&dyn Record) -> Result<Value, ApiError> + Send + 'static,
{
    let record = state.record.clone();
    match tokio::task::spawn_blocking(move || f(&*record)).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(error)) => error_response(error),
        Err(failed) => error_response(ApiError::internal(format!("answering failed: {failed}"))),
    }
}

/// An error as the page reads it.
pub fn error_response(error: ApiError) -> Response {
    let status = match error.kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::warn!("{}", error.message);
    }
    let mut body = serde_json::Map::new();
    body.insert("error".into(), Value::String(error.message));
    body.extend(error.detail.unwrap_or_default());
    (status, Json(Value::Object(body))).into_response()
}

async fn info(State(state): State<AppState>) -> Response {
    answer(&state, |r| r.info()).await
}

async fn runs(State(state): State<AppState>, Query(query): Query<RunsQuery>) -> Response {
    answer(&state, move |r| r.runs(&query)).await
}

async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    answer(&state, move |r| r.run(&id)).await
}

#[derive(serde::Deserialize)]
struct LogQuery {
    stream: Option<String>,
    tail: Option<usize>,
}

async fn log(State(state): State<AppState>, Path(id): Path<String>, Query(query): Query<LogQuery>) -> Response {
    let stream = match query.stream.as_deref() {
        None | Some("stdout") => LogStream::Stdout,
        Some("stderr") => LogStream::Stderr,
        Some(other) => return error_response(ApiError::bad_request(format!("stream `{other}`: stdout or stderr"))),
    };
    let tail = query.tail.unwrap_or(200).clamp(1, 10_000);
    answer(&state, move |r| r.log(&id, stream, tail)).await
}

async fn hardware(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    answer(&state, move |r| r.hardware(&id)).await
}

/// A recorded artifact, streamed as a download (never shown inline: an
/// HTML artifact runs no script in this origin).
async fn artifact(State(state): State<AppState>, Path((id, path)): Path<(String, String)>) -> Response {
    let record = state.record.clone();
    let checked = tokio::task::spawn_blocking(move || record.artifact(&id, &path)).await;
    let file_path = match checked {
        Ok(Ok(file_path)) => file_path,
        Ok(Err(error)) => return error_response(error),
        Err(failed) => return error_response(ApiError::internal(format!("answering failed: {failed}"))),
    };
    let file = match tokio::fs::File::open(&file_path).await {
        Ok(file) => file,
        Err(e) => return error_response(ApiError::not_found(format!("{}: {e}", file_path.display()))),
    };
    let length = file.metadata().await.map(|m| m.len()).ok();
    let name: String = file_path
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' })
                .collect()
        })
        .unwrap_or_else(|| "artifact".into());
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

async fn stop(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    answer(&state, move |r| r.stop(&id)).await
}

#[derive(serde::Deserialize)]
struct RunsList {
    #[serde(default)]
    runs: String,
}

async fn metric_keys(State(state): State<AppState>, Query(query): Query<RunsList>) -> Response {
    answer(&state, move |r| r.metric_keys(&split_list(&query.runs))).await
}

async fn curves(State(state): State<AppState>, Query(query): Query<CurvesQuery>) -> Response {
    if query.key.is_empty() {
        return error_response(ApiError::bad_request("which metric? give `key`"));
    }
    answer(&state, move |r| r.curves(&query)).await
}

async fn live(State(state): State<AppState>) -> Response {
    answer(&state, |r| r.live()).await
}

#[derive(serde::Deserialize)]
struct ExperimentQuery {
    experiment: Option<String>,
}

async fn searches(State(state): State<AppState>, Query(query): Query<ExperimentQuery>) -> Response {
    answer(&state, move |r| r.searches(query.experiment.as_deref())).await
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

async fn login(State(state): State<AppState>, Json(login): Json<Login>) -> Response {
    if !state.access.is_token(login.token.trim()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "wrong token: use the one `expman ui` printed"})))
            .into_response();
    }
    let mut response = Json(json!({"ok": true})).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&state.access.cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn not_found() -> Response {
    error_response(ApiError::not_found("no such page or API route"))
}
