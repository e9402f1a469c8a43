//! Benchmark: load, merge, expand and validate a generated trials.yaml of
//! about 50,000 lines (5,000 trials, with sweeps, dotted keys and
//! interpolations) from disk, as `expman validate` does. Prints figures;
//! run with `cargo bench -p expman-schema --bench config_load`.

#![allow(clippy::disallowed_methods)] // A benchmark may set up files; the library may not.

use std::path::Path;
use std::time::{Duration, Instant};

use expman_schema::{ExpandOptions, FsLoader, check};

const BASE: &str = "seed: 42
model: {type: transformer, embedding_dim: 512, layers: 6, dropout: 0.1}
training: {epochs: 100, optimizer: adam, lr: 0.001, batch_size: 64}
data: {path: /data/corpus, shuffle: true}
output: runs/${experiment.name}/${trial.name}
pipeline:
  type: process
  command: [python, train.py]
  timeout: 2h
  env: {TOKENIZERS_PARALLELISM: \"false\"}
  callbacks:
    - {type: early_stopping, metric: val_loss, mode: min, patience: 5, min_delta: 0.001}
    - {type: checkpoint, every: 1, keep_last: 3}
";

/// 5,000 trials of 10 lines each; every tenth has a 2x2 sweep.
fn trials_yaml() -> String {
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!(
            "- name: trial_{i:05}\n  repeat: {}\n  desc: generated trial number {i}\n  settings:\n",
            1 + i % 3
        ));
        text.push_str(&format!("    model: {{embedding_dim: {}, layers: {}}}\n", 128 + (i % 8) * 64, 2 + i % 6));
        text.push_str(&format!("    training.lr: 0.{:04}\n", 1 + i % 999));
        text.push_str(&format!("    training:\n      batch_size: {}\n", 16 << (i % 4)));
        if i % 10 == 0 {
            text.push_str("  sweep:\n    training.optimizer: [adam, sgd]\n");
        } else {
            text.push_str("  tags: {generated: yes}\n  # a comment line\n");
        }
    }
    text
}

fn main() {
    let dir = std::env::temp_dir().join(format!("expman-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    let trials = trials_yaml();
    std::fs::write(dir.join("trials.yaml"), &trials).unwrap();
    std::fs::write(dir.join("experiment.yaml"), "name: bench\n").unwrap();
    let lines = trials.lines().count();

    let mut times: Vec<Duration> = Vec::new();
    let mut runs = 0;
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    for _ in 0..iterations {
        let started = Instant::now();
        let (analysis, expansion) = check(&FsLoader, Path::new(&dir), &[], ExpandOptions::default());
        times.push(started.elapsed());
        assert!(!analysis.has_errors(), "{:?}", &analysis.diagnostics[..1]);
        runs = expansion.runs.len();
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("config_load: trials.yaml of {lines} lines ({} KiB), 5000 trials -> {runs} runs", trials.len() / 1024);
    println!(
        "  load + merge + expand + validate: median {:.1} ms, min {:.1} ms over {} iterations",
        ms(median),
        ms(times[0]),
        times.len()
    );
    println!("  target: under 100 ms");
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
