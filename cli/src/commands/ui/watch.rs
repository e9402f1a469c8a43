//! Watching the record from outside its runners: the runs going on with
//! their latest metrics and hardware, a version that changes with every
//! write (for the page's "record changed" events), and stop requests
//! (the same request file `expman stop` leaves).

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use expman_runner::Workspace;
use expman_store::{LiveRun, Store};
use expman_ui::ApiError;
use serde_json::{Map, Value, json};

use super::{number, resolve, store_error};

/// Runs that ended this long ago still show under "recently ended".
const RECENT_MS: i64 = 10 * 60 * 1000;
/// Runs going on shown at most.
const MAX_LIVE: usize = 500;
/// How often runs whose runner died are looked for.
const RECOVER_EVERY: Duration = Duration::from_secs(15);

/// When runs whose runner died were last looked for.
#[derive(Default)]
pub struct Watch {
    recovered: Mutex<Option<Instant>>,
}

impl Watch {
    /// Marks runs whose runner died (as opening the record for any
    /// command does), every [`RECOVER_EVERY`] at most: a killed runner's
    /// runs stop showing as going on.
    pub fn recover_now_and_then(&self, workspace: &Workspace) {
        let Ok(mut last) = self.recovered.lock() else { return };
        if last.is_some_and(|t| t.elapsed() < RECOVER_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = workspace.open_store() {
            tracing::warn!("looking for runs whose runner died: {e}");
        }
    }
}

/// Changes whenever the database or its write-ahead log is written.
pub fn version(database: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in [database.to_path_buf(), with_suffix(database, "-wal")] {
        if let Ok(meta) = std::fs::metadata(&path) {
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
        }
    }
    hasher.finish()
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// `/api/live`.
pub fn live(store: &Store) -> Result<Value, ApiError> {
    let since = expman_os::time::now_ms() - RECENT_MS;
    let (going, ended) = store.live_runs(since, MAX_LIVE).map_err(store_error)?;
    Ok(json!({
        "runs": going.iter().map(live_json).collect::<Vec<_>>(),
        "recent": ended.iter().map(live_json).collect::<Vec<_>>(),
    }))
}

fn live_json(run: &LiveRun) -> Value {
    let row = &run.row;
    let metrics: Map<String, Value> = run.metrics.iter().map(|(k, v)| (k.clone(), number(*v))).collect();
    let hw = run.hardware.as_ref();
    json!({
        "id": row.uid,
        "experiment": row.experiment,
        "trial": row.trial,
        "repeat": row.repeat + 1,
        "status": row.status.as_str(),
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "host": row.host,
        "error": row.error,
        "epoch": run.epoch,
        "metrics": metrics,
        "cpu_percent": hw.and_then(|h| h.cpu_percent).map(number),
        "mem_used": hw.and_then(|h| h.mem_used),
        "gpu_percent": hw.and_then(|h| h.gpu_percent).map(number),
        "gpu_mem": hw.and_then(|h| h.gpu_mem),
    })
}

/// `POST /api/runs/{id}/stop`.
pub fn stop(store: &Store, id: &str) -> Result<Value, ApiError> {
    let run = resolve(store, id)?;
    let active = store.active_runs().map_err(store_error)?.into_iter().find(|a| a.run.id == run.id);
    let row = store
        .runs_by_id(&[run.id])
        .map_err(store_error)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("no run `{id}` in the record")))?;
    let Some(active) = active else {
        return Err(ApiError::bad_request(format!("run {} is not going on (it is {})", row.uid, row.status.as_str())));
    };
    let message = crate::commands::stop::request_stop(&active, &row, "the web UI")
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    tracing::info!("{message}");
    Ok(json!({"message": message}))
}
