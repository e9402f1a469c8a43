//! The artifact store's remote on a real S3-compatible server
//! (`tests/engines/s3-start.sh`: s3rver on 127.0.0.1, its objects in a
//! directory; `tests/run.sh` starts one and sets `EXPMAN_TEST_S3` to its
//! endpoint): runs upload their artifacts as they end; another workspace
//! reading the team database fetches them on demand; the server stopped in
//! the middle of an upload and started again loses nothing and gets nothing
//! twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{TempDir, bin, repo_root};

const KEY: (&str, &str) = ("AWS_ACCESS_KEY_ID", "S3RVER");
const SECRET: (&str, &str) = ("AWS_SECRET_ACCESS_KEY", "S3RVER");

/// The server's endpoint, or `None` (skipped) outside CI when there is none.
fn endpoint() -> Option<String> {
    match std::env::var("EXPMAN_TEST_S3") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the S3 tests: tests/run.sh starts a server and sets EXPMAN_TEST_S3"
            );
            eprintln!("skipped: no S3 server (tests/engines/s3-start.sh, then EXPMAN_TEST_S3=URL)");
            None
        }
    }
}

fn expman(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin("expman"));
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1").envs([KEY, SECRET]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run expman")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A config directory whose one run writes `size` random bytes to
/// `weights.bin` and reports it.
fn experiment(dir: &Path, env: &str, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("env.yaml"), env).unwrap();
    std::fs::write(dir.join("experiment.yaml"), "name: remote\n").unwrap();
    std::fs::write(
        dir.join("base.yaml"),
        format!(
            "pipeline:\n  command: [python3, -c, \"import os, expman_client as em; p = os.path.join(em.run_dir(), 'weights.bin'); open(p, 'wb').write(os.urandom({size})); em.log_artifact(p)\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("trials.yaml"), "- name: t\n").unwrap();
}

fn only_run(dir: &Path) -> (String, PathBuf) {
    let out = expman(dir, &["runs", "--format", "json", "--columns", "id"], &[]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let id = rows[0]["id"].as_str().unwrap().to_string();
    let shown = text(&expman(dir, &["show", &id], &[]));
    let line = shown.lines().find(|l| l.starts_with("directory")).unwrap();
    (id, PathBuf::from(line.trim_start_matches("directory").trim()))
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn artifacts_reach_s3_and_another_workspace_fetches_them_through_the_team_database() {
    let Some(endpoint) = endpoint() else { return };
    let tmp = TempDir::new("s3-team");
    let prefix = format!("team-{}", std::process::id());
    let team = crate::mariadb::server().map(|server| crate::mariadb::fresh_database(&server, "s3_team"));
    let database = match &team {
        Some(url) => format!("database: {{type: mysql, url: \"{url}\"}}\n"),
        None => String::new(),
    };
    let env = format!(
        "workspace: out\n{database}artifacts: {{store: \"s3://expman/{prefix}\", endpoint: \"{endpoint}\", region: us-east-1}}\n"
    );
    let here = tmp.path().join("here");
    experiment(&here, &env, 3 << 20);
    let run = expman(&here, &["run", "."], &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(!text(&run).contains("not uploaded"), "{}", text(&run));
    let (id, run_dir) = only_run(&here);
    let digest = sha256_of(&run_dir.join("weights.bin"));
    let again = expman(&here, &["artifacts", "push"], &[]);
    assert!(again.status.success() && text(&again).contains("0 blob(s) (0 B) to check"), "{}", text(&again));

    // Another machine: its own workspace and store, the same team database
    // and remote. The run is in the record; its file comes from S3.
    let Some(_) = team else {
        eprintln!("skipped the second workspace: no MariaDB here for a team database");
        return;
    };
    let there = tmp.path().join("there");
    experiment(&there, &env, 1);
    let out = tmp.path().join("fetched.bin");
    let got = expman(&there, &["artifacts", "get", &id, "weights.bin", "--out", out.to_str().unwrap()], &[]);
    assert!(got.status.success(), "{}", text(&got));
    assert!(text(&got).contains("fetched"), "{}", text(&got));
    assert_eq!(sha256_of(&out), digest);
    let blob = there.join("out/.expman/blobs").join(&digest[..2]).join(&digest);
    assert!(blob.is_file(), "kept in the second workspace's store: {}", blob.display());
    // Without credentials the remote refuses, and the message says where.
    std::fs::remove_file(&blob).unwrap();
    let denied = Command::new(bin("expman"))
        .args(["artifacts", "get", &id, "weights.bin", "--out", "-"])
        .current_dir(&there)
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "nobody")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()
        .unwrap();
    assert!(!denied.status.success() && text(&denied).contains("s3://expman/"), "{}", text(&denied));
}

/// An s3rver of this test's own, started and stopped with the project's
/// scripts.
struct OwnServer {
    state: PathBuf,
    port: u16,
}

impl OwnServer {
    fn script(&self, name: &str) -> Output {
        Command::new(repo_root().join("tests/engines").join(name))
            .env("S3_STATE", &self.state)
            .env("S3_PORT", self.port.to_string())
            .output()
            .unwrap()
    }

    fn start(&self) {
        let out = self.script("s3-start.sh");
        assert!(out.status.success(), "{}", text(&out));
    }

    fn stop(&self) {
        let _ = self.script("s3-stop.sh");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn the_server_stopped_mid_upload_and_started_again_loses_nothing_and_gets_nothing_twice() {
    let Some(_) = endpoint() else { return };
    let tmp = TempDir::new("s3-restart");
    let server = OwnServer { state: tmp.path().join("s3"), port: 45600 + (std::process::id() % 300) as u16 };
    // The shared server's installation, reused (no second `npm ci`).
    let shared = PathBuf::from(std::env::var("S3_STATE").unwrap_or_else(|_| "/tmp/expman-s3".into())).join("server");
    if shared.is_dir() {
        std::fs::create_dir_all(&server.state).unwrap();
        let _ = Command::new("cp").arg("-a").arg(&shared).arg(server.state.join("server")).status();
    }
    server.start();
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let dir = tmp.path().join("exp");
    let env = format!("workspace: out\nartifacts: {{store: \"s3://expman/cut\", endpoint: \"{endpoint}\"}}\n");
    experiment(&dir, &env, 240 << 20);

    // Stop the server once the upload has sent a few parts.
    let uploads = dir.join("out/.expman/blobs/uploads");
    let child = Command::new(bin("expman"))
        .args(["run", "."])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .envs([KEY, SECRET])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut parts_before = 0;
    while started.elapsed() < Duration::from_secs(120) {
        let parts = std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| v["parts"].as_array().map_or(0, |p| p.len()))
            .max()
            .unwrap_or(0);
        if parts >= 3 {
            parts_before = parts;
            server.stop();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(parts_before >= 3, "the upload never got under way");
    let run = child.wait_with_output().unwrap();
    assert!(run.status.success(), "the run does not fail for its remote: {}", text(&run));
    assert!(text(&run).contains("not uploaded") && text(&run).contains("expman artifacts push"), "{}", text(&run));
    let (id, run_dir) = only_run(&dir);
    let digest = sha256_of(&run_dir.join("weights.bin"));
    let shown = text(&expman(&dir, &["show", &id], &[]));
    assert!(shown.contains("SUCCESS"), "{shown}");

    // Down: push fails and says so, changing nothing.
    let down = expman(&dir, &["artifacts", "push"], &[]);
    assert!(!down.status.success() && text(&down).contains("failed"), "{}", text(&down));

    server.start();
    let push = expman(&dir, &["artifacts", "push"], &[]);
    assert!(push.status.success(), "{}", text(&push));
    let pushed = text(&push);
    let resumed_after: usize = pushed
        .split("went on after part ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the upload started over: {pushed}"));
    assert!(
        resumed_after >= parts_before - 1,
        "resumed after part {resumed_after}, {parts_before} were sent: {pushed}"
    );
    let object = server.state.join("data/expman/cut").join(&digest[..2]).join(format!("{digest}._S3rver_object"));
    assert_eq!(sha256_of(&object), digest, "the object on the server is the artifact");
    let again = expman(&dir, &["artifacts", "push"], &[]);
    assert!(text(&again).contains("0 blob(s) (0 B) to check"), "{}", text(&again));
}

#[test]
fn the_quickstart_with_s3_keeps_its_checkpoints_once_and_uploads_them() {
    let Some(endpoint) = endpoint() else { return };
    let tmp = TempDir::new("s3-quickstart");
    let qs = tmp.path().join("quickstart");
    crate::support::copy_dir(&repo_root().join("examples/quickstart"), &qs);
    let _ = std::fs::remove_dir_all(qs.join("outputs"));
    let store = format!("s3://expman/quickstart-{}", std::process::id());
    let env = [("EXPMAN_S3_ENDPOINT", endpoint.as_str()), ("EXPMAN_ARTIFACT_STORE", store.as_str())];
    let run = expman(&qs, &["run", "with_s3", "--trial", "baseline"], &env);
    assert!(run.status.success(), "{}", text(&run));
    assert!(!text(&run).contains("not uploaded"), "{}", text(&run));
    let push = expman(&qs, &["artifacts", "push", "--dir", "with_s3"], &env);
    assert!(text(&push).contains("0 blob(s) (0 B) to check"), "everything went up as the runs ended: {}", text(&push));
    // Three repeats share one code snapshot: one blob, linked from the
    // snapshot file the runs recorded.
    // The workspace (`outputs`) is relative to the config directory that names it: with_s3/.
    let blobs = qs.join("with_s3/outputs/.expman/blobs");
    let files: Vec<PathBuf> = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .filter(|d| d.file_name().len() == 2)
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten().map(|e| e.path()))
        .collect();
    assert!(files.len() >= 6, "checkpoints, weights and snapshots stored: {files:?}");
    let out = expman(&qs, &["runs", "--dir", "with_s3", "--format", "json", "--columns", "id"], &env);
    let ids: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(ids.len(), 3);
    let listed = expman(&qs, &["artifacts", "list", ids[0]["id"].as_str().unwrap(), "--dir", "with_s3"], &env);
    let listed = text(&listed);
    assert!(listed.contains("checkpoint") && listed.contains("stored"), "{listed}");
}
