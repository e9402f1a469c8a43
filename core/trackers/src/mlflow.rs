//! MLflow (`type: mlflow`, `tracking_uri`, optional `experiment_name`),
//! over its REST API, as MLflow's own client talks to a tracking server.
//!
//! Mapping: the expman experiment is an MLflow experiment (found by name,
//! or created); each trial a parent run, each of its runs a child run
//! (`mlflow.parentRunId`), so the MLflow UI groups repeats under their
//! trial; params as flattened dotted keys; the run's id, config hash,
//! trial, repeat and seed as `expman.*` tags; metric points through
//! `runs/log-batch` in batches within MLflow's limits (1,000 metrics, 100
//! params, 100 tags); per-run hardware samples as MLflow system metrics
//! (`system/...`); the final status and end time with `runs/update`;
//! artifacts uploaded through the server's artifact proxy
//! (`--serve-artifacts`, MLflow's default), or copied when the artifact
//! root is a local path.
//!
//! Nothing is created twice: before creating a run, expman looks for one
//! already tagged with its id (a crash between create and acknowledge).
//! Metric points may be sent twice after a timeout; MLflow's SQL store
//! keeps one row for identical (key, value, step, timestamp).
//!
//! Credentials come from the environment: `MLFLOW_TRACKING_TOKEN`
//! (bearer), or `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`
//! (basic); they are never written to the record.

use std::path::{Path, PathBuf};
use std::time::Duration;

use expman_schema::model::TrackerConfig;
use serde_json::{Value, json};

use super::files::{memo_object, set_memo};
use super::{
    Memo, TrackedRun, TrackedTrial, Tracker, TrackerBuildError, TrackerContext, TrackerEnv, TrackerError,
    TrackerResult, param_text, safe_key,
};
use expman_store::{ArtifactRow, HardwareRow, MetricRow, PARENT_TAG, ParamValue, RunStatus};

/// MLflow's limits per `log-batch` request.
const MAX_METRICS: usize = 1000;
const MAX_PARAMS: usize = 100;
const MAX_TAGS: usize = 100;
/// MLflow's longest param value and tag value.
const MAX_PARAM_VALUE: usize = 6000;
const MAX_TAG_VALUE: usize = 5000;

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

pub struct MlflowTracker {
    uri: String,
    experiment_name: Option<String>,
    auth: Auth,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl MlflowTracker {
    pub fn from_config(config: &TrackerConfig, env: &TrackerEnv) -> Result<MlflowTracker, TrackerBuildError> {
        let kind = config.kind.as_str();
        let uri = config.tracking_uri.clone().or_else(|| env.vars.get("MLFLOW_TRACKING_URI").cloned());
        let no_uri = "no `tracking_uri` in env.yaml and no MLFLOW_TRACKING_URI in the environment";
        let uri = uri.ok_or_else(|| TrackerBuildError::config(kind, no_uri))?;
        let uri = uri.trim_end_matches('/').to_string();
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(TrackerBuildError::config(
                kind,
                format!(
                    "`tracking_uri: {uri}`: expman talks to an MLflow tracking server (http:// or https://); \
                     start one with `mlflow server` for a local file or database store"
                ),
            ));
        }
        let auth = match (
            env.vars.get("MLFLOW_TRACKING_TOKEN"),
            env.vars.get("MLFLOW_TRACKING_USERNAME"),
            env.vars.get("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(token), _, _) if !token.is_empty() => Auth::Bearer(token.clone()),
            (_, Some(user), password) => Auth::Basic(user.clone(), password.cloned().unwrap_or_default()),
            _ => Auth::None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| TrackerBuildError::Start {
                kind: kind.into(),
                what: "cannot make an HTTP client",
                source: e.into(),
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            TrackerBuildError::Start { kind: kind.into(), what: "cannot start an HTTP runtime", source: e.into() }
        })?;
        Ok(MlflowTracker { uri, experiment_name: config.experiment_name.clone(), auth, client, runtime })
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        }
    }

    /// One REST call; `Ok(None)` for `RESOURCE_DOES_NOT_EXIST`.
    fn call(&self, method: reqwest::Method, endpoint: &str, body: Option<Value>) -> TrackerResult<Option<Value>> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri);
        let mut request = self.authorize(self.client.request(method, &url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| self.unreachable(&e))?;
            let status = response.status();
            let text = response.text().await.map_err(|e| self.unreachable(&e))?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(Some(value));
            }
            let code = value.get("error_code").and_then(Value::as_str).unwrap_or_default();
            let message = value.get("message").and_then(Value::as_str).unwrap_or(text.trim());
            if code == "RESOURCE_DOES_NOT_EXIST" {
                return Ok(None);
            }
            let what = format!("MLflow at {} answered {endpoint} with {status}: {code} {message}", self.uri);
            if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                Err(TrackerError::Retry(what))
            } else if status.as_u16() == 401 || status.as_u16() == 403 {
                // Credentials can be fixed; keep the data for `expman sync`.
                Err(TrackerError::Retry(format!(
                    "{what} (set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)"
                )))
            } else {
                Err(TrackerError::Rejected(what))
            }
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> TrackerError {
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        TrackerError::Retry(format!("cannot reach MLflow at {}: {cause}", self.uri))
    }

    fn post(&self, endpoint: &str, body: Value) -> TrackerResult<Value> {
        self.call(reqwest::Method::POST, endpoint, Some(body))?
            .ok_or_else(|| TrackerError::Rejected(format!("MLflow at {}: {endpoint}: not found", self.uri)))
    }

    /// The run tagged `key = value` in an experiment, if one exists.
    fn find_run(&self, experiment_id: &str, key: &str, value: &str) -> TrackerResult<Option<Value>> {
        let filter = format!("tags.`{key}` = '{}'", value.replace('\'', "\\'"));
        let found = self.post(
            "runs/search",
            json!({"experiment_ids": [experiment_id], "filter": filter, "max_results": 1, "run_view_type": "ALL"}),
        )?;
        Ok(found.get("runs").and_then(Value::as_array).and_then(|r| r.first()).cloned())
    }

    fn log_batch(&self, run_id: &str, metrics: Vec<Value>, params: Vec<Value>, tags: Vec<Value>) -> TrackerResult<()> {
        self.post("runs/log-batch", json!({"run_id": run_id, "metrics": metrics, "params": params, "tags": tags}))?;
        Ok(())
    }

    fn set_tags(&self, run_id: &str, tags: &[(String, String)]) -> TrackerResult<()> {
        for part in tags.chunks(MAX_TAGS) {
            let tags = part.iter().map(|(k, v)| json!({"key": k, "value": truncate(v, MAX_TAG_VALUE)})).collect();
            self.log_batch(run_id, Vec::new(), Vec::new(), tags)?;
        }
        Ok(())
    }

    /// Uploads one file through the artifact proxy, or copies it into a
    /// local artifact root.
    fn upload(&self, artifact_uri: &str, relative: &str, file: &Path) -> TrackerResult<()> {
        if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") {
            // `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host:port/1/...`.
            let path = match rest.strip_prefix("//") {
                Some(authority_and_path) => authority_and_path.split_once('/').map(|(_, p)| p).unwrap_or(""),
                None => rest.trim_start_matches('/'),
            };
            let target = format!("{path}/{relative}");
            let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{}", self.uri, encode_path(&target));
            let body = std::fs::read(file)
                .map_err(|e| TrackerError::Rejected(format!("cannot read artifact {}: {e}", file.display())))?;
            let request = self.authorize(self.client.put(&url)).body(body);
            return self.runtime.block_on(async {
                let response = request.send().await.map_err(|e| self.unreachable(&e))?;
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let text = response.text().await.unwrap_or_default();
                let what = format!("MLflow at {} refused artifact {relative}: {status} {}", self.uri, text.trim());
                if status.is_server_error() {
                    Err(TrackerError::Retry(what))
                } else {
                    Err(TrackerError::Rejected(what))
                }
            });
        }
        let root = match artifact_uri.strip_prefix("file://") {
            Some(p) => Some(PathBuf::from(p)),
            None if artifact_uri.starts_with('/') => Some(PathBuf::from(artifact_uri)),
            None => None,
        };
        match root {
            Some(root) => {
                let target = root.join(relative);
                let copy = || -> std::io::Result<()> {
                    if let Some(dir) = target.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::copy(file, &target).map(|_| ())
                };
                copy().map_err(|e| TrackerError::Rejected(format!("cannot copy artifact to {}: {e}", target.display())))
            }
            None => Err(TrackerError::Rejected(format!(
                "artifacts not uploaded: the run's artifact store `{artifact_uri}` needs MLflow's client-side \
                 credentials; start the server with --serve-artifacts so expman can upload through it"
            ))),
        }
    }

    fn update_run(&self, run_id: &str, status: &str, end_time: Option<i64>) -> TrackerResult<()> {
        let mut body = json!({"run_id": run_id, "status": status});
        if let Some(end) = end_time {
            body["end_time"] = json!(end);
        }
        self.post("runs/update", body)?;
        Ok(())
    }

    fn experiment_id(&self, cx: &TrackerContext<'_>) -> TrackerResult<String> {
        cx.experiment.remote_id.clone().ok_or_else(|| TrackerError::retry("the MLflow experiment is not known yet"))
    }
}

impl Tracker for MlflowTracker {
    fn experiment(&mut self, cx: &TrackerContext<'_>) -> TrackerResult<Option<String>> {
        let name = self.experiment_name.clone().unwrap_or_else(|| cx.experiment.name.clone());
        let encoded: String = url_component(&name);
        if let Some(found) =
            self.call(reqwest::Method::GET, &format!("experiments/get-by-name?experiment_name={encoded}"), None)?
        {
            let experiment = &found["experiment"];
            if experiment["lifecycle_stage"] == "deleted" {
                return Err(TrackerError::Retry(format!(
                    "the MLflow experiment `{name}` at {} is deleted: restore it (`mlflow experiments restore`) \
                     or set `experiment_name` in env.yaml",
                    self.uri
                )));
            }
            return Ok(experiment["experiment_id"].as_str().map(str::to_string));
        }
        let mut tags = vec![json!({"key": "expman.experiment", "value": cx.experiment.name})];
        if let Some(desc) = &cx.experiment.description {
            tags.push(json!({"key": "mlflow.note.content", "value": truncate(desc, MAX_TAG_VALUE)}));
        }
        let created = self.post("experiments/create", json!({"name": name, "tags": tags}))?;
        Ok(created["experiment_id"].as_str().map(str::to_string))
    }

    fn trial(&mut self, cx: &TrackerContext<'_>, trial: &TrackedTrial) -> TrackerResult<Option<String>> {
        let experiment_id = self.experiment_id(cx)?;
        if let Some(id) = &trial.remote_id {
            // Open again (`--resume` added runs to it).
            self.update_run(id, "RUNNING", None)?;
            return Ok(Some(id.clone()));
        }
        let key = format!("{}/{}", cx.experiment.name, trial.name);
        if let Some(found) = self.find_run(&experiment_id, "expman.trial_key", &key)? {
            return Ok(found["info"]["run_id"].as_str().map(str::to_string));
        }
        let tags = json!([
            {"key": "expman.kind", "value": "trial"},
            {"key": "expman.trial", "value": trial.name},
            {"key": "expman.trial_key", "value": key},
            {"key": "expman.experiment", "value": cx.experiment.name},
        ]);
        let created = self.post(
            "runs/create",
            json!({"experiment_id": experiment_id, "run_name": trial.name, "start_time": expman_os::time::now_ms(), "tags": tags}),
        )?;
        Ok(created["run"]["info"]["run_id"].as_str().map(str::to_string))
    }

    fn run_started(
        &mut self,
        cx: &TrackerContext<'_>,
        trial: &TrackedTrial,
        run: &TrackedRun,
        memo: &mut Memo,
    ) -> TrackerResult<Option<String>> {
        let experiment_id = self.experiment_id(cx)?;
        let info = match self.find_run(&experiment_id, "expman.run_id", &run.uid)? {
            Some(found) => found["info"].clone(),
            None => {
                let mut tags = vec![
                    json!({"key": "expman.run_id", "value": run.uid}),
                    json!({"key": "expman.config_hash", "value": run.config_hash}),
                    json!({"key": "expman.trial", "value": run.trial}),
                    json!({"key": "expman.repeat", "value": (run.repeat + 1).to_string()}),
                    json!({"key": "expman.experiment", "value": cx.experiment.name}),
                ];
                if let Some(seed) = run.seed {
                    tags.push(json!({"key": "expman.seed", "value": seed.to_string()}));
                }
                if let Some(parent) = &trial.remote_id {
                    tags.push(json!({"key": "mlflow.parentRunId", "value": parent}));
                }
                let created = self.post(
                    "runs/create",
                    json!({
                        "experiment_id": experiment_id,
                        "run_name": run.label(),
                        "start_time": run.started_at.unwrap_or(run.created_at),
                        "tags": tags,
                    }),
                )?;
                created["run"]["info"].clone()
            }
        };
        let mut m = memo_object(memo);
        if let Some(uri) = info["artifact_uri"].as_str() {
            m.insert("artifact_uri".into(), uri.into());
        }
        set_memo(memo, m);
        Ok(info["run_id"].as_str().map(str::to_string))
    }

    fn params_and_tags(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        params: &[(String, ParamValue)],
        tags: &[(String, String)],
        _memo: &mut Memo,
    ) -> TrackerResult<()> {
        let Some(id) = &run.remote_id else { return Err(TrackerError::retry("the MLflow run is not known yet")) };
        let entry = |(k, v): &(String, ParamValue)| json!({"key": truncate(&safe_key(k), 250), "value": truncate(&param_text(v), MAX_PARAM_VALUE)});
        let mut rejected = Vec::new();
        for part in params.chunks(MAX_PARAMS) {
            match self.log_batch(id, Vec::new(), part.iter().map(entry).collect(), Vec::new()) {
                Ok(()) => {}
                // One param that MLflow will not take (a changed value) must not hold back the others.
                Err(TrackerError::Rejected(_)) => {
                    for p in part {
                        if let Err(TrackerError::Rejected(e)) =
                            self.log_batch(id, Vec::new(), vec![entry(p)], Vec::new())
                        {
                            rejected.push(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let mut tags: Vec<(String, String)> = tags.iter().map(|(k, v)| (safe_key(k), v.clone())).collect();
        // A child run started from code nests under its parent run's
        // MLflow run (sent before it: runs go in the order they began).
        if let Some((_, parent)) = tags.iter().find(|(k, _)| k == PARENT_TAG) {
            let experiment_id = self.experiment_id(cx)?;
            let Some(found) = self.find_run(&experiment_id, "expman.run_id", parent)? else {
                return Err(TrackerError::retry(format!("the parent run {parent} is not in MLflow yet")));
            };
            if let Some(parent_id) = found["info"]["run_id"].as_str() {
                tags.push(("mlflow.parentRunId".into(), parent_id.to_string()));
            }
        }
        self.set_tags(id, &tags)?;
        match rejected.first() {
            Some(first) => {
                Err(TrackerError::Rejected(format!("{} param(s) refused; the first: {first}", rejected.len())))
            }
            None => Ok(()),
        }
    }

    fn metrics(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        points: &[MetricRow],
        _memo: &mut Memo,
    ) -> TrackerResult<()> {
        let Some(id) = &run.remote_id else { return Err(TrackerError::retry("the MLflow run is not known yet")) };
        for part in points.chunks(MAX_METRICS) {
            let metrics =
                part.iter().map(|p| metric(&safe_key(&p.key), p.value, p.timestamp, p.step)).collect::<Vec<_>>();
            self.log_batch(id, metrics, Vec::new(), Vec::new())?;
        }
        Ok(())
    }

    fn hardware(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        samples: &[HardwareRow],
        _memo: &mut Memo,
    ) -> TrackerResult<()> {
        let Some(id) = &run.remote_id else { return Err(TrackerError::retry("the MLflow run is not known yet")) };
        let start = run.started_at.unwrap_or(run.created_at);
        let mut metrics = Vec::new();
        for s in samples {
            // MLflow's own system metrics' names, so its UI shows them as such.
            let step = (s.timestamp - start).max(0) / 1000;
            if let Some(cpu) = s.cpu_percent {
                metrics.push(metric("system/cpu_utilization_percentage", cpu, s.timestamp, step));
            }
            if let Some(rss) = s.rss {
                metrics.push(metric("system/process_memory_rss_megabytes", rss as f64 / 1e6, s.timestamp, step));
            }
            if let Some(gpu) = s.gpu_percent {
                metrics.push(metric("system/gpu_utilization_percentage", gpu, s.timestamp, step));
            }
            if let Some(mem) = s.gpu_mem {
                metrics.push(metric("system/gpu_memory_usage_megabytes", mem as f64 / 1e6, s.timestamp, step));
            }
        }
        for part in metrics.chunks(MAX_METRICS) {
            self.log_batch(id, part.to_vec(), Vec::new(), Vec::new())?;
        }
        Ok(())
    }

    fn run_ended(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        artifacts: &[ArtifactRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let Some(id) = &run.remote_id else { return Err(TrackerError::retry("the MLflow run is not known yet")) };
        let mut m = memo_object(memo);
        let mut uploaded: Vec<i64> = m
            .get("uploaded")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let mut refused = Vec::new();
        if let Some(uri) = m.get("artifact_uri").and_then(Value::as_str).map(str::to_string) {
            let todo: Vec<&ArtifactRow> =
                artifacts.iter().filter(|a| !a.deleted && !uploaded.contains(&a.id)).collect();
            for a in todo {
                // Paths a run reported relative to its directory.
                let file = match &run.run_dir {
                    Some(dir) => dir.join(&a.path),
                    None => PathBuf::from(&a.path),
                };
                if !file.is_file() {
                    continue;
                }
                match self.upload(&uri, &artifact_path(run.run_dir.as_deref(), &file, &a.kind), &file) {
                    Ok(()) => uploaded.push(a.id),
                    Err(TrackerError::Rejected(e)) => {
                        refused.push(e);
                        uploaded.push(a.id);
                    }
                    Err(e) => {
                        m.insert("uploaded".into(), json!(uploaded));
                        set_memo(memo, m);
                        return Err(e);
                    }
                }
            }
        }
        m.insert("uploaded".into(), json!(uploaded));
        set_memo(memo, m);
        let mut tags = vec![("expman.status".to_string(), run.status.as_str().to_string())];
        if let Some(error) = &run.error {
            tags.push(("expman.error".to_string(), error.clone()));
        }
        self.set_tags(id, &tags)?;
        self.update_run(id, mlflow_status(run.status), run.ended_at)?;
        match refused.first() {
            Some(first) => Err(TrackerError::Rejected(first.clone())),
            None => Ok(()),
        }
    }

    fn trial_ended(
        &mut self,
        _cx: &TrackerContext<'_>,
        trial: &TrackedTrial,
        statuses: &[RunStatus],
    ) -> TrackerResult<()> {
        let Some(id) = &trial.remote_id else { return Ok(()) };
        let status = if statuses.iter().all(|s| s.is_done()) {
            "FINISHED"
        } else if statuses.iter().any(|s| matches!(s, RunStatus::Failed | RunStatus::Timeout | RunStatus::Lost)) {
            "FAILED"
        } else {
            "KILLED"
        };
        self.update_run(id, status, Some(expman_os::time::now_ms()))
    }

    fn batch_size(&self) -> usize {
        MAX_METRICS
    }

    fn is_remote(&self) -> bool {
        true
    }
}

/// An MLflow metric; NaN and infinities as the strings protobuf's JSON takes.
fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Value {
    let value = if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    };
    json!({"key": key, "value": value, "timestamp": timestamp, "step": step})
}

/// expman's statuses as MLflow's (`EARLY_STOPPED` finished; the tag
/// `expman.status` keeps the exact one).
fn mlflow_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Success | RunStatus::EarlyStopped | RunStatus::Pruned => "FINISHED",
        RunStatus::Killed => "KILLED",
        RunStatus::Pending => "SCHEDULED",
        RunStatus::Running => "RUNNING",
        RunStatus::Failed | RunStatus::Timeout | RunStatus::Lost => "FAILED",
    }
}

/// Where an artifact goes in the MLflow run: its path inside the run
/// directory, else by kind (`checkpoints/...`, `expman/...` for what expman
/// captured itself).
fn artifact_path(run_dir: Option<&Path>, file: &Path, kind: &str) -> String {
    if let Some(rel) = run_dir.and_then(|d| file.strip_prefix(d).ok()) {
        return rel.to_string_lossy().replace('\\', "/");
    }
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "artifact".into());
    match kind {
        "checkpoint" => format!("checkpoints/{name}"),
        "git-diff" | "code-snapshot" | "python-env" => format!("expman/{name}"),
        _ => name,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Percent-encodes one URL query value.
fn url_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Percent-encodes each segment of a path.
fn encode_path(path: &str) -> String {
    path.split('/').filter(|s| !s.is_empty()).map(url_component).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_helpers() {
        assert_eq!(mlflow_status(RunStatus::EarlyStopped), "FINISHED");
        assert_eq!(mlflow_status(RunStatus::Timeout), "FAILED");
        assert_eq!(metric("loss", f64::NAN, 5, 1)["value"], "NaN");
        assert_eq!(url_component("model comparison/ä"), "model%20comparison%2F%C3%A4");
        assert_eq!(encode_path("1/abc/artifacts/checkpoints/a b.pt"), "1/abc/artifacts/checkpoints/a%20b.pt");
        let run_dir = Path::new("/w/exp/t/run1");
        assert_eq!(artifact_path(Some(run_dir), &run_dir.join("ckpt/3.pt"), "checkpoint"), "ckpt/3.pt");
        assert_eq!(
            artifact_path(Some(run_dir), Path::new("/w/.expman/snapshots/code-1.tar.gz"), "code-snapshot"),
            "expman/code-1.tar.gz"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
