//! The starter config that `expman init DIR` writes: small, valid, and
//! commented, so that each file teaches its own keys.

/// The files of a new config directory: (file name, contents).
pub fn init_files(experiment_name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("env.yaml", ENV.to_string()),
        ("experiment.yaml", EXPERIMENT.replace("{name}", experiment_name)),
        ("base.yaml", BASE.to_string()),
        ("trials.yaml", TRIALS.to_string()),
        ("train.py", TRAIN.to_string()),
    ]
}

const ENV: &str = r#"# env.yaml: where and how the experiment runs.
# Schema: `expman schema env`.

# Runs, logs, artifacts and the database go here (relative to this directory).
workspace: outputs

# The record: an embedded SQLite file inside the workspace.
database: {type: sqlite, path: expman.db}

# At most this many runs at once. Add `gpus: [0, 1]` to give each run its own GPU.
resources: {max_parallel: 2}

# Live CPU/memory/GPU sampling while runs are active.
hardware: {interval: 2s, gpu: auto}

# Copies of the record for other tools (uncomment what you use):
trackers:
  - type: csv
  # - type: tensorboard
  # - type: mlflow
  #   tracking_uri: http://127.0.0.1:5000
"#;

const EXPERIMENT: &str = r#"# experiment.yaml: what this experiment is.
name: {name}
desc: What this experiment compares, in one sentence.
tags: {owner: me}
"#;

const BASE: &str = r#"# base.yaml: the settings every run gets; trials override parts of it.
# Any keys are yours; expman itself reads `seed` and `pipeline`.

# Repeat k of a trial runs with seed `seed + k` (also `${run.seed}`, `EXPMAN_SEED`).
seed: 0

training:
  epochs: 5
  lr: 0.1

# How a run is launched: any program. It finds its resolved config in
# $EXPMAN_CONFIG and reports metrics with `import expman_client`.
pipeline:
  type: process
  command: [python3, train.py]
  # Relative to this directory; the default is the run's own directory.
  workdir: .
  timeout: 10m
"#;

const TRIALS: &str = r#"# trials.yaml: each trial's `settings` deep-merge over base.yaml.
- name: baseline
  repeat: 2

- name: high_lr
  repeat: 2
  settings:
    training.lr: 0.5

# A sweep runs every combination of the listed values.
- name: lr_sweep
  sweep:
    training.lr: [0.01, 0.05]
"#;

const TRAIN: &str = r#""""A stand-in training script: replace it with yours."""
import json
import os

try:
    import expman_client as em
except ImportError:  # Run outside expman: log to stdout instead.
    em = None

config_path = os.environ.get("EXPMAN_CONFIG")
config = json.load(open(config_path)) if config_path and config_path.endswith(".json") else {}
training = config.get("training", {"epochs": 5, "lr": 0.1})

loss = 1.0
for epoch in range(training["epochs"]):
    loss *= 1.0 - min(training["lr"], 0.9) * 0.5
    if em:
        em.log_metric("loss", loss, step=epoch, epoch=epoch)
    else:
        print(f"epoch {epoch}: loss {loss:.4f}")
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn starter_config_is_valid() {
        let mut loader = crate::MemoryLoader::new();
        for (name, text) in super::init_files("demo") {
            loader = loader.with_file(format!("new/{name}"), text);
        }
        let (analysis, expansion) = crate::check(&loader, std::path::Path::new("new"), &[], Default::default());
        assert!(analysis.diagnostics.is_empty(), "{:?}", analysis.diagnostics);
        assert_eq!(expansion.runs.len(), 6);
    }
}
