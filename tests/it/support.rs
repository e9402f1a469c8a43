//! Shared helpers for the end-to-end tests: where the fixtures and the
//! built binaries are, and how diagnostics are rendered for snapshots.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// The directory cargo builds binaries into for this test run
/// (`target/debug` or `target/<profile>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/it-<hash>
    exe.parent().and_then(Path::parent).expect("deps directory").to_path_buf()
}

/// The `fake-trial` program: cargo builds it for this test binary (it is a
/// binary of the same package), so plain `cargo test` finds it.
pub fn fake_trial() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-trial"))
}

/// A workspace binary by name. The test script builds every binary before
/// running the tests (`cargo build --workspace --bins`); `EXPMAN_BIN`
/// overrides the path of `expman`.
pub fn bin(name: &str) -> PathBuf {
    if name == "fake-trial" {
        return fake_trial();
    }
    if name == "expman"
        && let Some(path) = std::env::var_os("EXPMAN_BIN")
    {
        return PathBuf::from(path);
    }
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (tests/run.sh does)",
        path.display()
    );
    path
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("expman-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("EXPMAN_KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Writes a config directory whose runs launch the `fake-trial` program:
/// `FAKE` in `base` and `trials` is replaced by its path. The workspace is
/// `out/` inside the directory.
pub fn fake_experiment(dir: &Path, name: &str, base: &str, trials: &str) {
    let fake = bin("fake-trial").display().to_string();
    std::fs::create_dir_all(dir).expect("create config dir");
    std::fs::write(dir.join("env.yaml"), "workspace: out\nresources: {max_parallel: 2}\n").expect("env.yaml");
    std::fs::write(dir.join("experiment.yaml"), format!("name: {name}\n")).expect("experiment.yaml");
    std::fs::write(dir.join("base.yaml"), base.replace("FAKE", &fake)).expect("base.yaml");
    std::fs::write(dir.join("trials.yaml"), trials.replace("FAKE", &fake)).expect("trials.yaml");
}

/// `expman ARGS` in `cwd`, waiting for it.
pub fn expman_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin("expman"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run expman")
}

/// The runs of a config directory's workspace, as `expman runs --format json` prints them.
pub fn runs_json(dir: &Path) -> Vec<serde_json::Value> {
    let out = expman_in(dir, &["runs", "--format", "json"]);
    assert!(out.status.success(), "expman runs failed: {}", String::from_utf8_lossy(&out.stderr));
    let rows =
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json").as_array().cloned().unwrap_or_default();
    rows.into_iter().map(nest_metrics).collect()
}

/// Adds a `metrics` object (key → last value) built from a runs row's
/// flat `metrics.<key>` columns, leaving the `.min`/`.max` columns out.
fn nest_metrics(mut row: serde_json::Value) -> serde_json::Value {
    let Some(fields) = row.as_object_mut() else { return row };
    let last: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metrics.")?, v)))
        .filter(|(k, _)| !k.ends_with(".min") && !k.ends_with(".max"))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    fields.insert("metrics".into(), last.into());
    row
}

/// Polls `check` until it holds or `timeout` passes.
pub fn wait_until(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    check()
}
