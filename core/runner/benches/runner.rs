//! Benchmarks of the runner (prints figures; not run in CI):
//!
//! - ingest: a trial that reports 1,000,000 metric points, measured from
//!   its first write to the last row committed, one point per line and ten
//!   per line; and the store alone reading a finished file;
//! - overhead: 1,000 runs of a program that exits at once (`true`), 2 in
//!   parallel, against spawning `true` 1,000 times directly;
//! - sampler: the hardware sampler's own CPU time at 1 Hz while 8 runs
//!   (each a process tree) are active, as a percentage of one core.
//!
//! - mlflow (when `EXPMAN_BENCH_MLFLOW_URI` names a server): the ingest
//!   rate with an MLflow tracker against without, and how long after the
//!   first write a 100,000-point run is all in MLflow.
//!
//! `cargo bench -p expman-runner --bench runner` (or `-- ingest` / `-- overhead`).

#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use expman_runner::ingest::EventReader;
use expman_runner::pipeline::{FnPipeline, PipelineRegistry};
use expman_runner::workspace::Workspace;
use expman_runner::{RunnerOptions, Silent};
use expman_schema::{ExpandOptions, FsLoader, check};
use expman_store::{NewRun, Store};

const POINTS: u64 = 1_000_000;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("expman-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// What one ingest run measured.
struct Ingest {
    /// Points per second from the first write to the run's end (its last
    /// point committed, drained, the run recorded as ended).
    rate: f64,
    /// Seconds the trial spent writing.
    writing: f64,
    /// Seconds from the first write until the runner returned (its
    /// trackers caught up, when there are any).
    total: f64,
    /// Whether every tracker was up to date when the runner returned.
    trackers_caught_up: bool,
}

/// Runs one trial that writes `points` points (`per_line` per line) as
/// fast as it can, with `trackers` (env.yaml lines under `trackers:`).
fn ingest_through_runner(points: u64, per_line: u64, trackers: &str, flush: Duration) -> Ingest {
    let dir = temp_dir(&format!("ingest{per_line}-{}", trackers.len()));
    let env = if trackers.is_empty() {
        "workspace: out\n".to_string()
    } else {
        format!("workspace: out\ntrackers:\n{trackers}")
    };
    std::fs::write(dir.join("env.yaml"), env).unwrap();
    std::fs::write(dir.join("base.yaml"), "pipeline: {type: flood}\n").unwrap();
    std::fs::write(dir.join("trials.yaml"), "- name: flood\n").unwrap();
    let (analysis, expansion) = check(&FsLoader, &dir, &[], ExpandOptions::default());
    assert!(!analysis.has_errors());
    let first_write = Arc::new(AtomicU64::new(0));
    let done_writing = Arc::new(AtomicU64::new(0));
    let (fw, dw) = (first_write.clone(), done_writing.clone());
    let mut registry = PipelineRegistry::with_builtins();
    registry.register(
        "flood",
        FnPipeline::new(move |ctx| {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(ctx.run_dir.join("events.jsonl"))?;
            let mut out = std::io::BufWriter::with_capacity(64 << 10, file);
            fw.store(nanos(), Ordering::SeqCst);
            let ts = 1.7e9;
            let mut i = 0;
            while i < points {
                if per_line == 1 {
                    writeln!(
                        out,
                        r#"{{"type":"metric","key":"loss","value":{},"step":{i},"ts":{ts}}}"#,
                        1.0 / (1.0 + i as f64)
                    )?;
                } else {
                    write!(out, r#"{{"type":"metrics","step":{},"ts":{ts},"values":{{"#, i / per_line)?;
                    for k in 0..per_line {
                        let sep = if k + 1 == per_line { "" } else { "," };
                        write!(out, r#""m{k}":{}{sep}"#, 1.0 / (1.0 + (i + k) as f64))?;
                    }
                    writeln!(out, "}}}}")?;
                }
                i += per_line;
            }
            out.flush()?;
            dw.store(nanos(), Ordering::SeqCst);
            Ok(())
        }),
    );
    let workspace = Workspace::for_project(&analysis.project).unwrap();
    let options = RunnerOptions { poll: Duration::from_millis(20), tracker_flush: flush, ..RunnerOptions::default() };
    let report =
        expman_runner::run(&workspace, &analysis.project, &expansion.runs, &registry, &options, &mut Silent).unwrap();
    let returned = nanos();
    let store = Store::open(&workspace.database).unwrap();
    let rows = store.list_runs(None).unwrap();
    assert_eq!(store.metric_count(rows[0].id).unwrap() as u64, points, "every point committed");
    let start = first_write.load(Ordering::SeqCst);
    // The run's end as recorded (ms): after its last point was committed.
    let ended = rows[0].ended_at.unwrap() as u64 * 1_000_000;
    let secs = (ended.max(start + 1) - start) as f64 / 1e9;
    let writing = (done_writing.load(Ordering::SeqCst) - start) as f64 / 1e9;
    let trackers_caught_up =
        report.trackers.iter().all(|t| t.caught_up && t.pending_points == 0 && t.pending_ends == 0);
    let _ = std::fs::remove_dir_all(&dir);
    Ingest { rate: points as f64 / secs, writing, total: (returned - start) as f64 / 1e9, trackers_caught_up }
}

/// Reads a finished file of `POINTS` single-point lines into a fresh store.
fn ingest_store_only() -> f64 {
    let dir = temp_dir("store-only");
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(run_dir.join("events.jsonl")).unwrap());
        for i in 0..POINTS {
            writeln!(
                out,
                r#"{{"type":"metric","key":"loss","value":{},"step":{i},"ts":1.7e9}}"#,
                1.0 / (1.0 + i as f64)
            )
            .unwrap();
        }
    }
    let mut store = Store::open(&dir.join("expman.db")).unwrap();
    let e = store.ensure_experiment("bench", None, "").unwrap();
    let t = store.ensure_trial(e, "t", "t", None, None).unwrap();
    let runner_id = store.register_runner("h", 1, None, "u", "c").unwrap();
    let new = NewRun {
        experiment_id: e,
        trial_id: t,
        repeat: 0,
        attempt: 1,
        config_json: "{}".into(),
        config_hash: "x".into(),
        seed: 0,
        run_dir: run_dir.display().to_string(),
        runner_id,
        params: Vec::new(),
        tags: Vec::new(),
    };
    let run = store.create_run(&new, "benchrun").unwrap();
    let started = Instant::now();
    let mut reader = EventReader::new(run.id, &run_dir, 0, HashMap::new());
    loop {
        let (batch, _) = reader.read(true).unwrap();
        if batch.offset == batch.from_offset {
            break;
        }
        assert!(store.ingest(&batch).unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(store.metric_count(run.id).unwrap() as u64, POINTS);
    let _ = std::fs::remove_dir_all(&dir);
    POINTS as f64 / secs
}

fn overhead() -> (f64, f64) {
    const RUNS: usize = 1000;
    let dir = temp_dir("overhead");
    std::fs::write(dir.join("env.yaml"), "workspace: out\nresources: {max_parallel: 2}\n").unwrap();
    std::fs::write(dir.join("base.yaml"), "pipeline: {command: [true]}\n").unwrap();
    std::fs::write(dir.join("trials.yaml"), format!("- name: quick\n  repeat: {RUNS}\n")).unwrap();
    let (analysis, expansion) = check(&FsLoader, &dir, &[], ExpandOptions::default());
    assert!(!analysis.has_errors());
    let workspace = Workspace::for_project(&analysis.project).unwrap();
    let registry = PipelineRegistry::with_builtins();
    let started = Instant::now();
    let report = expman_runner::run(
        &workspace,
        &analysis.project,
        &expansion.runs,
        &registry,
        &RunnerOptions::default(),
        &mut Silent,
    )
    .unwrap();
    let per_run = started.elapsed().as_secs_f64() * 1000.0 / RUNS as f64;
    assert!(report.all_done() && report.runs.len() == RUNS);

    let started = Instant::now();
    for _ in 0..RUNS {
        let status =
            expman_os::process::command("true", &[], Path::new("/"), [("PATH", "/usr/bin:/bin")]).status().unwrap();
        assert!(status.success());
    }
    let bare = started.elapsed().as_secs_f64() * 1000.0 / RUNS as f64;
    let _ = std::fs::remove_dir_all(&dir);
    (per_run, bare)
}

fn sampler_cost() -> (f64, u64) {
    use expman_os::hardware::Sampler;
    use expman_runner::sampling::SamplerThread;
    const SECONDS: u64 = 30;
    let dir = temp_dir("sampler");
    // 8 runs, each a shell with a child: process trees like real trials.
    let mut children = Vec::new();
    for _ in 0..8 {
        let child = expman_os::process::command(
            "/bin/sh",
            &["-c".into(), format!("sleep {} & wait", SECONDS + 5)],
            &dir,
            [("PATH", "/usr/bin:/bin")],
        )
        .spawn()
        .unwrap();
        children.push(child);
    }
    let sampler = Sampler::new(None).unwrap();
    let thread = SamplerThread::spawn(sampler, Duration::from_secs(1), Some(&dir.join("expman.db")), None).unwrap();
    let handle = thread.handle();
    for (i, c) in children.iter().enumerate() {
        handle.add(i as i64 + 1, c.id());
    }
    std::thread::sleep(Duration::from_secs(SECONDS));
    let report = thread.stop();
    for mut c in children {
        expman_os::process::signal_group(c.id(), nix::sys::signal::Signal::SIGKILL);
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    (report.cpu_time.as_secs_f64() / report.wall.as_secs_f64() * 100.0, report.samples)
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if want("ingest") {
        let one = ingest_through_runner(POINTS, 1, "", Duration::ZERO);
        println!(
            "ingest, 1,000,000 points, one per line:  {:>9.0} points/s first write -> last commit (trial wrote for {:.2} s)",
            one.rate, one.writing
        );
        let ten = ingest_through_runner(POINTS, 10, "", Duration::ZERO);
        println!(
            "ingest, 1,000,000 points, ten per line:  {:>9.0} points/s first write -> last commit (trial wrote for {:.2} s)",
            ten.rate, ten.writing
        );
        println!("ingest, store alone from a finished file: {:>9.0} points/s", ingest_store_only());
        println!("  target: at least 500,000 points/s");
    }
    // With an MLflow server to talk to (benches/trackers_vs_mlflow.sh starts one).
    if want("mlflow")
        && let Ok(uri) = std::env::var("EXPMAN_BENCH_MLFLOW_URI")
    {
        let tracker = format!("  - type: mlflow\n    tracking_uri: {uri}\n");
        // Alternately, three times each: the median rate of each.
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            without.push(ingest_through_runner(POINTS, 1, "", Duration::ZERO).rate);
            with.push(ingest_through_runner(POINTS, 1, &tracker, Duration::ZERO).rate);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let rounds = |v: &[f64]| v.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
        println!(
            "ingest, 1,000,000 points, without trackers:   {:>9.0} points/s (median of {})",
            median(&mut without.clone()),
            rounds(&without)
        );
        let (a, b) = (median(&mut without.clone()), median(&mut with.clone()));
        println!(
            "ingest, 1,000,000 points, with MLflow tracker: {b:>9.0} points/s (median of {}; {:+.1}%; the export goes on after the run, `expman sync` finishes it)",
            rounds(&with),
            100.0 * (b / a - 1.0),
        );
        let small = ingest_through_runner(100_000, 1, &tracker, Duration::from_secs(1200));
        println!(
            "mlflow: a 100,000-point run, first write -> MLflow holds every point: {:.2} s{}",
            small.total,
            if small.trackers_caught_up { "" } else { " (NOT caught up)" }
        );
        println!("  target: with the tracker, within 10% of the rate without");
    }
    if want("sampler") {
        let (percent, samples) = sampler_cost();
        println!(
            "hardware sampler at 1 Hz with 8 active runs: {percent:.3}% of one core ({samples} samples, each written to SQLite)"
        );
        println!("  target: under 1%");
    }
    if want("overhead") {
        let (per_run, bare) = overhead();
        println!("runner overhead, 1,000 runs of `true`, 2 in parallel: {per_run:.2} ms per run (wall time / runs)");
        println!("  spawning `true` directly, one at a time:          {bare:.2} ms per process");
        println!("  target: under 5 ms per run");
    }
}
