//! The record's disk: a workspace that fills up while runs flood it (a
//! small tmpfs made by the test) ends with a clear error, every run
//! recorded as ended and an intact database; the same workspace mounted
//! read-only still answers queries. Mounting needs root: elsewhere the test
//! says so and returns (in CI, which runs as root, it must run).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TempDir, bin, fake_trial};

/// A mount made by the test, undone when dropped (also on a failed test).
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) -> bool {
        Command::new("mount").args(args).status().is_ok_and(|s| s.success())
    }

    /// A tmpfs of `size` at `at`; `Err(why)` when this machine does not
    /// allow mounting (root without the capability, as in some containers).
    fn tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if out.status.success() {
            Ok(Mount(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    fn read_only(from: &Path, at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        assert!(Mount::run(&["--bind", from.to_str().unwrap(), at.to_str().unwrap()]));
        let mount = Mount(at.to_path_buf());
        assert!(Mount::run(&["-o", "remount,ro,bind", at.to_str().unwrap()]));
        mount
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn can_mount() -> bool {
    let id = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let root = id.is_ok_and(|id| id == "0");
    if !root {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root: the disk tests must run there");
        eprintln!("disk tests need root (to mount a small tmpfs); skipped");
    }
    root
}

#[test]
fn a_full_disk_stops_every_run_with_a_clear_error_and_an_intact_record() {
    if !can_mount() {
        return;
    }
    let tmp = TempDir::new("disk");
    let workspace = tmp.path().join("ws");
    let disk = match Mount::tmpfs(&workspace, "12M") {
        Ok(disk) => disk,
        Err(why) if why.to_lowercase().contains("permission denied") => {
            // Root, but not allowed to mount (a container without the
            // capability): nothing here can make a small disk.
            eprintln!("SKIPPED: this machine does not allow mounting a tmpfs ({why})");
            return;
        }
        Err(why) => panic!("cannot mount a tmpfs at {}: {why}", workspace.display()),
    };
    let config = tmp.path().join("exp");
    std::fs::create_dir_all(&config).unwrap();
    let write = |name: &str, text: String| std::fs::write(config.join(name), text).unwrap();
    write("env.yaml", format!("workspace: {}\nhardware: {{enabled: false}}\n", workspace.display()));
    write("experiment.yaml", "name: full\n".into());
    write("base.yaml", format!("pipeline: {{command: [{}, --flood, \"400000\"]}}\n", fake_trial().display()));
    write("trials.yaml", "- name: a\n  repeat: 2\n- name: b\n".into());
    let out = Command::new(bin("expman")).arg("run").arg(&config).env("NO_COLOR", "1").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("error: the disk of the workspace {} is full", workspace.display())), "{stderr}");
    assert!(stderr.contains("free some space, then `expman run --resume`"), "{stderr}");

    // The record: intact, and no run left RUNNING (each ended, and says why).
    let db = rusqlite::Connection::open(workspace.join("expman.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let runs: Vec<(String, Option<String>)> = db
        .prepare("SELECT status, error FROM runs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(db);
    assert_eq!(runs.len(), 3);
    for (status, error) in &runs {
        assert!(status == "FAILED" || status == "KILLED", "{runs:?}");
        assert!(error.is_some(), "{runs:?}");
    }
    assert!(runs.iter().any(|(_, e)| e.as_deref().is_some_and(|e| e.contains("disk is full"))), "{runs:?}");

    // Read-only, the same workspace still answers.
    let ro = tmp.path().join("ro");
    let read_only = Mount::read_only(&workspace, &ro);
    assert!(std::fs::write(ro.join("probe"), b"x").is_err(), "the bind mount is read-only");
    let listed =
        Command::new(bin("expman")).args(["runs", "--format", "json", "--workspace"]).arg(&ro).output().unwrap();
    let files: Vec<_> = std::fs::read_dir(&ro).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(listed.status.success(), "{}\nin the workspace: {files:?}", String::from_utf8_lossy(&listed.stderr));
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(3));
    let id = json[0]["id"].as_str().unwrap();
    let shown = Command::new(bin("expman")).args(["show", id, "--workspace"]).arg(&ro).output().unwrap();
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("status     "),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    drop(read_only);
    drop(disk);
}
