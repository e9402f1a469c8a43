//! A run's declared inputs (`inputs:` in base.yaml or a trial), resolved
//! and hashed before it starts: the upstream half of lineage.
//!
//! `inputs:` is a list of references, or a map from names to references
//! (a trial's map merges over base.yaml's). A reference is
//!
//! - a path, relative to the config directory: a file, or a directory
//!   (hashed over its sorted file list and each file's SHA-256);
//! - `run:ID/PATH`: artifact PATH of run ID (a unique prefix);
//! - `trial:NAME/PATH`: artifact PATH of trial NAME's newest run that ended
//!   well (SUCCESS or EARLY_STOPPED), in this experiment if it has one,
//!   else in any experiment of the record;
//! - `alias:NAME`: the artifact `expman artifacts tag` named NAME.
//!
//! The run finds each at `EXPMAN_INPUT_<NAME>` (the name upper-cased, other
//! characters as `_`) and all of them in `inputs.json` in its directory
//! (`EXPMAN_INPUTS`). A reference that does not resolve fails the run
//! before it starts, naming the input.

use std::path::{Path, PathBuf};

use expman_blobs::{BlobStore, hash_file};
use expman_schema::Node;
use expman_store::{ArtifactRow, RunInput, RunRef, Store};
use sha2::{Digest, Sha256};

use crate::artifacts::find_artifact;
use crate::error::RunError;

/// The file in a run's directory that lists its resolved inputs.
pub const INPUTS_FILE: &str = "inputs.json";

/// A declared input: its name and reference as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub reference: String,
}

/// The inputs a resolved config declares; a wrong shape is an error.
pub fn declared(config: &Node) -> Result<Vec<Declared>, RunError> {
    let Some(node) = config.get("inputs") else { return Ok(Vec::new()) };
    let reference = |name: &str, node: &Node| {
        node.as_str().map(str::to_string).ok_or_else(|| {
            RunError::Invalid(format!(
                "inputs.{name}: a reference is a string (a path, `run:ID/PATH`, `trial:NAME/PATH` or `alias:NAME`)"
            ))
        })
    };
    if let Some(items) = node.as_seq() {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let reference = reference(&i.to_string(), item)?;
            let name = reference.rsplit(['/', ':']).next().unwrap_or(&reference).to_string();
            out.push(Declared { name, reference });
        }
        return Ok(out);
    }
    if let Some(map) = node.as_map() {
        return map
            .iter()
            .map(|(name, e)| Ok(Declared { name: name.to_string(), reference: reference(name, &e.value)? }))
            .collect();
    }
    if node.is_null() {
        return Ok(Vec::new());
    }
    Err(RunError::Invalid("`inputs` is a list of references or a map from names to references".into()))
}

/// The environment variable a run finds input `name` at.
pub fn env_name(name: &str) -> String {
    let upper: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("EXPMAN_INPUT_{upper}")
}

/// Resolves and hashes every input; `experiment` is the run's own.
pub fn resolve(
    store: &Store,
    blobs: &BlobStore,
    config_dir: &Path,
    experiment: &str,
    declared: &[Declared],
) -> Result<Vec<RunInput>, RunError> {
    declared
        .iter()
        .map(|d| {
            resolve_one(store, blobs, config_dir, experiment, d)
                .map_err(|why| RunError::Invalid(format!("inputs.{} (`{}`): {why}", d.name, d.reference)))
        })
        .collect()
}

fn resolve_one(
    store: &Store,
    blobs: &BlobStore,
    config_dir: &Path,
    experiment: &str,
    d: &Declared,
) -> Result<RunInput, String> {
    let r = d.reference.trim();
    let input = |kind: &str, path: String, sha256: String, size: i64, source_run: Option<RunRef>| RunInput {
        name: d.name.clone(),
        reference: d.reference.clone(),
        kind: kind.to_string(),
        path,
        sha256,
        size,
        source_run,
    };
    let (run, given) = if let Some(rest) = r.strip_prefix("run:") {
        let (id, path) = rest.split_once('/').ok_or("write `run:ID/PATH`")?;
        (store.resolve_run(id).map_err(|e| e.to_string())?, path.to_string())
    } else if let Some(rest) = r.strip_prefix("trial:") {
        let (trial, path) = rest.split_once('/').ok_or("write `trial:NAME/PATH`")?;
        let run =
            store.latest_good_run_of_trial(trial, Some(experiment)).map_err(|e| e.to_string())?.ok_or_else(|| {
                format!("trial `{trial}` has no run that ended well (SUCCESS or EARLY_STOPPED) in the record")
            })?;
        (run, path.to_string())
    } else if let Some(name) = r.strip_prefix("alias:") {
        let alias = store.aliases(Some(name)).map_err(|e| e.to_string())?.into_iter().next().ok_or_else(|| {
            format!("no artifact is named `{name}` (`expman artifacts tag RUN PATH {name}` names one)")
        })?;
        let (path, sha, size) = artifact_content(store, blobs, &alias.run, &alias.artifact)?;
        return Ok(input("artifact", path, sha, size, Some(alias.run)));
    } else {
        let path = if Path::new(r).is_absolute() { PathBuf::from(r) } else { config_dir.join(r) };
        let path = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
        if path.is_dir() {
            let (sha, size) = hash_directory(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(input("directory", path.display().to_string(), sha, size as i64, None));
        }
        let (size, sha) = hash_file(&path).map_err(|e| e.to_string())?;
        return Ok(input("file", path.display().to_string(), sha, size as i64, None));
    };
    let detail = store.run_detail(&run).map_err(|e| e.to_string())?;
    let rows = store.run_artifacts(run.id).map_err(|e| e.to_string())?;
    let run_dir = detail.row.run_dir.as_deref().map(Path::new);
    let Some(artifact) = find_artifact(&rows, run_dir, &given) else {
        let known: Vec<&str> = rows.iter().filter(|a| !a.deleted).map(|a| a.path.as_str()).collect();
        return Err(format!(
            "run {} ({}) recorded no artifact `{given}`; it has: {}",
            run.uid,
            detail.row.trial,
            if known.is_empty() { "none".into() } else { known.join(", ") }
        ));
    };
    if artifact.deleted {
        return Err(format!("artifact `{given}` of run {} was deleted (by the checkpoint policy)", run.uid));
    }
    let (path, sha, size) = artifact_content(store, blobs, &run, artifact)?;
    Ok(input("artifact", path, sha, size, Some(run)))
}

/// Where an artifact's content can be read, checked: its file in the run's
/// directory when it still is the stored content, else the store's blob.
fn artifact_content(
    store: &Store,
    blobs: &BlobStore,
    run: &RunRef,
    artifact: &ArtifactRow,
) -> Result<(String, String, i64), String> {
    let Some(sha) = artifact.sha256.clone() else {
        return Err(format!("artifact `{}` of run {} has no recorded SHA-256", artifact.path, run.uid));
    };
    let run_dir = store.run_detail(run).ok().and_then(|d| d.row.run_dir);
    let file = match run_dir {
        Some(dir) if !Path::new(&artifact.path).is_absolute() => Path::new(&dir).join(&artifact.path),
        _ => PathBuf::from(&artifact.path),
    };
    let size = artifact.size.unwrap_or(0);
    if file.is_file() && (blobs.is_linked(&sha, &file) || hash_file(&file).is_ok_and(|(_, d)| d == sha)) {
        return Ok((file.display().to_string(), sha, size));
    }
    match blobs.locate(&sha) {
        Ok(Some((blob, false))) => Ok((blob.display().to_string(), sha, size)),
        Ok(Some((_, true))) => Err(format!(
            "artifact `{}` of run {} is stored encrypted; fetch it with `expman artifacts get` and use the file",
            artifact.path, run.uid
        )),
        _ => Err(format!(
            "the content of artifact `{}` of run {} is neither at {} nor in the artifact store",
            artifact.path,
            run.uid,
            file.display()
        )),
    }
}

/// A directory's digest: SHA-256 over its files in name order, a line
/// `relative-path\0sha256\n` each; and its total size.
pub fn hash_directory(dir: &Path) -> std::io::Result<(String, u64)> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    let mut total = 0;
    for (relative, path) in files {
        let (size, digest) = hash_file(&path).map_err(std::io::Error::other)?;
        total += size;
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), total))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if path.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
            out.push((relative, path));
        }
    }
    Ok(())
}

/// Writes `inputs.json` into the run's directory and returns the
/// environment variables that point the run at its inputs.
pub fn hand_over(run_dir: &Path, inputs: &[RunInput]) -> Result<Vec<(String, String)>, RunError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let mut listing = serde_json::Map::new();
    let mut env = Vec::new();
    for i in inputs {
        listing.insert(
            i.name.clone(),
            serde_json::json!({
                "path": i.path, "sha256": i.sha256, "size": i.size, "kind": i.kind,
                "reference": i.reference, "run": i.source_run.as_ref().map(|r| r.uid.clone()),
            }),
        );
        env.push((env_name(&i.name), i.path.clone()));
    }
    let file = run_dir.join(INPUTS_FILE);
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(listing)).unwrap_or_default();
    std::fs::write(&file, text).map_err(|e| RunError::io(&file, e))?;
    env.push(("EXPMAN_INPUTS".into(), file.display().to_string()));
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_become_environment_variables() {
        assert_eq!(env_name("train-data.csv"), "EXPMAN_INPUT_TRAIN_DATA_CSV");
        assert_eq!(env_name("data"), "EXPMAN_INPUT_DATA");
    }

    #[test]
    fn a_directory_hash_depends_on_names_and_contents_only() {
        let base = std::env::temp_dir().join(format!("expman-inputs-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (a, b) = (base.join("a"), base.join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("x.txt"), b"1").unwrap();
            std::fs::write(d.join("sub/y.txt"), b"2").unwrap();
        }
        assert_eq!(hash_directory(&a).unwrap(), hash_directory(&b).unwrap());
        std::fs::write(b.join("sub/y.txt"), b"3").unwrap();
        assert_ne!(hash_directory(&a).unwrap().0, hash_directory(&b).unwrap().0);
        std::fs::rename(a.join("x.txt"), a.join("z.txt")).unwrap();
        std::fs::write(b.join("sub/y.txt"), b"2").unwrap();
        assert_ne!(hash_directory(&a).unwrap().0, hash_directory(&b).unwrap().0);
    }
}
