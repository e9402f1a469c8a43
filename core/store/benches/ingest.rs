//! Benchmark of the store's write path alone: 1,000,000 metric points of
//! one run committed with `Store::ingest` in batches of 100,000 (what the
//! Python package's writer thread and the runner's ingest thread do),
//! points per second, median of 3: one metric, and ten metrics logged
//! together (`log_metrics`), so interleaved. `cargo bench -p expman-store
//! --bench ingest`.

#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use expman_store::{IngestBatch, MetricPoint, NewRun, Store};

const POINTS: i64 = 1_000_000;
const BATCH: i64 = 100_000;

fn once(round: usize, keys: i64) -> f64 {
    let dir = std::env::temp_dir().join(format!("expman-bench-ingest-{}-{round}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir.join("expman.db")).unwrap();
    let e = store.ensure_experiment("bench", None, "").unwrap();
    let t = store.ensure_trial(e, "t", "t", None, None).unwrap();
    let runner = store.register_runner("h", 1, None, "u", "bench").unwrap();
    let new = NewRun {
        experiment_id: e,
        trial_id: t,
        repeat: 0,
        attempt: 1,
        config_json: "{}".into(),
        config_hash: "h".into(),
        seed: 0,
        run_dir: String::new(),
        runner_id: runner,
        params: Vec::new(),
        tags: Vec::new(),
    };
    let run = store.create_run(&new, "r1").unwrap();
    let batches: Vec<IngestBatch> = (0..POINTS / BATCH)
        .map(|b| IngestBatch {
            run_id: run.id,
            metrics: (b * BATCH..(b + 1) * BATCH)
                .map(|s| MetricPoint {
                    key: format!("m{}", s % keys),
                    step: s / keys,
                    epoch: None,
                    value: 1.0 / (1.0 + s as f64),
                    timestamp: 1_700_000_000_000 + s,
                })
                .collect(),
            ..IngestBatch::default()
        })
        .collect();
    let started = Instant::now();
    for batch in &batches {
        assert!(store.ingest(batch).unwrap());
    }
    let rate = POINTS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(store.metric_count(run.id).unwrap(), POINTS);
    let _ = std::fs::remove_dir_all(&dir);
    rate
}

fn main() {
    for keys in [1, 10] {
        let mut rates: Vec<f64> = (0..3).map(|round| once(round, keys)).collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "store ingest, {POINTS} points of {keys} metric(s) in batches of {BATCH}: {:.0} points/s (median of 3)",
            rates[1]
        );
    }
}
