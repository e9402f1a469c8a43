//! Metric curves for the page's charts: per run straight from the
//! record's index (one metric of one run is a range scan), or per trial
//! as mean ± std across repeats (the query layer's curves); either way
//! cut to at most four points per pixel of the chart
//! ([`expman_query::downsample::m4`]), so a curve of a million points
//! draws at once.

use expman_query::Frames;
use expman_query::curves::{CurveBy, CurveX, curves as trial_curves};
use expman_query::downsample::m4;
use expman_store::Store;
use expman_ui::{ApiError, CurvesQuery, split_list};
use serde_json::{Value, json};

use super::{number, query_error, resolve, store_error};

pub fn curves(store: &Store, query: &CurvesQuery) -> Result<Value, ApiError> {
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
            let series = store.metric_series(row.id, &query.key).map_err(store_error)?;
            total += series.values.len();
            let first_ts = series.timestamps.first().copied().unwrap_or(0);
            let xs: Vec<f64> = match x {
                CurveX::Step => series.steps.iter().map(|&s| s as f64).collect(),
                CurveX::Epoch => series.epochs.iter().map(|e| e.map_or(f64::NAN, |e| e as f64)).collect(),
                CurveX::Time => series.timestamps.iter().map(|&t| (t - first_ts) as f64 / 1000.0).collect(),
            };
            let keep = m4(&xs, &series.values, width);
            sent += keep.len();
            out.push(json!({
                "name": format!("{} {} #{}", &row.uid[..row.uid.len().min(8)], row.trial, row.repeat + 1),
                "run": row.uid,
                "trial": row.trial,
                "x": keep.iter().map(|&i| number(xs[i])).collect::<Vec<_>>(),
                "y": keep.iter().map(|&i| number(series.values[i])).collect::<Vec<_>>(),
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
