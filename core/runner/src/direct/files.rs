//! Artifacts of runs started from code: a file or directory a run logs is
//! copied into its run directory (`artifacts/NAME`), so the record never
//! points at a file the script changes or deletes later; a path already
//! inside the run directory is recorded where it is. Each file is recorded
//! with its size and SHA-256.

use std::path::{Path, PathBuf};

use expman_os::time::now_ms;
use expman_store::Artifact;

use super::DirectError;
use crate::ingest::file_digest;

/// Where copies go, inside the run directory.
pub const ARTIFACTS_DIR: &str = "artifacts";

/// Records `source` (a file, or every file under a directory) for the run
/// in `run_dir`: copied in when it is outside, paths relative to the run
/// directory. Symbolic links to directories are not followed (no loops).
pub fn collect(run_dir: &Path, source: &Path, kind: &str, epoch: Option<i64>) -> Result<Vec<Artifact>, DirectError> {
    let meta = std::fs::metadata(source).map_err(|e| DirectError::Io { path: source.to_path_buf(), source: e })?;
    let source =
        std::fs::canonicalize(source).map_err(|e| DirectError::Io { path: source.to_path_buf(), source: e })?;
    let run_dir = std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    let name = source.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("artifact"));
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new(); // (source file, path under the run dir)
    let inside = source.strip_prefix(&run_dir).ok().map(Path::to_path_buf);
    if meta.is_dir() {
        for file in walk(&source)? {
            let relative = file.strip_prefix(&source).unwrap_or(&file).to_path_buf();
            let target = match &inside {
                Some(at) => at.join(&relative),
                None => Path::new(ARTIFACTS_DIR).join(&name).join(&relative),
            };
            files.push((file, target));
        }
    } else {
        let target = inside.clone().unwrap_or_else(|| Path::new(ARTIFACTS_DIR).join(&name));
        files.push((source.clone(), target));
    }
    let now = now_ms();
    let mut artifacts = Vec::with_capacity(files.len());
    for (file, target) in files {
        let full = run_dir.join(&target);
        if inside.is_none() {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| DirectError::Io { path: parent.to_path_buf(), source: e })?;
            }
            std::fs::copy(&file, &full).map_err(|e| DirectError::Io { path: file.clone(), source: e })?;
        }
        let (size, sha256) = file_digest(&full).map(|(s, h)| (Some(s as i64), Some(h))).unwrap_or((None, None));
        artifacts.push(Artifact {
            path: target.display().to_string(),
            size,
            sha256,
            kind: kind.to_string(),
            epoch,
            created_at: now,
        });
    }
    Ok(artifacts)
}

/// Every regular file under `dir` (following links to files, not to
/// directories), in name order.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, DirectError> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DirectError::Io { path: dir.to_path_buf(), source: e })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(link) = std::fs::symlink_metadata(&path) else { continue };
        if link.is_dir() {
            out.extend(walk(&path)?);
        } else if link.is_file() || (link.file_type().is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_are_copied_in_and_files_inside_stay() {
        let root = std::env::temp_dir().join(format!("expman-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run_dir = root.join("run");
        let outside = root.join("out");
        std::fs::create_dir_all(run_dir.join("ckpt")).unwrap();
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        std::fs::write(outside.join("model.bin"), b"abc").unwrap();
        std::fs::write(outside.join("sub").join("x.txt"), b"x").unwrap();
        std::fs::write(run_dir.join("ckpt").join("e1.pt"), b"1").unwrap();

        let one = collect(&run_dir, &outside.join("model.bin"), "model", Some(2)).unwrap();
        assert_eq!(one[0].path, "artifacts/model.bin");
        assert_eq!(one[0].size, Some(3));
        assert_eq!(one[0].epoch, Some(2));
        assert_eq!(std::fs::read(run_dir.join("artifacts/model.bin")).unwrap(), b"abc");

        let tree = collect(&run_dir, &outside, "file", None).unwrap();
        let paths: Vec<&str> = tree.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["artifacts/out/model.bin", "artifacts/out/sub/x.txt"]);

        let inside = collect(&run_dir, &run_dir.join("ckpt"), "checkpoint", None).unwrap();
        assert_eq!(inside[0].path, "ckpt/e1.pt");
        assert!(!run_dir.join("artifacts/ckpt").exists(), "files inside the run directory are not copied");

        let missing = collect(&run_dir, &root.join("nope"), "file", None).unwrap_err().to_string();
        assert!(missing.contains("nope"), "{missing}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
