//! Benchmark of the query layer on a generated record: 10,000 runs × 20
//! params × 10 metrics, plus one run with a 1,000,000-point metric
//! (1.1 million points in all). Prints, median of 7:
//!
//! - the runs frame with a filter (`metrics.m0 < 0.5 and params.p3 = 'v5'`);
//! - the full history of the 1M-point metric as a frame;
//! - a grouped SQL query over every metric point.
//!
//! `cargo bench -p expman-query --bench query`; `benches/query_vs_mlflow.sh`
//! runs it beside the same calls in MLflow. The data follows formulas that
//! the MLflow side (benches/mlflow_query.py) repeats exactly.
//!
//! `-- --build DIR --runs N [--params P] [--long POINTS]` only writes such
//! a record of N runs with P params each (default 20; without the long
//! metric unless `--long`) as the workspace DIR, for the Python package's
//! benchmark (`benches/python_vs_mlflow.sh`) and the web UI's
//! (`benches/ui_vs_mlflow.sh`).

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use expman_query::{Frames, Query, sql};
use expman_store::{IngestBatch, MetricPoint, NewRun, ParamValue, Store};

const RUNS: usize = 10_000;
const PARAMS: usize = 20;
const METRICS: usize = 10;
const LONG: i64 = 1_000_000;

/// Param j of run i: text for j < 10, numbers after.
fn param(i: usize, j: usize) -> ParamValue {
    if j < 10 {
        ParamValue::Text(format!("v{}", (i * 7 + j) % 13))
    } else {
        ParamValue::Float(((i * 3 + j) % 100) as f64 / 10.0)
    }
}

/// Metric k of run i.
fn metric(i: usize, k: usize) -> f64 {
    ((i * 31 + k * 17) % 1000) as f64 / 1000.0
}

fn build(path: &std::path::Path, runs: usize, params: usize, long: i64) -> String {
    let mut store = Store::open(path).unwrap();
    let e = store.ensure_experiment("bench", None, "").unwrap();
    let runner = store.register_runner("h", 1, None, "u", "bench").unwrap();
    let mut long_uid = String::new();
    for i in 0..runs {
        let trial = format!("trial_{}", i % 100);
        let t = store.ensure_trial(e, &trial, &trial, None, None).unwrap();
        let params = (0..params).map(|j| (format!("p{j}"), param(i, j))).collect();
        let new = NewRun {
            experiment_id: e,
            trial_id: t,
            repeat: (i / 100) as u32,
            attempt: 1,
            config_json: "{}".into(),
            config_hash: format!("{i}"),
            seed: i as i64,
            run_dir: String::new(),
            runner_id: runner,
            params,
            tags: Vec::new(),
        };
        let uid = format!("r{i:07}");
        let run = store.create_run(&new, &uid).unwrap();
        let mut metrics: Vec<MetricPoint> = (0..METRICS)
            .map(|k| MetricPoint {
                key: format!("m{k}"),
                step: 0,
                epoch: None,
                value: metric(i, k),
                timestamp: 1_700_000_000_000,
            })
            .collect();
        if i == 0 {
            long_uid = uid.clone();
            metrics.extend((0..long).map(|s| MetricPoint {
                key: "loss".into(),
                step: s,
                epoch: Some(s / 1000),
                value: 1.0 / (1.0 + s as f64),
                timestamp: 1_700_000_000_000 + s,
            }));
        }
        let batch = IngestBatch { run_id: run.id, from_offset: 0, offset: 1, metrics, ..IngestBatch::default() };
        store.ingest(&batch).unwrap();
    }
    long_uid
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn time<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..7 {
        let started = Instant::now();
        last = Some(f());
        times.push(started.elapsed());
    }
    (median(times), last.expect("ran"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(dir) = value("--build") {
        let runs = value("--runs").and_then(|n| n.parse().ok()).unwrap_or(RUNS);
        let params = value("--params").and_then(|n| n.parse().ok()).unwrap_or(PARAMS);
        let long = value("--long").and_then(|n| n.parse().ok()).unwrap_or(0);
        let dir = std::path::PathBuf::from(dir);
        let started = Instant::now();
        let long_uid = build(&dir.join("expman.db"), runs, params, long);
        if long > 0 {
            println!("{long_uid}");
        }
        std::fs::create_dir_all(dir.join(".expman")).unwrap();
        std::fs::write(dir.join(".expman").join("workspace.json"), r#"{"database":"expman.db"}"#).unwrap();
        eprintln!("wrote {runs} runs to {} in {:.1} s", dir.display(), started.elapsed().as_secs_f64());
        return;
    }
    let dir = std::env::temp_dir().join(format!("expman-bench-query-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("expman.db");
    let started = Instant::now();
    let long_uid = build(&db, RUNS, PARAMS, LONG);
    eprintln!("generated the record in {:.1} s", started.elapsed().as_secs_f64());
    let store = Store::open(&db).unwrap();
    let frames = Frames::new(&store);
    let query = Query::parse("metrics.m0 < 0.5 and params.p3 = 'v5'").unwrap();
    let (runs_ms, runs) = time(|| query.apply(frames.runs().unwrap()).unwrap());
    let (history_ms, history) = time(|| frames.history(&long_uid, "loss").unwrap());
    let (sql_ms, grouped) = time(|| {
        sql::run(
            &frames,
            "SELECT trial, avg(value) AS mean, count(*) AS n FROM metrics WHERE key = 'm0' GROUP BY trial",
        )
        .unwrap()
    });
    assert_eq!(history.height(), LONG as usize);
    assert_eq!(grouped.height(), 100);
    println!(
        "query layer, {RUNS} runs x {PARAMS} params x {METRICS} metrics + a {LONG}-point run ({} points in all):",
        RUNS * METRICS + LONG as usize
    );
    println!(
        "  runs frame with a filter ({} rows x {} columns): {runs_ms:.1} ms   (target < 100 ms)",
        runs.height(),
        runs.width()
    );
    println!("  1M-point history as a frame: {history_ms:.1} ms   (target < 200 ms)");
    println!("  grouped SQL over all points: {sql_ms:.1} ms   (target < 300 ms)");
    let _ = std::fs::remove_dir_all(&dir);
}
