//! Benchmark of the team database: the same record on SQLite and on a
//! MariaDB server. A generated record of 500 runs × 20 params, each with 4
//! metrics × 250 steps (500,000 points). Prints:
//!
//! - ingest: points per second into the local SQLite record (the store's
//!   ingest, as the runner writes), and into MariaDB (the runner's sender:
//!   the whole record pushed, one transaction per run);
//! - a live pass: one more step of every run, sent (what the sender does
//!   each second while runs go on), and a pass over the same running runs
//!   with nothing new;
//! - the runs frame (median of 7): on the SQLite record; through the team
//!   database from a cold replica (everything pulled first); and warm (the
//!   replica brought up to date when nothing changed: what each read costs).
//!
//! Needs a server: `EXPMAN_BENCH_MARIADB=mysql://user@127.0.0.1:53307/expman`
//! and `EXPMAN_DB_PASSWORD` (tests/engines/mariadb-start.sh starts one);
//! works in a database `expman_bench` of its own (dropped first).
//! `cargo bench -p expman-team --bench team`.

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use expman_query::Frames;
use expman_store::{IngestBatch, MetricPoint, NewRun, ParamValue, RunFinish, RunStatus, Store};
use expman_team::copy::replicate;
use expman_team::mysql::{MysqlDb, MysqlTarget};

const RUNS: usize = 500;
const PARAMS: usize = 20;
const KEYS: usize = 4;
const STEPS: i64 = 250;

fn points(run: usize, from: i64, to: i64) -> Vec<MetricPoint> {
    (from..to)
        .flat_map(|s| {
            (0..KEYS).map(move |k| MetricPoint {
                key: format!("m{k}"),
                step: s,
                epoch: Some(s),
                value: ((run * 31 + k * 17) as f64 + s as f64).sin(),
                timestamp: 1_700_000_000_000 + s * 1000,
            })
        })
        .collect()
}

/// The record; the ids of its runs; seconds spent in ingest.
fn build(store: &mut Store) -> (Vec<i64>, f64) {
    let e = store.ensure_experiment("bench", None, "").unwrap();
    let runner = store.register_runner("h", 1, None, "u", "bench").unwrap();
    let mut ids = Vec::new();
    let mut ingest = Duration::ZERO;
    for i in 0..RUNS {
        let trial = format!("trial_{}", i % 50);
        let t = store.ensure_trial(e, &trial, &trial, None, None).unwrap();
        let params = (0..PARAMS).map(|j| (format!("p{j}"), ParamValue::Float((i * j % 97) as f64))).collect();
        let new = NewRun {
            experiment_id: e,
            trial_id: t,
            repeat: (i / 50) as u32,
            attempt: 1,
            config_json: "{}".into(),
            config_hash: format!("{i}"),
            seed: i as i64,
            run_dir: String::new(),
            runner_id: runner,
            params,
            tags: Vec::new(),
        };
        let run = store.create_run(&new, &format!("r{i:07}")).unwrap();
        store.set_status(run.id, RunStatus::Running, None).unwrap();
        let batch = IngestBatch {
            run_id: run.id,
            from_offset: 0,
            offset: 1,
            metrics: points(i, 0, STEPS),
            ..IngestBatch::default()
        };
        let started = Instant::now();
        store.ingest(&batch).unwrap();
        ingest += started.elapsed();
        ids.push(run.id);
    }
    (ids, ingest.as_secs_f64())
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[3].as_secs_f64() * 1000.0
}

fn main() {
    let Ok(url) = std::env::var("EXPMAN_BENCH_MARIADB") else {
        eprintln!("set EXPMAN_BENCH_MARIADB=mysql://user@host:port/db (and EXPMAN_DB_PASSWORD)");
        std::process::exit(2);
    };
    let mut admin = MysqlDb::connect(&MysqlTarget::from_env(&url).unwrap(), Duration::from_secs(30)).unwrap();
    admin.exec("DROP DATABASE IF EXISTS `expman_bench`", Vec::new()).unwrap();
    admin.exec("CREATE DATABASE `expman_bench` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", Vec::new()).unwrap();
    let bench_url = format!("{}/expman_bench", url.rsplit_once('/').unwrap().0);
    let target = MysqlTarget::from_env(&bench_url).unwrap();
    let mut server = MysqlDb::open(&target).unwrap();

    let dir = std::env::temp_dir().join(format!("expman-bench-team-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut local = Store::open(&dir.join("expman.db")).unwrap();
    let total = RUNS * KEYS * STEPS as usize;
    let (ids, sqlite_s) = build(&mut local);

    let started = Instant::now();
    let sent = replicate(&mut local, &mut server, None, &mut |_| {}).unwrap();
    let mysql_s = started.elapsed().as_secs_f64();
    assert_eq!(sent.metric_points, total);

    // A live pass: every run RUNNING again with one more step.
    for (i, id) in ids.iter().enumerate() {
        let batch = IngestBatch {
            run_id: *id,
            from_offset: 1,
            offset: 2,
            metrics: points(i, STEPS, STEPS + 1),
            ..IngestBatch::default()
        };
        local.ingest(&batch).unwrap();
    }
    let started = Instant::now();
    let live = replicate(&mut local, &mut server, None, &mut |_| {}).unwrap();
    let live_ms = started.elapsed().as_secs_f64() * 1000.0;
    // A pass over the same running runs with nothing new.
    let started = Instant::now();
    let idle = replicate(&mut local, &mut server, None, &mut |_| {}).unwrap();
    let idle_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!((idle.runs_updated, idle.runs_live), (0, RUNS));
    // The runs end; the last pass sends that.
    for id in &ids {
        let finish =
            RunFinish { status: RunStatus::Success, exit_code: Some(0), signal: None, error: None, ended_at: 1 };
        local.finish_run(*id, &finish).unwrap();
    }
    let ended = replicate(&mut local, &mut server, None, &mut |_| {}).unwrap();
    assert_eq!((ended.runs_updated, ended.runs_live), (RUNS, 0));

    let local_ms = median_ms(|| {
        let frame = Frames::new(&local).runs().unwrap();
        assert_eq!(frame.height(), RUNS);
    });
    let replica_path = dir.join("team.db");
    let started = Instant::now();
    let mut replica = Store::open(&replica_path).unwrap();
    replicate(&mut server, &mut replica, None, &mut |_| {}).unwrap();
    let frame = Frames::new(&replica).runs().unwrap();
    assert_eq!(frame.height(), RUNS);
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    let warm_ms = median_ms(|| {
        replicate(&mut server, &mut replica, None, &mut |_| {}).unwrap();
        let frame = Frames::new(&replica).runs().unwrap();
        assert_eq!(frame.height(), RUNS);
    });

    println!("team database: {RUNS} runs x {PARAMS} params, {KEYS} metrics x {STEPS} steps ({total} points)");
    println!("  ingest, SQLite (the store's ingest):     {:>9.0} points/s  ({sqlite_s:.2} s)", total as f64 / sqlite_s);
    println!(
        "  ingest, MariaDB (pushed, run by run):    {:>9.0} points/s  ({mysql_s:.2} s, {:.1}x SQLite's time)",
        total as f64 / mysql_s,
        mysql_s / sqlite_s
    );
    println!(
        "  a live pass (+1 step on each of {} runs): {live_ms:.0} ms ({} points)",
        live.runs_updated, live.metric_points
    );
    println!("  a live pass with nothing new ({} runs):   {idle_ms:.0} ms", idle.runs_live);
    println!("  runs frame, SQLite record:              {local_ms:>8.1} ms");
    println!("  runs frame, team database, cold replica: {cold_ms:>8.1} ms ({:.1}x)", cold_ms / local_ms);
    println!("  runs frame, team database, warm replica: {warm_ms:>8.1} ms ({:.1}x)", warm_ms / local_ms);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = admin.exec("DROP DATABASE IF EXISTS `expman_bench`", Vec::new());
}
