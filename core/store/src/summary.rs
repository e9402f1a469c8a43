//! Per-trial summaries of runs: counts by status and mean ± standard
//! deviation of the final value of each metric.

use expman_os::format::format_number;

use crate::{RunStatus, TrialSummaryInput};

/// One trial's line in a summary table.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialSummary {
    pub trial: String,
    pub runs: usize,
    pub statuses: Vec<(RunStatus, usize)>,
    /// metric key → (mean, sample std, n).
    pub metrics: Vec<(String, MeanStd)>,
}

/// Mean and sample standard deviation (n − 1) of finite values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl MeanStd {
    pub fn of(values: &[f64]) -> Option<MeanStd> {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len();
        if n == 0 {
            return None;
        }
        let mean = finite.iter().sum::<f64>() / n as f64;
        let std =
            if n > 1 { (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        Some(MeanStd { mean, std, n })
    }

    /// `0.212 ± 0.004`: the spread to two significant digits, the mean
    /// to the same decimal place.
    pub fn display(&self) -> String {
        if self.n == 1 || self.std == 0.0 || !self.std.is_finite() {
            return format_number(self.mean);
        }
        let magnitude = self.std.abs().log10().floor() as i32;
        if !(-6..6).contains(&magnitude) {
            return format!("{} ± {}", format_number(self.mean), format_number(self.std));
        }
        let decimals = (1 - magnitude).max(0) as usize;
        format!("{:.decimals$} ± {:.decimals$}", self.mean, self.std)
    }
}

/// Summaries from the store's per-trial inputs.
pub fn summarize(inputs: &[TrialSummaryInput]) -> Vec<TrialSummary> {
    inputs
        .iter()
        .map(|t| {
            let mut statuses: Vec<(RunStatus, usize)> = Vec::new();
            for s in &t.statuses {
                match statuses.iter_mut().find(|(st, _)| st == s) {
                    Some(slot) => slot.1 += 1,
                    None => statuses.push((*s, 1)),
                }
            }
            statuses.sort();
            TrialSummary {
                trial: t.trial.clone(),
                runs: t.statuses.len(),
                statuses,
                metrics: t.finals.iter().filter_map(|(k, v)| MeanStd::of(v).map(|m| (k.clone(), m))).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let m = MeanStd::of(&[1.0, 2.0, 3.0, f64::NAN]).unwrap();
        assert_eq!(m.n, 3);
        assert!((m.mean - 2.0).abs() < 1e-12);
        assert!((m.std - 1.0).abs() < 1e-12);
        assert_eq!(m.display(), "2.0 ± 1.0");
        let m = MeanStd { mean: 0.86583, std: 0.001443, n: 3 };
        assert_eq!(m.display(), "0.8658 ± 0.0014");
        let m = MeanStd { mean: 123.4, std: 15.0, n: 3 };
        assert_eq!(m.display(), "123 ± 15");
        assert_eq!(format_number(0.212345), "0.2123");
        assert_eq!(format_number(1234.5), "1234");
        assert_eq!(format_number(0.00001234), "1.234e-5");
    }
}
