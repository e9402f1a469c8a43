//! The search benchmark (`benches/search_vs_optuna.sh` runs it beside
//! Optuna; alone: `cargo bench -p expman-search --bench search`):
//!
//! 1. best value found after 50 and 200 trials on Branin (2-D),
//!    Hartmann-6, a 10-D Rosenbrock in log space and a noisy Hartmann-6,
//!    over 20 seeds, for expman's TPE, random and quasi-random (and, given
//!    `--optuna FILE` from benches/search_optuna.py, Optuna's TPE and
//!    random on the same functions), with Welch's test (expman's own,
//!    `expman_query::stats`) between them;
//! 2. the time of one TPE suggestion with 1,000 and 10,000 finished trials;
//! 3. ASHA on simulated learning curves: epochs spent until a trial ends
//!    within 1% of the best final value a full random search of the same
//!    trials finds, against that search's epochs.
//!
//! Options: `--seeds N` (20), `--budget N` (200), `--optuna FILE`.

use std::collections::BTreeMap;
use std::time::Instant;

use expman_query::stats::{At, Comparison, Sample};
use expman_search::rng::Rng;
use expman_search::{Dim, Dist, Method, Mode, Observation, Pruner, Search, Space, State, TpeOptions, Value};

const HARTMANN_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const HARTMANN_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];
const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const OBJECTIVES: [&str; 4] = ["branin", "hartmann6", "rosenbrock10_log", "noisy_hartmann6"];

fn floats(params: &[Value]) -> Vec<f64> {
    params
        .iter()
        .map(|v| match v {
            Value::Float(x) => *x,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn branin(x: &[f64]) -> f64 {
    let pi = std::f64::consts::PI;
    (x[1] - 5.1 / (4.0 * pi * pi) * x[0] * x[0] + 5.0 / pi * x[0] - 6.0).powi(2)
        + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x[0].cos()
        + 10.0
}

fn hartmann6(x: &[f64]) -> f64 {
    -(0..4)
        .map(|i| {
            HARTMANN_ALPHA[i]
                * (-(0..6).map(|j| HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j]).powi(2)).sum::<f64>()).exp()
        })
        .sum::<f64>()
}

fn rosenbrock_log(x: &[f64]) -> f64 {
    let z: Vec<f64> = x.iter().map(|v| v.log10()).collect();
    (0..9).map(|i| 100.0 * (z[i + 1] - z[i] * z[i]).powi(2) + (1.0 - z[i]).powi(2)).sum()
}

fn space(name: &str) -> Space {
    let dims = match name {
        "branin" => {
            vec![
                Dim::new("x", Dist::Uniform { low: -5.0, high: 10.0 }),
                Dim::new("y", Dist::Uniform { low: 0.0, high: 15.0 }),
            ]
        }
        "rosenbrock10_log" => {
            (0..10).map(|i| Dim::new(&format!("x{i}"), Dist::LogUniform { low: 1e-2, high: 1e2 })).collect()
        }
        _ => (0..6).map(|i| Dim::new(&format!("x{i}"), Dist::Uniform { low: 0.0, high: 1.0 })).collect(),
    };
    Space { dims }
}

/// Gaussian noise of the noisy objective (Box–Muller on the fixed generator).
fn gauss(rng: &mut Rng) -> f64 {
    let (u, v) = (rng.uniform().max(1e-300), rng.uniform());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The best value so far after each trial.
fn run(name: &str, method: Method, seed: u64, budget: u64) -> Vec<f64> {
    let search = Search { space: space(name), method, mode: Mode::Min, seed };
    let mut noise = Rng::stream(seed, 7919);
    let mut history = Vec::new();
    let mut best = f64::INFINITY;
    let mut curve = Vec::new();
    for n in 0..budget {
        let params = search.suggest(n, &history).expect("an endless method");
        let x = floats(&params);
        let value = match name {
            "branin" => branin(&x),
            "hartmann6" => hartmann6(&x),
            "rosenbrock10_log" => rosenbrock_log(&x),
            _ => hartmann6(&x) + 0.1 * gauss(&mut noise),
        };
        best = best.min(value);
        curve.push(best);
        history.push(Observation { number: n, params, state: State::Complete(value), intermediate: vec![] });
    }
    curve
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { 0.5 * (values[n / 2 - 1] + values[n / 2]) }
}

fn sample(name: &str, curves: &[Vec<f64>], after: usize) -> Sample {
    Sample {
        trial: name.to_string(),
        values: curves.iter().enumerate().map(|(i, c)| (i.to_string(), c[after - 1])).collect(),
    }
}

fn args() -> (u64, u64, Option<String>) {
    let mut seeds = 20;
    let mut budget = 200;
    let mut optuna = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => seeds = it.next().and_then(|v| v.parse().ok()).expect("--seeds N"),
            "--budget" => budget = it.next().and_then(|v| v.parse().ok()).expect("--budget N"),
            "--optuna" => optuna = it.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    (seeds, budget, optuna)
}

fn main() {
    let (seeds, budget, optuna_file) = args();
    let optuna: Option<serde_json::Value> = optuna_file
        .map(|f| serde_json::from_str(&std::fs::read_to_string(&f).expect("the Optuna results")).expect("JSON"));
    let checkpoints: Vec<usize> = [50usize, 200].into_iter().filter(|c| *c as u64 <= budget).collect();
    println!("## best value found (median over {seeds} seeds; lower is better)\n");
    print!("| objective | sampler |");
    for c in &checkpoints {
        print!(" after {c} |");
    }
    println!(" time |");
    println!("|---|---|{}---|", "---|".repeat(checkpoints.len()));
    let mut welch_lines = Vec::new();
    for name in OBJECTIVES {
        let mut curves: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let mut times: BTreeMap<String, f64> = BTreeMap::new();
        let methods = [
            ("expman-tpe", Method::Tpe(TpeOptions::default())),
            ("expman-tpe-uni", Method::Tpe(TpeOptions { multivariate: false, ..TpeOptions::default() })),
            ("expman-random", Method::Random { quasi: false }),
            ("expman-quasi", Method::Random { quasi: true }),
        ];
        for (label, method) in methods {
            let start = Instant::now();
            curves.insert(label.into(), (0..seeds).map(|s| run(name, method.clone(), s, budget)).collect());
            times.insert(label.into(), start.elapsed().as_secs_f64());
        }
        if let Some(o) = &optuna {
            for label in ["optuna-tpe", "optuna-tpe-mv", "optuna-random"] {
                if let Some(c) = o["curves"][format!("{name}/{label}")].as_array() {
                    let parsed: Vec<Vec<f64>> = c
                        .iter()
                        .map(|curve| curve.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
                        .collect();
                    curves.insert(label.into(), parsed);
                }
            }
        }
        for (label, runs) in &curves {
            print!("| {name} | {label} |");
            for c in &checkpoints {
                let mut at: Vec<f64> = runs.iter().map(|r| r[c - 1]).collect();
                print!(" {:.4} |", median(&mut at));
            }
            match times.get(label) {
                Some(t) => println!(" {:.2} s |", t),
                None => println!(" (Optuna) |"),
            }
        }
        for c in &checkpoints {
            for (a, b) in
                [("expman-tpe", "optuna-tpe"), ("expman-tpe", "optuna-tpe-mv"), ("expman-tpe", "expman-random")]
            {
                let (Some(ca), Some(cb)) = (curves.get(a), curves.get(b)) else { continue };
                let cmp = Comparison::welch(
                    &format!("{name} best after {c}"),
                    At::Final,
                    true,
                    &sample(a, ca, *c),
                    &sample(b, cb, *c),
                );
                if let Ok(cmp) = cmp {
                    welch_lines.push(format!("- {}", cmp.verdict()));
                }
            }
        }
    }
    println!("\n## Welch's test (expman's own), per objective and budget\n");
    for line in welch_lines {
        println!("{line}");
    }
    suggestion_times(optuna.as_ref());
    asha_benchmark(seeds);
}

/// Seconds per TPE suggestion with `finished` random trials on Hartmann-6.
fn suggestion_times(optuna: Option<&serde_json::Value>) {
    println!("\n## one TPE suggestion (Hartmann-6)\n");
    println!("| finished trials | expman | Optuna | ratio |");
    println!("|---|---|---|---|");
    let space = space("hartmann6");
    for finished in [1000u64, 10_000] {
        let search =
            Search { space: space.clone(), method: Method::Tpe(TpeOptions::default()), mode: Mode::Min, seed: 0 };
        let mut rng = Rng::new(0);
        let history: Vec<Observation> = (0..finished)
            .map(|n| {
                let params: Vec<Value> = (0..6).map(|_| Value::Float(rng.uniform())).collect();
                let value = hartmann6(&floats(&params));
                Observation { number: n, params, state: State::Complete(value), intermediate: vec![] }
            })
            .collect();
        let repeats = 20;
        let start = Instant::now();
        for r in 0..repeats {
            std::hint::black_box(search.suggest(finished + r, &history));
        }
        let ours = start.elapsed().as_secs_f64() / repeats as f64;
        let theirs = optuna.and_then(|o| o["suggest_seconds"][finished.to_string()].as_f64());
        match theirs {
            Some(t) => println!("| {finished} | {:.3} ms | {:.1} ms | {:.0}× |", ours * 1e3, t * 1e3, t / ours),
            None => println!("| {finished} | {:.3} ms | - | - |", ours * 1e3),
        }
    }
}

/// A simulated learning curve: the final value is Hartmann-6 shifted to
/// be positive (minimum 0); early epochs are worse by a decaying amount
/// that depends on the settings too, so early ranks only roughly predict
/// final ones.
fn learning_curve(x: &[f64], epoch: u64) -> f64 {
    let fin = hartmann6(x) + 3.322368;
    fin + (0.3 + 1.5 * x[0] * x[5]) * (epoch as f64).powf(-0.8)
}

/// ASHA (min 1, max 27 epochs, η 3) over the same 81 random settings as a
/// full random search, run one after the other: epochs until a trial ends
/// within 1% of the full search's best final value, over the full search's
/// epochs.
fn asha_benchmark(seeds: u64) {
    println!("\n## ASHA on simulated learning curves (81 trials, 27 epochs each)\n");
    println!(
        "| seed | full search epochs | random search epochs to within 1% of its best | ASHA epochs to within 1% | ASHA share of the full search | pruned |"
    );
    println!("|---|---|---|---|---|---|");
    let space = space("hartmann6");
    let pruner = Pruner::Asha { min: 1, max: 27, reduction: 3 };
    let mut shares = Vec::new();
    let mut random_reach = Vec::new();
    let mut asha_reach = Vec::new();
    for seed in 0..seeds {
        let search = Search { space: space.clone(), method: Method::Random { quasi: false }, mode: Mode::Min, seed };
        let settings: Vec<Vec<f64>> = (0..81).map(|n| floats(&search.suggest(n, &[]).unwrap())).collect();
        let best = settings.iter().map(|x| learning_curve(x, 27)).fold(f64::INFINITY, f64::min);
        let target = best + 0.01 * best.abs();
        // Random search without pruning gets there at the first trial within 1%.
        let first = settings.iter().position(|x| learning_curve(x, 27) <= target).expect("the best is within");
        let random_epochs = 27 * (first as u64 + 1);
        random_reach.push(random_epochs as f64);
        let mut history: Vec<Observation> = Vec::new();
        let mut spent = 0u64;
        let mut reached = None;
        let mut pruned = 0;
        for (n, x) in settings.iter().enumerate() {
            let mut trial = Observation {
                number: n as u64,
                params: x.iter().map(|v| Value::Float(*v)).collect(),
                state: State::Running,
                intermediate: vec![],
            };
            for epoch in 1..=27 {
                spent += 1;
                trial.intermediate.push((epoch, learning_curve(x, epoch)));
                if epoch < 27 && pruner.judge(Mode::Min, seed, &trial, &history).is_some() {
                    trial.state = State::Pruned;
                    pruned += 1;
                    break;
                }
            }
            if trial.state == State::Running {
                let value = trial.last().unwrap().1;
                trial.state = State::Complete(value);
                if value <= target && reached.is_none() {
                    reached = Some(spent);
                }
            }
            history.push(trial);
        }
        let full = 81 * 27;
        match reached {
            Some(epochs) => {
                let share = epochs as f64 / full as f64;
                shares.push(share);
                asha_reach.push(epochs as f64);
                println!("| {seed} | {full} | {random_epochs} | {epochs} | {:.1}% | {pruned} |", share * 100.0);
            }
            None => {
                shares.push(f64::INFINITY);
                asha_reach.push(f64::INFINITY);
                println!("| {seed} | {full} | {random_epochs} | never (the best was pruned) | - | {pruned} |");
            }
        }
    }
    println!("\nmedian share of the full search's epochs: {:.1}%", median(&mut shares) * 100.0);
    println!(
        "median epochs to within 1%: random search {:.0}, ASHA {:.0}",
        median(&mut random_reach),
        median(&mut asha_reach)
    );
}
