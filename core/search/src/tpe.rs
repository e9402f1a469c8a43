//! The Tree-structured Parzen Estimator (Bergstra et al., NeurIPS 2011),
//! with Optuna's practice: random suggestions for the first trials; the
//! observations split at the best γ(n) = min(⌈n/10⌉, 25); older trials
//! weighted down past 25; a prior kernel; candidates drawn from the good
//! trials' estimator l(x) and the one maximizing l(x)/g(x) kept; each
//! dimension on its own or all jointly (`multivariate`). Pruned trials
//! count by their last intermediate value, ranked after every complete
//! one; with the constant liar, trials still running count as the worst,
//! so suggestions made while they run move away from them.

use crate::history::{Mode, Observation, State};
use crate::parzen::{Parzen, ParzenOptions};
use crate::random::random;
use crate::rng::Rng;
use crate::space::{Space, Value};

/// TPE's settings (defaults as Optuna 5's: joint over all dimensions, the
/// constant liar on).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TpeOptions {
    /// Random suggestions until this many trials have a value.
    pub startup_trials: usize,
    /// Candidates drawn from l(x) per suggestion.
    pub candidates: usize,
    /// One joint estimator over all dimensions instead of one per
    /// dimension (captures interactions; Optuna's `multivariate=True`).
    pub multivariate: bool,
    /// Running trials count as the worst (parallel suggestions differ).
    pub constant_liar: bool,
    pub prior_weight: f64,
}

impl Default for TpeOptions {
    fn default() -> TpeOptions {
        TpeOptions { startup_trials: 10, candidates: 24, multivariate: true, constant_liar: true, prior_weight: 1.0 }
    }
}

/// How many of `n` observations are the good ones.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Optuna's weights for `n` observations in trial order: the 25 newest
/// 1, older ones ramping up from 1/n.
pub fn weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut out: Vec<f64> = (0..ramp)
        .map(|i| {
            if ramp == 1 {
                1.0 / n as f64
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    out.extend(std::iter::repeat_n(1.0, 25));
    out
}

/// A suggestion for the next trial.
pub fn suggest(space: &Space, options: &TpeOptions, mode: Mode, history: &[Observation], rng: &mut Rng) -> Vec<Value> {
    let with_value = history.iter().filter(|o| matches!(o.state, State::Complete(_)) || has_value(o)).count();
    if with_value < options.startup_trials.max(1) {
        return random(space, rng);
    }
    let (below, above) = split(mode, history, options.constant_liar);
    let rows = |group: &[&Observation]| -> Vec<Vec<f64>> {
        group.iter().map(|o| space.dims.iter().zip(&o.params).map(|(d, v)| d.dist.to_internal(*v)).collect()).collect()
    };
    let (below_rows, above_rows) = (rows(&below), rows(&above));
    let (below_w, above_w) = (weights(below.len()), weights(above.len()));
    let parzen = |dims: &[usize], rows: &[Vec<f64>], w: &[f64]| {
        let opts = ParzenOptions { prior_weight: options.prior_weight };
        Parzen::new(space, dims, rows, w, opts)
    };
    let groups: Vec<Vec<usize>> = if options.multivariate {
        vec![(0..space.dims.len()).collect()]
    } else {
        (0..space.dims.len()).map(|d| vec![d]).collect()
    };
    let mut best_row = vec![0.0; space.dims.len()];
    for dims in groups {
        let l = parzen(&dims, &below_rows, &below_w);
        let g = parzen(&dims, &above_rows, &above_w);
        let mut best = (f64::NEG_INFINITY, vec![0.0; space.dims.len()]);
        let mut row = vec![0.0; space.dims.len()];
        for _ in 0..options.candidates.max(1) {
            l.sample(rng, &mut row);
            let score = l.log_pdf(&row) - g.log_pdf(&row);
            if score > best.0 {
                best = (score, row.clone());
            }
        }
        for d in dims {
            best_row[d] = best.1[d];
        }
    }
    space.dims.iter().zip(best_row).map(|(d, x)| d.dist.from_internal(x)).collect()
}

fn has_value(o: &Observation) -> bool {
    o.state == State::Pruned && o.last().is_some()
}

/// The good and the bad observations, each in trial order.
fn split(mode: Mode, history: &[Observation], liar: bool) -> (Vec<&Observation>, Vec<&Observation>) {
    // Rank: complete by loss; then pruned, deeper first, by loss; then
    // (the liar) running ones.
    let key = |o: &Observation| -> Option<(u8, f64, f64)> {
        match o.state {
            State::Complete(v) => Some((0, 0.0, mode.loss(v))),
            State::Pruned => o.last().map(|(step, v)| (1, -(step as f64), mode.loss(v))),
            State::Running if liar => Some((2, 0.0, 0.0)),
            _ => None,
        }
    };
    let mut ranked: Vec<(&Observation, (u8, f64, f64))> =
        history.iter().filter_map(|o| key(o).map(|k| (o, k))).collect();
    ranked.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.total_cmp(&b.1.1)).then(a.1.2.total_cmp(&b.1.2)));
    let valued = ranked.iter().filter(|(_, k)| k.0 < 2).count();
    let n_below = gamma(ranked.len()).clamp(1, valued.max(1));
    let (below, above) = ranked.split_at(n_below.min(ranked.len()));
    let mut below: Vec<&Observation> = below.iter().map(|(o, _)| *o).collect();
    let mut above: Vec<&Observation> = above.iter().map(|(o, _)| *o).collect();
    below.sort_by_key(|o| o.number);
    above.sort_by_key(|o| o.number);
    (below, above)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Dim, Dist};

    fn done(number: u64, x: f64, value: f64) -> Observation {
        Observation { number, params: vec![Value::Float(x)], state: State::Complete(value), intermediate: vec![] }
    }

    #[test]
    fn gamma_and_weights_as_optuna() {
        assert_eq!((gamma(1), gamma(10), gamma(11), gamma(1000)), (1, 1, 2, 25));
        assert_eq!(weights(3), vec![1.0; 3]);
        let w = weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && w[4] == 1.0 && w[5..].iter().all(|x| *x == 1.0));
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn after_startup_it_suggests_near_the_good_trials() {
        let space = Space { dims: vec![Dim::new("x", Dist::Uniform { low: -10.0, high: 10.0 })] };
        // (x - 3)²: the good trials are near 3.
        let history: Vec<Observation> = (0..30)
            .map(|i| {
                let x = -10.0 + 20.0 * i as f64 / 29.0;
                done(i, x, (x - 3.0).powi(2))
            })
            .collect();
        let mut near = 0;
        for s in 0..50 {
            let mut rng = Rng::stream(1, s);
            let Value::Float(x) = suggest(&space, &TpeOptions::default(), Mode::Min, &history, &mut rng)[0] else {
                panic!()
            };
            near += usize::from((x - 3.0).abs() < 2.0);
        }
        assert!(near >= 40, "{near} of 50 suggestions within 2 of the optimum");
        // Maximizing the same values: the good trials are at the ends.
        let mut far = 0;
        for s in 0..50 {
            let mut rng = Rng::stream(1, s);
            let Value::Float(x) = suggest(&space, &TpeOptions::default(), Mode::Max, &history, &mut rng)[0] else {
                panic!()
            };
            far += usize::from((x - 3.0).abs() > 8.0);
        }
        assert!(far >= 35, "{far} of 50 suggestions far from 3");
    }

    #[test]
    fn startup_trials_are_random_and_the_same_for_a_seed() {
        let space = Space { dims: vec![Dim::new("x", Dist::Uniform { low: 0.0, high: 1.0 })] };
        let a = suggest(&space, &TpeOptions::default(), Mode::Min, &[], &mut Rng::stream(9, 0));
        let b = suggest(&space, &TpeOptions::default(), Mode::Min, &[], &mut Rng::stream(9, 0));
        assert_eq!(a, b);
    }

    #[test]
    fn the_constant_liar_moves_parallel_suggestions_apart() {
        let space = Space { dims: vec![Dim::new("x", Dist::Uniform { low: -10.0, high: 10.0 })] };
        let mut history: Vec<Observation> = (0..20)
            .map(|i| {
                let x = -10.0 + 20.0 * i as f64 / 19.0;
                done(i, x, (x - 3.0).powi(2))
            })
            .collect();
        // Ten running trials at 3 already.
        for i in 0..10 {
            history.push(Observation {
                number: 20 + i,
                params: vec![Value::Float(3.0)],
                state: State::Running,
                intermediate: vec![],
            });
        }
        let options = TpeOptions { multivariate: false, ..TpeOptions::default() };
        let spread = |liar: bool| -> f64 {
            let options = TpeOptions { constant_liar: liar, ..options };
            (0..40)
                .map(|s| match suggest(&space, &options, Mode::Min, &history, &mut Rng::stream(2, s))[0] {
                    Value::Float(x) => (x - 3.0).abs(),
                    v => panic!("{v:?}"),
                })
                .sum::<f64>()
                / 40.0
        };
        assert!(spread(true) > spread(false), "with the liar {} vs without {}", spread(true), spread(false));
    }

    #[test]
    fn pruned_trials_rank_after_complete_ones() {
        let pruned = Observation {
            number: 5,
            params: vec![Value::Float(0.0)],
            state: State::Pruned,
            intermediate: vec![(1, -100.0)],
        };
        let history = vec![done(0, 1.0, 5.0), done(1, 2.0, 1.0), pruned];
        let (below, above) = split(Mode::Min, &history, true);
        assert_eq!(below.iter().map(|o| o.number).collect::<Vec<_>>(), vec![1]);
        assert_eq!(above.iter().map(|o| o.number).collect::<Vec<_>>(), vec![0, 5]);
    }
}
