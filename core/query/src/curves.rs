//! Metric curves for plots: from the long metrics frame (run, trial, key,
//! step, epoch, value, timestamp) to one line per run, or per trial with
//! the mean and standard deviation across its repeats at each x.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::QueryError;

/// One line per run or per trial (mean ± std across its runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveBy {
    Trial,
    Run,
}

/// What the x axis counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveX {
    Step,
    Epoch,
    /// Seconds since the run's first point of the metric (tenths for
    /// trial means, so that repeats line up).
    Time,
}

impl CurveX {
    pub fn label(&self) -> &'static str {
        match self {
            CurveX::Step => "step",
            CurveX::Epoch => "epoch",
            CurveX::Time => "seconds",
        }
    }
}

/// One point of a curve: `std` when it averages several runs.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub x: f64,
    pub mean: f64,
    pub std: Option<f64>,
    pub n: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<CurvePoint>,
}

/// The curves of `metric` in a metrics frame (rows of other keys are
/// ignored); NaN and missing values are left out. A run's last value at an
/// x counts (batch-level points within an epoch collapse to the epoch's
/// last).
pub fn curves(points: &DataFrame, metric: &str, by: CurveBy, x: CurveX) -> Result<Vec<Curve>, QueryError> {
    let run = points.column("run")?.str()?;
    let trial = points.column("trial")?.str()?;
    let key = points.column("key")?.str()?;
    let step = points.column("step")?.i64()?;
    let epoch = points.column("epoch")?.i64()?;
    let value = points.column("value")?.f64()?;
    let ts = points.column("timestamp")?.cast(&DataType::Int64)?;
    let ts = ts.i64()?;

    // Each run's first timestamp of the metric (for x = time).
    let mut first_ts: BTreeMap<&str, i64> = BTreeMap::new();
    // (line, run) → x (in fixed-point thousandths) → last value.
    let mut per_run: Vec<(String, String, BTreeMap<i64, f64>)> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for i in 0..points.height() {
        if key.get(i) != Some(metric) {
            continue;
        }
        let (Some(r), Some(t)) = (run.get(i), trial.get(i)) else { continue };
        let Some(v) = value.get(i).filter(|v| v.is_finite()) else { continue };
        let xv: Option<i64> = match x {
            CurveX::Step => step.get(i).map(|s| s * 1000),
            CurveX::Epoch => epoch.get(i).map(|e| e * 1000),
            CurveX::Time => ts.get(i).map(|t| {
                let first = *first_ts.entry(r).or_insert(t);
                let ms = t - first;
                // Tenths of a second when averaging repeats, else milliseconds.
                if by == CurveBy::Trial { (ms / 100) * 100 } else { ms }
            }),
        };
        let Some(xv) = xv else { continue };
        let line = match by {
            CurveBy::Trial => t.to_string(),
            CurveBy::Run => r.to_string(),
        };
        let slot = *index.entry((line.clone(), r.to_string())).or_insert_with(|| {
            per_run.push((line, r.to_string(), BTreeMap::new()));
            per_run.len() - 1
        });
        per_run[slot].2.insert(xv, v);
    }

    // Lines in first-seen order; points averaged across the line's runs.
    let mut lines: Vec<(String, BTreeMap<i64, Vec<f64>>)> = Vec::new();
    for (line, _, values) in per_run {
        let at = match lines.iter().position(|(name, _)| *name == line) {
            Some(at) => at,
            None => {
                lines.push((line, BTreeMap::new()));
                lines.len() - 1
            }
        };
        for (xv, v) in values {
            lines[at].1.entry(xv).or_default().push(v);
        }
    }
    let scale = 1000.0;
    Ok(lines
        .into_iter()
        .map(|(name, xs)| Curve {
            name,
            points: xs
                .into_iter()
                .map(|(xv, vs)| {
                    let n = vs.len();
                    let mean = vs.iter().sum::<f64>() / n as f64;
                    let std =
                        (n > 1).then(|| (vs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt());
                    CurvePoint { x: xv as f64 / scale, mean, std, n }
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        let ts = Series::new("timestamp".into(), [0i64, 1000, 0, 1000, 500])
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap();
        DataFrame::new(
            5,
            vec![
                Column::new("run".into(), ["r1", "r1", "r2", "r2", "r1"]),
                Column::new("trial".into(), ["t", "t", "t", "t", "t"]),
                Column::new("key".into(), ["loss", "loss", "loss", "loss", "acc"]),
                Column::new("step".into(), [1i64, 2, 1, 2, 1]),
                Column::new("epoch".into(), [Some(1i64), Some(2), Some(1), None, Some(1)]),
                Column::new("value".into(), [1.0, 0.5, 3.0, f64::NAN, 0.9]),
                ts.into(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn trial_curves_average_repeats() {
        let c = curves(&frame(), "loss", CurveBy::Trial, CurveX::Step).unwrap();
        assert_eq!(c.len(), 1);
        let p = &c[0].points;
        assert_eq!((p[0].x, p[0].mean, p[0].n), (1.0, 2.0, 2));
        assert!((p[0].std.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        // r2's step 2 is NaN: only r1 counts there.
        assert_eq!((p[1].mean, p[1].std, p[1].n), (0.5, None, 1));
    }

    #[test]
    fn run_curves_by_epoch_and_time() {
        let c = curves(&frame(), "loss", CurveBy::Run, CurveX::Epoch).unwrap();
        assert_eq!(c.iter().map(|c| (c.name.as_str(), c.points.len())).collect::<Vec<_>>(), [("r1", 2), ("r2", 1)]);
        let t = curves(&frame(), "loss", CurveBy::Run, CurveX::Time).unwrap();
        assert_eq!(t[0].points.iter().map(|p| p.x).collect::<Vec<_>>(), [0.0, 1.0]);
    }
}
