//! expman-search: adaptive search over a trial's settings, as pure
//! functions of a search's history, so that a search's state is its record
//! (every trial's number, settings, state and intermediate values) and
//! nothing else: resuming, sharing a search between runners and replaying
//! it need no other state.
//!
//! - [`space`]: dimensions (uniform, log-uniform, integers, choices) and
//!   the continuous coordinates samplers work in;
//! - [`random`] (and quasi-random), [`grid`], [`tpe`] (over [`parzen`]
//!   estimators): what to try next;
//! - [`prune`]: ASHA, Hyperband, median: whether to stop a trial early;
//! - [`importance`]: how much each setting explains of the objective;
//! - [`rng`]: the fixed generator behind every draw ([`math`]: the normal
//!   distribution's functions).
//!
//! Determinism: suggestion `n` of a search with seed `s` draws from its own
//! stream `(s, n)`, so it depends only on the seed, its number and the
//! trials recorded when it is made, not on timing or on other suggestions'
//! draws.

pub mod grid;
pub mod history;
pub mod importance;
pub mod math;
pub mod parzen;
pub mod prune;
pub mod random;
pub mod rng;
pub mod space;
pub mod tpe;

pub use history::{Mode, Observation, State};
pub use prune::{Pruned, Pruner};
pub use space::{Dim, Dist, Space, SpaceError, Value};
pub use tpe::TpeOptions;

/// How suggestions are made.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Uniform draws, or a shifted Halton sequence when `quasi`.
    Random {
        quasi: bool,
    },
    /// Every point of a grid with `points` per continuous dimension, in
    /// order, then nothing.
    Grid {
        points: usize,
    },
    Tpe(TpeOptions),
}

/// A search: its space, method, direction and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub space: Space,
    pub method: Method,
    pub mode: Mode,
    pub seed: u64,
}

impl Search {
    /// The settings of trial `number` given what is recorded so far;
    /// `None` when the method has nothing left (a grid's end).
    pub fn suggest(&self, number: u64, history: &[Observation]) -> Option<Vec<Value>> {
        let mut rng = rng::Rng::stream(self.seed, number);
        match &self.method {
            Method::Random { quasi: false } => Some(random::random(&self.space, &mut rng)),
            Method::Random { quasi: true } => Some(random::quasi_random(&self.space, self.seed, number)),
            Method::Grid { points } => grid::point(&grid::axes(&self.space, *points), number),
            Method::Tpe(options) => Some(tpe::suggest(&self.space, options, self.mode, history, &mut rng)),
        }
    }

    /// How many trials the method can suggest at most (a grid's size).
    pub fn limit(&self) -> Option<u64> {
        match &self.method {
            Method::Grid { points } => Some(grid::size(&grid::axes(&self.space, *points))),
            _ => None,
        }
    }

    /// The best complete trial.
    pub fn best<'a>(&self, history: &'a [Observation]) -> Option<(&'a Observation, f64)> {
        history
            .iter()
            .filter_map(|o| match o.state {
                State::Complete(v) if !v.is_nan() => Some((o, v)),
                _ => None,
            })
            .min_by(|a, b| self.mode.loss(a.1).total_cmp(&self.mode.loss(b.1)).then(a.0.number.cmp(&b.0.number)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Branin on [-5, 10] × [0, 15]; minimum 0.397887.
    fn branin(x: f64, y: f64) -> f64 {
        let pi = std::f64::consts::PI;
        let b = 5.1 / (4.0 * pi * pi);
        (y - b * x * x + 5.0 / pi * x - 6.0).powi(2) + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x.cos() + 10.0
    }

    fn run(method: Method, seed: u64, budget: u64) -> f64 {
        let space = Space {
            dims: vec![
                Dim::new("x", Dist::Uniform { low: -5.0, high: 10.0 }),
                Dim::new("y", Dist::Uniform { low: 0.0, high: 15.0 }),
            ],
        };
        let search = Search { space, method, mode: Mode::Min, seed };
        let mut history = Vec::new();
        for n in 0..budget {
            let Some(params) = search.suggest(n, &history) else { break };
            let (Value::Float(x), Value::Float(y)) = (params[0], params[1]) else { panic!() };
            history.push(Observation { number: n, params, state: State::Complete(branin(x, y)), intermediate: vec![] });
        }
        search.best(&history).unwrap().1
    }

    #[test]
    fn tpe_beats_random_on_branin_and_is_deterministic() {
        let seeds = 0..8;
        let mut tpe: Vec<f64> = seeds.clone().map(|s| run(Method::Tpe(TpeOptions::default()), s, 60)).collect();
        let mut rnd: Vec<f64> = seeds.map(|s| run(Method::Random { quasi: false }, s, 60)).collect();
        tpe.sort_by(f64::total_cmp);
        rnd.sort_by(f64::total_cmp);
        assert!(tpe[4] < rnd[4], "median best: TPE {} vs random {}", tpe[4], rnd[4]);
        assert!(tpe[4] < 0.9, "TPE's median best after 60 trials: {}", tpe[4]);
        assert_eq!(run(Method::Tpe(TpeOptions::default()), 3, 30), run(Method::Tpe(TpeOptions::default()), 3, 30));
        // A grid ends.
        let grid = Search {
            space: Space { dims: vec![Dim::new("c", Dist::Choice { n: 2 })] },
            method: Method::Grid { points: 5 },
            mode: Mode::Min,
            seed: 0,
        };
        assert_eq!((grid.limit(), grid.suggest(2, &[])), (Some(2), None));
    }
}
