//! A grid over the same space, for comparison with adaptive search: each
//! continuous dimension at `points` evenly spaced coordinates (log-spaced
//! on a log scale), integers at all their values when there are at most
//! `points`, choices at all of theirs; points numbered in mixed radix,
//! the last dimension fastest.

use crate::space::{Dist, Space, Value};

/// Each dimension's values on the grid.
pub fn axes(space: &Space, points: usize) -> Vec<Vec<Value>> {
    let points = points.max(2);
    space
        .dims
        .iter()
        .map(|d| match (&d.dist, d.dist.count()) {
            (Dist::Choice { n }, _) => (0..*n).map(Value::Choice).collect(),
            (Dist::Int { low, high, .. }, Some(count)) if count <= points as u64 => {
                (*low..=*high).map(Value::Int).collect()
            }
            (dist, _) => {
                let (lo, hi) = match dist {
                    // Integers: from the lowest to the highest value, not
                    // the widened coordinate's ends.
                    Dist::Int { low, high, .. } => {
                        (dist.to_internal(Value::Int(*low)), dist.to_internal(Value::Int(*high)))
                    }
                    _ => dist.internal_bounds().expect("continuous"),
                };
                let at = |i: usize| match (i, dist) {
                    // The ends exactly (exp(ln x) need not be x).
                    (0, Dist::Uniform { low, .. } | Dist::LogUniform { low, .. }) => Value::Float(*low),
                    (i, Dist::Uniform { high, .. } | Dist::LogUniform { high, .. }) if i == points - 1 => {
                        Value::Float(*high)
                    }
                    (i, _) => dist.from_internal(lo + (hi - lo) * i as f64 / (points - 1) as f64),
                };
                let mut axis: Vec<Value> = (0..points).map(at).collect();
                axis.dedup();
                axis
            }
        })
        .collect()
}

/// How many points the grid has (saturating).
pub fn size(axes: &[Vec<Value>]) -> u64 {
    axes.iter().fold(1u64, |n, a| n.saturating_mul(a.len() as u64))
}

/// The `index`-th point, or `None` past the end.
pub fn point(axes: &[Vec<Value>], index: u64) -> Option<Vec<Value>> {
    if index >= size(axes) {
        return None;
    }
    let mut rest = index;
    let mut out = vec![Value::Choice(0); axes.len()];
    for (i, axis) in axes.iter().enumerate().rev() {
        let n = axis.len() as u64;
        out[i] = axis[(rest % n) as usize];
        rest /= n;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Dim;

    #[test]
    fn the_grid_covers_each_axis_and_ends() {
        let space = Space {
            dims: vec![
                Dim::new("lr", Dist::LogUniform { low: 1e-4, high: 1.0 }),
                Dim::new("layers", Dist::Int { low: 1, high: 3, log: false }),
                Dim::new("opt", Dist::Choice { n: 2 }),
            ],
        };
        let axes = axes(&space, 5);
        assert_eq!(size(&axes), 5 * 3 * 2);
        let Value::Float(second) = axes[0][1] else { panic!() };
        assert!((second - 1e-3).abs() < 1e-15, "log-spaced: {second}");
        assert_eq!(point(&axes, 0).unwrap(), vec![Value::Float(1e-4), Value::Int(1), Value::Choice(0)]);
        assert_eq!(point(&axes, 1).unwrap()[2], Value::Choice(1));
        assert!(point(&axes, 29).is_some() && point(&axes, 30).is_none());
        let wide = Space { dims: vec![Dim::new("n", Dist::Int { low: 0, high: 100, log: false })] };
        assert_eq!(super::axes(&wide, 3), vec![vec![Value::Int(0), Value::Int(50), Value::Int(100)]]);
    }
}
