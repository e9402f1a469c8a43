//! One run for the page: what `expman show` shows (config with secrets
//! masked as recorded, params, tags, metrics, artifacts, resources), its
//! logs' last lines, its hardware over time, and its artifacts' files.
//!
//! An artifact's file is served only when the record lists that path for
//! that run (and the checkpoint policy has not deleted it), and only when
//! the file, with every link resolved, lies inside the workspace: `../`,
//! absolute paths and symbolic links out of it are refused. A file gone
//! from the run's directory is served from the artifact store (its plain
//! blob, found by the recorded SHA-256); an encrypted one is refused.

use std::path::{Component, Path, PathBuf};

use expman_store::{RunRef, Store};
use expman_ui::{ApiError, LogStream};
use serde_json::{Value, json};

use super::{number, resolve, store_error};

pub fn detail(store: &Store, id: &str) -> Result<Value, ApiError> {
    let run = resolve(store, id)?;
    let d = store.run_detail(&run).map_err(store_error)?;
    let row = &d.row;
    let config: Value = serde_json::from_str(&d.config).unwrap_or(Value::String(d.config.clone()));
    let params: Vec<Value> = d.params.iter().map(|(k, _, v)| json!({"key": k, "value": v})).collect();
    let tags: Vec<Value> = d.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    let artifacts: Vec<Value> = d
        .artifacts
        .iter()
        .map(|(path, kind, size, sha256)| {
            json!({
                "path": path, "kind": kind, "size": size, "sha256": sha256,
                "url": format!("/api/runs/{}/artifacts/{}", row.uid, url_path(path)),
            })
        })
        .collect();
    let metrics: Vec<Value> = store
        .metric_summaries(run.id)
        .map_err(store_error)?
        .into_iter()
        .map(|m| {
            json!({
                "key": m.key, "count": m.count,
                "last": m.last.map(number), "min": m.min.map(number), "max": m.max.map(number),
            })
        })
        .collect();
    let resources = d.resources.as_ref().map(|r| {
        json!({
            "wall_ms": r.wall_ms, "cpu_ms": r.cpu_ms,
            "mean_cpu_percent": r.mean_cpu_percent, "peak_cpu_percent": r.peak_cpu_percent, "peak_rss": r.peak_rss,
            "mean_gpu_util": r.mean_gpu_util, "peak_gpu_util": r.peak_gpu_util,
            "mean_gpu_mem": r.mean_gpu_mem, "peak_gpu_mem": r.peak_gpu_mem, "samples": r.samples,
        })
    });
    Ok(json!({
        "id": row.uid,
        "experiment": row.experiment,
        "trial": row.trial,
        "repeat": row.repeat + 1,
        "status": row.status.as_str(),
        "created_at": row.created_at,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "exit_code": row.exit_code,
        "error": row.error,
        "seed": row.seed,
        "host": row.host,
        "run_dir": row.run_dir,
        "command": d.command,
        "git_commit": d.git_commit,
        "git_dirty": d.git_dirty,
        "config": config,
        "params": params,
        "tags": tags,
        "artifacts": artifacts,
        "deleted_artifacts": d.deleted_artifacts,
        "metrics": metrics,
        "resources": resources,
    }))
}

/// A relative path with each part percent-encoded for a URL.
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|part| {
            part.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The run directory of a run, as recorded.
fn run_dir(store: &Store, id: &str) -> Result<(RunRef, Option<PathBuf>), ApiError> {
    let run = resolve(store, id)?;
    let row = store.runs_by_id(&[run.id]).map_err(store_error)?.into_iter().next();
    Ok((run, row.and_then(|r| r.run_dir).map(PathBuf::from)))
}

pub fn log(store: &Store, id: &str, stream: LogStream, tail: usize) -> Result<Value, ApiError> {
    let (run, dir) = run_dir(store, id)?;
    let uid = run.uid;
    let Some(dir) = dir else {
        return Ok(
            json!({"stream": stream.name(), "lines": [], "truncated": false, "missing": "the run has no directory"}),
        );
    };
    let path = dir.join(stream.file_name());
    let (lines, truncated) = match tail_lines(&path, tail) {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(json!({"stream": stream.name(), "lines": [], "truncated": false,
                              "missing": format!("{} of run {uid} is not on this machine", path.display())}));
        }
        Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
    };
    Ok(json!({"stream": stream.name(), "lines": lines, "truncated": truncated}))
}

/// The last `n` lines of a file, reading at most its last 1 MiB.
fn tail_lines(path: &Path, n: usize) -> std::io::Result<(Vec<String>, bool)> {
    use std::io::{Read, Seek, SeekFrom};
    const MAX: u64 = 1 << 20;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(MAX);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // Cut mid-line.
    }
    let truncated = start > 0 || lines.len() > n;
    let lines = lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect();
    Ok((lines, truncated))
}

pub fn hardware(store: &Store, id: &str) -> Result<Value, ApiError> {
    let run = resolve(store, id)?;
    let points = store.hardware_series(run.id).map_err(store_error)?;
    let column = |f: &dyn Fn(&expman_store::HardwarePoint) -> Value| points.iter().map(f).collect::<Vec<_>>();
    Ok(json!({
        "t": column(&|p| json!(p.timestamp)),
        "cpu_percent": column(&|p| p.cpu_percent.map(number).unwrap_or(Value::Null)),
        "mem_used": column(&|p| json!(p.mem_used)),
        "mem_total": column(&|p| json!(p.mem_total)),
        "gpu_percent": column(&|p| p.gpu_percent.map(number).unwrap_or(Value::Null)),
        "gpu_mem": column(&|p| json!(p.gpu_mem)),
    }))
}

/// The artifact store's plain copy of a recorded artifact, if it has one
/// (a blob is named by its content and never written in place). An
/// encrypted one is refused: the server holds no key.
fn stored_copy(
    store: &Store,
    root: &Path,
    run_id: i64,
    recorded: &Path,
    uid: &str,
) -> Result<Option<PathBuf>, ApiError> {
    let rows = store.run_artifacts(run_id).map_err(store_error)?;
    let Some(digest) =
        rows.iter().rev().find(|r| !r.deleted && Path::new(&r.path) == recorded).and_then(|r| r.sha256.clone())
    else {
        return Ok(None);
    };
    match expman_blobs::BlobStore::for_workspace(root).locate(&digest) {
        Ok(Some((_, true))) => Err(ApiError::forbidden(format!(
            "artifact `{}` of run {uid} is stored encrypted; `expman artifacts get` with the key gives it back",
            recorded.display()
        ))),
        Ok(Some((blob, false))) => Ok(Some(blob)),
        _ => Ok(None),
    }
}

/// The file of artifact `path` of run `id`, checked (see the module doc).
/// Artifacts recorded with an absolute path come with their leading `/`
/// dropped from the URL; they are found either way.
pub fn artifact_file(store: &Store, workspace: &Path, id: &str, path: &str) -> Result<PathBuf, ApiError> {
    let (run, dir) = run_dir(store, id)?;
    let uid = &run.uid;
    let absolute = format!("/{path}");
    let recorded = [path, absolute.as_str()]
        .into_iter()
        .find_map(|p| store.has_artifact(run.id, p).map(|has| has.then_some(p)).transpose())
        .transpose()
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("run {uid} records no artifact `{path}`")))?;
    let recorded = Path::new(recorded);
    if recorded.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(ApiError::forbidden(format!("artifact path `{path}` refused: it climbs out with `..`")));
    }
    let file = if recorded.is_absolute() {
        recorded.to_path_buf()
    } else {
        dir.ok_or_else(|| ApiError::not_found(format!("run {uid} has no directory")))?.join(recorded)
    };
    let root =
        workspace.canonicalize().map_err(|e| ApiError::internal(format!("workspace {}: {e}", workspace.display())))?;
    let real = match file.canonicalize() {
        Ok(real) => real,
        // Gone from the run's directory (or never there: a file outside the
        // workspace): its content from the artifact store.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return stored_copy(store, &root, run.id, recorded, uid)?.ok_or_else(|| {
                ApiError::not_found(format!("artifact `{path}` of run {uid}: {}: {e}", file.display()))
            });
        }
        Err(e) => return Err(ApiError::not_found(format!("artifact `{path}` of run {uid}: {}: {e}", file.display()))),
    };
    if !real.starts_with(&root) {
        return Err(ApiError::forbidden(format!(
            "artifact `{path}` of run {uid} leads outside the workspace ({}): refused",
            real.display()
        )));
    }
    if !real.is_file() {
        return Err(ApiError::not_found(format!("artifact `{path}` of run {uid} is not a file")));
    }
    Ok(real)
}
