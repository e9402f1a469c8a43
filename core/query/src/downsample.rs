//! Downsampling a curve for drawing: per pixel column, the first, lowest,
//! highest and last point (M4), so the line drawn through what is kept
//! covers the same pixels as the line through every point, at 4 points
//! per pixel at most whatever the series' length.

/// The indices of the points to keep, in order, for a chart `width`
/// pixels wide. `xs` must be sorted; points whose x or y is not finite are
/// left out. A series of at most 4 × `width` points comes back whole.
pub fn m4(xs: &[f64], ys: &[f64], width: usize) -> Vec<usize> {
    let n = xs.len().min(ys.len());
    let finite = |i: usize| xs[i].is_finite() && ys[i].is_finite();
    let width = width.max(1);
    if n <= 4 * width {
        return (0..n).filter(|&i| finite(i)).collect();
    }
    let Some(first) = (0..n).find(|&i| finite(i)) else { return Vec::new() };
    let last = (0..n).rev().find(|&i| finite(i)).unwrap_or(first);
    let (x0, x1) = (xs[first], xs[last]);
    let span = x1 - x0;
    let column = |x: f64| -> usize {
        if span <= 0.0 { 0 } else { (((x - x0) / span) * width as f64).floor().clamp(0.0, (width - 1) as f64) as usize }
    };
    let mut keep = Vec::with_capacity(4 * width);
    // The current column's first, min, max and last point.
    let mut current: Option<(usize, [usize; 4])> = None;
    let flush = |keep: &mut Vec<usize>, points: [usize; 4]| {
        let mut sorted = points;
        sorted.sort_unstable();
        for (k, &i) in sorted.iter().enumerate() {
            if k == 0 || sorted[k - 1] != i {
                keep.push(i);
            }
        }
    };
    for i in first..=last {
        if !finite(i) {
            continue;
        }
        let c = column(xs[i]);
        match &mut current {
            Some((col, p)) if *col == c => {
                if ys[i] < ys[p[1]] {
                    p[1] = i;
                }
                if ys[i] > ys[p[2]] {
                    p[2] = i;
                }
                p[3] = i;
            }
            _ => {
                if let Some((_, p)) = current.take() {
                    flush(&mut keep, p);
                }
                current = Some((c, [i; 4]));
            }
        }
    }
    if let Some((_, p)) = current {
        flush(&mut keep, p);
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_come_back_whole_without_nan() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys = [1.0, f64::NAN, 3.0, 4.0];
        assert_eq!(m4(&xs, &ys, 10), vec![0, 2, 3]);
    }

    #[test]
    fn a_million_points_keep_at_most_four_per_pixel_and_every_extreme() {
        let n = 1_000_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut ys: Vec<f64> = (0..n).map(|i| ((i as f64) / 1000.0).sin()).collect();
        ys[123_457] = 50.0;
        ys[765_431] = -50.0;
        let keep = m4(&xs, &ys, 800);
        assert!(keep.len() <= 4 * 800, "{}", keep.len());
        assert!(keep.len() >= 2 * 800, "{}", keep.len());
        assert!(keep.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
        assert!(keep.contains(&123_457) && keep.contains(&765_431), "the spikes stay");
        assert_eq!((keep[0], *keep.last().unwrap()), (0, n - 1), "the ends stay");
        // Per column, the kept min and max are the true ones.
        let column = |x: f64| ((x / (n - 1) as f64) * 800.0).floor().min(799.0) as usize;
        let mut true_max = vec![f64::MIN; 800];
        let mut kept_max = vec![f64::MIN; 800];
        for i in 0..n {
            true_max[column(xs[i])] = true_max[column(xs[i])].max(ys[i]);
        }
        for &i in &keep {
            kept_max[column(xs[i])] = kept_max[column(xs[i])].max(ys[i]);
        }
        assert_eq!(true_max, kept_max);
    }

    #[test]
    fn uneven_x_and_a_flat_span() {
        let xs = [5.0; 100];
        let ys: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert_eq!(m4(&xs, &ys, 2), vec![0, 99], "one column: first (= min) and last (= max)");
    }
}
