//! Searches run end to end with `expman run`: a TPE search with ASHA
//! pruning that finishes within its budget (PRUNED runs, deterministic
//! first suggestions), one killed with SIGKILL and resumed (the same
//! budget, interrupted points tried again with their values, no point
//! twice), and four runners sharing one search.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{TempDir, bin, expman_in, fake_experiment, runs_json, wait_until};
use expman_store::{Objective, SearchPoint, Store};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A search over `x` in [0, 1] for a fake trial whose val_loss per epoch
/// is `(x - 0.3)² + 0.5 / (epoch + 1)`.
fn search_experiment(dir: &Path, epochs: u32, sleep_ms: u32, budget: u32, parallel: u32) {
    fake_experiment(
        dir,
        "tuning",
        &format!(
            "x: 0.5\npipeline: {{command: [FAKE, --epochs, {epochs}, --sleep-ms, {sleep_ms}, --curve, '${{x}}'], grace_period: 2s}}\n"
        ),
        &format!(
            "- name: tune\n  search:\n    method: tpe\n    metric: val_loss\n    trials: {budget}\n    parallel: {parallel}\n    seed: 3\n    tpe: {{startup_trials: 4}}\n    space: {{x: {{uniform: [0.0, 1.0]}}}}\n    prune: {{method: asha, min: 1, max: {epochs}, reduction: 3}}\n"
        ),
    );
}

fn points(dir: &Path) -> Vec<SearchPoint> {
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let searches = store.searches(Some("tuning"), Some("tune")).unwrap();
    let last = searches.last().expect("a search in the record");
    store.search_points(last.id, Objective { metric: "val_loss", by_epoch: true }).unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_search_finishes_its_budget_pruning_weak_runs() {
    let tmp = TempDir::new("search-finish");
    let dir = tmp.path().join("exp");
    search_experiment(&dir, 9, 10, 10, 2);
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("search `tune`: 10 of 10 suggested"), "{}", text(&out));
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 10, "{runs:?}");
    assert!(runs.iter().all(|r| r["trial"].as_str().unwrap().starts_with("tune[x=")), "{runs:?}");
    let statuses: BTreeSet<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert!(statuses.is_subset(&BTreeSet::from(["SUCCESS", "PRUNED"])), "{statuses:?}");
    let pruned: Vec<_> = runs.iter().filter(|r| r["status"] == "PRUNED").collect();
    assert!(!pruned.is_empty(), "ASHA prunes some of 10 runs: {runs:?}");
    assert!(pruned.iter().all(|r| r["error"].as_str().unwrap().contains("pruned by ASHA rung")), "{pruned:?}");

    let first = points(&dir);
    assert_eq!(first.iter().map(|p| p.number).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    let best = first.iter().filter_map(|p| p.value.filter(|_| p.status.is_some_and(|s| s.as_str() == "SUCCESS")));
    let best = best.fold(f64::INFINITY, f64::min);
    // 0.5 / 9 is the floor; TPE gets near x = 0.3 within 10 runs.
    assert!(best < 0.5 / 9.0 + 0.05, "best val_loss {best}");

    // A new search (no --resume) with the same seed starts with the same
    // suggestions: its first draws depend on the seed and their numbers.
    let again = expman_in(&dir, &["run", "."]);
    assert!(again.status.success(), "{}", text(&again));
    let second = points(&dir);
    assert_eq!(second.len(), 10);
    assert_eq!(first[0].params, second[0].params);
    assert_eq!(first[1].params, second[1].params);

    // `expman search` shows the best run, the history and the importance.
    let shown = expman_in(&dir, &["search", "."]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = text(&shown);
    assert!(shown.contains("best val_loss") && shown.contains("tune[x="), "{shown}");
    assert!(shown.contains("best so far") && shown.contains("importance"), "{shown}");
}

#[test]
fn a_search_killed_with_sigkill_resumes_with_the_same_budget() {
    let tmp = TempDir::new("search-kill");
    let dir = tmp.path().join("exp");
    search_experiment(&dir, 6, 150, 8, 2);
    let mut child = Command::new(bin("expman"))
        .args(["run", "."])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = dir.join("out/expman.db");
    // Wait until some runs have ended and two are running.
    let progressed = || {
        let Ok(store) = Store::open(&db) else { return false };
        let Ok(rows) = store.list_runs(Some("tuning")) else { return false };
        rows.iter().filter(|r| r.status.is_final()).count() >= 2
            && rows.iter().filter(|r| r.status.as_str() == "RUNNING").count() == 2
    };
    assert!(wait_until(Duration::from_secs(60), progressed), "the search did not get going");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The next expman that opens the workspace recovers the runs.
    assert!(runs_json(&dir).len() >= 4);
    let before = points(&dir);
    let lost: Vec<&SearchPoint> = before.iter().filter(|p| p.status.is_some_and(|s| s.as_str() == "LOST")).collect();
    assert_eq!(lost.len(), 2, "the two running runs are LOST once recovered: {before:?}");
    assert!(before.len() < 8, "the kill came before the budget was spent: {}", before.len());

    let out = expman_in(&dir, &["run", ".", "--resume"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("search `tune`: 8 of 8 suggested"), "{}", text(&out));
    let after = points(&dir);
    assert_eq!(after.iter().map(|p| p.number).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>(), "no point twice");
    for p in &before {
        let now = after.iter().find(|a| a.number == p.number).unwrap();
        assert_eq!(now.params, p.params, "point {} keeps its values", p.number);
        if p.status.is_some_and(|s| s.is_done()) {
            assert_eq!(now.run, p.run, "a finished point is not run again");
        }
    }
    for p in &lost {
        let now = after.iter().find(|a| a.number == p.number).unwrap();
        assert_ne!(now.run, p.run, "an interrupted point is tried again");
        assert_eq!(now.trial, p.trial, "with the same values");
        assert!(now.status.is_some_and(|s| s.is_done()), "{now:?}");
    }
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 8 + lost.len(), "every point once, plus the retried ones");

    // Resuming a finished search runs nothing more.
    let again = expman_in(&dir, &["run", ".", "--resume"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("nothing to run"), "{}", text(&again));
    assert_eq!(runs_json(&dir).len(), runs.len());
}

#[test]
fn four_runners_share_one_search_without_duplicates() {
    let tmp = TempDir::new("search-four");
    let dir = tmp.path().join("exp");
    search_experiment(&dir, 3, 60, 12, 1);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin("expman"))
                .args(["run", ".", "--resume"])
                .current_dir(&dir)
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    assert_eq!(store.searches(Some("tuning"), None).unwrap().len(), 1, "one search, shared");
    let all = points(&dir);
    assert_eq!(all.iter().map(|p| p.number).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 12, "{runs:?}");
    let distinct: BTreeSet<&str> = all.iter().map(|p| p.params.as_str()).collect();
    assert_eq!(distinct.len(), 12, "twelve different suggestions");
    let mut stmt = store.conn().prepare("SELECT DISTINCT runner_id FROM runs").unwrap();
    let runners: BTreeSet<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(runners.len() >= 2, "the runners shared the work: {runners:?}");
}

#[test]
fn a_time_budget_stops_the_suggestions_and_lets_running_runs_end() {
    let tmp = TempDir::new("search-time");
    let dir = tmp.path().join("exp");
    search_experiment(&dir, 4, 100, 100, 1);
    let trials = std::fs::read_to_string(dir.join("trials.yaml")).unwrap();
    std::fs::write(dir.join("trials.yaml"), trials.replace("    trials: 100\n", "    trials: 100\n    time: 1s\n"))
        .unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", text(&out));
    let runs = runs_json(&dir);
    // Runs of about 0.4 s, one at a time, for 1 s: a handful, each ended.
    assert!((2..=5).contains(&runs.len()), "{}", runs.len());
    assert!(runs.iter().all(|r| r["status"] == "SUCCESS" || r["status"] == "PRUNED"), "{runs:?}");
    assert!(text(&out).contains(&format!("search `tune`: {} of 100 suggested", runs.len())), "{}", text(&out));
}

#[test]
fn the_quickstart_search_killed_and_resumed_finishes_its_twelve_runs() {
    let tmp = TempDir::new("search-quickstart-kill");
    let dir = tmp.path().join("quickstart");
    crate::support::copy_dir(&crate::support::repo_root().join("examples/quickstart"), &dir);
    let _ = std::fs::remove_dir_all(dir.join("outputs"));
    // More data: epochs slow enough that the kill lands mid-search.
    let args = ["run", ".", "--trial", "tune", "data.n_train=6000"];
    let mut child = Command::new(bin("expman"))
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = dir.join("outputs/expman.db");
    let started = || {
        let Ok(store) = Store::open(&db) else { return false };
        let Ok(rows) = store.list_runs(Some("quickstart")) else { return false };
        rows.iter().filter(|r| r.status.is_final()).count() >= 1 && rows.iter().any(|r| r.status.as_str() == "RUNNING")
    };
    assert!(wait_until(Duration::from_secs(120), started), "the search did not get going");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = runs_json(&dir);
    assert!(before.iter().any(|r| r["status"] == "LOST"), "{before:?}");
    assert!(before.len() < 12);

    let out = expman_in(&dir, &[&args[..], &["--resume"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("search `tune`: 12 of 12 suggested"), "{}", text(&out));
    let store = Store::open(&db).unwrap();
    let searches = store.searches(Some("quickstart"), Some("tune")).unwrap();
    assert_eq!(searches.len(), 1, "--resume continued the search");
    let points = store.search_points(searches[0].id, Objective { metric: "val_loss", by_epoch: true }).unwrap();
    assert_eq!(points.iter().map(|p| p.number).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    assert!(points.iter().all(|p| p.status.is_some_and(|s| s.is_done())), "{points:?}");
}
