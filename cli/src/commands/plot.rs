//! `expman plot`: metric curves from the record as a chart file (the same
//! chart `%expman plot` shows in a notebook).

use std::process::ExitCode;

use anyhow::{Context, bail};
use expman_kernel::render::chart::{Chart, Point, Series};
use expman_query::Query;
use expman_query::curves::{self, CurveBy, CurveX};

use super::query::Scope;
use crate::args::{PlotArgs, PlotBy, PlotX};

/// The chart of `args.metric` over the runs the filter selects.
pub fn chart(args: &PlotArgs) -> anyhow::Result<Chart> {
    let metric = match (&args.metric, args.history) {
        (_, true) => return super::search::history_chart(&args.scope, args.trial.as_deref()),
        (Some(metric), false) => metric.clone(),
        (None, false) => bail!("name the metric to plot, e.g. `val_loss`"),
    };
    let args = &PlotArgs { metric: Some(metric.clone()), ..args.clone() };
    let metric = &metric;
    let scope = Scope::open(&args.scope)?;
    let query = Query::parse(args.filter.as_deref().unwrap_or("")).map_err(|e| anyhow::anyhow!(e.render()))?;
    let runs = query.apply(scope.frames().runs()?)?;
    let ids: Vec<String> = runs.column("id")?.str()?.iter().flatten().map(str::to_string).collect();
    if ids.is_empty() {
        bail!("no runs match{}", args.filter.as_deref().map(|f| format!(" `{f}`")).unwrap_or_default());
    }
    let points = scope.frames().metrics(&ids, std::slice::from_ref(metric))?;
    if points.height() == 0 {
        let known: Vec<String> =
            scope.frames().metrics_columns(&ids, &[], &["key"])?.column("key")?.str()?.iter().flatten().fold(
                Vec::new(),
                |mut acc: Vec<String>, k| {
                    if !acc.iter().any(|a| a == k) {
                        acc.push(k.to_string());
                    }
                    acc
                },
            );
        let hint = expman_schema::suggest::closest(metric, known.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| format!(" (metrics: {})", known.join(", ")));
        bail!("these runs have no metric `{metric}`{hint}");
    }
    let by = match args.by {
        PlotBy::Trial => CurveBy::Trial,
        PlotBy::Run => CurveBy::Run,
    };
    let x = match args.x {
        PlotX::Step => CurveX::Step,
        PlotX::Epoch => CurveX::Epoch,
        PlotX::Time => CurveX::Time,
    };
    let lines = curves::curves(&points, metric, by, x)?;
    if lines.iter().all(|l| l.points.is_empty()) {
        bail!("no `{metric}` points have an {} (try `--x step`)", x.label());
    }
    let names: Vec<String> = lines.iter().map(|c| c.name.clone()).collect();
    let shortened: Vec<String> = names.iter().map(|n| short_sweep_name(n)).collect();
    // Short names only when they stay distinct.
    let distinct = shortened.iter().collect::<std::collections::HashSet<_>>().len() == shortened.len();
    let series = lines
        .into_iter()
        .zip(shortened)
        .map(|(c, short)| Series {
            name: match by {
                CurveBy::Run => c.name.chars().take(8).collect(),
                CurveBy::Trial if distinct => short,
                CurveBy::Trial => c.name,
            },
            points: c
                .points
                .into_iter()
                .map(|p| Point { x: p.x, y: p.mean, band: p.std.map(|s| (p.mean - s, p.mean + s)) })
                .collect(),
        })
        .collect();
    let per = if by == CurveBy::Trial { "trial (mean ± std over repeats)" } else { "run" };
    Ok(Chart {
        title: format!("{metric} by {per}"),
        x_label: x.label().to_string(),
        y_label: metric.clone(),
        series_label: if by == CurveBy::Trial { "trial".into() } else { "run".into() },
        series,
    })
}

/// `lr_sweep[training.lr=0.1,model.l2=0.0]` → `lr_sweep[lr=0.1,l2=0.0]`:
/// a sweep child's keys by their last part.
fn short_sweep_name(name: &str) -> String {
    let Some((trial, rest)) = name.split_once('[') else { return name.to_string() };
    let Some(inner) = rest.strip_suffix(']') else { return name.to_string() };
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let short: Vec<String> = parts
        .iter()
        .map(|p| match p.split_once('=') {
            Some((key, value)) => format!("{}={value}", key.rsplit('.').next().unwrap_or(key)),
            None => p.to_string(),
        })
        .collect();
    format!("{trial}[{}]", short.join(","))
}

pub fn plot(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let Some(out) = args.out.clone() else {
        bail!("give `--out FILE` with .svg, .json (Vega-Lite) or .html; in a notebook, `%expman plot` shows it inline");
    };
    let chart = chart(&args)?;
    write_chart(&chart, &out)?;
    println!("{}; wrote {}", chart.summary(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `chart` to `out`, in the format its extension names: `.svg`,
/// `.json` (Vega-Lite v5) or `.html` (the SVG, with the spec beside it).
pub fn write_chart(chart: &Chart, out: &std::path::Path) -> anyhow::Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let text = match ext.as_str() {
        "svg" => chart.svg(),
        "json" => serde_json::to_string_pretty(&chart.vega_lite())?,
        "html" => format!(
            "<!doctype html><meta charset=\"utf-8\"><title>{title}</title>{svg}\n\
             <script type=\"application/json\" id=\"vega-lite\">{spec}</script>\n",
            title = expman_kernel::render::escape(&chart.title),
            svg = chart.svg(),
            spec = serde_json::to_string(&chart.vega_lite())?.replace("</", "<\\/")
        ),
        _ => bail!("`--out {}`: use .svg, .json or .html", out.display()),
    };
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_children_get_short_legend_names() {
        assert_eq!(short_sweep_name("lr_sweep[training.lr=0.1,model.l2=0.0]"), "lr_sweep[lr=0.1,l2=0.0]");
        assert_eq!(short_sweep_name("grid[a.b=[1,2],c=x]"), "grid[b=[1,2],c=x]");
        assert_eq!(short_sweep_name("baseline"), "baseline");
    }
}
