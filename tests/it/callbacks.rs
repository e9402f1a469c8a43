//! Callbacks with real processes: early stopping (a trial that listens and
//! one that does not), the checkpoint policy on disk and in the record,
//! metrics.csv, hooks (one failing), and `should_stop()`.

use std::path::Path;

use crate::support::{TempDir, expman_in, fake_experiment, runs_json};
use expman_store::Store;

fn detail(dir: &Path, id: &str) -> expman_store::RunDetail {
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let run = store.resolve_run(id).unwrap();
    store.run_detail(&run).unwrap()
}

#[test]
fn early_stopping_ends_runs_with_their_best_epoch() {
    let tmp = TempDir::new("early-stop");
    let dir = tmp.path().join("exp");
    let losses = "1.0,0.9,0.8,0.8,0.81,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8,0.8";
    fake_experiment(
        &dir,
        "early",
        &format!(
            "pipeline:\n  command: [FAKE, --val-losses, \"{losses}\", --sleep-ms, 100, --respect-stop]\n  grace_period: 1s\n  callbacks:\n    - {{type: early_stopping, metric: val_loss, mode: min, patience: 3, min_delta: 0.01}}\n"
        ),
        "- name: listens\n\
         - name: ignores\n  settings: {pipeline.command: [FAKE, --val-losses, \"LOSSES\", --sleep-ms, 100]}\n\
         - name: stubborn\n  settings: {pipeline.command: [FAKE, --val-losses, \"LOSSES\", --sleep-ms, 100, --ignore-sigterm]}\n\
         - name: improves\n  settings: {pipeline.command: [FAKE, --val-losses, \"1.0,0.9,0.8,0.7\", --respect-stop]}\n"
            .replace("LOSSES", losses)
            .as_str(),
    );
    let out = expman_in(&dir, &["run", ".", "--parallel", "4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "early stopped runs count as done\n{stderr}");
    assert!(stderr.contains("stopping listens"), "{stderr}");
    let runs = runs_json(&dir);
    let get = |t: &str| runs.iter().find(|r| r["trial"] == t).unwrap().clone();
    for trial in ["listens", "ignores", "stubborn"] {
        let run = get(trial);
        assert_eq!(run["status"], "EARLY_STOPPED", "{run}");
        let error = run["error"].as_str().unwrap();
        assert!(error.contains("val_loss did not improve for 3 epoch(s) (best 0.8 at epoch 2)"), "{error}");
        let d = detail(&dir, run["id"].as_str().unwrap());
        let tag = |k: &str| d.tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(tag("early_stopping.best_epoch").as_deref(), Some("2"));
        assert_eq!(tag("early_stopping.best_value").as_deref(), Some("0.8"));
        assert_eq!(tag("early_stopping.stopped_at").as_deref(), Some("5"));
    }
    // It listened: a clean exit, well before its 30 epochs.
    let listens = get("listens");
    assert_eq!(listens["exit_code"], 0);
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let run = store.resolve_run(listens["id"].as_str().unwrap()).unwrap();
    assert!(store.metric_series(run.id, "val_loss").unwrap().values.len() < 15);
    // It did not listen: terminated after the grace period.
    assert!(get("ignores")["error"].as_str().unwrap().contains("SIGTERM"), "{}", get("ignores"));
    assert!(get("stubborn")["error"].as_str().unwrap().contains("was killed"), "{}", get("stubborn"));
    assert_eq!(get("improves")["status"], "SUCCESS");
}

#[test]
fn checkpoint_policy_on_disk_and_in_the_record() {
    let tmp = TempDir::new("checkpoints");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "ckpt",
        "pipeline:\n  command: [FAKE, --val-losses, \"0.9,0.3,0.5,0.6,0.7\", --checkpoints]\n  callbacks:\n    - {type: checkpoint, keep_last: 2, keep_best: 1, metric: val_loss, mode: min}\n    - {type: metrics_csv}\n",
        "- name: t\n",
    );
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = &runs_json(&dir)[0];
    let run_dir = Path::new(run["run_dir"].as_str().unwrap());
    let mut on_disk: Vec<String> = std::fs::read_dir(run_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ckpt-"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, ["ckpt-1.bin", "ckpt-3.bin", "ckpt-4.bin"], "the best (epoch 1) and the last two");
    let d = detail(&dir, run["id"].as_str().unwrap());
    let live: Vec<&str> = d.artifacts.iter().filter(|a| a.1 == "checkpoint").map(|a| a.0.as_str()).collect();
    assert_eq!(live, ["ckpt-1.bin", "ckpt-3.bin", "ckpt-4.bin"]);
    assert_eq!(d.deleted_artifacts, ["ckpt-0.bin", "ckpt-2.bin"]);
    assert!(d.artifacts.iter().all(|a| a.2 == Some(8) && a.3.as_deref().is_some_and(|s| s.len() == 64)));

    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "step,epoch,loss,acc,val_loss");
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[2], "1,1,0.5,0.75,0.3");
}

#[test]
fn hooks_run_with_the_runs_variables_and_a_failing_one_is_only_logged() {
    let tmp = TempDir::new("hooks");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "hooks",
        "pipeline:\n  command: [FAKE, --epochs, 3]\n  callbacks:\n\
         \x20   - type: hook\n\
         \x20     on_start: echo started $EXPMAN_TRIAL > hook_start.txt\n\
         \x20     on_epoch_end: echo $EXPMAN_EPOCH $EXPMAN_METRIC_LOSS >> hook_epochs.txt\n\
         \x20     on_end: echo $EXPMAN_STATUS > hook_end.txt\n\
         \x20     on_failure: echo failed > hook_failure.txt\n\
         \x20   - {type: hook, on_start: \"echo broken >&2; exit 3\"}\n",
        "- name: fine\n- name: fails\n  settings: {pipeline.command: [FAKE, --epochs, 1, --exit, 1]}\n",
    );
    let out = expman_in(&dir, &["run", "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one trial fails on purpose\n{stderr}");
    assert!(stderr.contains("on_start hook `echo broken >&2; exit 3` failed (exit code 3)"), "{stderr}");
    let runs = runs_json(&dir);
    let fine = runs.iter().find(|r| r["trial"] == "fine").unwrap();
    assert_eq!(fine["status"], "SUCCESS", "a failing hook does not fail the run");
    let fine_dir = Path::new(fine["run_dir"].as_str().unwrap());
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert_eq!(read(fine_dir, "hook_start.txt"), "started fine\n");
    assert_eq!(read(fine_dir, "hook_epochs.txt"), "0 1\n1 0.5\n2 0.3333333333333333\n");
    assert_eq!(read(fine_dir, "hook_end.txt"), "SUCCESS\n");
    assert!(!fine_dir.join("hook_failure.txt").exists());
    assert!(read(fine_dir, "hooks.log").contains("broken"));
    let fails = runs.iter().find(|r| r["trial"] == "fails").unwrap();
    let fails_dir = Path::new(fails["run_dir"].as_str().unwrap());
    assert_eq!(read(fails_dir, "hook_end.txt"), "FAILED\n");
    assert_eq!(read(fails_dir, "hook_failure.txt"), "failed\n");
    // The failure is in the run's audit log.
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let id = store.resolve_run(fine["id"].as_str().unwrap()).unwrap().id;
    let failed: i64 = store.count_events(id, "hook_failed").unwrap();
    assert_eq!(failed, 1);
}
