//! Parzen estimators over some dimensions of a space: a weighted mixture
//! of kernels, one per observation plus a prior kernel spanning the whole
//! range, as TPE needs them (Bergstra et al. 2011, with Optuna 5's choices
//! of bandwidth: each kernel's larger distance to a neighbour in each
//! dimension, clipped): truncated normals in each continuous coordinate,
//! smoothed histograms over choices. Joint estimators (several dimensions)
//! multiply the dimensions' components within each kernel.

use crate::math::{logsumexp, truncnorm_log_normalizer, truncnorm_sample};
use crate::rng::Rng;
use crate::space::{Dist, Space};

/// How to build an estimator.
#[derive(Clone, Copy, Debug)]
pub struct ParzenOptions {
    /// Weight of the prior kernel, relative to the observations' weights.
    pub prior_weight: f64,
}

/// One dimension of every kernel, column-wise (the density is evaluated
/// kernel by kernel in tight loops over these).
#[derive(Clone, Debug)]
enum Column {
    Normal {
        lo: f64,
        hi: f64,
        mu: Vec<f64>,
        sigma: Vec<f64>,
        inv_sigma: Vec<f64>,
    },
    /// Each kernel's probabilities of each choice, and their logs.
    Categorical {
        probs: Vec<Vec<f64>>,
        log_probs: Vec<Vec<f64>>,
    },
}

/// A mixture over the dimensions `dims` of a space.
#[derive(Clone, Debug)]
pub struct Parzen {
    dims: Vec<usize>,
    /// Each kernel's normalized weight.
    weights: Vec<f64>,
    /// ln of each kernel's weight less the ln of its normal components'
    /// constants: the density's part that does not depend on x.
    constants: Vec<f64>,
    /// columns[j]: every kernel's component in dims[j].
    columns: Vec<Column>,
}

impl Parzen {
    /// The estimator of `points` (coordinates of the space, one row per
    /// observation, choices as indices) with `weights`, over `dims`. The
    /// last kernel is the prior (the range's middle, as wide as the range;
    /// uniform over choices).
    pub fn new(space: &Space, dims: &[usize], points: &[Vec<f64>], weights: &[f64], options: ParzenOptions) -> Parzen {
        let n = points.len();
        let mut all: Vec<f64> = weights.to_vec();
        all.push(options.prior_weight);
        let total: f64 = all.iter().sum();
        let weights: Vec<f64> = all.iter().map(|w| w / total).collect();
        let mut constants: Vec<f64> = weights.iter().map(|w| w.ln()).collect();
        let mut columns = Vec::with_capacity(dims.len());
        for &d in dims {
            let column: Vec<f64> = points.iter().map(|p| p[d]).collect();
            match space.dims[d].dist.internal_bounds() {
                Some((lo, hi)) => {
                    let mut sigma = bandwidths(&column, lo, hi);
                    let mut mu = column;
                    mu.push(0.5 * (lo + hi));
                    sigma.push(hi - lo);
                    for (k, c) in constants.iter_mut().enumerate() {
                        *c -= truncnorm_log_normalizer(mu[k], sigma[k], lo, hi);
                    }
                    let inv_sigma = sigma.iter().map(|s| 1.0 / s).collect();
                    columns.push(Column::Normal { lo, hi, mu, sigma, inv_sigma });
                }
                None => {
                    let Dist::Choice { n: choices } = space.dims[d].dist else {
                        unreachable!("only choices lack bounds")
                    };
                    let base = options.prior_weight / (n as f64 + 1.0);
                    let mut probs: Vec<Vec<f64>> = column
                        .iter()
                        .map(|x| {
                            let mut p = vec![base; choices];
                            p[(*x as usize).min(choices - 1)] += 1.0;
                            let total: f64 = p.iter().sum();
                            p.iter().map(|v| v / total).collect()
                        })
                        .collect();
                    probs.push(vec![1.0 / choices as f64; choices]);
                    let log_probs = probs.iter().map(|p| p.iter().map(|v| v.ln()).collect()).collect();
                    columns.push(Column::Categorical { probs, log_probs });
                }
            }
        }
        Parzen { dims: dims.to_vec(), weights, constants, columns }
    }

    /// A draw: coordinates for this estimator's dimensions, written into
    /// `out` (a full row of the space).
    pub fn sample(&self, rng: &mut Rng, out: &mut [f64]) {
        let k = rng.weighted(&self.weights);
        for (column, &d) in self.columns.iter().zip(&self.dims) {
            out[d] = match column {
                Column::Normal { lo, hi, mu, sigma, .. } => truncnorm_sample(rng, mu[k], sigma[k], *lo, *hi),
                Column::Categorical { probs, .. } => rng.weighted(&probs[k]) as f64,
            };
        }
    }

    /// ln of the density at a row of the space (this estimator's
    /// dimensions of it).
    pub fn log_pdf(&self, row: &[f64]) -> f64 {
        let mut terms = self.constants.clone();
        for (column, &d) in self.columns.iter().zip(&self.dims) {
            let x = row[d];
            match column {
                Column::Normal { mu, inv_sigma, .. } => {
                    for ((t, m), inv) in terms.iter_mut().zip(mu).zip(inv_sigma) {
                        let z = (x - m) * inv;
                        *t -= 0.5 * z * z;
                    }
                }
                Column::Categorical { log_probs, .. } => {
                    let c = x as usize;
                    for (t, lp) in terms.iter_mut().zip(log_probs) {
                        *t += lp[c.min(lp.len() - 1)];
                    }
                }
            }
        }
        logsumexp(&terms)
    }
}

/// Each kernel's bandwidth in one continuous coordinate of [lo, hi] (as
/// Optuna 5): its larger distance to a neighbour (the range's ends count as
/// neighbours, except that with two or more kernels the outermost take
/// their one inner neighbour's distance), clipped to
/// [range / min(100, n + 2), range].
fn bandwidths(mus: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let n = mus.len();
    let range = hi - lo;
    let min_sigma = range / (100.0f64).min(n as f64 + 2.0);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| mus[*a].total_cmp(&mus[*b]));
    let sorted: Vec<f64> = order.iter().map(|i| mus[*i]).collect();
    let mut out = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        let left = if rank == 0 { lo } else { sorted[rank - 1] };
        let right = if rank + 1 == n { hi } else { sorted[rank + 1] };
        let mut sigma = (sorted[rank] - left).max(right - sorted[rank]);
        if n >= 2 && rank == 0 {
            sigma = sorted[1] - sorted[0];
        } else if n >= 2 && rank + 1 == n {
            sigma = sorted[n - 1] - sorted[n - 2];
        }
        out[i] = sigma.clamp(min_sigma, range);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Dim;

    fn space() -> Space {
        Space {
            dims: vec![Dim::new("x", Dist::Uniform { low: 0.0, high: 10.0 }), Dim::new("c", Dist::Choice { n: 3 })],
        }
    }

    #[test]
    fn the_density_is_highest_near_the_observations_and_integrates_to_one() {
        let points = vec![vec![2.0, 0.0], vec![2.5, 0.0], vec![3.0, 1.0]];
        let options = ParzenOptions { prior_weight: 1.0 };
        let x = Parzen::new(&space(), &[0], &points, &[1.0; 3], options);
        assert!(x.log_pdf(&[2.5, 0.0]) > x.log_pdf(&[8.0, 0.0]));
        let n = 10_000;
        let total: f64 = (0..n).map(|i| x.log_pdf(&[(i as f64 + 0.5) * 10.0 / n as f64, 0.0]).exp() * 0.001).sum();
        assert!((total - 1.0).abs() < 1e-3, "{total}");
        // Choices: the observed one most likely, each possible, sums to 1.
        let c = Parzen::new(&space(), &[1], &points, &[1.0; 3], options);
        let probs: Vec<f64> = (0..3).map(|k| c.log_pdf(&[0.0, k as f64]).exp()).collect();
        assert!(probs[0] > probs[1] && probs[1] > probs[2] && probs[2] > 0.0, "{probs:?}");
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn samples_follow_the_density() {
        let points = vec![vec![1.0, 2.0]; 20];
        let options = ParzenOptions { prior_weight: 1.0 };
        let p = Parzen::new(&space(), &[0, 1], &points, &[1.0; 20], options);
        let mut rng = Rng::new(5);
        let mut row = vec![0.0; 2];
        let mut near = 0;
        for _ in 0..1000 {
            p.sample(&mut rng, &mut row);
            assert!((0.0..=10.0).contains(&row[0]) && [0.0, 1.0, 2.0].contains(&row[1]));
            near += usize::from((row[0] - 1.0).abs() < 2.0 && row[1] == 2.0);
        }
        assert!(near > 600, "{near} of 1000 near the observations");
    }

    #[test]
    fn bandwidths_follow_the_neighbour_rule_and_the_clip() {
        let sigmas = bandwidths(&[5.0, 1.0, 2.0], 0.0, 10.0);
        // Sorted 1, 2, 5: the ends take their one neighbour's distance (1
        // for the first, clipped up to 10 / 5), the middle its larger one.
        assert_eq!(sigmas, vec![3.0, 2.0, 3.0]);
        // Clipped below at range / (n + 2).
        assert_eq!(bandwidths(&[1.0, 1.0], 0.0, 8.0), vec![2.0, 2.0]);
        assert_eq!(bandwidths(&[4.0], 0.0, 10.0), vec![6.0]);
    }
}
