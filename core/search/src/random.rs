//! Random suggestions: independent uniform draws in each dimension's
//! coordinates, or quasi-random ones (a Halton sequence with a random
//! shift per search), which cover the space more evenly for small budgets.

use crate::rng::Rng;
use crate::space::{Dist, Space, Value};

/// A uniform draw from the space.
pub fn random(space: &Space, rng: &mut Rng) -> Vec<Value> {
    space.dims.iter().map(|d| draw(&d.dist, rng.uniform())).collect()
}

/// The `index`-th point of the space's shifted Halton sequence for `seed`.
pub fn quasi_random(space: &Space, seed: u64, index: u64) -> Vec<Value> {
    let mut shift = Rng::stream(seed, u64::MAX);
    space
        .dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let u = (radical_inverse(index, prime(i)) + shift.uniform()).fract();
            draw(&d.dist, u)
        })
        .collect()
}

/// The value at quantile `u` in [0, 1) of a dimension's coordinate.
fn draw(dist: &Dist, u: f64) -> Value {
    match (dist, dist.internal_bounds()) {
        (Dist::Choice { n }, _) => Value::Choice(((u * *n as f64) as usize).min(n - 1)),
        (_, Some((lo, hi))) => dist.from_internal(lo + (hi - lo) * u),
        (_, None) => unreachable!("only choices lack bounds"),
    }
}

/// The digits of `n` in base `b`, mirrored after the point.
fn radical_inverse(mut n: u64, base: u64) -> f64 {
    let (mut result, mut scale) = (0.0, 1.0 / base as f64);
    while n > 0 {
        result += (n % base) as f64 * scale;
        n /= base;
        scale /= base as f64;
    }
    result
}

/// The i-th prime (from 2).
fn prime(i: usize) -> u64 {
    let mut found = 0;
    let mut candidate = 1u64;
    while found <= i {
        candidate += 1;
        if (2..candidate).take_while(|d| d * d <= candidate).all(|d| !candidate.is_multiple_of(d)) {
            found += 1;
        }
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Dim;

    #[test]
    fn draws_respect_every_kind_of_dimension() {
        let space = Space {
            dims: vec![
                Dim::new("lr", Dist::LogUniform { low: 1e-4, high: 1.0 }),
                Dim::new("layers", Dist::Int { low: 1, high: 6, log: false }),
                Dim::new("bs", Dist::Choice { n: 3 }),
            ],
        };
        let mut rng = Rng::new(0);
        let mut small_lr = 0;
        let mut layers = [0; 7];
        for _ in 0..6000 {
            let v = random(&space, &mut rng);
            let (Value::Float(lr), Value::Int(l), Value::Choice(c)) = (v[0], v[1], v[2]) else { panic!("{v:?}") };
            assert!((1e-4..=1.0).contains(&lr) && (1..=6).contains(&l) && c < 3);
            small_lr += usize::from(lr < 1e-2);
            layers[l as usize] += 1;
        }
        // Log-uniform: half the draws below 1e-2 (the middle of the log range).
        assert!((2700..3300).contains(&small_lr), "{small_lr}");
        // Each integer equally often, the ends too.
        assert!(layers[1..].iter().all(|n| (850..1150).contains(n)), "{layers:?}");
    }

    #[test]
    fn halton_points_are_spread_and_seeded() {
        assert_eq!(radical_inverse(1, 2), 0.5);
        assert_eq!(radical_inverse(3, 2), 0.75);
        assert_eq!((prime(0), prime(1), prime(4)), (2, 3, 11));
        let space = Space { dims: vec![Dim::new("x", Dist::Uniform { low: 0.0, high: 1.0 })] };
        let mut xs: Vec<f64> = (0..16)
            .map(|i| match quasi_random(&space, 1, i)[0] {
                Value::Float(x) => x,
                v => panic!("{v:?}"),
            })
            .collect();
        xs.sort_by(f64::total_cmp);
        // 16 points, one in each sixteenth (shifted).
        assert!(xs.windows(2).all(|w| (w[1] - w[0] - 1.0 / 16.0).abs() < 1e-12), "{xs:?}");
        assert_ne!(quasi_random(&space, 1, 0), quasi_random(&space, 2, 0));
    }
}
