//! `resources.executor: slurm` against a real one-node Slurm cluster
//! (`tests/engines/slurm-start.sh`, which `tests/run.sh` starts and then
//! sets `EXPMAN_TEST_SLURM=1`): the quickstart through Slurm, a failing
//! job, a cancelled one, a time limit, Ctrl-C, `expman stop`, and a runner
//! killed mid-way then resumed without losing or duplicating a run.
//!
//! The tests take turns (one lock): they share the cluster's CPUs, and a
//! job left pending behind another test's jobs would blur the timings.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::{TempDir, bin, copy_dir, expman_in, fake_experiment, repo_root, runs_json, wait_until};
use expman_store::Store;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

static CLUSTER: Mutex<()> = Mutex::new(());

/// Whether to run: on CI the cluster must be there (tests/run.sh starts it).
fn cluster() -> Option<std::sync::MutexGuard<'static, ()>> {
    if std::env::var_os("EXPMAN_TEST_SLURM").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the Slurm tests: tests/run.sh starts a cluster and sets EXPMAN_TEST_SLURM=1"
        );
        eprintln!("skipped: no Slurm cluster (tests/engines/slurm-start.sh, then EXPMAN_TEST_SLURM=1)");
        return None;
    }
    Some(CLUSTER.lock().unwrap_or_else(|e| e.into_inner()))
}

const SLURM_ENV: &str = "workspace: out\nresources: {executor: slurm, cpus_per_run: 1}\nhardware: {interval: 1s}\n";

/// A fake-trial experiment whose runs are Slurm jobs.
fn slurm_experiment(dir: &Path, name: &str, env: &str, base: &str, trials: &str) {
    fake_experiment(dir, name, base, trials);
    std::fs::write(dir.join("env.yaml"), env).unwrap();
}

fn spawn_run(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin("expman"))
        .args(["run", "."])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn output_of(child: Child) -> (std::process::ExitStatus, String) {
    let out = child.wait_with_output().unwrap();
    (out.status, format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// (uid, status, job id) of every run of the workspace's database.
fn jobs(db: &Path) -> Vec<(String, String, Option<String>)> {
    let Ok(conn) = rusqlite::Connection::open(db) else { return Vec::new() };
    let Ok(mut stmt) = conn.prepare("SELECT uid, status, job_id FROM runs ORDER BY id") else { return Vec::new() };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Slurm's state of a job (`squeue`), e.g. `RUNNING`.
fn job_state(job: &str) -> String {
    let out = Command::new("squeue").args(["-h", "-t", "all", "-j", job, "-o", "%T"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn running_jobs(db: &Path, n: usize) -> Vec<String> {
    let mut found = Vec::new();
    let ok = wait_until(Duration::from_secs(60), || {
        found = jobs(db)
            .into_iter()
            .filter_map(|(_, status, job)| job.filter(|j| status == "RUNNING" && job_state(j) == "RUNNING"))
            .collect();
        found.len() >= n
    });
    assert!(ok, "{n} job(s) never ran: {:?}", jobs(db));
    found
}

/// Every metric point a run's trial wrote is in the database, once.
fn assert_every_point_recorded(db: &Path) {
    let store = Store::open(db).unwrap();
    for row in store.list_runs(None).unwrap() {
        let dir = row.run_dir.as_deref().expect("run dir");
        let text = std::fs::read_to_string(Path::new(dir).join("events.jsonl")).unwrap_or_default();
        let written: i64 = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["type"] == "metrics")
            .map(|e| e["values"].as_object().map_or(0, |v| v.len() as i64))
            .sum();
        assert_eq!(store.metric_count(row.id).unwrap(), written, "run {}: points lost or duplicated", row.uid);
    }
}

#[test]
fn the_quickstart_runs_through_slurm() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-quickstart");
    let dir = tmp.path().join("quickstart");
    copy_dir(&repo_root().join("examples/quickstart"), &dir);
    std::fs::remove_dir_all(dir.join("with_trackers")).ok();
    std::fs::remove_dir_all(dir.join("with_s3")).ok();
    // A record left by running the example in the checkout is not this test's.
    std::fs::remove_dir_all(dir.join("outputs")).ok();
    let mut env =
        "workspace: outputs\nresources: {executor: slurm, cpus_per_run: 1, time_limit: 10m}\nhardware: {interval: 1s}\n"
            .to_string();
    // With a MariaDB server too (as on CI), the second section of the
    // issue's "done when": the runs are recorded in the team database.
    let team = std::env::var("EXPMAN_TEST_MARIADB").ok().map(|server| {
        let url = crate::mariadb::fresh_database(&server, "slurm_quickstart");
        env.push_str(&format!(
            "database: {{type: mysql, url: \"{url}\", password: \"${{env:EXPMAN_DB_PASSWORD}}\"}}\n"
        ));
        url
    });
    std::fs::write(dir.join("env.yaml"), env).unwrap();

    let dry = expman_in(&dir, &["run", ".", "--dry-run", "--trial", "baseline"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{text}");
    assert_eq!(text.matches("\nsbatch --parsable --job-name quickstart/baseline/").count(), 3, "{text}");
    assert!(text.contains("--cpus-per-task 1 --time 10 ") && text.contains("/RUN_ID/job.sh"), "{text}");
    assert!(!dir.join("outputs/expman.db").exists(), "a dry run records nothing");

    let out = expman_in(&dir, &["run", "."]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    // The `tune` trial's search runs on the cluster too: 12 jobs, two at
    // a time, each suggested when one ends, some pruned.
    assert!(text.contains("search `tune`: 12 of 12 suggested"), "{text}");
    assert!(text.contains(" PRUNED; record:"), "{text}");
    let db = dir.join("outputs/expman.db");
    let all = jobs(&db);
    assert_eq!(all.len(), 22);
    let mut ids: Vec<&str> = all.iter().map(|(_, _, j)| j.as_deref().expect("every run is a job")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 22, "one job per run");
    let static_runs: Vec<serde_json::Value> =
        runs_json(&dir).into_iter().filter(|r| !r["trial"].as_str().unwrap().starts_with("tune[")).collect();
    let success = static_runs.iter().filter(|r| r["status"] == "SUCCESS").count();
    assert_eq!((static_runs.len(), success), (10, 4), "{static_runs:?}");
    for (uid, _, job) in &all {
        let job = job.as_deref().unwrap();
        // The job ran in the run directory and wrote the run's logs there.
        let run = runs_json(&dir).into_iter().find(|r| r["id"] == uid.as_str()).unwrap();
        assert!(run["metrics"]["val_loss"].is_number(), "{run}");
        let comp = std::fs::read_to_string("/tmp/expman-slurm/log/jobcomp.txt").unwrap_or_default();
        let line = comp.lines().find(|l| l.starts_with(&format!("JobId={job} "))).unwrap_or_default();
        assert!(line.contains("JobState=COMPLETED") && line.contains(&format!("/{uid}")), "{line}");
    }
    assert_every_point_recorded(&db);
    if let Some(url) = team {
        // Every run is in the team database, and a workspace that ran
        // nothing sees them all as they ended.
        let mut server = crate::mariadb::mysql(&url);
        assert_eq!(crate::mariadb::count(&mut server, "SELECT COUNT(*) FROM runs WHERE job_id IS NOT NULL"), 22);
        let other = tmp.path().join("colleague");
        fake_experiment(&other, "other", "pipeline: {command: [FAKE]}\n", "- name: x\n");
        let env = format!(
            "workspace: out\ndatabase: {{type: mysql, url: \"{url}\", password: \"${{env:EXPMAN_DB_PASSWORD}}\"}}\n"
        );
        std::fs::write(other.join("env.yaml"), env).unwrap();
        let out = expman_in(&other, &["runs", "--all-experiments", "--format", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let pruned = rows.iter().filter(|r| r["status"] == "PRUNED").count();
        assert_eq!(rows.len(), 22);
        assert!(pruned >= 1, "{rows:?}");
    }
}

#[test]
fn failing_cancelled_and_stopped_jobs_get_their_statuses() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-statuses");
    let dir = tmp.path().join("exp");
    slurm_experiment(
        &dir,
        "statuses",
        SLURM_ENV,
        "pipeline: {command: [FAKE, --epochs, 2], grace_period: 2s}\n",
        "- name: fails\n  settings: {pipeline: {command: [FAKE, --epochs, 2, --exit, 3, --stderr, broken]}}\n\
         - name: cancelled\n  settings: {pipeline: {command: [FAKE, --hang]}}\n\
         - name: stopped\n  settings: {pipeline: {command: [FAKE, --hang]}}\n",
    );
    let db = dir.join("out/expman.db");
    let child = spawn_run(&dir, &[]);
    running_jobs(&db, 2);
    let by_trial = |trial: &str| {
        let runs = runs_json(&dir);
        runs.into_iter().find(|r| r["trial"] == trial).unwrap()
    };
    let cancelled = by_trial("cancelled");
    let job = jobs(&db).into_iter().find(|(uid, _, _)| cancelled["id"] == uid.as_str()).unwrap().2.unwrap();
    assert!(Command::new("scancel").arg(&job).status().unwrap().success());
    let stop = expman_in(&dir, &["stop", "stopped"]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    assert!(String::from_utf8_lossy(&stop.stdout).contains("asked its runner"), "{stop:?}");

    let (status, text) = output_of(child);
    assert_eq!(status.code(), Some(1), "{text}");
    let fails = by_trial("fails");
    assert_eq!((fails["status"].as_str(), fails["exit_code"].as_i64()), (Some("FAILED"), Some(3)), "{fails}");
    assert!(fails["error"].as_str().unwrap().contains("broken"), "stderr tail in the message: {fails}");
    let cancelled = by_trial("cancelled");
    assert_eq!(cancelled["status"], "KILLED", "{cancelled}");
    assert!(cancelled["error"].as_str().unwrap().contains(&format!("Slurm job {job} was cancelled")), "{cancelled}");
    let stopped = by_trial("stopped");
    assert_eq!(stopped["status"], "KILLED", "{stopped}");
    assert!(stopped["error"].as_str().unwrap().contains("stopped by the user"), "{stopped}");
    assert!(jobs(&db).iter().all(|(_, _, j)| job_state(j.as_deref().unwrap()) != "RUNNING"), "no job left running");
}

#[test]
fn a_slurm_time_limit_ends_timeout() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-timeout");
    let dir = tmp.path().join("exp");
    slurm_experiment(
        &dir,
        "limits",
        "workspace: out\nresources: {executor: slurm, cpus_per_run: 1, time_limit: 1m}\n",
        "pipeline: {command: [FAKE, --hang]}\n",
        "- name: endless\n",
    );
    let out = expman_in(&dir, &["run", "."]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    let run = runs_json(&dir).pop().unwrap();
    assert_eq!(run["status"], "TIMEOUT", "{run}");
    assert!(run["error"].as_str().unwrap().contains("reached its time limit"), "{run}");
}

#[test]
fn ctrl_c_cancels_the_jobs() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-ctrl-c");
    let dir = tmp.path().join("exp");
    slurm_experiment(
        &dir,
        "interrupted",
        SLURM_ENV,
        "pipeline: {command: [FAKE, --hang], grace_period: 2s}\n",
        "- name: hang\n  repeat: 2\n",
    );
    let db = dir.join("out/expman.db");
    let child = spawn_run(&dir, &[]);
    let ids = running_jobs(&db, 2);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let (status, text) = output_of(child);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(jobs(&db).iter().all(|(_, s, _)| s == "KILLED"), "{:?}", jobs(&db));
    // Slurm itself cancelled them (its step daemon says so in the job's
    // stderr); none is left queued or running.
    let store = Store::open(&db).unwrap();
    for row in store.list_runs(None).unwrap() {
        let stderr = std::fs::read_to_string(Path::new(row.run_dir.as_deref().unwrap()).join("stderr.log")).unwrap();
        assert!(stderr.contains("CANCELLED AT"), "{stderr}");
    }
    for job in ids {
        let ended = || !matches!(job_state(&job).as_str(), "RUNNING" | "PENDING" | "COMPLETING");
        assert!(wait_until(Duration::from_secs(30), ended), "job {job}: {}", job_state(&job));
    }
}

#[test]
fn a_killed_runner_resumes_its_jobs_without_losing_or_duplicating_a_run() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-resume");
    let dir = tmp.path().join("exp");
    slurm_experiment(
        &dir,
        "resumed",
        SLURM_ENV,
        "pipeline: {command: [FAKE, --epochs, 15, --sleep-ms, 200]}\n",
        "- name: short\n  repeat: 2\n\
         - name: long\n  repeat: 2\n  settings: {pipeline: {command: [FAKE, --epochs, 60, --sleep-ms, 250], callbacks: [{type: metrics_csv}]}}\n",
    );
    let db = dir.join("out/expman.db");
    let mut child = spawn_run(&dir, &[]);
    running_jobs(&db, 4);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let before = jobs(&db);
    assert_eq!(before.len(), 4);

    // The short jobs end while no runner watches: the next look at the
    // record learns how (their exit files), without a runner.
    let short_done = || {
        std::fs::read_dir(dir.join("out/resumed/short"))
            .map(|e| e.filter(|e| e.as_ref().is_ok_and(|e| e.path().join(".expman-exit").exists())).count())
            .unwrap_or(0)
            == 2
    };
    assert!(wait_until(Duration::from_secs(60), short_done), "the short jobs did not finish");
    let runs = runs_json(&dir);
    let status_of = |runs: &[serde_json::Value], trial: &str| -> Vec<String> {
        runs.iter().filter(|r| r["trial"] == trial).map(|r| r["status"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(status_of(&runs, "short"), ["SUCCESS", "SUCCESS"], "{runs:?}");
    assert_eq!(status_of(&runs, "long"), ["RUNNING", "RUNNING"], "the long jobs go on: {runs:?}");

    // --resume re-attaches to the long jobs instead of submitting them again.
    let out = expman_in(&dir, &["run", ".", "--resume"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("re-attached to Slurm job"), "{text}");
    assert!(text.contains("2 SUCCESS, 2 skipped"), "{text}");
    let after = jobs(&db);
    assert_eq!(after.len(), 4, "no run submitted twice: {after:?}");
    for ((uid, _, job), (uid2, status, job2)) in before.iter().zip(&after) {
        assert_eq!((uid, job), (uid2, job2));
        assert_eq!(status, "SUCCESS");
    }
    assert_every_point_recorded(&db);
    // The re-attached runs' callbacks saw their whole event stream (replayed
    // up to where the record stopped): metrics.csv has every epoch.
    let store = Store::open(&db).unwrap();
    for row in store.list_runs(None).unwrap().into_iter().filter(|r| r.trial == "long") {
        let csv = std::fs::read_to_string(Path::new(row.run_dir.as_deref().unwrap()).join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 61, "a header and 60 epochs: {csv}");
        assert!(csv.lines().nth(1).unwrap().starts_with("0,0,"), "from the first epoch: {csv}");
    }
    let again = expman_in(&dir, &["run", ".", "--resume"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to run, 4 skipped"), "{again:?}");
}

#[test]
fn a_job_slurm_refuses_fails_its_run_with_sbatch_s_reason() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-refused");
    let dir = tmp.path().join("exp");
    slurm_experiment(
        &dir,
        "refused",
        "workspace: out\nresources: {executor: slurm, partition: no_such_partition}\n",
        "pipeline: {command: [FAKE, --epochs, 1]}\n",
        "- name: nowhere\n",
    );
    let out = expman_in(&dir, &["run", "."]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    let run = runs_json(&dir).pop().unwrap();
    assert_eq!(run["status"], "FAILED", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.starts_with("sbatch refused the job:") && error.contains("partition"), "{error}");
}

#[test]
fn expman_stop_cancels_a_job_no_runner_watches() {
    let Some(_cluster) = cluster() else { return };
    let tmp = TempDir::new("slurm-stop-orphan");
    let dir = tmp.path().join("exp");
    slurm_experiment(&dir, "orphaned", SLURM_ENV, "pipeline: {command: [FAKE, --hang]}\n", "- name: forever\n");
    let db = dir.join("out/expman.db");
    let mut child = spawn_run(&dir, &[]);
    let job = running_jobs(&db, 1).remove(0);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // The job goes on without its runner.
    assert_eq!(job_state(&job), "RUNNING");
    let stop = expman_in(&dir, &["stop", "forever"]);
    let text = String::from_utf8_lossy(&stop.stdout);
    assert!(
        stop.status.success() && text.contains(&format!("no runner watches it; cancelled Slurm job {job}")),
        "{text}"
    );
    assert!(wait_until(Duration::from_secs(30), || job_state(&job) != "RUNNING"), "{}", job_state(&job));
    // The next look at the record ends it as Slurm does.
    assert!(wait_until(Duration::from_secs(30), || runs_json(&dir)[0]["status"] == "KILLED"), "{:?}", runs_json(&dir));
}
