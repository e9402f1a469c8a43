//! The rows a planned run becomes in the record: its `runs` row (config
//! masked, params flattened, run directory) and its trial's sweep point;
//! for the plans the scheduler queues and the runs a search claims.

use expman_schema::RunPlan;
use expman_store::NewRun;

use crate::prepare;
use crate::workspace::Workspace;

/// Where a runner records runs: its workspace, experiment and runner row.
#[derive(Clone, Copy)]
pub(crate) struct RunTarget<'w> {
    pub workspace: &'w Workspace,
    pub experiment: &'w str,
    pub experiment_id: i64,
    pub runner_id: i64,
}

impl RunTarget<'_> {
    /// A plan's run row (attempt 1; secrets masked).
    pub fn new_run(&self, plan: &RunPlan, trial_id: i64, uid: &str) -> NewRun {
        let masked = expman_schema::secrets::mask(&plan.config);
        NewRun {
            experiment_id: self.experiment_id,
            trial_id,
            repeat: plan.repeat,
            attempt: 1,
            config_json: masked.to_json().to_string(),
            config_hash: plan.config_hash.clone(),
            seed: plan.seed,
            run_dir: self.workspace.run_dir(self.experiment, &plan.trial, uid).display().to_string(),
            runner_id: self.runner_id,
            params: prepare::flatten_params(&masked),
            tags: plan.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// A plan's sweep point as the trial row keeps it (JSON), if it has one.
pub(crate) fn sweep_json(plan: &RunPlan) -> Option<String> {
    (!plan.sweep.is_empty()).then(|| {
        serde_json::Value::Object(plan.sweep.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()).to_string()
    })
}
