//! Commands that read the record find it the way a user expects, and the
//! database commands work.

use std::process::Command;

use crate::support::{TempDir, bin, expman_in, fake_experiment};

fn output_text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_record_is_found_from_config_dir_workspace_subdirectory_flag_and_env() {
    let tmp = TempDir::new("locate");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "located", "pipeline: {command: [FAKE, --epochs, 1]}\n", "- name: t\n  repeat: 2\n");
    assert!(expman_in(&dir, &["run", "."]).status.success());
    let count = |out: std::process::Output| -> usize {
        assert!(out.status.success(), "{}", output_text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len()
    };
    // In the config directory.
    assert_eq!(count(expman_in(&dir, &["runs", "--format", "json"])), 2);
    // In the workspace, and below it (a run directory).
    let ws = dir.join("out");
    assert_eq!(count(expman_in(&ws, &["runs", "--format", "json"])), 2);
    let run_dir = std::fs::read_dir(ws.join("located/t")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(count(expman_in(&run_dir, &["runs", "--format", "json"])), 2);
    // From elsewhere: --dir, --workspace, EXPMAN_WORKSPACE.
    assert_eq!(count(expman_in(tmp.path(), &["runs", "--format", "json", "--dir", "exp"])), 2);
    assert_eq!(count(expman_in(tmp.path(), &["runs", "--format", "json", "--workspace", "exp/out"])), 2);
    let out = Command::new(bin("expman"))
        .args(["runs", "--format", "json"])
        .current_dir(tmp.path())
        .env("EXPMAN_WORKSPACE", ws.as_os_str())
        .output()
        .unwrap();
    assert_eq!(count(out), 2);
    // Nowhere: a clear message.
    let out = expman_in(tmp.path(), &["runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(output_text(&out).contains("no expman workspace here"), "{}", output_text(&out));
}

#[test]
fn db_status_rollback_and_migrate() {
    let tmp = TempDir::new("db");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "db", "pipeline: {command: [FAKE, --epochs, 1]}\n", "- name: t\n");
    let status = expman_in(&dir, &["db", "status"]);
    assert!(output_text(&status).contains("does not exist yet"), "{}", output_text(&status));
    assert!(expman_in(&dir, &["run", "."]).status.success());
    let status = output_text(&expman_in(&dir, &["db", "status"]));
    assert!(status.contains("version    9 (this expman: 9)") && status.contains("0001 init"), "{status}");
    let rollback = expman_in(&dir, &["db", "rollback", "--to", "0"]);
    assert!(rollback.status.success(), "{}", output_text(&rollback));
    assert!(
        output_text(&rollback)
            .contains("rolled back 0009 lineage\nrolled back 0008 searches\nrolled back 0007 revision\nrolled back 0006 replication\nrolled back 0005 slurm\nrolled back 0004 trackers\nrolled back 0003 metric_summaries\nrolled back 0002 resources_capture\nrolled back 0001 init"),
        "{}",
        output_text(&rollback)
    );
    let migrate = expman_in(&dir, &["db", "migrate"]);
    assert!(
        output_text(&migrate).contains(
            "applied 0001 init\napplied 0002 resources_capture\napplied 0003 metric_summaries\napplied 0004 trackers\napplied 0005 slurm\napplied 0006 replication\napplied 0007 revision\napplied 0008 searches\napplied 0009 lineage"
        ),
        "{}",
        output_text(&migrate)
    );
    let again = expman_in(&dir, &["db", "migrate"]);
    assert!(output_text(&again).contains("is up to date"));
}

#[test]
fn runs_and_show_formats() {
    let tmp = TempDir::new("formats");
    let dir = tmp.path().join("exp");
    fake_experiment(&dir, "formats", "pipeline: {command: [FAKE, --epochs, 2]}\n", "- name: \"t, with comma\"\n");
    assert!(expman_in(&dir, &["run", "."]).status.success());
    let columns = "id,experiment,trial,repeat,status,metrics.acc,metrics.loss";
    let csv = String::from_utf8_lossy(&expman_in(&dir, &["runs", "--columns", columns, "--format", "csv"]).stdout)
        .into_owned();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(columns));
    let row = lines.next().unwrap();
    assert!(row.ends_with(",formats,\"t, with comma\",1,SUCCESS,0.75,0.5"), "{row}");
    let table = String::from_utf8_lossy(&expman_in(&dir, &["runs"]).stdout).into_owned();
    assert!(table.contains("t, with comma") && table.contains("0.75") && table.contains("1 row(s)"), "{table}");
    let id = &row[..5];
    let show = String::from_utf8_lossy(&expman_in(&dir, &["show", id]).stdout).into_owned();
    assert!(show.contains("status     SUCCESS") && show.contains("loss") && show.contains("(2 points)"), "{show}");
    let missing = expman_in(&dir, &["show", "zzzzzz"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(output_text(&missing).contains("no run matches `zzzzzz`"));
}
