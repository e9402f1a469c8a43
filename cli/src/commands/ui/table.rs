//! The runs table: the `runs` frame (as `expman runs` builds it) cached
//! per experiment, then per request restricted to chosen runs, filtered
//! with the filter language, sorted, and cut to the window the page
//! shows.
//!
//! Building the frame of 100,000 runs takes most of a second; filtering
//! and sorting it, milliseconds. So the frame is rebuilt only when the
//! record changed, and at most every [`REBUILD_AFTER`] while runs write
//! to it (the page refreshes on the same beat).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use expman_query::{Frames, Query};
use expman_store::Store;
use expman_ui::{ApiError, RunsQuery, split_list};
use polars::prelude::*;
use serde_json::{Value, json};

use super::{number, query_error};

/// A changed record is read again after this long at the earliest.
const REBUILD_AFTER: Duration = Duration::from_secs(2);
/// Rows in one answer, at most.
const MAX_WINDOW: usize = 100_000;
/// Columns shown when the page names none.
const DEFAULT_IDENTITY: [&str; 7] = ["id", "status", "experiment", "trial", "repeat", "started_at", "duration_s"];

struct Cached {
    experiment: Option<String>,
    version: u64,
    built: Instant,
    frame: Arc<DataFrame>,
}

/// The last runs frame built.
#[derive(Default)]
pub struct RunsCache {
    cached: Mutex<Option<Cached>>,
}

impl RunsCache {
    /// The runs frame of `experiment`, from the cache when it is current
    /// (or was built less than [`REBUILD_AFTER`] ago).
    pub fn frame(&self, store: &Store, experiment: Option<&str>, version: u64) -> Result<Arc<DataFrame>, ApiError> {
        // Held while building: a second request waits for the first's
        // frame instead of building its own.
        let mut cached = self.cached.lock().map_err(|_| ApiError::internal("runs cache poisoned"))?;
        if let Some(c) = cached.as_ref()
            && c.experiment.as_deref() == experiment
            && (c.version == version || c.built.elapsed() < REBUILD_AFTER)
        {
            return Ok(c.frame.clone());
        }
        let frame = Arc::new(Frames::new(store).experiment(experiment).runs().map_err(query_error)?);
        *cached = Some(Cached {
            experiment: experiment.map(str::to_string),
            version,
            built: Instant::now(),
            frame: frame.clone(),
        });
        Ok(frame)
    }
}

/// The page's window of the table, as `/api/runs` answers.
pub fn window(frame: &DataFrame, query: &RunsQuery) -> Result<Value, ApiError> {
    let started = Instant::now();
    let total = frame.height();
    let mut frame = frame.clone();
    if let Some(runs) = query.runs.as_deref() {
        let wanted: std::collections::HashSet<String> = split_list(runs).into_iter().collect();
        let ids = frame.column("id").and_then(|c| c.str().cloned()).map_err(internal)?;
        let mask: BooleanChunked = ids.iter().map(|id| Some(id.is_some_and(|id| wanted.contains(id)))).collect();
        frame = frame.filter(&mask).map_err(internal)?;
    }
    if let Some(text) = query.filter.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        frame = Query::parse(text).map_err(|e| query_error(e.into()))?.apply(frame).map_err(query_error)?;
    }
    if let Some(column) = query.sort.as_deref().filter(|c| !c.is_empty()) {
        if frame.column(column).is_err() {
            return Err(ApiError::bad_request(format!("no column `{column}` to sort by")));
        }
        let options = SortMultipleOptions::default().with_order_descending(query.descending()).with_nulls_last(true);
        frame = frame.sort([column], options).map_err(internal)?;
    }
    let matched = frame.height();
    let columns: Vec<Value> =
        frame.columns().iter().map(|c| json!({"name": c.name().as_str(), "kind": kind(c.dtype())})).collect();
    let shown = shown_columns(&frame, query.columns.as_deref());
    let limit = query.limit.unwrap_or(200).min(MAX_WINDOW);
    let offset = query.offset.min(matched);
    let window = frame.slice(offset as i64, limit);
    let picked: Vec<&Column> = shown.iter().filter_map(|name| window.column(name).ok()).collect();
    let rows: Vec<Value> = (0..window.height())
        .map(|i| Value::Array(picked.iter().map(|c| cell(c.get(i).unwrap_or(AnyValue::Null))).collect()))
        .collect();
    Ok(json!({
        "total": total,
        "matched": matched,
        "offset": offset,
        "columns": columns,
        "shown": shown,
        "rows": rows,
        "took_ms": started.elapsed().as_secs_f64() * 1000.0,
    }))
}

fn internal(e: PolarsError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// The columns to send: the asked ones that exist (after `id` and
/// `status`), else identity, the metrics' last values, then params.
fn shown_columns(frame: &DataFrame, asked: Option<&str>) -> Vec<String> {
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut shown: Vec<String> = vec!["id".into(), "status".into()];
    let mut add = |name: &str| {
        if names.iter().any(|n| n == name) && !shown.iter().any(|s| s == name) {
            shown.push(name.to_string());
        }
    };
    match asked.map(split_list).filter(|asked| !asked.is_empty()) {
        Some(asked) => asked.iter().for_each(|name| add(name)),
        None => {
            DEFAULT_IDENTITY.iter().for_each(|name| add(name));
            let metrics =
                names.iter().filter(|n| n.starts_with("metrics.") && !n.ends_with(".min") && !n.ends_with(".max"));
            metrics.take(8).for_each(|name| add(name));
            names.iter().filter(|n| n.starts_with("params.")).take(6).for_each(|name| add(name));
        }
    }
    shown
}

/// A column's kind, as the page formats it.
fn kind(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::Boolean => "bool",
        DataType::Float32 | DataType::Float64 => "float",
        dt if dt.is_integer() => "int",
        DataType::Datetime(..) => "time",
        DataType::Duration(..) => "duration",
        _ => "text",
    }
}

/// One cell as JSON: times as milliseconds since the epoch.
fn cell(value: AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Float64(f) => number(f),
        AnyValue::Float32(f) => number(f as f64),
        AnyValue::Int64(v) => json!(v),
        AnyValue::Int32(v) => json!(v),
        AnyValue::Int16(v) => json!(v),
        AnyValue::Int8(v) => json!(v),
        AnyValue::UInt64(v) => json!(v),
        AnyValue::UInt32(v) => json!(v),
        AnyValue::UInt16(v) => json!(v),
        AnyValue::UInt8(v) => json!(v),
        AnyValue::Datetime(v, unit, _) | AnyValue::Duration(v, unit) => json!(match unit {
            TimeUnit::Milliseconds => v,
            TimeUnit::Microseconds => v / 1_000,
            TimeUnit::Nanoseconds => v / 1_000_000,
        }),
        other => Value::String(expman_query::format_cell(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df! {
            "id" => ["a1", "b2", "c3"],
            "status" => ["SUCCESS", "FAILED", "SUCCESS"],
            "trial" => ["base", "base", "wide"],
            "metrics.loss" => [Some(0.5), None, Some(0.25)],
            "params.lr" => [0.1, 0.01, 0.001],
        }
        .unwrap()
    }

    #[test]
    fn filters_sorts_and_cuts_a_window() {
        let query = RunsQuery {
            filter: Some("status = 'SUCCESS'".into()),
            sort: Some("metrics.loss".into()),
            columns: Some("trial,metrics.loss,nonsense".into()),
            limit: Some(1),
            ..RunsQuery::default()
        };
        let answer = window(&frame(), &query).unwrap();
        assert_eq!(answer["total"], 3);
        assert_eq!(answer["matched"], 2);
        assert_eq!(answer["shown"], json!(["id", "status", "trial", "metrics.loss"]));
        assert_eq!(answer["rows"], json!([["c3", "SUCCESS", "wide", 0.25]]));
        let kinds: Vec<&str> =
            answer["columns"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["text", "text", "text", "float", "float"]);
    }

    #[test]
    fn a_bad_filter_comes_back_with_its_place() {
        let query = RunsQuery { filter: Some("metrics.loss <".into()), ..RunsQuery::default() };
        let error = window(&frame(), &query).unwrap_err();
        let detail = error.detail.unwrap();
        assert_eq!(detail["kind"], "filter");
        assert!(detail["rendered"].as_str().unwrap().contains('^'), "{detail:?}");
        let unknown = RunsQuery { filter: Some("metrics.los < 1".into()), ..RunsQuery::default() };
        let error = window(&frame(), &unknown).unwrap_err();
        assert!(error.message.contains("metrics.loss"), "suggests the near name: {}", error.message);
    }

    #[test]
    fn chosen_runs_and_descending_nulls_last() {
        let query = RunsQuery {
            runs: Some("a1,b2".into()),
            sort: Some("metrics.loss".into()),
            desc: Some("1".into()),
            ..RunsQuery::default()
        };
        let answer = window(&frame(), &query).unwrap();
        let ids: Vec<&str> = answer["rows"].as_array().unwrap().iter().map(|r| r[0].as_str().unwrap()).collect();
        assert_eq!(ids, ["a1", "b2"]);
    }
}
