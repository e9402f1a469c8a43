//! The query layer from the command line, on a record built with known
//! values: typed frames, the filter language, statistics checked against
//! scipy's figures, SQL, export, config diffs.

use std::path::{Path, PathBuf};

use crate::support::{TempDir, expman_in};
use expman_runner::workspace::Workspace;
use expman_store::{IngestBatch, MetricPoint, NewRun, ParamValue, RunFinish, RunStatus, Started, Store};
use polars::prelude::*;

/// A workspace with two trials of three runs each (val_loss known), a
/// third trial with one run, mixed param types and a missing param.
fn record(dir: &Path) -> PathBuf {
    let ws = Workspace {
        root: dir.join("ws"),
        database: dir.join("ws/expman.db"),
        team: None,
        remote: None,
        encrypt: false,
    };
    ws.prepare().unwrap();
    let mut store = Store::open(&ws.database).unwrap();
    let e = store.ensure_experiment("study", Some("a study"), "/cfg").unwrap();
    let runner = store.register_runner("h", 1, None, "u", "test").unwrap();
    let trials = [
        ("small_model", vec![0.212, 0.208, 0.216], 256i64, "adam"),
        ("large_model", vec![0.230, 0.236, 0.224], 1024, "adam"),
        ("lr_0.1", vec![0.5], 256, "sgd"),
    ];
    let mut n = 0;
    for (trial, losses, dim, opt) in trials {
        let t = store.ensure_trial(e, trial, trial, None, None).unwrap();
        for (repeat, loss) in losses.iter().enumerate() {
            n += 1;
            let mut params = vec![
                ("model.dim".to_string(), ParamValue::Int(dim)),
                (
                    "training.lr".to_string(),
                    if trial == "lr_0.1" { ParamValue::Float(0.1) } else { ParamValue::Int(1) },
                ),
                ("training.opt".to_string(), ParamValue::Text(opt.into())),
            ];
            if repeat == 0 {
                params.push(("only_first".to_string(), ParamValue::Bool(true)));
            }
            let config =
                serde_json::json!({"model": {"dim": dim}, "training": {"opt": opt}, "seed": repeat}).to_string();
            let new = NewRun {
                experiment_id: e,
                trial_id: t,
                repeat: repeat as u32,
                attempt: 1,
                config_json: config,
                config_hash: format!("h{n}"),
                seed: repeat as i64,
                run_dir: dir.join(format!("run{n}")).display().to_string(),
                runner_id: runner,
                params,
                tags: vec![("team".into(), if trial == "lr_0.1" { "cv".into() } else { "nlp".into() })],
            };
            let run = store.create_run(&new, &format!("run{n:02}xxxxxxxx")).unwrap();
            // Ten steps: loss falls to its final value; the final step is 9.
            let metrics = (0..10)
                .map(|step| MetricPoint {
                    key: "val_loss".into(),
                    step,
                    epoch: Some(step),
                    value: loss + (9 - step) as f64 * 0.01,
                    timestamp: 1_700_000_000_000 + step,
                })
                .collect();
            let batch = IngestBatch { run_id: run.id, from_offset: 0, offset: 10, metrics, ..IngestBatch::default() };
            assert!(store.ingest(&batch).unwrap());
            store.mark_running(run.id, &Started { host: "h", command: "[]", ..Started::default() }).unwrap();
            store
                .finish_run(
                    run.id,
                    &RunFinish {
                        status: RunStatus::Success,
                        exit_code: Some(0),
                        signal: None,
                        error: None,
                        ended_at: 1_700_000_100_000,
                    },
                )
                .unwrap();
        }
    }
    ws.root
}

fn run(dir: &Path, args: &[&str]) -> String {
    let ws = dir.join("ws");
    let mut full = vec![args[0], "--workspace", ws.to_str().unwrap()];
    full.extend(&args[1..]);
    let out = expman_in(dir, &full);
    assert!(out.status.success(), "expman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn runs_frame_is_typed_with_stable_columns() {
    let tmp = TempDir::new("query-frame");
    record(tmp.path());
    let store = Store::open(&tmp.path().join("ws/expman.db")).unwrap();
    let frame = expman_query::Frames::new(&store).runs().unwrap();
    let schema: Vec<String> = frame.schema().iter().map(|(n, t)| format!("{n}: {t}")).collect();
    insta::assert_snapshot!("runs_frame_schema", schema.join("\n"));
    assert_eq!(frame.height(), 7);
    let only_first = frame.column("params.only_first").unwrap();
    assert_eq!(only_first.null_count(), 4, "a param some runs lack is null elsewhere");
    let lr = frame.column("params.training.lr").unwrap();
    assert_eq!(lr.dtype(), &DataType::Float64, "ints and floats mixed become floats");
}

#[test]
fn filters_sort_limit_and_columns() {
    let tmp = TempDir::new("query-filter");
    record(tmp.path());
    let json = run(
        tmp.path(),
        &[
            "runs",
            "metrics.val_loss < 0.22 and params.training.opt = 'adam' order by metrics.val_loss desc",
            "--format",
            "json",
            "--columns",
            "trial,metrics.val_loss",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["run03xxxxxxxx", "run01xxxxxxxx", "run02xxxxxxxx"]);
    assert_eq!(rows[0].as_object().unwrap().len(), 3, "id, trial, metrics.val_loss");
    let csv = run(
        tmp.path(),
        &[
            "runs",
            "tags.team = 'nlp' and trial LIKE '%model'",
            "--format",
            "csv",
            "--limit",
            "2",
            "--columns",
            "params.*",
        ],
    );
    assert_eq!(
        csv.lines().next().unwrap(),
        "id,params.model.dim,params.only_first,params.training.lr,params.training.opt"
    );
    assert_eq!(csv.lines().count(), 3);
    let table = run(tmp.path(), &["runs", "trial IN ('lr_0.1')"]);
    assert!(table.contains("lr_0.1") && table.contains("1 row(s)"), "{table}");

    let out = expman_in(tmp.path(), &["runs", "--workspace", "ws", "metrics.val_loss <"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected a number or a quoted string, found the end of the filter"), "{err}");
    assert!(err.contains("  metrics.val_loss <\n                    ^"), "{err}");
}

#[test]
fn compare_says_it_plainly_with_scipy_figures() {
    let tmp = TempDir::new("query-compare");
    record(tmp.path());
    let out = run(tmp.path(), &["compare", "small_model", "large_model", "--metric", "val_loss"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "small_model is better than large_model on val_loss: 0.2120 ± 0.0040 vs 0.2300 ± 0.0060, p = 0.017, n = 3 vs 3"
        )
    );
    // scipy: ttest_ind(equal_var=False) t = -4.3235, df = 3.4845; CI from t.ppf(0.975, df): -0.030266 to -0.005734.
    assert_eq!(
        lines.next(),
        Some(
            "difference of means (small_model − large_model): -0.018 (95% CI -0.03027 to -0.005734), Welch t = -4.323, df = 3.5"
        )
    );
    // At step 0 the losses are 0.09 higher, same spread: the same verdict.
    let at0 = run(tmp.path(), &["compare", "small_model", "large_model", "--metric", "val_loss", "--at", "0"]);
    assert!(
        at0.starts_with("small_model is better than large_model on val_loss (at step 0): 0.3020 ± 0.0040"),
        "{at0}"
    );
    let err = expman_in(tmp.path(), &["compare", "--workspace", "ws", "small_model", "lr_0.1", "--metric", "val_loss"]);
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("at least 2 runs"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    let err =
        expman_in(tmp.path(), &["compare", "--workspace", "ws", "small_modle", "large_model", "--metric", "val_loss"]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("did you mean `small_model`?"));
}

#[test]
fn summary_best_rank_and_diff() {
    let tmp = TempDir::new("query-summary");
    record(tmp.path());
    let csv = run(tmp.path(), &["summary", "--metric", "val_loss", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("trial,n,mean,std,min,max,ci95_low,ci95_high"));
    let small: Vec<f64> = lines.next().unwrap().split(',').skip(1).map(|v| v.parse().unwrap()).collect();
    // scipy: t.ppf(0.975, 2) * 0.004 / sqrt(3) = 0.00993655084700132.
    let expected = [3.0, 0.212, 0.004, 0.208, 0.216, 0.212 - 0.00993655084700132, 0.212 + 0.00993655084700132];
    for (got, want) in small.iter().zip(expected) {
        assert!((got - want).abs() < 1e-9, "{small:?}");
    }
    let best = run(tmp.path(), &["summary", "--metric", "val_loss"]);
    assert!(best.contains("best overall: run run02xxxxxxxx (small_model) with val_loss = 0.208"), "{best}");
    let ranked = run(tmp.path(), &["rank", "--metric", "val_loss", "--format", "csv"]);
    let first = ranked.lines().nth(1).unwrap();
    assert!(
        first.starts_with("run02xxxxxxxx,small_model,2,SUCCESS,0.208,") && first.ends_with(",14.285714285714286"),
        "{first}"
    );
    let diff = run(tmp.path(), &["diff", "small_model", "large_model"]);
    assert!(diff.contains("model.dim") && diff.contains("256") && diff.contains("1024"), "{diff}");
    assert!(!diff.contains("training.opt"), "only keys that differ: {diff}");
}

#[test]
fn sql_and_export() {
    let tmp = TempDir::new("query-sql");
    record(tmp.path());
    let csv = run(
        tmp.path(),
        &[
            "sql",
            "SELECT trial, avg(value) AS mean, count(*) AS n FROM metrics WHERE key = 'val_loss' AND step = 9 GROUP BY trial ORDER BY mean",
            "--format",
            "csv",
        ],
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "trial,mean,n");
    assert!(lines[1].starts_with("small_model,0.212") && lines[1].ends_with(",3"), "{csv}");
    let out = expman_in(tmp.path(), &["sql", "--workspace", "ws", "SELECT * FROM nowhere"]);
    assert_eq!(out.status.code(), Some(2));

    let parquet = tmp.path().join("out/runs.parquet");
    run(tmp.path(), &["export", "--format", "parquet", "--out", parquet.to_str().unwrap(), "trial = 'large_model'"]);
    let file = std::fs::File::open(&parquet).unwrap();
    let back = ParquetReader::new(file).finish().unwrap();
    assert_eq!(back.height(), 3);
    assert_eq!(back.column("started_at").unwrap().dtype(), &DataType::Datetime(TimeUnit::Milliseconds, None));
    let points = tmp.path().join("out/points.csv");
    run(
        tmp.path(),
        &["export", "--table", "metrics", "--format", "csv", "--out", points.to_str().unwrap(), "trial = 'lr_0.1'"],
    );
    assert_eq!(std::fs::read_to_string(&points).unwrap().lines().count(), 11);
    let json = tmp.path().join("out/trials.json");
    run(tmp.path(), &["export", "--table", "trials", "--format", "json", "--out", json.to_str().unwrap()]);
    let trials: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(trials.as_array().unwrap().len(), 3);
    let metrics = run(tmp.path(), &["metrics", "small_model", "--keys", "val_loss", "--format", "csv"]);
    assert_eq!(metrics.lines().count(), 31);
}
