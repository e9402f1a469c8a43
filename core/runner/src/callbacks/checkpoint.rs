//! The checkpoint policy: a run reports the checkpoint files it writes
//! (`log_checkpoint(path, epoch)`); expman records them as artifacts (size,
//! SHA-256) and deletes the ones the policy does not keep:
//!
//! - `keep_last: K` keeps the K most recent;
//! - `keep_best: K` also keeps the K with the best `metric` (by `mode`) at
//!   their epoch;
//! - neither: every checkpoint is kept.
//!
//! `every: N` says how often a checkpoint is due (the helper's
//! `checkpoint_due(epoch)`); it does not delete anything. Only files inside
//! the run directory are ever deleted; a checkpoint elsewhere is recorded
//! and left alone (with a warning).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use expman_schema::model::{CallbackConfig, Mode};

use super::{Action, Callback, CallbackRun, Point};
use expman_store::RunStatus;

struct Checkpoint {
    path: String,
    epoch: Option<i64>,
    order: usize,
    deleted: bool,
}

pub struct CheckpointPolicy {
    keep_last: Option<u32>,
    keep_best: Option<u32>,
    metric: Option<String>,
    max: bool,
    checkpoints: Vec<Checkpoint>,
    /// The metric's value per epoch (last one logged in the epoch).
    metric_at: HashMap<i64, f64>,
    warned_outside: bool,
}

impl CheckpointPolicy {
    pub fn new(keep_last: Option<u32>, keep_best: Option<u32>, metric: Option<&str>, max: bool) -> CheckpointPolicy {
        CheckpointPolicy {
            keep_last,
            keep_best,
            metric: metric.map(str::to_string),
            max,
            checkpoints: Vec::new(),
            metric_at: HashMap::new(),
            warned_outside: false,
        }
    }

    pub fn from_config(c: &CallbackConfig) -> CheckpointPolicy {
        CheckpointPolicy::new(c.keep_last, c.keep_best, c.metric.as_deref(), c.mode == Some(Mode::Max))
    }

    /// Which live checkpoints the policy keeps now; `None` entries are
    /// undecided (best-ranked by a metric not known yet).
    fn apply(&mut self, run: &CallbackRun, final_pass: bool, actions: &mut Vec<Action>) {
        if self.keep_last.is_none() && self.keep_best.is_none() {
            return;
        }
        let live: Vec<usize> = (0..self.checkpoints.len()).filter(|&i| !self.checkpoints[i].deleted).collect();
        let mut keep: Vec<usize> = Vec::new();
        if let Some(k) = self.keep_last {
            let mut by_order = live.clone();
            by_order.sort_by_key(|&i| std::cmp::Reverse(self.checkpoints[i].order));
            keep.extend(by_order.into_iter().take(k as usize));
        }
        let mut undecided: Vec<usize> = Vec::new();
        if let Some(k) = self.keep_best {
            let mut ranked: Vec<(usize, f64)> = Vec::new();
            for &i in &live {
                match self.checkpoints[i].epoch.and_then(|e| self.metric_at.get(&e)) {
                    Some(v) if !v.is_nan() => ranked.push((i, *v)),
                    _ => undecided.push(i),
                }
            }
            ranked.sort_by(|a, b| {
                let ord = a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal);
                if self.max { ord.reverse() } else { ord }
            });
            keep.extend(ranked.into_iter().take(k as usize).map(|(i, _)| i));
        }
        let mut deleted = Vec::new();
        for i in live {
            if keep.contains(&i) || (!final_pass && undecided.contains(&i)) {
                continue;
            }
            let cp = &mut self.checkpoints[i];
            let full = resolve(&run.run_dir, &cp.path);
            if !full.starts_with(&run.run_dir) {
                if !self.warned_outside {
                    self.warned_outside = true;
                    actions.push(Action::Warning(format!(
                        "checkpoint {} is outside the run directory; the checkpoint policy keeps it",
                        cp.path
                    )));
                }
                cp.deleted = true; // Not deleted on disk, but no longer managed.
                continue;
            }
            match std::fs::remove_file(&full) {
                Ok(()) => {
                    cp.deleted = true;
                    deleted.push(cp.path.clone());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    cp.deleted = true;
                    deleted.push(cp.path.clone());
                }
                Err(e) => actions.push(Action::Warning(format!("cannot delete checkpoint {}: {e}", cp.path))),
            }
        }
        if !deleted.is_empty() {
            actions.push(Action::ArtifactsDeleted(deleted));
        }
    }
}

fn resolve(run_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    let joined = if p.is_absolute() { p.to_path_buf() } else { run_dir.join(p) };
    expman_schema::loader::normalize(&joined)
}

impl Callback for CheckpointPolicy {
    fn on_metric(&mut self, _run: &CallbackRun, point: Point<'_>, _actions: &mut Vec<Action>) {
        if self.metric.as_deref() == Some(point.key) {
            let epoch = point.epoch.unwrap_or(point.step);
            self.metric_at.insert(epoch, point.value);
        }
    }

    fn on_checkpoint(&mut self, run: &CallbackRun, path: &str, epoch: Option<i64>, actions: &mut Vec<Action>) {
        let order = self.checkpoints.len();
        self.checkpoints.push(Checkpoint { path: path.to_string(), epoch, order, deleted: false });
        self.apply(run, false, actions);
    }

    fn on_epoch_end(&mut self, run: &CallbackRun, _epoch: i64, _metrics: &[(String, f64)], actions: &mut Vec<Action>) {
        self.apply(run, false, actions);
    }

    fn on_end(&mut self, run: &CallbackRun, _status: RunStatus, actions: &mut Vec<Action>) {
        self.apply(run, true, actions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_and_the_best() {
        let dir = std::env::temp_dir().join(format!("expman-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = CallbackRun {
            run_id: 1,
            uid: "u".into(),
            trial: "t".into(),
            repeat: 0,
            run_dir: dir.clone(),
            env: Default::default(),
            replaying: false,
        };
        let mut policy = CheckpointPolicy::new(Some(2), Some(1), Some("val_loss"), false);
        let losses = [0.9, 0.3, 0.5, 0.6, 0.7];
        let mut actions = Vec::new();
        for (epoch, loss) in losses.iter().enumerate() {
            let name = format!("ckpt-{epoch}.pt");
            std::fs::write(dir.join(&name), b"w").unwrap();
            policy.on_metric(
                &run,
                Point { key: "val_loss", step: epoch as i64, epoch: Some(epoch as i64), value: *loss },
                &mut actions,
            );
            policy.on_checkpoint(&run, &name, Some(epoch as i64), &mut actions);
        }
        policy.on_end(&run, RunStatus::Success, &mut actions);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["ckpt-1.pt", "ckpt-3.pt", "ckpt-4.pt"], "best (epoch 1) and the last two");
        let deleted: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::ArtifactsDeleted(p) => Some(p.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(deleted, ["ckpt-0.pt", "ckpt-2.pt"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
