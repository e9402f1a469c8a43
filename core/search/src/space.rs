//! The space a search explores: named dimensions, each a distribution, and
//! the continuous coordinates samplers work in (a log scale for log
//! dimensions; integers widened by half a step each side, rounded back).

/// One dimension's distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Uniform in [low, high].
    Uniform { low: f64, high: f64 },
    /// Uniform in [ln low, ln high] (0 < low < high).
    LogUniform { low: f64, high: f64 },
    /// An integer in [low, high], uniform on a log scale when `log`.
    Int { low: i64, high: i64, log: bool },
    /// One of `n` choices (the caller holds their values).
    Choice { n: usize },
}

/// A setting a sampler chose for one dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
    /// The index of a choice.
    Choice(usize),
}

/// A named dimension (a dotted settings path, e.g. `training.lr`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dim {
    pub name: String,
    pub dist: Dist,
}

/// The dimensions of a search, in the order suggestions list their values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    pub dims: Vec<Dim>,
}

/// A distribution that cannot be sampled.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpaceError {
    #[error("`{0}`: the low end must be below the high end")]
    EmptyRange(String),
    #[error("`{0}`: a log scale needs a low end above 0")]
    LogNotPositive(String),
    #[error("`{0}`: bounds must be finite numbers")]
    NotFinite(String),
    #[error("`{0}`: a choice needs at least one value")]
    NoChoices(String),
    #[error("the space has no dimensions")]
    Empty,
}

impl Space {
    /// Checks every dimension (and that there is one).
    pub fn validate(&self) -> Result<(), SpaceError> {
        if self.dims.is_empty() {
            return Err(SpaceError::Empty);
        }
        self.dims.iter().try_for_each(Dim::validate)
    }
}

impl Dim {
    pub fn new(name: &str, dist: Dist) -> Dim {
        Dim { name: name.to_string(), dist }
    }

    fn validate(&self) -> Result<(), SpaceError> {
        let name = || self.name.clone();
        match self.dist {
            Dist::Uniform { low, high } | Dist::LogUniform { low, high } if !low.is_finite() || !high.is_finite() => {
                Err(SpaceError::NotFinite(name()))
            }
            Dist::Uniform { low, high } if low >= high => Err(SpaceError::EmptyRange(name())),
            Dist::LogUniform { low, .. } if low <= 0.0 => Err(SpaceError::LogNotPositive(name())),
            Dist::LogUniform { low, high } if low >= high => Err(SpaceError::EmptyRange(name())),
            Dist::Int { low, high, .. } if low > high => Err(SpaceError::EmptyRange(name())),
            Dist::Int { low, log: true, .. } if low <= 0 => Err(SpaceError::LogNotPositive(name())),
            Dist::Choice { n: 0 } => Err(SpaceError::NoChoices(name())),
            _ => Ok(()),
        }
    }
}

impl Dist {
    /// The bounds of the continuous coordinate; `None` for a choice.
    pub fn internal_bounds(&self) -> Option<(f64, f64)> {
        match *self {
            Dist::Uniform { low, high } => Some((low, high)),
            Dist::LogUniform { low, high } => Some((low.ln(), high.ln())),
            Dist::Int { low, high, log: false } => Some((low as f64 - 0.5, high as f64 + 0.5)),
            Dist::Int { low, high, log: true } => Some(((low as f64 - 0.5).ln(), (high as f64 + 0.5).ln())),
            Dist::Choice { .. } => None,
        }
    }

    /// A value's continuous coordinate (a choice's index, as a number).
    pub fn to_internal(&self, value: Value) -> f64 {
        let x = match value {
            Value::Float(x) => x,
            Value::Int(i) => i as f64,
            Value::Choice(i) => return i as f64,
        };
        match self {
            Dist::LogUniform { .. } | Dist::Int { log: true, .. } => x.ln(),
            _ => x,
        }
    }

    /// The value at a continuous coordinate (clamped to the bounds).
    pub fn from_internal(&self, x: f64) -> Value {
        match *self {
            Dist::Uniform { low, high } => Value::Float(x.clamp(low, high)),
            Dist::LogUniform { low, high } => Value::Float(x.exp().clamp(low, high)),
            Dist::Int { low, high, log } => {
                let v = if log { x.exp() } else { x };
                Value::Int((v.round() as i64).clamp(low, high))
            }
            Dist::Choice { n } => Value::Choice((x.round().max(0.0) as usize).min(n - 1)),
        }
    }

    /// How many values it has, when countable (integers and choices).
    pub fn count(&self) -> Option<u64> {
        match *self {
            Dist::Int { low, high, .. } => Some(high.abs_diff(low) + 1),
            Dist::Choice { n } => Some(n as u64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_the_round_trip_through_coordinates() {
        let dists = [
            (Dist::Uniform { low: -1.0, high: 2.0 }, Value::Float(0.5)),
            (Dist::LogUniform { low: 1e-4, high: 1.0 }, Value::Float(0.01)),
            (Dist::Int { low: 1, high: 6, log: false }, Value::Int(4)),
            (Dist::Int { low: 1, high: 1024, log: true }, Value::Int(64)),
            (Dist::Choice { n: 3 }, Value::Choice(2)),
        ];
        for (dist, value) in dists {
            let back = dist.from_internal(dist.to_internal(value));
            match (back, value) {
                (Value::Float(a), Value::Float(b)) => assert!((a - b).abs() < 1e-12),
                (a, b) => assert_eq!(a, b),
            }
        }
        // An integer's coordinate range gives each value the same width.
        let (lo, hi) = Dist::Int { low: 1, high: 6, log: false }.internal_bounds().unwrap();
        assert_eq!((lo, hi), (0.5, 6.5));
    }

    #[test]
    fn bad_dimensions_are_named() {
        let space = Space { dims: vec![Dim::new("training.lr", Dist::LogUniform { low: 0.0, high: 1.0 })] };
        assert_eq!(space.validate().unwrap_err().to_string(), "`training.lr`: a log scale needs a low end above 0");
        assert_eq!(Space::default().validate(), Err(SpaceError::Empty));
        let empty = Dim::new("x", Dist::Int { low: 3, high: 2, log: false });
        assert!(Space { dims: vec![empty] }.validate().is_err());
    }
}
