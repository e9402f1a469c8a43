//! Metric curves for the page's charts: per run straight from the
//! record's index (one metric of one run is a range scan), or per trial
//! as mean ± std across repeats (the query layer's curves); either way
//! cut to at most four points per pixel of the chart
//! ([`expman_query::downsample::m4`]), so a curve of a million points
//! draws at once. The points of runs that have ended never change: they
//! are kept in memory ([`SeriesCache`], up to [`CACHE_POINTS`] in all), so
//! switching the scale, the chart's width or back to a metric reads
//! nothing again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use expman_query::Frames;
use expman_query::curves::{CurveBy, CurveX, curves as trial_curves};
use expman_query::downsample::m4;
use expman_store::{MetricX, Store};
use expman_ui::{ApiError, CurvesQuery, split_list};
use serde_json::{Value, json};

use super::{number, query_error, resolve, store_error};

/// Points kept in the cache at most (16 bytes each).
const CACHE_POINTS: usize = 20_000_000;

/// One metric of one run: x values and values, in step order.
type Points = Arc<(Vec<f64>, Vec<f64>)>;

/// (x, value) points of ended runs, by run, metric and x.
#[derive(Default)]
pub struct SeriesCache {
    series: Mutex<HashMap<(i64, String, MetricX), Points>>,
}

impl SeriesCache {
    fn points(&self, store: &Store, run: i64, ended: bool, key: &str, x: MetricX) -> Result<Points, ApiError> {
        let id = (run, key.to_string(), x);
        if let Some(found) = self.series.lock().ok().and_then(|s| s.get(&id).cloned()) {
            return Ok(found);
        }
        let points = Arc::new(store.metric_xy(run, key, x).map_err(store_error)?);
        if ended && let Ok(mut series) = self.series.lock() {
            let held: usize = series.values().map(|p| p.0.len()).sum();
            if held + points.0.len() > CACHE_POINTS {
                series.clear();
            }
            series.insert(id, points.clone());
        }
        Ok(points)
    }
}

pub fn curves(store: &Store, cache: &SeriesCache, query: &CurvesQuery) -> Result<Value, ApiError> {
    let x = match query.x.as_deref().unwrap_or("step") {
        "step" => CurveX::Step,
        "epoch" => CurveX::Epoch,
        "time" => CurveX::Time,
        other => return Err(ApiError::bad_request(format!("x `{other}`: step, epoch or time"))),
    };
    let by_trial = match query.by.as_deref().unwrap_or("run") {
        "run" => false,
        "trial" => true,
        other => return Err(ApiError::bad_request(format!("by `{other}`: run or trial"))),
    };
    let width = query.width.unwrap_or(900).clamp(50, 8000);
    let ids = split_list(&query.runs);
    if ids.is_empty() {
        return Err(ApiError::bad_request("which runs? give `runs=ID,ID`"));
    }
    let runs = ids.iter().map(|id| resolve(store, id)).collect::<Result<Vec<_>, _>>()?;
    let rows = store.runs_by_id(&runs.iter().map(|r| r.id).collect::<Vec<_>>()).map_err(store_error)?;
    let (mut total, mut sent) = (0usize, 0usize);
    let mut out = Vec::new();
    if by_trial {
        let uids: Vec<String> = runs.iter().map(|r| r.uid.clone()).collect();
        let points = Frames::new(store).metrics(&uids, std::slice::from_ref(&query.key)).map_err(query_error)?;
        total = points.height();
        for curve in trial_curves(&points, &query.key, CurveBy::Trial, x).map_err(query_error)? {
            let xs: Vec<f64> = curve.points.iter().map(|p| p.x).collect();
            let ys: Vec<f64> = curve.points.iter().map(|p| p.mean).collect();
            let keep = m4(&xs, &ys, width);
            sent += keep.len();
            let runs_in = rows.iter().filter(|r| r.trial == curve.name).count();
            out.push(json!({
                "name": format!("{} (mean ± std of {runs_in})", curve.name),
                "run": null,
                "trial": curve.name,
                "x": keep.iter().map(|&i| number(xs[i])).collect::<Vec<_>>(),
                "y": keep.iter().map(|&i| number(ys[i])).collect::<Vec<_>>(),
                "std": keep.iter().map(|&i| curve.points[i].std.map(number).unwrap_or(Value::Null)).collect::<Vec<_>>(),
            }));
        }
    } else {
        for row in &rows {
            let column = match x {
                CurveX::Step => MetricX::Step,
                CurveX::Epoch => MetricX::Epoch,
                CurveX::Time => MetricX::Timestamp,
            };
            let points = cache.points(store, row.id, row.ended_at.is_some(), &query.key, column)?;
            let (xs, ys) = (&points.0, &points.1);
            total += ys.len();
            // Time: seconds since the run's first point of the metric.
            let first = if x == CurveX::Time { xs.first().copied().unwrap_or(0.0) } else { 0.0 };
            let at = |i: usize| if x == CurveX::Time { (xs[i] - first) / 1000.0 } else { xs[i] };
            let keep = m4(xs, ys, width);
            sent += keep.len();
            out.push(json!({
                "name": format!("{} {} #{}", &row.uid[..row.uid.len().min(8)], row.trial, row.repeat + 1),
                "run": row.uid,
                "trial": row.trial,
                "x": keep.iter().map(|&i| number(at(i))).collect::<Vec<_>>(),
                "y": keep.iter().map(|&i| number(ys[i])).collect::<Vec<_>>(),
                "std": null,
            }));
        }
    }
    Ok(json!({
        "key": query.key,
        "x": x.label(),
        "by": if by_trial { "trial" } else { "run" },
        "points_total": total,
        "points_sent": sent,
        "curves": out,
    }))
}
