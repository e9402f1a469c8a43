//! Hardware sampling attributed to runs, `expman hw`, GPU modes, and the
//! reproducibility record of a run started from a dirty git tree.

use std::path::Path;
use std::process::Command;

use crate::support::{TempDir, expman_in, fake_experiment, runs_json};
use expman_store::Store;

#[test]
fn a_trial_that_allocates_200_mb_shows_about_that_much_rss() {
    let tmp = TempDir::new("rss");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "memory",
        "pipeline: {command: [FAKE, --allocate-mb, 200, --epochs, 12, --sleep-ms, 100]}\n",
        "- name: big\n- name: small\n  settings: {pipeline.command: [FAKE, --epochs, 12, --sleep-ms, 100]}\n",
    );
    std::fs::write(
        dir.join("env.yaml"),
        "workspace: out\nresources: {max_parallel: 2}\nhardware: {interval: 100ms, gpu: off}\n",
    )
    .unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let mut peaks = std::collections::HashMap::new();
    for row in store.list_runs(None).unwrap() {
        let d = store.run_detail(&store.resolve_run(&row.uid).unwrap()).unwrap();
        let r = d.resources.expect("a resource summary");
        assert!(r.samples >= 4, "{} samples", r.samples);
        assert!(r.wall_ms >= 1000);
        assert!(store.hardware_sample_count(Some(row.id)).unwrap() >= 4);
        peaks.insert(row.trial.clone(), r.peak_rss.unwrap());
    }
    let big = peaks["big"] as f64 / (1 << 20) as f64;
    let small = peaks["small"] as f64 / (1 << 20) as f64;
    assert!((190.0..260.0).contains(&big), "big trial peak RSS {big:.0} MiB");
    assert!(small < 30.0, "small trial peak RSS {small:.0} MiB");
    assert!(store.hardware_sample_count(None).unwrap() >= 8, "machine-wide samples too");
    // `expman show` reports it.
    let id = store.list_runs(None).unwrap().into_iter().find(|r| r.trial == "big").unwrap().uid;
    let shown = String::from_utf8_lossy(&expman_in(&dir, &["show", &id]).stdout).into_owned();
    assert!(shown.contains("peak rss   2") && shown.contains("MiB"), "{shown}");
}

#[test]
fn a_run_shorter_than_the_sampling_interval_still_has_its_cpu_time_and_peak_rss() {
    // No sample falls within the run (2 s interval, a 0.3 s run): what it
    // used comes from the kernel (wait4) when it ends.
    let tmp = TempDir::new("short-usage");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "short",
        "pipeline: {command: [FAKE, --allocate-mb, 60, --busy-ms, 300, --epochs, 1]}\n",
        "- name: quick\n",
    );
    std::fs::write(dir.join("env.yaml"), "workspace: out\nhardware: {interval: 2s, gpu: off}\n").unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let row = store.list_runs(None).unwrap().remove(0);
    let r = store.run_detail(&store.resolve_run(&row.uid).unwrap()).unwrap().resources.expect("a resource summary");
    let cpu = r.cpu_ms.expect("cpu time");
    assert!((250..2000).contains(&cpu), "cpu time {cpu} ms for 300 ms of busy work");
    let rss = r.peak_rss.expect("peak rss") as f64 / (1 << 20) as f64;
    assert!((55.0..120.0).contains(&rss), "peak RSS {rss:.0} MiB for 60 MiB touched");
}

#[test]
fn hw_once_prints_one_sample() {
    let tmp = TempDir::new("hw");
    let out = expman_in(tmp.path(), &["hw", "--once", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sample: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(sample["machine"]["mem_total"].as_u64().unwrap() > 0);
    assert!(!sample["machine"]["per_core"].as_array().unwrap().is_empty());
    assert!(sample["gpus"].is_array());
    let text = expman_in(tmp.path(), &["hw", "--once"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("mem  ["));
}

fn has_nvidia_gpu(dir: &Path) -> bool {
    let out = expman_in(dir, &["hw", "--once", "--format", "json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|s| s["gpus"].as_array().is_some_and(|g| !g.is_empty()))
        .unwrap_or(false)
}

#[test]
fn gpu_required_fails_fast_without_a_driver() {
    let tmp = TempDir::new("gpu-required");
    if has_nvidia_gpu(tmp.path()) {
        eprintln!("skipped: this machine has an NVIDIA GPU, so `required` succeeds");
        return;
    }
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "gpu", "pipeline: {command: [FAKE]}\n", "- name: t\n");
    std::fs::write(dir.join("env.yaml"), "workspace: out\nhardware: {gpu: required}\n").unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`hardware.gpu: required`, but"), "{err}");
    assert!(!dir.join("out/expman.db").exists(), "nothing recorded");
    // `auto` runs without GPU figures.
    std::fs::write(dir.join("env.yaml"), "workspace: out\nhardware: {gpu: auto}\n").unwrap();
    assert!(expman_in(&dir, &["run", "."]).status.success());
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

#[test]
fn capture_records_git_state_diff_code_and_environment() {
    let tmp = TempDir::new("capture");
    let repo = tmp.path().join("repo");
    let dir = repo.join("exp");
    fake_experiment(
        &dir,
        "captured",
        "secret_token: ${env:EXPMAN_TEST_SECRET,s3cr3t}\npipeline:\n  command: [FAKE, --epochs, 1]\n  workdir: ..\n  env: {API_TOKEN: \"${secret_token}\", MODE: fast}\n  capture: {code: [\"**/*.sh\", \"*.yaml\"]}\n",
        "- name: t\n",
    );
    std::fs::write(repo.join("train.sh"), "echo one\n").unwrap();
    std::fs::write(repo.join(".gitignore"), "exp/out/\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    std::fs::write(repo.join("train.sh"), "echo two\n").unwrap();
    let head =
        String::from_utf8(Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&repo).output().unwrap().stdout)
            .unwrap();

    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = &runs_json(&dir)[0];
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let d = store.run_detail(&store.resolve_run(run["id"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(d.git_commit.as_deref(), Some(head.trim()));
    assert_eq!(d.git_dirty, Some(true));
    let capture = d.capture.expect("a capture record");
    assert_eq!(capture.git_branch.as_deref(), Some("main"));
    let env: serde_json::Value = serde_json::from_str(&capture.env).unwrap();
    assert_eq!(env["MODE"], "fast");
    assert_eq!(env["API_TOKEN"], "********", "secrets are masked in the record");
    assert_eq!(env["EXPMAN_TRIAL"], "t");
    assert!(env.get("HOME").is_none(), "only what expman set");
    let host: serde_json::Value = serde_json::from_str(&capture.host).unwrap();
    assert!(host["cpus"].as_u64().unwrap() >= 1 && !host["os"].as_str().unwrap().is_empty());
    assert_eq!(capture.expman_version, env!("CARGO_PKG_VERSION"));

    let run_dir = Path::new(run["run_dir"].as_str().unwrap());
    let diff = std::fs::read_to_string(run_dir.join("git.diff")).unwrap();
    assert!(diff.contains("-echo one") && diff.contains("+echo two"), "{diff}");
    let kinds: Vec<&str> = d.artifacts.iter().map(|a| a.1.as_str()).collect();
    assert!(kinds.contains(&"git-diff") && kinds.contains(&"code-snapshot"), "{kinds:?}");
    let snapshot = d.artifacts.iter().find(|a| a.1 == "code-snapshot").unwrap();
    let listing = Command::new("tar").args(["tzf", &snapshot.0]).output().unwrap();
    let files = String::from_utf8_lossy(&listing.stdout);
    assert!(files.contains("train.sh"), "{files}");
    assert!(!files.contains("expman.db"), "the workspace is never snapshotted: {files}");
    let shown = String::from_utf8_lossy(&expman_in(&dir, &["show", run["id"].as_str().unwrap()]).stdout).into_owned();
    assert!(
        shown.contains("git branch main") && shown.contains("(dirty)") && shown.contains("API_TOKEN=********"),
        "{shown}"
    );
    assert!(!shown.contains("s3cr3t"));
}

#[test]
fn python_env_capture_records_pip_freeze_once_per_interpreter() {
    let tmp = TempDir::new("pip-freeze");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "pip",
        "pipeline:\n  command: [python3, -c, \"print('hi')\"]\n  capture: {python_env: true}\n",
        "- name: t\n  repeat: 2\n",
    );
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = Command::new("python3").args(["-m", "pip", "freeze"]).output().unwrap();
    assert!(expected.status.success());
    let store = Store::open(&dir.join("out/expman.db")).unwrap();
    let mut files = Vec::new();
    for row in store.list_runs(None).unwrap() {
        let d = store.run_detail(&store.resolve_run(&row.uid).unwrap()).unwrap();
        let env = d.artifacts.iter().find(|a| a.1 == "python-env").expect("a python-env artifact");
        assert_eq!(std::fs::read(&env.0).unwrap(), expected.stdout, "what `python3 -m pip freeze` prints");
        files.push(env.0.clone());
    }
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], files[1], "stored once by content, shared by both runs");
}
