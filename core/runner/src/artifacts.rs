//! Runs' artifacts into the workspace's store (expman-blobs) when they end.
//!
//! A run reports artifacts while it runs (checkpoints, files, its code
//! snapshot); they stay plain files in its directory while it may still
//! write them. When it has ended, each artifact still recorded is
//! *absorbed*: files in the workspace become links to their blob (kept once
//! however many runs have the same content; or, encrypting, they move into
//! the store encrypted), files elsewhere are copied in and left alone. A
//! file written again after it was reported gets its record corrected to
//! what was stored. Nothing here fails a run: a file that cannot be stored
//! stays where it is, with a warning.

use std::path::{Component, Path, PathBuf};

use expman_blobs::{BlobStore, Key};
use expman_schema::model::ArtifactsConfig;
use expman_store::Store;

use crate::error::RunError;

/// The environment variable that holds the artifact key.
pub const KEY_VAR: &str = "EXPMAN_ARTIFACT_KEY";

/// The key for the workspace's store: `EXPMAN_ARTIFACT_KEY`, else
/// `artifacts.key_file` (relative to `config_dir`). `encrypt: true` without
/// either is an error before anything runs, as is a key file inside the
/// workspace (the key would sit beside what it protects).
pub fn key_for(
    config: Option<&ArtifactsConfig>,
    config_dir: &Path,
    workspace_root: &Path,
) -> Result<Option<Key>, RunError> {
    if let Ok(text) = std::env::var(KEY_VAR)
        && !text.trim().is_empty()
    {
        return Ok(Some(Key::from_hex(&text, KEY_VAR).map_err(|e| RunError::Invalid(e.to_string()))?));
    }
    let env_yaml = config_dir.join("env.yaml");
    if let Some(file) = config.and_then(|c| c.key_file.as_deref()) {
        let path = config_dir.join(file);
        let inside = |p: &Path| {
            let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            let ws = workspace_root.canonicalize().unwrap_or_else(|_| workspace_root.to_path_buf());
            p.starts_with(ws)
        };
        if inside(&path) {
            return Err(RunError::Invalid(format!(
                "{}: `artifacts.key_file` {} is inside the workspace, beside what it encrypts; keep the key elsewhere",
                env_yaml.display(),
                path.display()
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            RunError::Invalid(format!("{}: `artifacts.key_file` {}: {e}", env_yaml.display(), path.display()))
        })?;
        let source = format!("{} (artifacts.key_file)", path.display());
        return Ok(Some(Key::from_hex(&text, &source).map_err(|e| RunError::Invalid(e.to_string()))?));
    }
    if config.and_then(|c| c.encrypt) == Some(true) {
        return Err(RunError::Invalid(format!(
            "{}: `artifacts.encrypt: true` needs a key: set {KEY_VAR} (64 hexadecimal digits, `expman artifacts keygen` makes one) or `artifacts.key_file`",
            env_yaml.display()
        )));
    }
    Ok(None)
}

/// The store runs of a project write to: encrypting when `encrypt: true`.
pub fn store_for(workspace_root: &Path, config: Option<&ArtifactsConfig>, key: Option<Key>) -> BlobStore {
    let encrypt = config.and_then(|c| c.encrypt) == Some(true);
    let store = BlobStore::for_workspace(workspace_root);
    // A key without `encrypt` reads encrypted blobs but stores plainly:
    // `absorb` encrypts whenever it has a key, so it gets one only to encrypt.
    if encrypt { store.with_key(key) } else { store }
}

/// A run's artifact by the path a user gives: the path as recorded, or
/// relative to the run's directory (checkpoints are often recorded with
/// absolute paths). The newest row wins (a path reported twice); a kept one
/// over a deleted one. Given paths are only compared, never opened.
pub fn find_artifact<'a>(
    rows: &'a [expman_store::ArtifactRow],
    run_dir: Option<&Path>,
    given: &str,
) -> Option<&'a expman_store::ArtifactRow> {
    let given = given.trim_start_matches("./");
    let matches = |row: &expman_store::ArtifactRow| {
        row.path == given
            || run_dir
                .is_some_and(|dir| Path::new(&row.path).strip_prefix(dir).is_ok_and(|rel| rel == Path::new(given)))
    };
    let mut found: Vec<&expman_store::ArtifactRow> = rows.iter().filter(|r| matches(r)).collect();
    found.sort_by_key(|r| (!r.deleted, r.id));
    found.last().copied()
}

/// The path to show for an artifact: relative to the run's directory when
/// it is inside it.
pub fn shown_path(run_dir: Option<&Path>, recorded: &str) -> String {
    run_dir
        .and_then(|dir| Path::new(recorded).strip_prefix(dir).ok())
        .map(|rel| rel.display().to_string())
        .unwrap_or_else(|| recorded.to_string())
}

/// What storing a run's artifacts did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Absorbed {
    /// Artifacts stored (new or already there).
    pub files: usize,
    /// Of those, content the store did not have.
    pub new_blobs: usize,
    pub new_bytes: u64,
    /// The digests of what was stored (for the remote).
    pub digests: Vec<String>,
    pub warnings: Vec<String>,
}

/// Where a recorded artifact path points: a run-relative path resolved in
/// `run_dir`, an absolute path as it is; whether the workspace owns it (a
/// regular file, not a link, whose real path is inside the workspace).
fn resolve(run_dir: &Path, workspace_root: &Path, recorded: &str) -> (PathBuf, bool) {
    let path = Path::new(recorded);
    let full = if path.is_absolute() { path.to_path_buf() } else { run_dir.join(path) };
    let climbs = path.components().any(|c| matches!(c, Component::ParentDir));
    let is_link = std::fs::symlink_metadata(&full).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    let owned = !climbs
        && !is_link
        && match (full.canonicalize(), workspace_root.canonicalize()) {
            (Ok(real), Ok(ws)) => real.starts_with(ws),
            _ => false,
        };
    (full, owned)
}

/// Stores the artifacts run `run_id` has recorded (and not deleted).
pub fn absorb_run(
    store: &mut Store,
    blobs: &BlobStore,
    workspace_root: &Path,
    run_id: i64,
    run_dir: &Path,
) -> Absorbed {
    let mut done = Absorbed::default();
    let rows = match store.run_artifacts(run_id) {
        Ok(rows) => rows,
        Err(e) => {
            done.warnings.push(format!("cannot list the run's artifacts to store them: {e}"));
            return done;
        }
    };
    for row in rows.into_iter().filter(|r| !r.deleted) {
        let (full, owned) = resolve(run_dir, workspace_root, &row.path);
        if !full.is_file() {
            if !(row.sha256.as_deref().is_some_and(|d| blobs.contains(d))) {
                tracing::debug!("artifact {} is gone from {}; nothing to store", row.path, full.display());
            }
            continue;
        }
        if let Some(digest) = row.sha256.as_deref()
            && blobs.is_linked(digest, &full)
        {
            done.files += 1;
            done.digests.push(digest.to_string());
            continue;
        }
        let stored = if owned { blobs.absorb(&full) } else { blobs.put(&full) };
        match stored {
            Ok(stored) => {
                done.files += 1;
                done.digests.push(stored.sha256.clone());
                if stored.new {
                    done.new_blobs += 1;
                    done.new_bytes += stored.size;
                }
                let changed =
                    row.sha256.as_deref() != Some(stored.sha256.as_str()) || row.size != Some(stored.size as i64);
                if changed && let Err(e) = store.set_artifact_digest(run_id, row.id, stored.size as i64, &stored.sha256)
                {
                    done.warnings.push(format!("artifact {}: stored, but its record was not corrected: {e}", row.path));
                }
            }
            Err(e) => done.warnings.push(format!("artifact {} stays where it is, not in the store: {e}", row.path)),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_workspace_or_are_links_are_not_owned() {
        let ws = std::env::temp_dir().join(format!("expman-absorb-resolve-{}", std::process::id()));
        let run = ws.join("exp/trial/run1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("model.pt"), b"x").unwrap();
        std::fs::write(ws.join("other.txt"), b"y").unwrap();
        let outside = std::env::temp_dir().join(format!("expman-absorb-outside-{}", std::process::id()));
        std::fs::write(&outside, b"z").unwrap();
        let _ = std::fs::remove_file(run.join("link.pt"));
        std::os::unix::fs::symlink(&outside, run.join("link.pt")).unwrap();
        assert!(resolve(&run, &ws, "model.pt").1);
        assert!(!resolve(&run, &ws, "../../../other.txt").1, "`..` never absorbs");
        assert!(!resolve(&run, &ws, outside.to_str().unwrap()).1);
        assert!(!resolve(&run, &ws, "link.pt").1, "a link is copied, not replaced");
        assert!(resolve(&run, &ws, ws.join("other.txt").to_str().unwrap()).1);
    }
}
