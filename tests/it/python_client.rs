//! The Python helper `expman_client`: every call reaches the record, and
//! outside expman every call is a silent no-op.

use std::process::Command;

use crate::support::{TempDir, expman_in, fixtures, repo_root, runs_json};
use expman_store::Store;

#[test]
fn every_call_reaches_the_record() {
    let tmp = TempDir::new("python-client");
    let dir = tmp.path().join("exp");
    std::fs::create_dir_all(&dir).unwrap();
    let script = fixtures().join("python/client_trial.py");
    std::fs::write(dir.join("env.yaml"), "workspace: out\n").unwrap();
    std::fs::write(
        dir.join("base.yaml"),
        format!(
            "seed: 5\ntraining: {{lr: 0.25}}\ndb: {{password: \"${{env:TEST_DB_PASSWORD,hunter2}}\"}}\npipeline:\n  command: [python3, {}]\n  env: {{DB_PASSWORD: \"${{db.password}}\"}}\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("trials.yaml"), "- name: py\n").unwrap();
    let out = expman_in(&dir, &["run", "."]);
    let runs = runs_json(&dir);
    assert!(out.status.success(), "{}\n{runs:?}", String::from_utf8_lossy(&out.stderr));
    let run = &runs[0];
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let r = store.resolve_run(run["id"].as_str().unwrap()).unwrap();
    let detail = store.run_detail(&r).unwrap();
    let param = |k: &str| {
        detail.params.iter().find(|(key, _, _)| key == k).map(|(_, t, v)| (t.clone(), v.clone().unwrap_or_default()))
    };
    assert_eq!(param("optimizer"), Some(("str".into(), "sgd".into())));
    assert_eq!(param("layers"), Some(("json".into(), "[64,32]".into())));
    assert_eq!(param("batch"), Some(("int".into(), "16".into())));
    assert_eq!(param("training.lr"), Some(("float".into(), "0.25".into())), "config values are params too");
    assert_eq!(param("db.password"), Some(("str".into(), "********".into())), "never stored in plain text");
    let tags: Vec<(String, String)> = detail.tags.clone();
    assert!(tags.contains(&("stage".into(), "test".into())) && tags.contains(&("owner".into(), "ci".into())));
    let loss = store.metric_series(r.id, "loss").unwrap();
    assert_eq!(loss.steps, [0, 1, 2]);
    assert_eq!(loss.epochs, [Some(0), Some(1), Some(2)]);
    let grad = store.metric_series(r.id, "grad").unwrap();
    assert!(grad.values[1].is_nan(), "NaN survives the round trip: {:?}", grad.values);
    assert_eq!(store.metric_series(r.id, "inf_metric").unwrap().values, [f64::INFINITY]);
    assert_eq!(store.metric_series(r.id, "batch_loss").unwrap().values.len(), 3);
    assert_eq!(detail.artifacts.len(), 2);
    assert!(
        detail
            .artifacts
            .iter()
            .all(|(_, _, size, sha)| *size == Some(100) && sha.as_deref().is_some_and(|s| s.len() == 64))
    );
    assert!(detail.artifacts.iter().any(|(_, kind, _, _)| kind == "checkpoint"));
    // No secret in any file expman wrote.
    let run_dir = std::path::Path::new(run["run_dir"].as_str().unwrap());
    for file in ["config.yaml", "config.json"] {
        let text = std::fs::read_to_string(run_dir.join(file)).unwrap();
        assert!(!text.contains("hunter2"), "{file}");
    }
}

#[test]
fn outside_expman_every_call_is_a_no_op() {
    let tmp = TempDir::new("python-standalone");
    let out = Command::new("python3")
        .args([
            "-c",
            "import expman_client as em\nassert not em.active()\nem.log_metric('x', 1)\nem.log_params({'a': 1})\nwith em.epoch(0):\n    em.log_metrics({'y': 2})\nem.log_artifact('nothing')\nassert em.config() == {}\nassert not em.should_stop()\nprint('fine')",
        ])
        .env("PYTHONPATH", repo_root().join("core/runner/python"))
        .env_remove("EXPMAN_EVENTS")
        .env_remove("EXPMAN_CONFIG")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "fine");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn the_quickstart_runs_end_to_end() {
    let tmp = TempDir::new("quickstart");
    let dir = tmp.path().join("quickstart");
    crate::support::copy_dir(&repo_root().join("examples/quickstart"), &dir);
    let _ = std::fs::remove_dir_all(dir.join("outputs"));
    let started = std::time::Instant::now();
    let out = expman_in(&dir, &["run", "."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    for trial in ["baseline", "small_model", "lr_sweep[training.lr=0.3,model.l2=0.0]"] {
        assert!(stdout.contains(trial), "{stdout}");
    }
    assert!(stdout.contains("val_loss") && stdout.contains(" ± "), "{stdout}");
    // The `tune` trial's search: 12 runs, ASHA prunes some.
    assert!(stdout.contains("search `tune`: 12 of 12 suggested"), "{stdout}");
    let (tune, runs): (Vec<serde_json::Value>, Vec<serde_json::Value>) =
        runs_json(&dir).into_iter().partition(|r| r["trial"].as_str().unwrap().starts_with("tune["));
    assert_eq!(tune.len(), 12);
    assert!(tune.iter().all(|r| ["SUCCESS", "EARLY_STOPPED", "PRUNED"].contains(&r["status"].as_str().unwrap())));
    assert!(tune.iter().any(|r| r["status"] == "PRUNED"), "{tune:?}");
    let pruned = tune.iter().filter(|r| r["status"] == "PRUNED").count();
    assert!(stdout.contains(&format!("{pruned} PRUNED; record:")), "{stdout}");
    assert_eq!(runs.len(), 10);
    assert_eq!(runs.iter().filter(|r| r["status"] == "SUCCESS").count(), 4, "{runs:?}");
    for run in &runs {
        assert!(run["status"] == "SUCCESS" || run["status"] == "EARLY_STOPPED", "{run}");
        assert!(run["metrics"]["val_acc"].as_f64().unwrap() > 0.6, "{run}");
        // The checkpoint policy (keep_last 2, keep_best 1 by val_loss) on disk...
        let run_dir = std::path::Path::new(run["run_dir"].as_str().unwrap());
        let kept: Vec<String> = std::fs::read_dir(run_dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("checkpoint-"))
            .collect();
        assert!((2..=3).contains(&kept.len()), "{kept:?}");
        assert!(run_dir.join("metrics.csv").exists());
        // ...and in the record.
        let store = expman_store::Store::open(&dir.join("outputs/expman.db")).unwrap();
        let d = store.run_detail(&store.resolve_run(run["id"].as_str().unwrap()).unwrap()).unwrap();
        let mut live: Vec<String> = d
            .artifacts
            .iter()
            .filter(|a| a.1 == "checkpoint")
            .map(|a| std::path::Path::new(&a.0).file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        live.sort();
        let mut on_disk = kept.clone();
        on_disk.sort();
        assert_eq!(live, on_disk);
        assert!(!d.deleted_artifacts.is_empty());
    }
    let stopped: Vec<&serde_json::Value> = runs.iter().filter(|r| r["status"] == "EARLY_STOPPED").collect();
    // The data makes three sweep children stop early, and the small model
    // (4 of the 8 features) soon has nothing left to learn.
    let trials: Vec<&str> = stopped.iter().map(|r| r["trial"].as_str().unwrap()).collect();
    assert_eq!(trials.iter().filter(|t| t.starts_with("lr_sweep")).count(), 3, "{trials:?}");
    assert_eq!(trials.iter().filter(|t| **t == "small_model").count(), 3, "{trials:?}");
    // Repeats got different seeds, so their results differ.
    let baseline: Vec<f64> =
        runs.iter().filter(|r| r["trial"] == "baseline").map(|r| r["metrics"]["val_loss"].as_f64().unwrap()).collect();
    assert_eq!(baseline.len(), 3);
    assert!(baseline[0] != baseline[1] || baseline[1] != baseline[2]);
}
