//! What a sampler and a pruner know of a search: its trials so far, each
//! with its number, settings, state and intermediate values.

use crate::space::Value;

/// Whether smaller or larger objective values are better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Min,
    Max,
}

impl Mode {
    /// The value as a loss (smaller is better; NaN is the worst).
    pub fn loss(self, value: f64) -> f64 {
        let loss = match self {
            Mode::Min => value,
            Mode::Max => -value,
        };
        if loss.is_nan() { f64::INFINITY } else { loss }
    }

    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        self.loss(a) < self.loss(b)
    }
}

/// How a trial of the search stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum State {
    /// Suggested and not ended (its settings count, its value is unknown).
    Running,
    /// Ended with the objective's final value.
    Complete(f64),
    /// Stopped early by a pruner (its intermediate values count).
    Pruned,
    /// Ended without a value (crashed, killed): ignored.
    Failed,
}

/// One trial of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// 0, 1, 2, ... in the order of suggestion.
    pub number: u64,
    /// One value per dimension of the space.
    pub params: Vec<Value>,
    pub state: State,
    /// (step, value) of the objective as reported, steps ascending.
    pub intermediate: Vec<(u64, f64)>,
}

impl Observation {
    /// The last intermediate value.
    pub fn last(&self) -> Option<(u64, f64)> {
        self.intermediate.last().copied()
    }

    /// The value at the first step at or after `step`.
    pub fn value_at_or_after(&self, step: u64) -> Option<f64> {
        let i = self.intermediate.partition_point(|(s, _)| *s < step);
        self.intermediate.get(i).map(|(_, v)| *v)
    }

    /// The value reported at exactly `step`.
    pub fn value_at(&self, step: u64) -> Option<f64> {
        self.intermediate.binary_search_by_key(&step, |(s, _)| *s).ok().map(|i| self.intermediate[i].1)
    }
}
