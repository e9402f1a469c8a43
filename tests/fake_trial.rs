//! `fake-trial`: a trial program for the end-to-end tests. It reports
//! metrics through the event protocol (to `EXPMAN_EVENTS`), sleeps, writes
//! artifacts, crashes, hangs, ignores SIGTERM or prints garbage on cue:
//!
//! ```text
//! fake-trial [--epochs N] [--sleep-ms MS] [--artifact NAME] [--garbage]
//!            [--exit CODE] [--segfault] [--hang] [--ignore-sigterm]
//!            [--flood POINTS] [--stderr TEXT] [--tag-env VAR] [--allocate-mb MB]
//!            [--val-losses 0.9,0.5,...] [--respect-stop] [--checkpoints]
//!            [--curve X]
//! ```
//!
//! `--curve X` logs a `val_loss` per epoch that a search can optimise:
//! `(X - 0.3)² + 0.5 / (epoch + 1)`, best at X = 0.3 and falling with epochs.
//! `--val-losses` logs one `val_loss` per epoch (and sets the number of
//! epochs); `--respect-stop` exits cleanly once expman's stop file appears;
//! `--checkpoints` writes and reports `ckpt-EPOCH.bin` every epoch.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let val_losses: Vec<f64> =
        value("--val-losses").map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect()).unwrap_or_default();
    let epochs: u64 = if val_losses.is_empty() {
        value("--epochs").and_then(|v| v.parse().ok()).unwrap_or(3)
    } else {
        val_losses.len() as u64
    };
    let stop_file = std::env::var("EXPMAN_STOP_FILE").ok();
    let run_dir = std::env::var("EXPMAN_RUN_DIR").unwrap_or_else(|_| ".".into());
    let sleep = Duration::from_millis(value("--sleep-ms").and_then(|v| v.parse().ok()).unwrap_or(0));

    let terminated = Arc::new(AtomicBool::new(false));
    if has("--ignore-sigterm") {
        // A handler that only sets a flag: SIGTERM no longer ends the process.
        signal_hook::flag::register(signal_hook::consts::SIGTERM, terminated.clone()).expect("install handler");
    }

    let path = std::env::var("EXPMAN_EVENTS").expect("EXPMAN_EVENTS is set by expman");
    let mut events = OpenOptions::new().create(true).append(true).open(&path).expect("open events");
    let mut emit = |line: String| {
        events.write_all(format!("{line}\n").as_bytes()).expect("write event");
    };
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();

    if let Some(var) = value("--tag-env") {
        let v = std::env::var(&var).unwrap_or_else(|_| "<unset>".into());
        emit(format!(r#"{{"type":"tag","key":"{var}","value":"{v}"}}"#));
    }
    let _ballast: Vec<u8> = match value("--allocate-mb").and_then(|v| v.parse::<usize>().ok()) {
        Some(mb) => {
            let mut v = vec![0u8; mb << 20];
            // Touch every page so the memory is resident.
            for i in (0..v.len()).step_by(4096) {
                v[i] = 1;
            }
            v
        }
        None => Vec::new(),
    };
    if let Some(ms) = value("--busy-ms").and_then(|v| v.parse::<u64>().ok()) {
        // Burn CPU (not sleep) for that long.
        let until = std::time::Instant::now() + Duration::from_millis(ms);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    emit(format!(
        r#"{{"type":"params","values":{{"epochs":{epochs},"seed":{}}}}}"#,
        std::env::var("EXPMAN_SEED").unwrap_or_else(|_| "0".into())
    ));

    if let Some(points) = value("--flood").and_then(|v| v.parse::<u64>().ok()) {
        // As fast as possible, through a buffer: the ingest benchmark.
        let file = OpenOptions::new().append(true).open(&path).expect("open events");
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let ts = now();
        for i in 0..points {
            writeln!(
                out,
                r#"{{"type":"metric","key":"loss","value":{},"step":{i},"ts":{ts}}}"#,
                1.0 / (1.0 + i as f64)
            )
            .expect("write");
        }
        out.flush().expect("flush");
    }

    for epoch in 0..epochs {
        emit(format!(r#"{{"type":"epoch_start","epoch":{epoch},"ts":{}}}"#, now()));
        if has("--garbage") && epoch == 0 {
            emit("this is not json".into());
            emit(r#"{"type":"metric","key":"half"#.into());
        }
        let loss = 1.0 / (1.0 + epoch as f64);
        emit(format!(
            r#"{{"type":"metrics","values":{{"loss":{loss},"acc":{}}},"step":{epoch},"ts":{}}}"#,
            1.0 - loss / 2.0,
            now()
        ));
        let curve = value("--curve").and_then(|x| x.parse::<f64>().ok());
        if let Some(x) = curve {
            let v = (x - 0.3).powi(2) + 0.5 / (epoch as f64 + 1.0);
            emit(format!(r#"{{"type":"metric","key":"val_loss","value":{v},"step":{epoch},"epoch":{epoch}}}"#));
        }
        if let Some(v) = val_losses.get(epoch as usize) {
            emit(format!(r#"{{"type":"metric","key":"val_loss","value":{v},"step":{epoch},"epoch":{epoch}}}"#));
        }
        if has("--checkpoints") {
            let name = format!("ckpt-{epoch}.bin");
            std::fs::write(format!("{run_dir}/{name}"), epoch.to_le_bytes()).expect("write checkpoint");
            emit(format!(r#"{{"type":"artifact","path":"{name}","kind":"checkpoint","epoch":{epoch}}}"#));
        }
        emit(format!(r#"{{"type":"epoch_end","epoch":{epoch},"ts":{}}}"#, now()));
        std::thread::sleep(sleep);
        if has("--respect-stop") && stop_file.as_ref().is_some_and(|f| std::path::Path::new(f).exists()) {
            eprintln!("stopping at epoch {epoch} as asked");
            std::process::exit(0);
        }
    }
    if let Some(name) = value("--artifact") {
        let dir = std::env::var("EXPMAN_RUN_DIR").unwrap_or_else(|_| ".".into());
        std::fs::write(format!("{dir}/{name}"), b"fake model weights").expect("write artifact");
        emit(format!(r#"{{"type":"artifact","path":"{name}","kind":"model"}}"#));
    }
    if let Some(text) = value("--stderr") {
        eprintln!("{text}");
    }
    if has("--segfault") {
        segfault();
    }
    if has("--hang") {
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if terminated.load(Ordering::SeqCst) {
                eprintln!("got SIGTERM, ignoring it");
                terminated.store(false, Ordering::SeqCst);
            }
        }
    }
    if let Some(code) = value("--exit").and_then(|v| v.parse::<i32>().ok()) {
        std::process::exit(code);
    }
}

/// A real invalid memory access (raising SIGSEGV would be swallowed by the
/// Rust runtime's own handler).
#[allow(unsafe_code)]
fn segfault() {
    let address = std::hint::black_box(8usize) as *mut u64;
    // SAFETY: not safe at all, on purpose: this process is meant to crash.
    unsafe { address.write_volatile(1) };
}
