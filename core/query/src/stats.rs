//! Statistics across repeats: per-trial aggregates (n, mean, standard
//! deviation, min, max, 95% confidence interval) of a metric taken at its
//! final value, its best value, or a given step; Welch's t-test between two
//! trials, said in plain words; z-scores and percentile ranks across runs;
//! config diffs; the best run per trial and overall.
//!
//! The Student t distribution is computed here (regularized incomplete
//! beta by continued fraction); tests check it against scipy's values.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::QueryError;
use expman_os::format::format_number;

/// Which value of a metric stands for a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// The last logged value.
    Final,
    /// The best value (lowest for `min`, highest for `max`).
    Best,
    /// The value at this step.
    Step(i64),
}

impl At {
    pub fn parse(text: &str) -> Option<At> {
        match text {
            "final" | "last" => Some(At::Final),
            "best" => Some(At::Best),
            other => other.strip_prefix("step:").or(Some(other)).and_then(|s| s.parse().ok()).map(At::Step),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            At::Final => "final".into(),
            At::Best => "best".into(),
            At::Step(s) => format!("at step {s}"),
        }
    }
}

/// The values of one trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub trial: String,
    /// (run id, value), in run order.
    pub values: Vec<(String, f64)>,
}

/// Aggregates of a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub trial: String,
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    /// 95% confidence interval of the mean (Student t); NaN for n < 2.
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Summary {
    pub fn of(trial: &str, values: &[f64]) -> Summary {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len();
        let mean = if n > 0 { finite.iter().sum::<f64>() / n as f64 } else { f64::NAN };
        let std = if n > 1 {
            (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let (ci_low, ci_high) = if n > 1 {
            let h = t_quantile(0.975, (n - 1) as f64) * std / (n as f64).sqrt();
            (mean - h, mean + h)
        } else {
            (f64::NAN, f64::NAN)
        };
        Summary {
            trial: trial.to_string(),
            n,
            mean,
            std,
            min: finite.iter().copied().fold(f64::NAN, f64::min),
            max: finite.iter().copied().fold(f64::NAN, f64::max),
            ci_low,
            ci_high,
        }
    }

    /// `0.212 ± 0.004` (mean ± standard deviation).
    pub fn mean_std(&self) -> String {
        expman_store::summary::MeanStd {
            mean: self.mean,
            std: if self.std.is_nan() { 0.0 } else { self.std },
            n: self.n,
        }
        .display()
    }
}

/// The values of `metric` per trial, from a runs frame (for `Final` and
/// `Best`) or a metrics frame (for `Step`). Trials keep their first
/// appearance order; runs without the metric are left out.
pub fn samples(
    runs: &DataFrame,
    metric: &str,
    at: At,
    minimize: bool,
    points: Option<&DataFrame>,
) -> Result<Vec<Sample>, QueryError> {
    let column = match at {
        At::Final | At::Step(_) => format!("metrics.{metric}"),
        At::Best => format!("metrics.{metric}.{}", if minimize { "min" } else { "max" }),
    };
    if runs.column(&column).is_err() {
        let known: Vec<String> = runs
            .get_column_names()
            .iter()
            .filter_map(|c| {
                c.strip_prefix("metrics.").filter(|k| !k.ends_with(".min") && !k.ends_with(".max")).map(str::to_string)
            })
            .collect();
        let hint = match expman_schema::suggest::closest(metric, known.iter().map(String::as_str)) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!("; metrics: {}", known.join(", ")),
        };
        return Err(QueryError::Invalid(format!("no metric `{metric}` in these runs{hint}")));
    }
    let ids = runs.column("id")?.str()?.clone();
    let trials = runs.column("trial")?.str()?.clone();
    let mut out: Vec<Sample> = Vec::new();
    let step_values: Option<BTreeMap<String, f64>> = match (at, points) {
        (At::Step(step), Some(points)) => {
            let filtered =
                points.clone().lazy().filter(col("key").eq(lit(metric)).and(col("step").eq(lit(step)))).collect()?;
            let run = filtered.column("run")?.str()?.clone();
            let value = filtered.column("value")?.f64()?.clone();
            Some(run.iter().zip(value.iter()).filter_map(|(r, v)| Some((r?.to_string(), v?))).collect())
        }
        (At::Step(_), None) => return Err(QueryError::Invalid("a value at a step needs the metric points".into())),
        _ => None,
    };
    let values = runs.column(&column)?.cast(&DataType::Float64)?;
    let values = values.f64()?;
    for i in 0..runs.height() {
        let (Some(id), Some(trial)) = (ids.get(i), trials.get(i)) else { continue };
        let value = match &step_values {
            Some(map) => map.get(id).copied(),
            None => values.get(i),
        };
        let Some(value) = value.filter(|v| !v.is_nan()) else { continue };
        match out.iter_mut().find(|s| s.trial == trial) {
            Some(s) => s.values.push((id.to_string(), value)),
            None => out.push(Sample { trial: trial.to_string(), values: vec![(id.to_string(), value)] }),
        }
    }
    Ok(out)
}

/// Each repeat of each trial by its latest run only (the one created
/// last): after `--resume` or a change of config, a trial's statistics are
/// those of its current runs, not a mix of old and new. Also how many
/// runs were left out.
pub fn latest_per_repeat(runs: &DataFrame) -> Result<(DataFrame, usize), QueryError> {
    let trials = runs.column("trial")?.str()?.clone();
    let repeats = runs.column("repeat")?.cast(&DataType::Int64)?;
    let repeats = repeats.i64()?;
    let created = runs.column("created_at")?.cast(&DataType::Int64)?;
    let created = created.i64()?;
    // (trial, repeat) -> (created, row): the latest row wins; ties go to the later row.
    let mut latest: HashMap<(String, Option<i64>), (i64, usize)> = HashMap::new();
    for row in 0..runs.height() {
        let key = (trials.get(row).unwrap_or_default().to_string(), repeats.get(row));
        let when = created.get(row).unwrap_or(i64::MIN);
        let slot = latest.entry(key).or_insert((when, row));
        if when >= slot.0 {
            *slot = (when, row);
        }
    }
    let keep: Vec<bool> = {
        let mut keep = vec![false; runs.height()];
        for (_, row) in latest.values() {
            keep[*row] = true;
        }
        keep
    };
    let dropped = keep.iter().filter(|k| !**k).count();
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    Ok((runs.filter(&mask)?, dropped))
}

/// Per-trial summaries as a frame.
pub fn summary_frame(samples: &[Sample]) -> Result<DataFrame, QueryError> {
    let summaries: Vec<Summary> =
        samples.iter().map(|s| Summary::of(&s.trial, &s.values.iter().map(|v| v.1).collect::<Vec<_>>())).collect();
    let f =
        |get: fn(&Summary) -> f64| summaries.iter().map(|s| Some(get(s)).filter(|v| !v.is_nan())).collect::<Vec<_>>();
    Ok(DataFrame::new(
        summaries.len(),
        vec![
            Column::new("trial".into(), summaries.iter().map(|s| s.trial.clone()).collect::<Vec<_>>()),
            Column::new("n".into(), summaries.iter().map(|s| s.n as i64).collect::<Vec<_>>()),
            Column::new("mean".into(), f(|s| s.mean)),
            Column::new("std".into(), f(|s| s.std)),
            Column::new("min".into(), f(|s| s.min)),
            Column::new("max".into(), f(|s| s.max)),
            Column::new("ci95_low".into(), f(|s| s.ci_low)),
            Column::new("ci95_high".into(), f(|s| s.ci_high)),
        ],
    )?)
}

/// Two trials compared on a metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub metric: String,
    pub at: At,
    pub minimize: bool,
    pub a: Summary,
    pub b: Summary,
    /// mean(a) − mean(b).
    pub diff: f64,
    pub diff_ci: (f64, f64),
    pub t: f64,
    pub df: f64,
    pub p: f64,
}

impl Comparison {
    /// Welch's t-test of `a` against `b`.
    pub fn welch(metric: &str, at: At, minimize: bool, a: &Sample, b: &Sample) -> Result<Comparison, QueryError> {
        let va: Vec<f64> = a.values.iter().map(|v| v.1).collect();
        let vb: Vec<f64> = b.values.iter().map(|v| v.1).collect();
        let sa = Summary::of(&a.trial, &va);
        let sb = Summary::of(&b.trial, &vb);
        if sa.n < 2 || sb.n < 2 {
            return Err(QueryError::Invalid(format!(
                "comparing needs at least 2 runs with `{metric}` per trial ({} has {}, {} has {}); add `repeat:` to the trials",
                sa.trial, sa.n, sb.trial, sb.n
            )));
        }
        let (va_n, vb_n) = (sa.std.powi(2) / sa.n as f64, sb.std.powi(2) / sb.n as f64);
        let se = (va_n + vb_n).sqrt();
        let diff = sa.mean - sb.mean;
        let (t, df, p) = if se == 0.0 {
            let p = if diff == 0.0 { 1.0 } else { 0.0 };
            (if diff == 0.0 { 0.0 } else { f64::INFINITY.copysign(diff) }, (sa.n + sb.n - 2) as f64, p)
        } else {
            let t = diff / se;
            let df = (va_n + vb_n).powi(2) / (va_n.powi(2) / (sa.n - 1) as f64 + vb_n.powi(2) / (sb.n - 1) as f64);
            (t, df, 2.0 * (1.0 - t_cdf(t.abs(), df)))
        };
        let h = t_quantile(0.975, df) * se;
        Ok(Comparison {
            metric: metric.to_string(),
            at,
            minimize,
            a: sa,
            b: sb,
            diff,
            diff_ci: (diff - h, diff + h),
            t,
            df,
            p,
        })
    }

    /// The verdict in plain words:
    /// `small_model is better than large_model on val_loss: 0.212 ± 0.004 vs 0.230 ± 0.006, p = 0.003, n = 3 vs 3`.
    /// The comparison as one row: each side's mean, std and count, the
    /// difference with its 95% interval, Welch's t, df, p, the verdict.
    pub fn frame(&self) -> Result<DataFrame, QueryError> {
        let text = |name: &str, v: &str| Column::new(name.into(), [v.to_string()]);
        let num = |name: &str, v: f64| Column::new(name.into(), [v]);
        let count = |name: &str, v: usize| Column::new(name.into(), [v as u32]);
        Ok(DataFrame::new(
            1,
            vec![
                text("metric", &self.metric),
                text("at", &self.at.describe()),
                text("trial_a", &self.a.trial),
                num("mean_a", self.a.mean),
                num("std_a", self.a.std),
                count("n_a", self.a.n),
                text("trial_b", &self.b.trial),
                num("mean_b", self.b.mean),
                num("std_b", self.b.std),
                count("n_b", self.b.n),
                num("difference", self.diff),
                num("ci_low", self.diff_ci.0),
                num("ci_high", self.diff_ci.1),
                num("t", self.t),
                num("df", self.df),
                num("p_value", self.p),
                text("verdict", &self.verdict()),
            ],
        )?)
    }

    pub fn verdict(&self) -> String {
        let a_better = if self.minimize { self.a.mean < self.b.mean } else { self.a.mean > self.b.mean };
        let (winner, loser) = if a_better { (&self.a, &self.b) } else { (&self.b, &self.a) };
        let figures = format!(
            "{} vs {}, {}, n = {} vs {}",
            winner.mean_std(),
            loser.mean_std(),
            format_p(self.p),
            winner.n,
            loser.n
        );
        let at = match self.at {
            At::Final => String::new(),
            other => format!(" ({})", other.describe()),
        };
        if self.p < 0.05 {
            format!("{} is better than {} on {}{at}: {figures}", winner.trial, loser.trial, self.metric)
        } else {
            format!(
                "no significant difference between {} and {} on {}{at}: {figures} ({} is ahead, but not at the 5% level)",
                winner.trial, loser.trial, self.metric, winner.trial
            )
        }
    }

    /// The difference of means with its 95% confidence interval.
    pub fn difference(&self) -> String {
        format!(
            "difference of means ({} − {}): {} (95% CI {} to {}), Welch t = {:.3}, df = {:.1}",
            self.a.trial,
            self.b.trial,
            format_number(self.diff),
            format_number(self.diff_ci.0),
            format_number(self.diff_ci.1),
            self.t,
            self.df
        )
    }
}

/// `p = 0.003`, or `p < 0.001` for smaller values.
fn format_p(p: f64) -> String {
    if p < 0.001 { "p < 0.001".into() } else { format!("p = {p:.3}") }
}

/// Adds `<column>.z` (z-score) and `<column>.pct` (percentile rank: the
/// share of runs with a value at most this one, in percent) for a column.
pub fn normalize(frame: DataFrame, column: &str) -> Result<DataFrame, QueryError> {
    let casted = frame.column(column)?.cast(&DataType::Float64)?;
    let values: Vec<Option<f64>> = casted.f64()?.iter().map(|v| v.filter(|x| !x.is_nan())).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let n = present.len();
    let mean = present.iter().sum::<f64>() / n.max(1) as f64;
    let std = if n > 1 {
        (present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    let z: Vec<Option<f64>> = values.iter().map(|v| v.map(|x| (x - mean) / std).filter(|z| z.is_finite())).collect();
    let pct: Vec<Option<f64>> = values
        .iter()
        .map(|v| v.map(|x| present.iter().filter(|&&y| y <= x).count() as f64 * 100.0 / n as f64))
        .collect();
    let mut frame = frame;
    frame.with_column(Column::new(format!("{column}.z").into(), z))?;
    frame.with_column(Column::new(format!("{column}.pct").into(), pct))?;
    Ok(frame)
}

/// One trial's best run by a metric: (trial, run uid, value).
pub type BestRun = (String, String, f64);

/// The best run of each trial, and the best overall, by a metric and mode.
pub fn best_runs(
    runs: &DataFrame,
    metric: &str,
    at: At,
    minimize: bool,
) -> Result<(Vec<BestRun>, Option<BestRun>), QueryError> {
    let samples = samples(runs, metric, at, minimize, None)?;
    let better = |a: f64, b: f64| if minimize { a < b } else { a > b };
    let mut per_trial = Vec::new();
    let mut overall: Option<BestRun> = None;
    for s in &samples {
        let Some((id, v)) = s.values.iter().cloned().reduce(|x, y| if better(y.1, x.1) { y } else { x }) else {
            continue;
        };
        if overall.as_ref().is_none_or(|o| better(v, o.2)) {
            overall = Some((s.trial.clone(), id.clone(), v));
        }
        per_trial.push((s.trial.clone(), id, v));
    }
    Ok((per_trial, overall))
}

/// Keys whose values differ between two configs (JSON), side by side.
pub fn config_diff(a: &serde_json::Value, b: &serde_json::Value) -> Vec<(String, Option<String>, Option<String>)> {
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    flatten(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten("", a, &mut fa);
    flatten("", b, &mut fb);
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| (k.clone(), fa.get(k).cloned(), fb.get(k).cloned()))
        .collect()
}

/// ln Γ(x), Lanczos approximation (g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized incomplete beta I_x(a, b), by Lentz's continued fraction.
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(1.0 - x, b, a);
    }
    let tiny = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..300 {
        let m = m as f64;
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + num * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        f *= d * c;
        let num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let delta = d * c;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f / a
}

/// The Student t cumulative distribution function.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(x, df / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The Student t quantile (by bisection on the CDF).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (-1e4, 1e4);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Reference values from scipy.stats (1.x): t.ppf, t.cdf, ttest_ind(equal_var=False).
    #[test]
    fn student_t_matches_scipy() {
        assert!(close(t_quantile(0.975, 2.0), 4.302652729749462, 1e-9));
        assert!(close(t_quantile(0.975, 10.0), 2.228138851986274, 1e-9));
        assert!(close(t_quantile(0.975, 1.0), 12.706204736174694, 1e-7));
        assert!(close(t_quantile(0.975, 3.7), 2.8675207071911895, 1e-9));
        assert!(close(t_cdf(2.5, 4.3), 0.9687759626818944, 1e-12));
    }

    #[test]
    fn welch_matches_scipy_and_says_it_plainly() {
        let a = Sample {
            trial: "small_model".into(),
            values: vec![("r1".into(), 0.212), ("r2".into(), 0.208), ("r3".into(), 0.216)],
        };
        let b = Sample {
            trial: "large_model".into(),
            values: vec![("r4".into(), 0.230), ("r5".into(), 0.236), ("r6".into(), 0.224)],
        };
        let c = Comparison::welch("val_loss", At::Final, true, &a, &b).unwrap();
        assert!(close(c.t, -4.323460152737352, 1e-9), "{}", c.t);
        assert!(close(c.df, 3.484536082474231, 1e-9), "{}", c.df);
        assert!(close(c.p, 0.016706505976189185, 1e-9), "{}", c.p);
        assert_eq!(
            c.verdict(),
            "small_model is better than large_model on val_loss: 0.2120 ± 0.0040 vs 0.2300 ± 0.0060, p = 0.017, n = 3 vs 3"
        );
        let c = Comparison::welch("val_loss", At::Final, false, &a, &b).unwrap();
        assert!(c.verdict().starts_with("large_model is better than small_model"));
    }

    #[test]
    fn confidence_interval_matches_scipy() {
        let s = Summary::of("t", &[0.31, 0.29, 0.35, 0.33, 0.30]);
        assert!(close(s.ci_low, 0.286096771061096, 1e-9) && close(s.ci_high, 0.345903228938904, 1e-9), "{s:?}");
        assert!(close(s.std, 0.024083189157584593, 1e-12));
        assert_eq!((s.min, s.max, s.n), (0.29, 0.35, 5));
    }

    #[test]
    fn percentile_ranks_and_zscores() {
        let frame = df!("m" => [3.0, 1.0, 2.0, 2.0]).unwrap();
        let out = normalize(frame, "m").unwrap();
        let pct: Vec<f64> = out.column("m.pct").unwrap().f64().unwrap().into_no_null_iter().collect();
        assert_eq!(pct, [100.0, 25.0, 75.0, 75.0]);
        let z: Vec<f64> = out.column("m.z").unwrap().f64().unwrap().into_no_null_iter().collect();
        assert!(close(z[0], 1.224744871391589, 1e-12) && close(z[1], -1.224744871391589, 1e-12));
    }

    #[test]
    fn config_diffs_show_only_what_differs() {
        let a = serde_json::json!({"model": {"dim": 256, "type": "t"}, "lr": 0.1, "only_a": 1});
        let b = serde_json::json!({"model": {"dim": 512, "type": "t"}, "lr": 0.1});
        assert_eq!(
            config_diff(&a, &b),
            vec![
                ("model.dim".into(), Some("256".into()), Some("512".into())),
                ("only_a".into(), Some("1".into()), None)
            ]
        );
    }
}
