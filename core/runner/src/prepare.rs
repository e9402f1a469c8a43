//! Preparing a run: its directory, the config files it reads, its
//! environment, and what ends up in the record about it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expman_schema::interp::fill_run_id;
use expman_schema::secrets::mask;
use expman_schema::yaml::{flatten, to_yaml};
use expman_schema::{Node, Project, RunPlan, Value};

use crate::error::RunError;
use crate::ingest::EVENTS_FILE;
use crate::pipeline::LaunchSpec;
use crate::workspace::Workspace;
use expman_store::ParamValue;

/// The file whose existence asks a run to stop (`should_stop()`).
pub const STOP_FILE: &str = "STOP";
/// What `expman stop` leaves in a run directory for the runner that watches it.
pub const STOP_REQUEST_FILE: &str = ".expman-stop-request";

/// Creates the run directory, writes `config.yaml` and `config.json`
/// (resolved, `${run.id}` filled in, secrets masked), opens the log files,
/// and assembles the environment.
pub fn launch_spec(
    workspace: &Workspace,
    project: &Project,
    plan: &RunPlan,
    uid: &str,
    run_dir: &Path,
    gpus: &[u32],
    base_env: &[(String, String)],
) -> Result<LaunchSpec, RunError> {
    std::fs::create_dir_all(run_dir).map_err(|e| RunError::io(run_dir, e))?;
    let resolved = fill_run_id(&plan.config, uid);
    let masked = mask(&resolved);
    let yaml_path = run_dir.join("config.yaml");
    let header = format!(
        "# Resolved config of run {uid}: experiment {}, trial {}, repeat {}/{}, seed {}, config {}\n# Secrets are masked.\n",
        project.experiment_name(),
        plan.trial,
        plan.repeat + 1,
        plan.repeats,
        plan.seed,
        plan.config_hash
    );
    std::fs::write(&yaml_path, format!("{header}{}", to_yaml(&masked))).map_err(|e| RunError::io(&yaml_path, e))?;
    let json_path = run_dir.join("config.json");
    let json = serde_json::to_string_pretty(&masked.to_json()).unwrap_or_default();
    std::fs::write(&json_path, json).map_err(|e| RunError::io(&json_path, e))?;
    let open = |name: &str| File::create(run_dir.join(name)).map_err(|e| RunError::io(run_dir.join(name), e));
    let stdout = open("stdout.log")?;
    let stderr = open("stderr.log")?;
    let workdir = match plan.pipeline.workdir.as_deref() {
        Some(w) if Path::new(w).is_absolute() => PathBuf::from(w),
        Some(w) => project.dir.join(w),
        None => run_dir.to_path_buf(),
    };
    if !workdir.is_dir() {
        return Err(RunError::Invalid(format!("`pipeline.workdir` {} is not a directory", workdir.display())));
    }
    let env = run_env(workspace, project, plan, uid, run_dir, &json_path, gpus, base_env, &resolved);
    Ok(LaunchSpec {
        run_uid: uid.to_string(),
        run_dir: run_dir.to_path_buf(),
        workdir,
        config: Arc::new(masked),
        config_path: json_path,
        pipeline: plan.pipeline.clone(),
        env,
        seed: plan.seed,
        stdout,
        stderr,
    })
}

/// The environment of a run: the runner's own, then `EXPMAN_*` (where the
/// run stands), `PYTHONPATH` with the `expman_client` helper first,
/// `CUDA_VISIBLE_DEVICES` when GPUs are assigned, then `pipeline.env`.
#[allow(clippy::too_many_arguments)]
pub fn run_env(
    workspace: &Workspace,
    project: &Project,
    plan: &RunPlan,
    uid: &str,
    run_dir: &Path,
    config_path: &Path,
    gpus: &[u32],
    base_env: &[(String, String)],
    resolved: &Node,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = base_env.iter().cloned().collect();
    let dir = run_dir.display().to_string();
    let set = |env: &mut BTreeMap<String, String>, k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set(&mut env, "EXPMAN_RUN_ID", uid.to_string());
    set(&mut env, "EXPMAN_RUN_DIR", dir.clone());
    set(&mut env, "EXPMAN_CONFIG", config_path.display().to_string());
    set(&mut env, "EXPMAN_SEED", plan.seed.to_string());
    set(&mut env, "EXPMAN_EVENTS", run_dir.join(EVENTS_FILE).display().to_string());
    set(&mut env, "EXPMAN_STOP_FILE", run_dir.join(STOP_FILE).display().to_string());
    set(&mut env, "EXPMAN_EXPERIMENT", project.experiment_name().to_string());
    set(&mut env, "EXPMAN_TRIAL", plan.trial.clone());
    set(&mut env, "EXPMAN_REPEAT", plan.repeat.to_string());
    set(&mut env, "EXPMAN_WORKSPACE", workspace.root.display().to_string());
    let helper = workspace.python_dir().display().to_string();
    let python_path = match env.get("PYTHONPATH").filter(|p| !p.is_empty()) {
        Some(existing) => format!("{helper}:{existing}"),
        None => helper,
    };
    set(&mut env, "PYTHONPATH", python_path);
    if !gpus.is_empty() {
        let list = gpus.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        set(&mut env, "CUDA_VISIBLE_DEVICES", list);
    }
    // pipeline.env from the unmasked config: programs need their secrets.
    if let Some(vars) = resolved.get_path(["pipeline", "env"]).and_then(Node::as_map) {
        for (k, e) in vars.iter() {
            let value = match &e.value.value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => expman_schema::yaml::format_scalar(other),
            };
            set(&mut env, k, value);
        }
    }
    env
}

/// The config's leaves as params (dotted keys), without `pipeline`.
pub fn flatten_params(config: &Node) -> Vec<(String, ParamValue)> {
    flatten(config)
        .into_iter()
        .filter(|(k, _)| k != "pipeline" && !k.starts_with("pipeline."))
        .map(|(k, v)| (k, ParamValue::from_json(&v.to_json())))
        .collect()
}
