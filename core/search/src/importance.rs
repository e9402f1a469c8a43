//! How much of the objective's spread each setting explains, for
//! `expman search`: a simpler, documented stand-in for fANOVA.
//!
//! For each dimension, the complete trials are grouped by its value (a
//! choice's value; a number's rank, in ⌈√n⌉ groups of equal size, at most
//! 10) and a one-way analysis of variance is run on the ranks of their
//! objective values: the importance is ε² = (SS_between − (k−1)·MS_within)
//! / SS_total, the share of variance the grouping explains less what k
//! groups explain by chance (0 when negative). Ranks make it robust to a
//! few huge values (a diverged run); ε² rather than η² so that a setting
//! with no effect scores about 0. Shares are then scaled to sum to 1. Like
//! fANOVA's main effects, it sees each setting alone, not interactions.

use crate::history::{Mode, Observation, State};
use crate::space::{Dist, Space};

/// Each dimension's share of the explained variance (summing to 1, or all
/// 0 when nothing is explained or there are fewer than 4 complete trials).
pub fn importance(space: &Space, history: &[Observation], mode: Mode) -> Vec<f64> {
    let complete: Vec<(&Observation, f64)> = history
        .iter()
        .filter_map(|o| match o.state {
            State::Complete(v) if v.is_finite() => Some((o, mode.loss(v))),
            _ => None,
        })
        .collect();
    let n = complete.len();
    if n < 4 {
        return vec![0.0; space.dims.len()];
    }
    let loss_ranks = ranks(&complete.iter().map(|(_, l)| *l).collect::<Vec<_>>());
    let raw: Vec<f64> = space
        .dims
        .iter()
        .enumerate()
        .map(|(d, dim)| {
            let groups: Vec<usize> = match dim.dist {
                Dist::Choice { .. } => complete
                    .iter()
                    .map(|(o, _)| match o.params[d] {
                        crate::space::Value::Choice(i) => i,
                        _ => 0,
                    })
                    .collect(),
                _ => {
                    let xs: Vec<f64> = complete.iter().map(|(o, _)| dim.dist.to_internal(o.params[d])).collect();
                    let k = ((n as f64).sqrt().ceil() as usize).clamp(2, 10);
                    let order = ranks(&xs);
                    order.iter().map(|r| ((r * k as f64) / n as f64).floor().min(k as f64 - 1.0) as usize).collect()
                }
            };
            epsilon_squared(&loss_ranks, &groups)
        })
        .collect();
    let total: f64 = raw.iter().sum();
    if total <= 0.0 { vec![0.0; raw.len()] } else { raw.iter().map(|r| r / total).collect() }
}

/// 0-based ranks, ties sharing their mean rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0;
        for k in i..=j {
            out[order[k]] = mean;
        }
        i = j + 1;
    }
    out
}

fn epsilon_squared(y: &[f64], groups: &[usize]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut sums: std::collections::BTreeMap<usize, (f64, f64)> = Default::default();
    for (v, g) in y.iter().zip(groups) {
        let e = sums.entry(*g).or_default();
        e.0 += v;
        e.1 += 1.0;
    }
    let k = sums.len() as f64;
    if k < 2.0 || n <= k {
        return 0.0;
    }
    let between: f64 = sums.values().map(|(s, c)| c * (s / c - mean).powi(2)).sum();
    let within_mean_square = (total - between) / (n - k);
    ((between - (k - 1.0) * within_mean_square) / total).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::space::{Dim, Value};

    #[test]
    fn the_setting_that_matters_gets_most_of_the_importance() {
        let space = Space {
            dims: vec![
                Dim::new("lr", Dist::LogUniform { low: 1e-4, high: 1.0 }),
                Dim::new("noise", Dist::Uniform { low: 0.0, high: 1.0 }),
                Dim::new("batch", Dist::Choice { n: 3 }),
            ],
        };
        let mut rng = Rng::stream(1, 0);
        let history: Vec<Observation> = (0..60)
            .map(|number| {
                let params = crate::random::random(&space, &mut rng);
                let Value::Float(lr) = params[0] else { panic!() };
                let Value::Choice(batch) = params[2] else { panic!() };
                let loss = (lr.log10() + 2.0).powi(2) + 0.3 * batch as f64;
                Observation { number, params, state: State::Complete(loss), intermediate: vec![] }
            })
            .collect();
        let shares = importance(&space, &history, Mode::Min);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{shares:?}");
        assert!(shares[0] > 0.6 && shares[0] > shares[2] && shares[2] > shares[1], "{shares:?}");
        assert!(shares[1] < 0.1, "an unused setting explains little: {shares:?}");
        assert_eq!(importance(&space, &history[..3], Mode::Min), vec![0.0; 3]);
    }
}
