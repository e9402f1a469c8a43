//! `expman hw`: the machine's CPU, memory and GPUs (and the active runs of
//! the workspace here, if any), refreshed in place like `top`, or one
//! sample as JSON for scripts.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use expman_os::hardware::{GpuPolicy, Gpus, Sample, Sampler, format_bytes};
use expman_runner::workspace::{Locate, Workspace};
use expman_schema::model::parse_duration;

use crate::args::{GpuChoice, HwArgs, HwFormat};

pub fn hw(args: HwArgs) -> anyhow::Result<ExitCode> {
    let interval = parse_duration(&args.interval)
        .filter(|d| *d >= Duration::from_millis(100))
        .with_context(|| format!("`{}` is not an interval of at least 100ms (e.g. `1s`, `500ms`)", args.interval))?;
    let mode = match args.gpu {
        GpuChoice::Off => GpuPolicy::Off,
        GpuChoice::Auto => GpuPolicy::Auto,
        GpuChoice::Required => GpuPolicy::Required,
    };
    let gpus = Gpus::open(mode)?;
    let mut sampler = Sampler::new(gpus)?;
    // Active runs of the workspace here, when there is one.
    let workspace = Workspace::locate(&Locate {
        workspace: args.record.workspace.clone(),
        dir: args.record.dir.clone(),
        env_workspace: None,
        cwd: std::env::current_dir()?,
    })
    .ok()
    .filter(Workspace::has_database);
    let runs = || -> Vec<(i64, u32, String)> {
        let Some(ws) = &workspace else { return Vec::new() };
        let Ok(store) = expman_store::Store::open(&ws.database) else { return Vec::new() };
        let active = store.active_runs().unwrap_or_default();
        let rows = store.runs_by_id(&active.iter().map(|a| a.run.id).collect::<Vec<_>>()).unwrap_or_default();
        active
            .iter()
            .filter_map(|a| {
                let pid = a.pid? as u32;
                let trial = rows.iter().find(|r| r.id == a.run.id).map(|r| r.trial.clone()).unwrap_or_default();
                Some((a.run.id, pid, format!("{} ({})", trial, &a.run.uid[..8.min(a.run.uid.len())])))
            })
            .collect()
    };
    // CPU percentages compare two readings.
    let _ = sampler.sample(&[]);
    std::thread::sleep(Duration::from_millis(250).max(interval.min(Duration::from_secs(1))));
    if args.once {
        let active = runs();
        let pids: Vec<(i64, u32)> = active.iter().map(|(id, pid, _)| (*id, *pid)).collect();
        let sample = sampler.sample(&pids);
        match args.format {
            HwFormat::Json => println!("{}", serde_json::to_string_pretty(&sample)?),
            HwFormat::Table => print!("{}", render(&sample, &active, None)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())
        .context("cannot install the signal handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())
        .context("cannot install the signal handler")?;
    let terminal = std::io::stdout().is_terminal();
    if args.format == HwFormat::Table && !terminal {
        bail!("`expman hw` refreshes a terminal; use `--once` or `--format json` to write to a file or pipe");
    }
    let mut out = std::io::stdout();
    if terminal && args.format == HwFormat::Table {
        // Alternate screen, hidden cursor: restored on exit.
        let _ = write!(out, "\x1b[?1049h\x1b[?25l");
    }
    let mut result = Ok(());
    while !stop.load(Ordering::SeqCst) {
        let active = runs();
        let pids: Vec<(i64, u32)> = active.iter().map(|(id, pid, _)| (*id, *pid)).collect();
        let sample = sampler.sample(&pids);
        let text = match args.format {
            HwFormat::Json => format!("{}\n", serde_json::to_string(&sample)?),
            HwFormat::Table => format!("\x1b[H\x1b[2J{}", render(&sample, &active, Some(interval))),
        };
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            result = Err(e);
            break;
        }
        let mut waited = Duration::ZERO;
        while waited < interval && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
    }
    if terminal && args.format == HwFormat::Table {
        let _ = write!(out, "\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
    }
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

fn bar(percent: f32, width: usize) -> String {
    let filled = ((percent.clamp(0.0, 100.0) / 100.0) * width as f32).round() as usize;
    format!("[{}{}]", "|".repeat(filled), " ".repeat(width - filled))
}

fn render(sample: &Sample, runs: &[(i64, u32, String)], interval: Option<Duration>) -> String {
    let m = &sample.machine;
    let mut out = String::new();
    let refresh = interval.map(|i| format!(", every {:.1}s, Ctrl-C to quit", i.as_secs_f64())).unwrap_or_default();
    out.push_str(&format!("expman hw: {}{refresh}\n\n", sample.host));
    out.push_str(&format!(
        "cpu  {} {:>5.1}%   load {:.2} {:.2} {:.2}\n",
        bar(m.cpu_percent, 30),
        m.cpu_percent,
        m.load[0],
        m.load[1],
        m.load[2]
    ));
    for (i, core) in m.per_core.iter().enumerate() {
        out.push_str(&format!("  {i:>3} {} {:>5.1}%\n", bar(*core, 26), core));
    }
    let mem_pct = if m.mem_total > 0 { m.mem_used as f32 * 100.0 / m.mem_total as f32 } else { 0.0 };
    out.push_str(&format!("mem  {} {} / {}\n", bar(mem_pct, 30), format_bytes(m.mem_used), format_bytes(m.mem_total)));
    if m.swap_total > 0 {
        let pct = m.swap_used as f32 * 100.0 / m.swap_total as f32;
        out.push_str(&format!(
            "swap {} {} / {}\n",
            bar(pct, 30),
            format_bytes(m.swap_used),
            format_bytes(m.swap_total)
        ));
    }
    if sample.gpus.is_empty() {
        out.push_str("gpu  none (no NVIDIA driver, or --gpu off)\n");
    }
    for g in &sample.gpus {
        let temp = g.temperature_c.map(|t| format!("  {t}°C")).unwrap_or_default();
        let power = g.power_w.map(|p| format!("  {p:.0} W")).unwrap_or_default();
        out.push_str(&format!(
            "gpu{} {} {:>3}%  mem {} / {}{temp}{power}  {}\n",
            g.index,
            bar(g.util_percent as f32, 20),
            g.util_percent,
            format_bytes(g.mem_used),
            format_bytes(g.mem_total),
            g.name
        ));
    }
    if !runs.is_empty() {
        out.push_str("\nactive runs\n");
        for r in &sample.runs {
            let name = runs.iter().find(|(id, _, _)| *id == r.run_id).map(|(_, _, n)| n.as_str()).unwrap_or("?");
            let gpu = if r.gpu_mem > 0 { format!("  gpu mem {}", format_bytes(r.gpu_mem)) } else { String::new() };
            out.push_str(&format!(
                "  {name:<40} pid {:<8} {:>3} proc  cpu {:>5.1}%  rss {}{gpu}\n",
                r.pid,
                r.processes,
                r.cpu_percent,
                format_bytes(r.rss)
            ));
        }
    }
    out
}
