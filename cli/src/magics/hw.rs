//! `%expman hw [--watch SECONDS]`: the machine as a table (CPU, memory,
//! swap, each GPU), updated in place while watching.

use std::time::{Duration, Instant};

use expman_kernel::render::table;
use expman_kernel::view::{TableView, ViewColumn};
use expman_kernel::{Cell, CellError};
use expman_os::hardware::{GpuPolicy, Gpus, Sample, Sampler, format_bytes};
use expman_schema::model::parse_duration;

use super::parse::HwMagicArgs;

pub fn hw(args: &HwMagicArgs, cell: &Cell) -> Result<(), CellError> {
    let interval = parse_duration(&args.interval).filter(|d| *d >= Duration::from_millis(200)).ok_or_else(|| {
        CellError::new("UsageError", format!("`--interval {}`: give at least 200ms, e.g. `1s`", args.interval))
    })?;
    let gpus = Gpus::open(GpuPolicy::Auto).map_err(|e| CellError::new("ExpmanError", e.to_string()))?;
    let mut sampler = Sampler::new(gpus).map_err(|e| CellError::new("ExpmanError", e.to_string()))?;
    // CPU percentages compare two readings.
    let _ = sampler.sample(&[]);
    std::thread::sleep(Duration::from_millis(250));
    let sample = sampler.sample(&[]);
    let Some(watch) = args.watch else {
        cell.result(table::bundle(&view(&sample)));
        return Ok(());
    };
    let started = Instant::now();
    let handle = cell.display(table::bundle(&view(&sample)));
    while started.elapsed().as_secs_f64() < watch && !cell.interrupted() {
        let mut waited = Duration::ZERO;
        while waited < interval && !cell.interrupted() {
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
        cell.update(&handle, table::bundle(&view(&sampler.sample(&[]))));
    }
    Ok(())
}

fn view(sample: &Sample) -> TableView {
    let m = &sample.machine;
    let pct = |used: u64, total: u64| {
        if total > 0 { format!("{:.0}", used as f64 * 100.0 / total as f64) } else { String::new() }
    };
    let mut rows = vec![
        vec![
            "cpu".to_string(),
            format!("{:.0}", m.cpu_percent),
            String::new(),
            format!("{} cores, load {:.2} {:.2} {:.2}", m.per_core.len(), m.load[0], m.load[1], m.load[2]),
        ],
        vec![
            "memory".to_string(),
            pct(m.mem_used, m.mem_total),
            format!("{} / {}", format_bytes(m.mem_used), format_bytes(m.mem_total)),
            String::new(),
        ],
    ];
    if m.swap_total > 0 {
        rows.push(vec![
            "swap".into(),
            pct(m.swap_used, m.swap_total),
            format!("{} / {}", format_bytes(m.swap_used), format_bytes(m.swap_total)),
            String::new(),
        ]);
    }
    for g in &sample.gpus {
        let temp = g.temperature_c.map(|t| format!("{t}°C ")).unwrap_or_default();
        let power = g.power_w.map(|p| format!("{p:.0} W")).unwrap_or_default();
        rows.push(vec![
            format!("gpu{} {}", g.index, g.name),
            g.util_percent.to_string(),
            format!("{} / {}", format_bytes(g.mem_used), format_bytes(g.mem_total)),
            format!("{temp}{power}").trim().to_string(),
        ]);
    }
    if sample.gpus.is_empty() {
        rows.push(vec!["gpu".into(), String::new(), String::new(), "none (no NVIDIA driver found)".into()]);
    }
    TableView::from_rows(
        vec![
            ViewColumn::text(&sample.host),
            ViewColumn::number("use %"),
            ViewColumn::text("memory"),
            ViewColumn::text(""),
        ],
        rows,
    )
}
