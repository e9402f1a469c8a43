//! The artifact store end to end: runs whose artifacts become blobs
//! (deduplicated, linked back), `expman gc`, `expman artifacts get` with
//! its checks, encryption at rest, paths that leave the workspace, and
//! lineage across the two experiments of `examples/two_stage`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{TempDir, bin, copy_dir, repo_root};

fn expman(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin("expman"));
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1").env_remove("EXPMAN_ARTIFACT_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run expman")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A config directory whose runs execute `script` (Python, with
/// `expman_client` as `em`), `repeat` times; workspace `out/`.
fn experiment(dir: &Path, env_extra: &str, script: &str, repeat: u32) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("env.yaml"), format!("workspace: out\nresources: {{max_parallel: 2}}\n{env_extra}"))
        .unwrap();
    std::fs::write(dir.join("experiment.yaml"), "name: store\n").unwrap();
    std::fs::write(dir.join("script.py"), format!("import os\nimport expman_client as em\n{script}")).unwrap();
    std::fs::write(dir.join("base.yaml"), "pipeline:\n  command: [python3, script.py]\n  workdir: .\n").unwrap();
    std::fs::write(dir.join("trials.yaml"), format!("- name: t\n  repeat: {repeat}\n")).unwrap();
}

fn runs(dir: &Path) -> Vec<(String, PathBuf)> {
    let out = expman(dir, &["runs", "--format", "json", "--columns", "id,status"], &[]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&out, "expman runs")).unwrap();
    rows.iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            let shown = ok(&expman(dir, &["show", &id], &[]), "expman show");
            let line = shown.lines().find(|l| l.starts_with("directory")).expect("a directory line");
            (id, PathBuf::from(line.trim_start_matches("directory").trim()))
        })
        .collect()
}

fn blob_files(workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = workspace.join(".expman/blobs");
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        if dir.file_name().len() == 2 {
            out.extend(std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()));
        }
    }
    out.sort();
    out
}

const CHECKPOINT_SCRIPT: &str = r#"
p = os.path.join(em.run_dir(), "model.bin")
with open(p, "wb") as f:
    f.write(b"same weights " * 50000)
em.log_checkpoint(p, 0)
q = os.path.join(em.run_dir(), "own.txt")
with open(q, "w") as f:
    f.write(em.run_id())
em.log_artifact(q)
"#;

#[test]
fn the_same_checkpoint_in_ten_runs_is_one_blob_and_gc_frees_only_what_nothing_refers_to() {
    let tmp = TempDir::new("artifacts-dedup");
    let dir = tmp.path().join("exp");
    experiment(&dir, "", CHECKPOINT_SCRIPT, 10);
    ok(&expman(&dir, &["run", "."], &[]), "expman run");
    let ws = dir.join("out");
    let runs = runs(&dir);
    assert_eq!(runs.len(), 10);
    let checkpoint = b"same weights ".repeat(50000);
    let mut inodes = std::collections::HashSet::new();
    for (_, run_dir) in &runs {
        let file = run_dir.join("model.bin");
        assert_eq!(std::fs::read(&file).unwrap(), checkpoint, "each run still reads its checkpoint");
        inodes.insert(std::fs::metadata(&file).unwrap().ino());
    }
    assert_eq!(inodes.len(), 1, "ten runs, one file on disk");
    let blobs = blob_files(&ws);
    let big: Vec<&PathBuf> =
        blobs.iter().filter(|b| std::fs::metadata(b).unwrap().len() == checkpoint.len() as u64).collect();
    assert_eq!(big.len(), 1, "{blobs:?}");
    assert_eq!(std::fs::metadata(big[0]).unwrap().nlink(), 11);
    assert_eq!(std::fs::metadata(big[0]).unwrap().permissions().mode() & 0o222, 0, "blobs are read-only");

    // An orphan content (no artifact has it) is what gc frees; a dry run
    // only says so.
    let orphan = ws.join(".expman/blobs/e3/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"").unwrap();
    let dry = ok(&expman(&dir, &["gc", "--dry-run"], &[]), "gc --dry-run");
    assert!(dry.contains("would free 1 content"), "{dry}");
    assert!(orphan.exists());
    let gc = ok(&expman(&dir, &["gc"], &[]), "gc");
    assert!(gc.contains("freed 1 content") && gc.contains("0 new content"), "{gc}");
    assert!(!orphan.exists());
    assert_eq!(blob_files(&ws).len(), blobs.len());

    // A run's directory gone: the store still has its artifacts.
    let (id, run_dir) = &runs[3];
    std::fs::remove_dir_all(run_dir).unwrap();
    let out_file = tmp.path().join("back.bin");
    let got = expman(&dir, &["artifacts", "get", id, "model.bin", "--out", out_file.to_str().unwrap()], &[]);
    ok(&got, "artifacts get");
    assert_eq!(std::fs::read(&out_file).unwrap(), checkpoint);
    let own = expman(&dir, &["artifacts", "get", id, "own.txt", "--out", "-"], &[]);
    assert_eq!(ok(&own, "artifacts get -"), *id);
    let listed = ok(&expman(&dir, &["artifacts", "list", id], &[]), "artifacts list");
    assert!(listed.contains("model.bin") && listed.contains("stored"), "{listed}");

    // A blob changed on disk: refused, naming the artifact; the output file
    // is left as it was.
    std::fs::set_permissions(big[0], std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(big[0], b"tampered").unwrap();
    let bad = expman(&dir, &["artifacts", "get", id, "model.bin", "--out", out_file.to_str().unwrap(), "--force"], &[]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("model.bin") && stderr(&bad).contains(id.as_str()), "{}", stderr(&bad));
    assert_eq!(std::fs::read(&out_file).unwrap(), checkpoint);

    // Paths the run did not record are refused, whatever they look like.
    for path in ["../../../../etc/passwd", "/etc/passwd", "model.bin/../own.txt"] {
        let refused = expman(&dir, &["artifacts", "get", id, path, "--out", "-"], &[]);
        assert!(!refused.status.success(), "{path}");
        assert!(stderr(&refused).contains("recorded no artifact"), "{path}: {}", stderr(&refused));
    }
}

#[test]
fn encrypted_artifacts_leave_the_run_directory_and_need_the_key() {
    let tmp = TempDir::new("artifacts-crypt");
    let dir = tmp.path().join("exp");
    let script = r#"
p = os.path.join(em.run_dir(), "secret.txt")
with open(p, "w") as f:
    f.write("the launch codes " * 1000)
em.log_artifact(p)
"#;
    experiment(&dir, "artifacts: {encrypt: true}\n", script, 1);
    // Without a key nothing runs, and the message says what to set.
    let refused = expman(&dir, &["run", "."], &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("env.yaml") && stderr(&refused).contains("EXPMAN_ARTIFACT_KEY"),
        "{}",
        stderr(&refused)
    );
    let key = ok(&expman(&dir, &["artifacts", "keygen"], &[]), "keygen").trim().to_string();
    assert_eq!(key.len(), 64);
    ok(&expman(&dir, &["run", "."], &[("EXPMAN_ARTIFACT_KEY", &key)]), "run");
    let (id, run_dir) = runs(&dir).remove(0);
    assert!(!run_dir.join("secret.txt").exists(), "the plaintext left the run directory");
    let blobs = blob_files(&dir.join("out"));
    let sealed: Vec<&PathBuf> = blobs.iter().filter(|b| b.to_string_lossy().ends_with(".enc")).collect();
    assert!(!sealed.is_empty(), "{blobs:?}");
    for b in &blobs {
        assert!(!String::from_utf8_lossy(&std::fs::read(b).unwrap()).contains("launch codes"), "plaintext in {b:?}");
    }
    let plain = "the launch codes ".repeat(1000);
    let got = expman(&dir, &["artifacts", "get", &id, "secret.txt", "--out", "-"], &[("EXPMAN_ARTIFACT_KEY", &key)]);
    assert_eq!(ok(&got, "get with the key"), plain);
    let keyless = expman(&dir, &["artifacts", "get", &id, "secret.txt", "--out", "-"], &[]);
    assert!(!keyless.status.success() && stderr(&keyless).contains("EXPMAN_ARTIFACT_KEY"), "{}", stderr(&keyless));
    let other = "11".repeat(32);
    let wrong =
        expman(&dir, &["artifacts", "get", &id, "secret.txt", "--out", "-"], &[("EXPMAN_ARTIFACT_KEY", &other)]);
    assert!(!wrong.status.success() && stderr(&wrong).contains("does not decrypt"), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("secret.txt"), "{}", stderr(&wrong));
    // A key file works as well, and a bad key is a clear error.
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let by_file = expman(
        &dir,
        &["artifacts", "get", &id, "secret.txt", "--out", "-", "--key-file", key_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(ok(&by_file, "get with --key-file"), plain);
    let bad = expman(&dir, &["run", "."], &[("EXPMAN_ARTIFACT_KEY", "not-a-key")]);
    assert!(!bad.status.success() && stderr(&bad).contains("64 hexadecimal"), "{}", stderr(&bad));
    // Tampering with the sealed blob fails verification.
    let blob = sealed[0];
    std::fs::set_permissions(blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(blob).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 1;
    std::fs::write(blob, bytes).unwrap();
    let tampered =
        expman(&dir, &["artifacts", "get", &id, "secret.txt", "--out", "-"], &[("EXPMAN_ARTIFACT_KEY", &key)]);
    assert!(!tampered.status.success() && stderr(&tampered).contains("secret.txt"), "{}", stderr(&tampered));
}

#[test]
fn artifacts_outside_the_workspace_or_behind_links_are_copied_and_left_alone() {
    let tmp = TempDir::new("artifacts-outside");
    let dir = tmp.path().join("exp");
    let outside = tmp.path().join("dataset.csv");
    std::fs::write(&outside, "a,b\n1,2\n").unwrap();
    let script = format!(
        r#"
outside = {outside:?}
em.log_artifact(outside)
em.log_artifact("../../../../dataset.csv")
link = os.path.join(em.run_dir(), "link.csv")
os.symlink(outside, link)
em.log_artifact(link)
"#,
        outside = outside.display().to_string()
    );
    experiment(&dir, "", &script, 1);
    ok(&expman(&dir, &["run", "."], &[]), "run");
    let meta = std::fs::metadata(&outside).unwrap();
    assert_eq!(meta.nlink(), 1, "the file outside the workspace is not linked into it");
    assert_ne!(meta.permissions().mode() & 0o200, 0, "nor made read-only");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "a,b\n1,2\n");
    let (id, run_dir) = runs(&dir).remove(0);
    assert!(
        std::fs::symlink_metadata(run_dir.join("link.csv")).unwrap().file_type().is_symlink(),
        "the link stays a link"
    );
    // The content is in the store all the same.
    std::fs::write(&outside, "changed\n").unwrap();
    let got = expman(&dir, &["artifacts", "get", &id, outside.to_str().unwrap(), "--out", "-"], &[]);
    assert_eq!(ok(&got, "get"), "a,b\n1,2\n");
}

fn run_ids(dir: &Path, filter: &str) -> Vec<String> {
    let out = expman(dir, &["runs", filter, "--format", "json", "--columns", "id"], &[]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&out, "runs")).unwrap();
    rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn lineage_links_the_two_stages_of_the_example_across_experiments() {
    let tmp = TempDir::new("lineage");
    let example = tmp.path().join("two_stage");
    copy_dir(&repo_root().join("examples/two_stage"), &example);
    let _ = std::fs::remove_dir_all(example.join("outputs"));
    // Stage 2 before stage 1: its input cannot resolve, and it says which.
    let early = expman(&example, &["run", "train"], &[]);
    assert!(!early.status.success());
    let failed = ok(
        &expman(&example.join("train"), &["show", &run_ids(&example.join("train"), "trial = 'slow'")[0]], &[]),
        "show",
    );
    assert!(failed.contains("inputs.data") && failed.contains("trial `prepare`"), "{failed}");

    ok(&expman(&example, &["run", "prepare"], &[]), "run prepare");
    ok(&expman(&example, &["run", "train"], &[]), "run train");
    let prep = run_ids(&example.join("prepare"), "status = 'SUCCESS'");
    let trained = run_ids(&example.join("train"), "status = 'SUCCESS'");
    assert_eq!((prep.len(), trained.len()), (1, 2));

    let graph = ok(&expman(&example.join("train"), &["lineage", &trained[0], "--format", "json"], &[]), "lineage json");
    let graph: serde_json::Value = serde_json::from_str(&graph).unwrap();
    let edges = graph["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["from"] == prep[0].as_str() && e["to"] == trained[0].as_str() && e["input"] == "data"),
        "{graph:#}"
    );
    let files = graph["files"].as_array().unwrap();
    assert!(
        files.iter().any(|f| f["path"].as_str().unwrap().ends_with("data/raw.csv") && f["run"] == prep[0].as_str()),
        "{graph:#}"
    );

    let down = ok(&expman(&example.join("prepare"), &["lineage", &prep[0]], &[]), "lineage text");
    for t in &trained {
        assert!(down.contains(t.as_str()), "{down}");
    }
    assert!(down.contains("raw.csv"), "{down}");
    let dot = ok(&expman(&example.join("prepare"), &["lineage", &prep[0], "--format", "dot"], &[]), "dot");
    assert!(
        dot.starts_with("digraph lineage {") && dot.contains(&format!("\"{}\" -> \"{}\"", prep[0], trained[0])),
        "{dot}"
    );
    let shown = ok(&expman(&example.join("train"), &["show", &trained[0]], &[]), "show");
    assert!(shown.contains("inputs (what it used)") && shown.contains("trial:prepare/clean.csv"), "{shown}");

    // The input was recorded with the content's hash: the same as the artifact's.
    let inputs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            runs(&example.join("train")).into_iter().find(|(id, _)| id == &trained[0]).unwrap().1.join("inputs.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let listed =
        ok(&expman(&example.join("prepare"), &["artifacts", "list", &prep[0], "--format", "json"], &[]), "list");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let clean = listed["artifacts"].as_array().unwrap().iter().find(|a| a["path"] == "clean.csv").unwrap().clone();
    assert_eq!(inputs["data"]["sha256"], clean["sha256"]);
    assert_eq!(inputs["data"]["run"], prep[0].as_str());

    // Names: tag, fetch by name, use by name.
    ok(&expman(&example.join("prepare"), &["artifacts", "tag", &prep[0], "clean.csv", "clean-v1"], &[]), "tag");
    let by_name =
        ok(&expman(&example.join("prepare"), &["artifacts", "get", "alias:clean-v1", "--out", "-"], &[]), "get alias");
    assert!(by_name.starts_with("x1,x2,x3,label"), "{by_name}");
    let bad_name = expman(&example.join("prepare"), &["artifacts", "tag", &prep[0], "clean.csv", "no/slash"], &[]);
    assert!(!bad_name.status.success());
    std::fs::write(
        example.join("train/trials.yaml"),
        "- name: named\n  settings: {inputs: {data: 'alias:clean-v1'}}\n",
    )
    .unwrap();
    ok(&expman(&example, &["run", "train"], &[]), "run with an alias input");
    let named = run_ids(&example.join("train"), "trial = 'named'");
    let up = ok(&expman(&example.join("train"), &["lineage", &named[0]], &[]), "lineage of the alias run");
    assert!(up.contains(&prep[0]) && up.contains("alias:clean-v1"), "{up}");
}
