//! Reproducibility capture: what it takes to run a run again months later,
//! beyond its config and command. Per working directory, once per `expman
//! run`: the git commit, branch, dirty flag and uncommitted diff; a code
//! snapshot of the files `pipeline.capture.code` names (a gzipped tar,
//! content-addressed under `.expman/snapshots/`); `pip freeze` when the
//! command is Python and `pipeline.capture.python_env` asks for it. Per
//! machine: host, OS, CPU and GPU models, driver, expman version.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ingest::file_digest;
use expman_os::process;

/// Why a code snapshot or `pip freeze` could not be captured.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot run `{python} -m pip freeze`: {source}")]
    CannotRun {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{python} -m pip freeze` failed: {stderr}")]
    PipFailed { python: String, stderr: String },
    #[error("cannot hash pip freeze output")]
    NoDigest,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The git repository holding `dir` (where `.git` is), found without
/// running git, so directories outside any repository cost nothing.
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    let mut here = Some(dir);
    while let Some(d) = here {
        if d.join(".git").exists() {
            return Some(d.to_path_buf());
        }
        here = d.parent();
    }
    None
}

/// The git state of a working directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GitState {
    pub commit: String,
    pub branch: Option<String>,
    pub dirty: bool,
    /// `git diff HEAD` when dirty.
    pub diff: Option<String>,
}

/// Reads the git state of `dir`, if it is in a repository.
pub fn git_state(dir: &Path) -> Option<GitState> {
    let run = |args: &[&str]| -> Option<String> {
        let out = process::tool("git", args, dir).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let commit = run(&["rev-parse", "HEAD"])?.trim().to_string();
    let branch = run(&["rev-parse", "--abbrev-ref", "HEAD"]).map(|b| b.trim().to_string()).filter(|b| b != "HEAD");
    let status = run(&["status", "--porcelain", "--untracked-files=no"]).unwrap_or_default();
    let dirty = !status.trim().is_empty();
    let diff = if dirty { run(&["diff", "HEAD"]) } else { None };
    Some(GitState { commit, branch, dirty, diff })
}

/// A file written once and shared by every run that needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Whether `path` (relative, `/`-separated) matches a glob: `*` and `?`
/// within one path component, `**` across components.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => {
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                if rest.is_empty() {
                    return true; // A trailing `**` matches everything below.
                }
                (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && go(rest, &s[i..])) || go(rest, s)
            }
            [b'*', rest @ ..] => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| go(rest, &s[i..])),
            [b'?', rest @ ..] => !s.is_empty() && s[0] != b'/' && go(rest, &s[1..]),
            [c, rest @ ..] => !s.is_empty() && s[0] == *c && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// The files under `root` matching any of `globs` (relative paths, sorted),
/// skipping `.git` and the directories in `skip`.
pub fn matching_files(root: &Path, globs: &[String], skip: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if entry.file_name() == ".git" || skip.iter().any(|s| path.starts_with(s)) {
                    continue;
                }
                stack.push(path);
            } else if kind.is_file() {
                let Ok(rel) = path.strip_prefix(root) else { continue };
                let rel = rel.to_string_lossy().replace('\\', "/");
                if globs.iter().any(|g| glob_match(g, &rel)) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Most bytes a code snapshot takes in (larger files are left out).
pub const SNAPSHOT_LIMIT: u64 = 200 << 20;

/// Writes a gzipped tar of `files` (relative to `root`) into `dir`, named by
/// its SHA-256; returns it and the files left out for size.
pub fn code_snapshot(root: &Path, files: &[String], dir: &Path) -> std::io::Result<(SharedFile, Vec<String>)> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".snapshot-{}.tmp", std::process::id()));
    let mut left_out = Vec::new();
    {
        let file = std::fs::File::create(&tmp)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut total = 0u64;
        for rel in files {
            let full = root.join(rel);
            let size = std::fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
            if total + size > SNAPSHOT_LIMIT {
                left_out.push(rel.clone());
                continue;
            }
            total += size;
            tar.append_path_with_name(&full, rel)?;
        }
        tar.into_inner()?.finish()?.flush()?;
    }
    let (size, sha256) = file_digest(&tmp).ok_or_else(|| std::io::Error::other("cannot hash the snapshot"))?;
    let path = dir.join(format!("code-{}.tar.gz", &sha256[..16]));
    std::fs::rename(&tmp, &path)?;
    Ok((SharedFile { path, size, sha256 }, left_out))
}

/// `python -m pip freeze` with the interpreter a command starts, written
/// into `dir` by content.
pub fn pip_freeze(
    python: &str,
    workdir: &Path,
    env: &std::collections::BTreeMap<String, String>,
    dir: &Path,
) -> Result<SharedFile, CaptureError> {
    let out = process::tool(python, &["-m", "pip", "freeze"], workdir)
        .env_clear()
        .envs(env)
        .output()
        .map_err(|source| CaptureError::CannotRun { python: python.to_string(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(CaptureError::PipFailed { python: python.to_string(), stderr });
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".pip-{}.tmp", std::process::id()));
    std::fs::write(&tmp, &out.stdout)?;
    let (size, sha256) = file_digest(&tmp).ok_or(CaptureError::NoDigest)?;
    let path = dir.join(format!("pip-freeze-{}.txt", &sha256[..16]));
    std::fs::rename(&tmp, &path)?;
    Ok(SharedFile { path, size, sha256 })
}

/// Whether a command is run by a Python interpreter.
pub fn python_of(argv: &[String]) -> Option<String> {
    let program = argv.first()?;
    let name = Path::new(program).file_name()?.to_str()?;
    (name.starts_with("python")).then(|| program.clone())
}

/// A code snapshot and the files it left out, or why there is none
/// (shared: the result is kept for every run of the working directory).
pub type SnapshotResult = Result<(SharedFile, Vec<String>), Arc<CaptureError>>;

/// What one `expman run` computes once per working directory.
#[derive(Default)]
pub struct CaptureCache {
    pub git: HashMap<PathBuf, Option<GitState>>,
    pub snapshots: HashMap<(PathBuf, Vec<String>), SnapshotResult>,
    pub pip: HashMap<(PathBuf, String), Result<SharedFile, Arc<CaptureError>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.py", "train.py"));
        assert!(!glob_match("*.py", "src/train.py"));
        assert!(glob_match("**/*.py", "src/train.py"));
        assert!(glob_match("**/*.py", "train.py"));
        assert!(glob_match("src/**", "src/a/b.txt"));
        assert!(glob_match("conf?.yaml", "conf1.yaml"));
        assert!(!glob_match("conf?.yaml", "conf12.yaml"));
        assert!(glob_match("**", "anything/at/all"));
    }

    #[test]
    fn python_commands() {
        assert_eq!(python_of(&["python3".into(), "x.py".into()]), Some("python3".into()));
        assert_eq!(python_of(&["/usr/bin/python3.11".into()]), Some("/usr/bin/python3.11".into()));
        assert_eq!(python_of(&["bash".into()]), None);
    }
}
