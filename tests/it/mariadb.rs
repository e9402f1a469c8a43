//! The record on a real MariaDB server (`tests/engines/mariadb-start.sh`,
//! which `tests/run.sh` starts, then sets `EXPMAN_TEST_MARIADB` to its URL
//! and `EXPMAN_DB_PASSWORD`): `expman db status|migrate|rollback
//! --database`, a migration cut off half-way, `expman db copy` of two
//! people's histories into one team database and back, an experiment
//! recorded in the team database and read from another workspace, four
//! runners at once, and the server restarted (and down) mid-experiment.
//!
//! Each test works in a database of its own (`expman_<test>`), dropped
//! and created again first; the restart test starts a server of its own.

use std::path::Path;

use crate::support::{TempDir, expman_in, fake_experiment, runs_json};
use expman_team::mysql::{MysqlDb, MysqlTarget};

/// The server's URL, or `None` (skipped) outside CI when there is none.
pub(crate) fn server() -> Option<String> {
    match std::env::var("EXPMAN_TEST_MARIADB") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the MariaDB tests: tests/run.sh starts a server and sets EXPMAN_TEST_MARIADB"
            );
            eprintln!("skipped: no MariaDB (tests/engines/mariadb-start.sh, then EXPMAN_TEST_MARIADB=URL)");
            None
        }
    }
}

/// A fresh, empty database of this test's own on the server; its URL.
pub(crate) fn fresh_database(server: &str, name: &str) -> String {
    let mut admin =
        MysqlDb::connect(&MysqlTarget::from_env(server).unwrap(), std::time::Duration::from_secs(30)).unwrap();
    let database = format!("expman_{name}");
    admin.exec(&format!("DROP DATABASE IF EXISTS `{database}`"), Vec::new()).unwrap();
    admin.exec(&format!("CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"), Vec::new()).unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{database}")
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn migrate_status_and_rollback_on_mariadb_and_a_migration_cut_off_half_way() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server, "migrate");
    let tmp = TempDir::new("mariadb-migrate");
    let status = expman_in(tmp.path(), &["db", "status", "--database", &url]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status).contains("version    0 (this expman: 9)")
            && text(&status).contains("0001 init                 pending")
    );
    let migrate = expman_in(tmp.path(), &["db", "migrate", "--database", &url]);
    assert!(
        text(&migrate).contains("applied 0001 init\napplied 0002 resources_capture\napplied 0003 metric_summaries\napplied 0004 trackers\napplied 0005 slurm\napplied 0006 replication\napplied 0007 revision\napplied 0008 searches\napplied 0009 lineage"),
        "{}",
        text(&migrate)
    );
    assert!(text(&expman_in(tmp.path(), &["db", "migrate", "--database", &url])).contains("is up to date (version 9)"));
    let back = expman_in(tmp.path(), &["db", "rollback", "--database", &url, "--to", "4"]);
    assert!(
        text(&back).contains(
            "rolled back 0009 lineage\nrolled back 0008 searches\nrolled back 0007 revision\nrolled back 0006 replication\nrolled back 0005 slurm"
        ) && text(&back).contains("is at version 4"),
        "{}",
        text(&back)
    );

    // Migration 5 cut off after its first statement (MySQL has no
    // transactional DDL): the next migrate goes on from the second.
    let mut db = MysqlDb::connect(&MysqlTarget::from_env(&url).unwrap(), std::time::Duration::ZERO).unwrap();
    db.exec("ALTER TABLE runs ADD COLUMN executor VARCHAR(16)", Vec::new()).unwrap();
    db.exec("UPDATE expman_schema SET step = 1 WHERE id = 1", Vec::new()).unwrap();
    let resumed = expman_in(tmp.path(), &["db", "migrate", "--database", &url]);
    assert!(
        resumed.status.success()
            && text(&resumed)
                .contains("applied 0005 slurm\napplied 0006 replication\napplied 0007 revision\napplied 0008 searches\napplied 0009 lineage"),
        "{}",
        text(&resumed)
    );
    assert_eq!(db.schema_version().unwrap(), 9);

    let down = expman_in(tmp.path(), &["db", "rollback", "--database", &url, "--to", "0"]);
    assert!(
        text(&down).contains("rolled back 0001 init") && text(&down).contains("is at version 0"),
        "{}",
        text(&down)
    );
    let tables = db
        .rows("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'expman_schema'", Vec::new())
        .unwrap();
    assert_eq!(expman_team::mysql::as_i64(&tables[0][0]), Some(0), "every table dropped");

    // Killed between a statement and the update of its step (found by
    // tests/chaos): the statement is there, the step says it is not.
    let first = expman_team::mysql::MYSQL_MIGRATIONS[0].up.split(";\n").find(|s| s.contains("CREATE TABLE")).unwrap();
    db.exec(first, Vec::new()).unwrap();
    let again = expman_in(tmp.path(), &["db", "migrate", "--database", &url]);
    assert!(again.status.success() && text(&again).contains("applied 0009 lineage"), "{}", text(&again));
    assert_eq!(db.schema_version().unwrap(), 9);
}

#[test]
fn passwords_stay_out_of_urls_and_messages() {
    let Some(server) = server() else { return };
    let tmp = TempDir::new("mariadb-password");
    let with_password = server.replacen("://expman@", "://expman:hunter2@", 1);
    let out = expman_in(tmp.path(), &["db", "status", "--database", &with_password]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("EXPMAN_DB_PASSWORD") && !text(&out).contains("hunter2"), "{}", text(&out));
    let wrong = std::process::Command::new(crate::support::bin("expman"))
        .args(["db", "status", "--database", &server])
        .env("EXPMAN_DB_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("Access denied") && !text(&wrong).contains("not-the-password"), "{}", text(&wrong));
}

/// A finished experiment in its own workspace (`dir/out`).
fn history(dir: &Path, name: &str) {
    fake_experiment(
        dir,
        name,
        "pipeline: {command: [FAKE, --epochs, 4, --artifact, model.bin]}\n",
        "- name: a\n  repeat: 2\n- name: b\n  settings: {pipeline: {command: [FAKE, --epochs, 3, --exit, 2]}}\n",
    );
    let out = expman_in(dir, &["run", "."]);
    assert_eq!(out.status.code(), Some(1), "one trial fails on purpose: {}", text(&out));
}

/// What a history says, in an order and form both databases agree on.
fn summary(dir: &Path) -> Vec<String> {
    let mut rows: Vec<String> = runs_json(dir)
        .into_iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} {}",
                r["experiment"], r["trial"], r["id"], r["repeat"], r["status"], r["exit_code"], r["metrics"]
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn two_histories_copied_into_one_team_database_and_back() {
    let Some(server) = server() else { return };
    let team = fresh_database(&server, "copy");
    let tmp = TempDir::new("mariadb-copy");
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    history(&alice, "vision");
    history(&bob, "speech");
    let copy = |from: &str, to: &str| {
        let out = expman_in(tmp.path(), &["db", "copy", "--from", from, "--to", to]);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    let said = copy(&format!("sqlite:{}", alice.join("out/expman.db").display()), &team);
    assert!(said.contains("3 run(s) copied (") && said.contains("1 experiment(s) and 2 trial(s) created"), "{said}");
    let said = copy(&format!("sqlite:{}", bob.join("out/expman.db").display()), &team);
    assert!(said.contains("3 run(s) copied ("), "{said}");
    // Again: nothing new, nothing twice.
    let said = copy(&format!("sqlite:{}", alice.join("out/expman.db").display()), &team);
    assert!(said.contains("0 run(s) copied (0 point(s)); 3 already there"), "{said}");

    // And back: one SQLite file with both histories, as they were.
    let back = tmp.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    let said = copy(&team, &format!("sqlite:{}", back.join("expman.db").display()));
    assert!(said.contains("6 run(s) copied ("), "{said}");
    let both = runs_json_at(&back);
    let mut expected = summary(&alice);
    expected.extend(summary(&bob));
    expected.sort();
    assert_eq!(both, expected);
    // Every point, param and artifact went over.
    for sql in
        ["SELECT count(*) AS n FROM metrics", "SELECT count(*) AS n FROM params", "SELECT count(*) AS n FROM artifacts"]
    {
        let n = |dir: &Path| {
            let out = expman_in(dir, &["sql", sql, "--format", "csv"]);
            String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap_or_default().parse::<i64>().unwrap_or(-1)
        };
        assert_eq!(n_at(&back, sql), n(&alice) + n(&bob), "{sql}");
    }
}

/// [`summary`] of a bare database file's workspace (`--workspace DIR`).
fn runs_json_at(workspace: &Path) -> Vec<String> {
    let out = expman_in(workspace, &["runs", "--workspace", ".", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows: Vec<String> = rows
        .into_iter()
        .map(|r| {
            let metrics: serde_json::Map<String, serde_json::Value> = r
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("metrics.")?.to_string(), v.clone())))
                .filter(|(k, _)| !k.ends_with(".min") && !k.ends_with(".max"))
                .collect();
            format!(
                "{} {} {} {} {} {} {}",
                r["experiment"],
                r["trial"],
                r["id"],
                r["repeat"],
                r["status"],
                r["exit_code"],
                serde_json::Value::Object(metrics)
            )
        })
        .collect();
    rows.sort();
    rows
}

fn n_at(workspace: &Path, sql: &str) -> i64 {
    let out = expman_in(workspace, &["sql", sql, "--workspace", ".", "--format", "csv"]);
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap_or_default().parse().unwrap_or(-1)
}

/// A config directory whose runs go to the team database at `url`.
fn team_experiment(dir: &Path, name: &str, url: &str, base: &str, trials: &str) {
    fake_experiment(dir, name, base, trials);
    std::fs::write(
        dir.join("env.yaml"),
        format!(
            "workspace: out\nresources: {{max_parallel: 2}}\ndatabase: {{type: mysql, url: \"{url}\", password: \"${{env:EXPMAN_DB_PASSWORD}}\"}}\n"
        ),
    )
    .unwrap();
}

/// `expman run .` in `dir`, in the background, its output captured.
fn spawn_run(dir: &Path) -> std::process::Child {
    std::process::Command::new(crate::support::bin("expman"))
        .args(["run", "."])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn mysql(url: &str) -> MysqlDb {
    MysqlDb::connect(&MysqlTarget::from_env(url).unwrap(), std::time::Duration::from_secs(30)).unwrap()
}

pub(crate) fn count(db: &mut MysqlDb, sql: &str) -> i64 {
    let rows = db.rows(sql, Vec::new()).unwrap();
    rows.first().and_then(|r| r.first()).and_then(expman_team::mysql::as_i64).unwrap_or(-1)
}

/// A count in a workspace's local SQLite record.
fn local_count(dir: &Path, sql: &str) -> i64 {
    use expman_team::copy::{Cell, Side};
    let mut store = expman_store::Store::open(&dir.join("out/expman.db")).unwrap();
    match store.select(sql, &[]).unwrap().first().and_then(|r| r.first()) {
        Some(Cell::Int(n)) => *n,
        other => panic!("{sql}: {other:?}"),
    }
}

/// Every file under `dir`, as bytes, searched for `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn an_experiment_recorded_in_the_team_database_is_read_from_another_workspace() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server, "team");
    let tmp = TempDir::new("mariadb-team");
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    team_experiment(
        &alice,
        "vision",
        &url,
        "pipeline: {command: [FAKE, --epochs, 5, --artifact, model.bin]}\n",
        "- name: a\n  repeat: 2\n- name: b\n  settings: {pipeline: {command: [FAKE, --epochs, 3, --exit, 2]}}\n",
    );
    let out = expman_in(&alice, &["run", "."]);
    assert_eq!(out.status.code(), Some(1), "trial b fails on purpose: {}", text(&out));
    assert!(!text(&out).contains("not sent yet"), "{}", text(&out));

    // Everything the runner recorded is on the server, once.
    let mut db = mysql(&url);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM runs"), 3);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM runs WHERE status = 'FAILED' AND exit_code = 2"), 1);
    for table in ["metrics", "params", "artifacts", "metric_summaries", "run_resources"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(count(&mut db, &sql), local_count(&alice, &sql), "{table}");
    }
    assert!(count(&mut db, "SELECT COUNT(*) FROM metrics") >= 3 * 5);

    // Bob has never run anything: his workspace reads the team's runs,
    // through every command that reads (tables, show, SQL).
    team_experiment(&bob, "speech", &url, "pipeline: {command: [FAKE]}\n", "- name: x\n");
    let theirs = expman_in(&bob, &["runs", "--all-experiments", "--format", "json"]);
    assert!(theirs.status.success(), "{}", text(&theirs));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&theirs.stdout).unwrap();
    let mut seen: Vec<String> =
        rows.iter().map(|r| format!("{} {} {}", r["trial"], r["status"], r["exit_code"])).collect();
    seen.sort();
    assert_eq!(seen, ["\"a\" \"SUCCESS\" 0", "\"a\" \"SUCCESS\" 0", "\"b\" \"FAILED\" 2"]);
    let mine: Vec<String> = summary(&alice);
    let uid = runs_json(&alice)[0]["id"].as_str().unwrap().to_string();
    let show = expman_in(&bob, &["show", &uid]);
    assert!(show.status.success() && text(&show).contains(&uid), "{}", text(&show));
    let points = expman_in(&bob, &["sql", "SELECT count(*) AS n FROM metrics", "--all-experiments", "--format", "csv"]);
    let n: i64 = String::from_utf8_lossy(&points.stdout).lines().nth(1).unwrap_or_default().parse().unwrap_or(-1);
    assert_eq!(n, local_count(&alice, "SELECT COUNT(*) FROM metrics"), "{}", text(&points));
    // Alice's own view (through the replica too) is what she recorded.
    assert_eq!(summary(&alice), mine);
    // The same frames, row for row, from the team database as from the
    // record they were made from (a copy of it, outside any team workspace).
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::copy(alice.join("out/expman.db"), plain.join("expman.db")).unwrap();
    for query in [&["runs", "--all-experiments"][..], &["metrics", "a", "b", "--experiment", "vision"][..]] {
        let frame = |dir: &Path, extra: &[&str]| {
            let mut args: Vec<&str> = query.to_vec();
            args.extend(["--format", "json"]);
            args.extend(extra);
            let out = expman_in(dir, &args);
            assert!(out.status.success(), "{query:?}: {}", text(&out));
            let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
            let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
            rows.sort();
            rows
        };
        let from_team = frame(&bob, &[]);
        assert!(!from_team.is_empty());
        assert_eq!(from_team, frame(&plain, &["--workspace", "."]), "{query:?}");
    }

    // The password is in no file either workspace wrote (marker, records,
    // replica, stored configs, logs).
    let password = std::env::var("EXPMAN_DB_PASSWORD").unwrap();
    assert_eq!(files_containing(tmp.path(), password.as_bytes()), Vec::<String>::new());

    // A login the server refuses stops the run before anything runs.
    let refused = std::process::Command::new(crate::support::bin("expman"))
        .args(["run", "."])
        .current_dir(&alice)
        .env("EXPMAN_DB_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("Access denied") && !text(&refused).contains("not-the-password"),
        "{}",
        text(&refused)
    );
    assert_eq!(local_count(&alice, "SELECT COUNT(*) FROM runs"), 3, "nothing new recorded");
}

#[test]
fn four_runners_record_into_one_team_database_at_once() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server, "four");
    let tmp = TempDir::new("mariadb-four");
    let dirs: Vec<_> = (0..4).map(|i| tmp.path().join(format!("machine{i}"))).collect();
    for dir in &dirs {
        team_experiment(
            dir,
            "shared",
            &url,
            "pipeline: {command: [FAKE, --epochs, 8, --sleep-ms, 50]}\n",
            "- name: a\n  repeat: 2\n- name: b\n",
        );
    }
    let children: Vec<_> = dirs.iter().map(|dir| spawn_run(dir)).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(!text(&out).contains("not sent yet"), "{}", text(&out));
    }
    let mut db = mysql(&url);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM experiments"), 1, "one experiment, merged by name");
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM trials"), 2, "its trials, merged by name");
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM runs"), 12);
    assert_eq!(count(&mut db, "SELECT COUNT(DISTINCT uid) FROM runs WHERE status = 'SUCCESS'"), 12);
    let points: i64 = dirs.iter().map(|d| local_count(d, "SELECT COUNT(*) FROM metrics")).sum();
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM metrics"), points);
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM (SELECT run_id, `key`, step FROM metrics GROUP BY run_id, `key`, step HAVING COUNT(*) > 1) d"
        ),
        0,
        "no point twice"
    );
    // Each machine reads all twelve.
    let rows: Vec<serde_json::Value> = runs_json(&dirs[3]);
    assert_eq!(rows.len(), 12);
}

/// A MariaDB server of this test's own (the shared one must stay up for
/// the other tests), started and stopped by the project's scripts.
struct OwnServer {
    state: std::path::PathBuf,
}

impl OwnServer {
    const PORT: &'static str = "53318";

    fn script(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("engines").join(name)
    }

    fn run(&self, name: &str) -> String {
        let out = std::process::Command::new(Self::script(name))
            .env("MARIADB_STATE", &self.state)
            .env("MARIADB_PORT", Self::PORT)
            .env("MARIADB_DATABASE", "expman_restart")
            .env("MARIADB_PASSWORD", std::env::var("EXPMAN_DB_PASSWORD").unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string()
    }

    fn start(&self) -> String {
        self.run("mariadb-start.sh")
    }

    fn stop(&self) {
        self.run("mariadb-stop.sh");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script("mariadb-stop.sh"))
            .env("MARIADB_STATE", &self.state)
            .env("PURGE", "1")
            .output();
    }
}

#[test]
fn the_team_database_restarted_or_down_mid_experiment_loses_and_doubles_nothing() {
    let Some(_) = server() else { return };
    let tmp = TempDir::new("mariadb-restart");
    let own = OwnServer { state: tmp.path().join("server") };
    let url = own.start();
    assert!(url.ends_with(":53318/expman_restart"), "{url}");
    let dir = tmp.path().join("exp");
    team_experiment(
        &dir,
        "restart",
        &url,
        "pipeline: {command: [FAKE, --epochs, 30, --sleep-ms, 250]}\n",
        "- name: a\n  repeat: 2\n",
    );
    let runner = spawn_run(&dir);
    // Some points reach the server, then it goes away for a while and
    // comes back while the runs go on.
    std::thread::sleep(std::time::Duration::from_secs(2));
    own.stop();
    std::thread::sleep(std::time::Duration::from_secs(3));
    own.start();
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept in the local record"), "the outage was told: {}", text(&out));
    assert!(!text(&out).contains("not sent yet"), "{}", text(&out));
    let mut db = mysql(&url);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM runs WHERE status = 'SUCCESS'"), 2);
    let points = local_count(&dir, "SELECT COUNT(*) FROM metrics");
    assert!(points >= 60, "{points}");
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM metrics"), points, "every point, once");
    assert_eq!(
        count(
            &mut db,
            "SELECT COUNT(*) FROM (SELECT run_id, `key`, step FROM metrics GROUP BY run_id, `key`, step HAVING COUNT(*) > 1) d"
        ),
        0
    );

    // Down for the whole of a second experiment: it runs, recorded
    // locally, says what it could not send; `expman db push` sends it.
    drop(db);
    own.stop();
    std::fs::write(dir.join("trials.yaml"), "- name: late\n  repeat: 2\n").unwrap();
    std::fs::write(
        dir.join("base.yaml"),
        format!("pipeline: {{command: [{}, --epochs, 4]}}\n", crate::support::bin("fake-trial").display()),
    )
    .unwrap();
    let out = expman_in(&dir, &["run", "."]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not sent yet") && text(&out).contains("expman db push"), "{}", text(&out));
    own.start();
    let push = expman_in(&dir, &["db", "push"]);
    assert!(push.status.success() && text(&push).contains("2 run(s) copied"), "{}", text(&push));
    let again = expman_in(&dir, &["db", "push"]);
    assert!(text(&again).contains("0 run(s) copied (0 point(s))"), "{}", text(&again));
    let mut db = mysql(&url);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM runs WHERE status = 'SUCCESS'"), 4);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM metrics"), local_count(&dir, "SELECT COUNT(*) FROM metrics"));
}
