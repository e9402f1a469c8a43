//! `expman run` with real processes: statuses of failing, crashing,
//! hanging and stubborn trials, Ctrl-C, a runner killed with SIGKILL and
//! recovered, several runners on one database, GPU assignment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{TempDir, bin, expman_in, fake_experiment, runs_json, wait_until};
use expman_store::Store;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn by_trial<'a>(runs: &'a [serde_json::Value], trial: &str) -> Vec<&'a serde_json::Value> {
    runs.iter().filter(|r| r["trial"] == trial).collect()
}

#[test]
fn each_failure_gets_its_status_and_the_others_finish() {
    let tmp = TempDir::new("failures");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "failures",
        "pipeline: {command: [FAKE, --epochs, 2], grace_period: 1s}\n",
        "- name: ok\n  settings: {pipeline.command: [FAKE, --epochs, 2, --artifact, model.bin]}\n\
         - name: fails\n  settings: {pipeline.command: [FAKE, --exit, 3, --stderr, boom]}\n\
         - name: segfault\n  settings: {pipeline.command: [FAKE, --segfault]}\n\
         - name: times_out\n  settings: {pipeline: {command: [FAKE, --hang], timeout: 1s}}\n\
         - name: ignores_sigterm\n  settings: {pipeline: {command: [FAKE, --hang, --ignore-sigterm], timeout: 1s}}\n\
         - name: also_ok\n",
    );
    let out = expman_in(&dir, &["run", ".", "--parallel", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 6);
    let status = |t: &str| by_trial(&runs, t)[0]["status"].as_str().unwrap().to_string();
    assert_eq!(status("ok"), "SUCCESS");
    assert_eq!(status("also_ok"), "SUCCESS");
    assert_eq!(status("fails"), "FAILED");
    assert_eq!(status("segfault"), "FAILED");
    assert_eq!(status("times_out"), "TIMEOUT");
    assert_eq!(status("ignores_sigterm"), "TIMEOUT");
    let fails = by_trial(&runs, "fails")[0];
    assert_eq!(fails["exit_code"], 3);
    let error = fails["error"].as_str().unwrap();
    assert!(error.starts_with("exited with code 3") && error.contains("boom"), "{error}");
    let segv = by_trial(&runs, "segfault")[0]["error"].as_str().unwrap().to_string();
    assert!(segv.starts_with("killed by SIGSEGV (segmentation fault)"), "{segv}");
    let stubborn = by_trial(&runs, "ignores_sigterm")[0]["error"].as_str().unwrap().to_string();
    assert!(stubborn.contains("did not stop within the 1s grace period and was killed"), "{stubborn}");
    let polite = by_trial(&runs, "times_out")[0]["error"].as_str().unwrap().to_string();
    assert!(polite.contains("exceeded `pipeline.timeout`") && polite.contains("SIGTERM"), "{polite}");
    // The successful run's metrics and artifact are recorded.
    let ok = by_trial(&runs, "ok")[0];
    assert_eq!(ok["metrics"]["loss"], 0.5);
    let run_dir = Path::new(ok["run_dir"].as_str().unwrap());
    for file in ["config.yaml", "config.json", "stdout.log", "stderr.log", "events.jsonl", "model.bin"] {
        assert!(run_dir.join(file).exists(), "{file} missing in {}", run_dir.display());
    }
    let show = expman_in(&dir, &["show", ok["id"].as_str().unwrap()]);
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("model.bin") && shown.contains("18 bytes"), "{shown}");
    // The summary table names every trial.
    for trial in ["ok", "fails", "segfault", "times_out", "ignores_sigterm", "also_ok"] {
        assert!(stdout.contains(trial), "{stdout}");
    }
}

/// Reads the pid of each RUNNING run from the database.
fn running_pids(db: &Path) -> Vec<i32> {
    let Ok(store) = Store::open(db) else {
        return Vec::new();
    };
    store
        .active_runs()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.status == expman_store::RunStatus::Running)
        .filter_map(|r| r.pid.map(|p| p as i32))
        .collect()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn ctrl_c_stops_every_run_and_keeps_the_record_consistent() {
    cancelling_stops_every_run(Signal::SIGINT);
}

#[test]
fn sigterm_to_the_runner_stops_every_run_the_same_way() {
    cancelling_stops_every_run(Signal::SIGTERM);
}

/// The runner gets `signal` while two runs are active (one ignores
/// SIGTERM) and a third waits: every run ends KILLED, no trial survives.
fn cancelling_stops_every_run(signal: Signal) {
    let tmp = TempDir::new(&format!("cancel-{signal:?}").to_lowercase());
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "interrupted",
        "pipeline: {command: [FAKE, --epochs, 1, --hang], grace_period: 1s}\n",
        "- name: polite\n- name: stubborn\n  settings: {pipeline.command: [FAKE, --epochs, 1, --hang, --ignore-sigterm]}\n- name: never_started\n",
    );
    let mut child = Command::new(bin("expman"))
        .args(["run", ".", "--parallel", "2"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db = dir.join("out/expman.db");
    assert!(wait_until(Duration::from_secs(20), || running_pids(&db).len() == 2), "runs did not start");
    let pids = running_pids(&db);
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{signal:?}");
    for pid in pids {
        assert!(!alive(pid), "trial process {pid} survived");
    }
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run["status"], "KILLED", "{run}");
    }
    let stubborn = by_trial(&runs, "stubborn")[0]["error"].as_str().unwrap().to_string();
    assert!(stubborn.contains("was killed"), "{stubborn}");
    let never = by_trial(&runs, "never_started")[0]["error"].as_str().unwrap().to_string();
    assert_eq!(never, "cancelled before it started");
}

#[test]
fn a_killed_runner_loses_nothing_and_resume_finishes_the_rest() {
    let tmp = TempDir::new("kill-runner");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "crashy",
        "pipeline: {command: [FAKE, --epochs, 40, --sleep-ms, 50]}\n",
        "- name: slow\n  repeat: 4\n",
    );
    let mut child = Command::new(bin("expman"))
        .args(["run", ".", "--parallel", "2"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = dir.join("out/expman.db");
    // Wait until both running trials have reported a few epochs.
    let reported = || {
        std::fs::read_dir(dir.join("out/crashy/slow"))
            .map(|entries| {
                entries
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("events.jsonl")).ok())
                    .filter(|t| t.matches("\"metrics\"").count() >= 5)
                    .count()
            })
            .unwrap_or(0)
            >= 2
    };
    assert!(wait_until(Duration::from_secs(20), reported), "trials did not report");
    let pids = running_pids(&db);
    assert_eq!(pids.len(), 2);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // The trials die with their runner (parent-death signal).
    assert!(wait_until(Duration::from_secs(5), || pids.iter().all(|p| !alive(*p))), "trials outlived the runner");

    // The next expman that opens the workspace recovers.
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["status"] == "LOST"), "{runs:?}");
    let store = Store::open(&db).unwrap();
    let mut recovered_points = 0;
    for row in store.list_runs(None).unwrap() {
        let Some(run_dir) = row.run_dir.as_deref() else {
            continue;
        };
        let written = std::fs::read_to_string(Path::new(run_dir).join("events.jsonl"))
            .map(|t| t.matches("\"type\":\"metrics\"").count() as i64 * 2)
            .unwrap_or(0);
        let stored = store.metric_count(row.id).unwrap();
        assert_eq!(stored, written, "run {}: every reported point is in the database", row.uid);
        recovered_points += stored;
    }
    assert!(recovered_points >= 20);

    // --resume runs the four again (none had succeeded) and nothing else.
    let out = expman_in(&dir, &["run", ".", "--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 8);
    assert_eq!(runs.iter().filter(|r| r["status"] == "SUCCESS").count(), 4);
    let again = expman_in(&dir, &["run", ".", "--resume"]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to run, 4 skipped"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(runs_json(&dir).len(), 8, "nothing duplicated");
}

#[test]
fn four_runners_share_one_database() {
    let tmp = TempDir::new("concurrent");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "busy",
        "pipeline: {command: [FAKE, --epochs, 5, --flood, 3000]}\n",
        "- name: a\n  repeat: 3\n- name: b\n  repeat: 3\n",
    );
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin("expman"))
                .args(["run", "."])
                .current_dir(&dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("locked"), "{err}");
    }
    let runs = runs_json(&dir);
    assert_eq!(runs.len(), 24);
    assert!(runs.iter().all(|r| r["status"] == "SUCCESS"));
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    for row in store.list_runs(None).unwrap() {
        assert_eq!(store.metric_count(row.id).unwrap(), 3000 + 10, "run {}", row.uid);
    }
}

#[test]
fn malformed_lines_are_counted_once_and_not_fatal() {
    let tmp = TempDir::new("garbage");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "garbage", "pipeline: {command: [FAKE, --epochs, 3, --garbage]}\n", "- name: noisy\n");
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("malformed event line").count(), 1, "{err}");
    assert!(err.contains("2 malformed event line(s) skipped"), "{err}");
    let runs = runs_json(&dir);
    assert_eq!(runs[0]["status"], "SUCCESS");
    assert_eq!(runs[0]["metrics"]["loss"].as_f64().unwrap(), 1.0 / 3.0);
}

#[test]
fn gpus_are_assigned_without_sharing() {
    let tmp = TempDir::new("gpus");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "gpus",
        "pipeline: {command: [FAKE, --epochs, 2, --sleep-ms, 100, --tag-env, CUDA_VISIBLE_DEVICES]}\n",
        "- name: t\n  repeat: 4\n",
    );
    std::fs::write(dir.join("env.yaml"), "workspace: out\nresources: {max_parallel: 8, gpus: [3, 5]}\n").unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 at a time"), "two GPUs, one run each");
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let mut seen = Vec::new();
    for row in store.list_runs(None).unwrap() {
        let detail = store.run_detail(&store.resolve_run(&row.uid).unwrap()).unwrap();
        let gpu = detail.tags.iter().find(|(k, _)| k == "CUDA_VISIBLE_DEVICES").map(|(_, v)| v.clone()).unwrap();
        seen.push(gpu);
    }
    seen.sort();
    assert_eq!(seen, ["3", "3", "5", "5"]);
}

#[test]
fn expman_stop_stops_one_trial_and_the_others_go_on() {
    let tmp = TempDir::new("stop-one");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "stopping",
        "pipeline: {command: [FAKE, --epochs, 30, --sleep-ms, 100], grace_period: 2s}\n",
        "- name: endless\n  settings: {pipeline: {command: [FAKE, --hang]}}\n- name: finite\n",
    );
    let child = Command::new(bin("expman"))
        .args(["run", "."])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = dir.join("out/expman.db");
    assert!(wait_until(Duration::from_secs(20), || running_pids(&db).len() == 2), "runs did not start");
    let none = expman_in(&dir, &["stop", "no_such_trial"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing going on matches no_such_trial"));
    let stop = expman_in(&dir, &["stop", "endless"]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    assert!(String::from_utf8_lossy(&stop.stdout).contains("(endless #1, stopping): asked its runner"), "{stop:?}");
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(1), "a KILLED run makes the exit status 1");
    let runs = runs_json(&dir);
    let endless = by_trial(&runs, "endless")[0];
    assert_eq!(endless["status"], "KILLED", "{endless}");
    assert!(endless["error"].as_str().unwrap().starts_with("stopped by the user"), "{endless}");
    assert_eq!(by_trial(&runs, "finite")[0]["status"], "SUCCESS", "the other run went on");
}

#[test]
fn dry_run_prints_commands_and_runs_nothing() {
    let tmp = TempDir::new("dry");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "dry", "pipeline: {command: [FAKE, --epochs, 2]}\n", "- name: a\n  repeat: 2\n");
    let out = expman_in(&dir, &["run", ".", "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fake-trial --epochs 2") && text.contains("2 run(s) would start"), "{text}");
    assert!(!dir.join("out/expman.db").exists());
}

#[test]
fn an_unknown_pipeline_type_is_reported_before_anything_runs() {
    let tmp = TempDir::new("unknown-pipeline");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "python_class", "pipeline: {type: DummyPipeline, epochs: 3}\n", "- name: a\n");
    let out = expman_in(&dir, &["run", "."]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DummyPipeline") && err.contains("used by a") && err.contains("type: process"), "{err}");
    assert!(!dir.join("out/expman.db").exists());
}
