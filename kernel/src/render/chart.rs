//! Line charts of metric curves: a Vega-Lite v5 spec (JupyterLab renders
//! it natively) with an SVG drawn here as the fallback for front ends that
//! do not, and a one-line text summary.

use serde_json::{Value, json};

use super::escape;
use crate::cell::Bundle;

/// One point; `band` is a shaded range around it (mean ± std).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub band: Option<(f64, f64)>,
}

/// One line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// A chart of lines sharing axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The legend's title (`trial`, `run`).
    pub series_label: String,
    pub series: Vec<Series>,
}

/// Colours for the lines (Tableau 10).
const PALETTE: [&str; 10] =
    ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];

const WIDTH: f64 = 720.0;

/// Longest legend label in the SVG before it is cut.
const LEGEND_CHARS: usize = 36;
const HEIGHT: f64 = 360.0;

impl Chart {
    /// Vega-Lite, SVG and text in one bundle.
    pub fn bundle(&self) -> Bundle {
        Bundle::text(self.summary())
            .with("application/vnd.vegalite.v5+json", self.vega_lite())
            .with("image/svg+xml", Value::String(self.svg()))
    }

    fn has_bands(&self) -> bool {
        self.series.iter().any(|s| s.points.iter().any(|p| p.band.is_some()))
    }

    /// `val_loss by trial: 3 lines, 120 points`.
    pub fn summary(&self) -> String {
        let points: usize = self.series.iter().map(|s| s.points.len()).sum();
        format!("{}: {} line(s), {points} point(s)", self.title, self.series.len())
    }

    pub fn vega_lite(&self) -> Value {
        let values: Vec<Value> = self
            .series
            .iter()
            .flat_map(|s| {
                s.points.iter().map(move |p| {
                    let mut v = json!({"series": s.name, "x": p.x, "y": p.y});
                    if let Some((lo, hi)) = p.band {
                        v["lo"] = json!(lo);
                        v["hi"] = json!(hi);
                    }
                    v
                })
            })
            .collect();
        let x = json!({"field": "x", "type": "quantitative", "title": self.x_label});
        // The lines' order and colours as in the SVG; full legend labels.
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let scale = json!({"domain": names, "range": PALETTE});
        let color = json!({
            "field": "series",
            "type": "nominal",
            "title": self.series_label,
            "scale": scale,
            "legend": {"labelLimit": 0, "symbolOpacity": 1},
        });
        // The same encoding on both layers: their legends merge into one
        // (a `legend: null` on one layer hides the merged legend).
        let band_color = color.clone();
        let mut layers = Vec::new();
        if self.has_bands() {
            layers.push(json!({
                "mark": {"type": "area", "opacity": 0.2},
                "encoding": {
                    "x": x,
                    "y": {"field": "lo", "type": "quantitative"},
                    "y2": {"field": "hi"},
                    "color": band_color,
                },
            }));
        }
        let few = values.len() <= 60;
        layers.push(json!({
            "mark": {"type": "line", "point": few, "tooltip": true},
            "encoding": {
                "x": x,
                "y": {"field": "y", "type": "quantitative", "title": self.y_label, "scale": {"zero": false}},
                "color": color,
            },
        }));
        json!({
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": self.title,
            "width": 560,
            "height": 300,
            "data": {"values": values},
            "layer": layers,
        })
    }

    /// The same chart drawn as SVG: axes with ticks, lines, bands, legend.
    pub fn svg(&self) -> String {
        let longest = self.series.iter().map(|s| s.name.chars().count().min(LEGEND_CHARS)).max().unwrap_or(0);
        let right = 40.0 + 6.5 * longest as f64;
        let (left, top, bottom) = (64.0, 36.0, 48.0);
        let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - top - bottom);
        let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.x));
        let ys = self.series.iter().flat_map(|s| {
            s.points.iter().flat_map(|p| {
                let (lo, hi) = p.band.unwrap_or((p.y, p.y));
                [p.y, lo, hi]
            })
        });
        let (x0, x1) = bounds(xs);
        let (y0, y1) = bounds(ys);
        let x_ticks = ticks(x0, x1);
        let y_ticks = ticks(y0, y1);
        let (x0, x1) = (x_ticks.first().copied().unwrap_or(x0).min(x0), x_ticks.last().copied().unwrap_or(x1).max(x1));
        let (y0, y1) = (y_ticks.first().copied().unwrap_or(y0).min(y0), y_ticks.last().copied().unwrap_or(y1).max(y1));
        let sx = |x: f64| left + if x1 > x0 { (x - x0) / (x1 - x0) * plot_w } else { plot_w / 2.0 };
        let sy = |y: f64| top + plot_h - if y1 > y0 { (y - y0) / (y1 - y0) * plot_h } else { plot_h / 2.0 };
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\">\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
             <text x=\"{left}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            escape(&self.title)
        );
        for t in &y_ticks {
            let y = sy(*t);
            out.push_str(&format!(
                "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left + plot_w,
                left - 6.0,
                y + 4.0,
                label(*t)
            ));
        }
        for t in &x_ticks {
            let x = sx(*t);
            out.push_str(&format!(
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                top + plot_h,
                top + plot_h + 4.0,
                top + plot_h + 16.0,
                label(*t)
            ));
        }
        out.push_str(&format!(
            "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#888\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            left + plot_w / 2.0,
            HEIGHT - 10.0,
            escape(&self.x_label),
            top + plot_h / 2.0,
            escape(&self.y_label)
        ));
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let banded: Vec<&Point> = s.points.iter().filter(|p| p.band.is_some()).collect();
            if banded.len() > 1 {
                let upper = banded.iter().map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.band.map_or(p.y, |b| b.1))));
                let lower =
                    banded.iter().rev().map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.band.map_or(p.y, |b| b.0))));
                let points: Vec<String> = upper.chain(lower).collect();
                out.push_str(&format!(
                    "<polygon points=\"{}\" fill=\"{color}\" fill-opacity=\"0.2\" stroke=\"none\"/>",
                    points.join(" ")
                ));
            }
            let line: Vec<String> = s.points.iter().map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.y))).collect();
            if line.len() == 1 {
                out.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                    sx(s.points[0].x),
                    sy(s.points[0].y)
                ));
            } else {
                out.push_str(&format!(
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>",
                    line.join(" ")
                ));
            }
            let ly = top + 8.0 + 16.0 * i as f64;
            let lx = left + plot_w + 12.0;
            out.push_str(&format!(
                "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 16.0,
                lx + 20.0,
                ly + 4.0,
                escape(&shorten(&s.name, LEGEND_CHARS))
            ));
        }
        out.push_str("</svg>");
        out
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

/// About five round tick values covering `lo..=hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(magnitude * 10.0);
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - step, hi + step) };
    let first = (lo / step).floor();
    // Rounded to the step's decimals, so that 3 × 0.2 prints as 0.6.
    let decimals = (-step.log10().floor()).max(0.0) as usize + 1;
    let round = |t: f64| format!("{t:.decimals$}").parse::<f64>().unwrap_or(t);
    (0..20).map(|k| round((first + k as f64) * step)).take_while(|t| *t <= hi + step * 0.5).collect()
}

fn label(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-3 && v.abs() < 1e6 {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.2e}")
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            title: "val_loss by trial".into(),
            x_label: "epoch".into(),
            y_label: "val_loss".into(),
            series_label: "trial".into(),
            series: vec![Series {
                name: "baseline".into(),
                points: vec![
                    Point { x: 1.0, y: 0.9, band: Some((0.8, 1.0)) },
                    Point { x: 2.0, y: 0.5, band: Some((0.45, 0.55)) },
                ],
            }],
        }
    }

    #[test]
    fn vega_lite_has_a_band_layer_and_the_values() {
        let spec = chart().vega_lite();
        assert_eq!(spec["$schema"], "https://vega.github.io/schema/vega-lite/v5.json");
        assert_eq!(spec["layer"].as_array().unwrap().len(), 2);
        assert_eq!(
            spec["data"]["values"][1],
            json!({"series": "baseline", "x": 2.0, "y": 0.5, "lo": 0.45, "hi": 0.55})
        );
    }

    #[test]
    fn svg_draws_lines_bands_and_legend() {
        let svg = chart().svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polyline") && svg.contains("<polygon") && svg.contains(">baseline</text>"));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(ticks(1.0, 40.0), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
    }
}
