//! The normal distribution's functions the Parzen estimators need: the
//! CDF (through erfc, a Chebyshev fit), its inverse, truncated-normal
//! sampling and log-density, and log-sum-exp.

use crate::rng::Rng;

const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// ln(sqrt(2π)).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The complementary error function, erfc(x) = 1 - erf(x), to about
/// 1e-15 relative: a series with positive terms below 2 (no cancellation),
/// Lentz's continued fraction above (where 1 - erf would lose digits).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        return 1.0 - erf_series(x);
    }
    // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    let tiny = 1e-300;
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for n in 1..200 {
        let a = n as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// erf(x) = 2/√π · exp(-x²) · Σ 2ⁿ x²ⁿ⁺¹ / (1·3·5···(2n+1)).
fn erf_series(x: f64) -> f64 {
    let mut term = x;
    let mut sum = x;
    for n in 1..200 {
        term *= 2.0 * x * x / (2 * n + 1) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

/// The standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / SQRT_2)
}

/// The standard normal quantile (Acklam's rational approximation refined
/// by one Halley step), for p in (0, 1).
pub fn norm_ppf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let x = if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - 0.02425 {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step against the CDF.
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// A draw from N(mu, sigma²) truncated to [lo, hi].
pub fn truncnorm_sample(rng: &mut Rng, mu: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    let (a, b) = ((lo - mu) / sigma, (hi - mu) / sigma);
    // Sample in the lower tail, where the CDF keeps its precision.
    let flip = a > 0.0;
    let (a, b) = if flip { (-b, -a) } else { (a, b) };
    let (pa, pb) = (norm_cdf(a), norm_cdf(b));
    let z = if pb - pa > 1e-12 { norm_ppf(pa + rng.uniform() * (pb - pa)).clamp(a, b) } else { rng.between(a, b) };
    let z = if flip { -z } else { z };
    (mu + sigma * z).clamp(lo, hi)
}

/// ln of the constant of N(mu, sigma²) truncated to [lo, hi]: its
/// log-density at x is `-((x - mu)/sigma)²/2 - this`.
pub fn truncnorm_log_normalizer(mu: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    let (a, b) = ((lo - mu) / sigma, (hi - mu) / sigma);
    if a < -9.0 && b > 9.0 {
        // The mass outside is below 1e-18: none in double precision.
        return LN_SQRT_2PI + sigma.ln();
    }
    let mass = if a > 0.0 { norm_cdf(-a) - norm_cdf(-b) } else { norm_cdf(b) - norm_cdf(a) };
    LN_SQRT_2PI + sigma.ln() + mass.max(1e-300).ln()
}

/// ln of the density of N(mu, sigma²) truncated to [lo, hi], at x.
pub fn truncnorm_logpdf(x: f64, mu: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    let z = (x - mu) / sigma;
    -0.5 * z * z - truncnorm_log_normalizer(mu, sigma, lo, hi)
}

/// ln(Σ exp(xs)), stable.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    // Terms more than 40 below the largest add less than 4e-18 of it.
    max + xs.iter().filter(|x| **x - max > -40.0).map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_and_quantile_match_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_cdf(1.959963984540054) - 0.975).abs() < 1e-12);
        assert!((norm_cdf(-3.0) - 0.0013498980316300946).abs() < 1e-14);
        assert!((erfc(0.5) - 0.4795001221869535).abs() < 1e-15);
        assert!((erfc(3.0) / 2.209049699858544e-05 - 1.0).abs() < 1e-13);
        assert!((erfc(-1.0) - 1.8427007929497148).abs() < 1e-15);
        for p in [1e-10, 0.001, 0.3, 0.5, 0.9, 0.999999] {
            assert!((norm_cdf(norm_ppf(p)) - p).abs() < 1e-12 * p.max(1e-3), "{p}");
        }
    }

    #[test]
    fn truncated_normal_stays_inside_and_integrates_to_one() {
        let mut rng = Rng::new(3);
        // As TPE uses it: the mean inside the range, or near it.
        for (mu, sigma, lo, hi) in
            [(0.0, 1.0, -1.0, 2.0), (1.5, 0.3, 0.0, 1.0), (-2.0, 1.0, 0.0, 1.0), (0.5, 0.01, 0.0, 1.0)]
        {
            for _ in 0..1000 {
                let x = truncnorm_sample(&mut rng, mu, sigma, lo, hi);
                assert!((lo..=hi).contains(&x));
            }
            let n = 20_000;
            let dx = (hi - lo) / n as f64;
            let total: f64 =
                (0..n).map(|i| truncnorm_logpdf(lo + (i as f64 + 0.5) * dx, mu, sigma, lo, hi).exp() * dx).sum();
            assert!((total - 1.0).abs() < 1e-3, "{mu} {sigma}: {total}");
        }
        assert!((logsumexp(&[0.0, 0.0]) - 2f64.ln()).abs() < 1e-15);
    }
}
