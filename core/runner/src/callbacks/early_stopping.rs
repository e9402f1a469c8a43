//! Early stopping: when `metric` has not improved (by `min_delta`, or by
//! `min_delta_percent` of the best value) for `patience` epochs, the run is
//! asked to stop and ends EARLY_STOPPED, with the best epoch and value
//! recorded.
//!
//! An epoch counts with the last value of the metric logged in it, taken
//! when the epoch ends (its `epoch_end` event, or the first value of a later
//! epoch): a metric logged per batch does not use up the patience within one
//! epoch. Values logged without an epoch count one by one.

use expman_schema::model::{CallbackConfig, Mode};

use super::{Action, Callback, CallbackConfigError, CallbackRun, Point, improves};
use expman_os::format::format_number;
use expman_store::RunStatus;

pub struct EarlyStopping {
    metric: String,
    max: bool,
    patience: u32,
    min_delta: f64,
    min_delta_percent: f64,
    best: Option<f64>,
    best_epoch: Option<i64>,
    /// The current epoch's latest value, not judged until the epoch ends.
    pending: Option<(i64, f64)>,
    waited: u32,
    fired: bool,
}

impl EarlyStopping {
    pub fn new(metric: &str, max: bool, patience: u32, min_delta: f64) -> EarlyStopping {
        EarlyStopping {
            metric: metric.to_string(),
            max,
            patience,
            min_delta,
            min_delta_percent: 0.0,
            best: None,
            best_epoch: None,
            pending: None,
            waited: 0,
            fired: false,
        }
    }

    pub fn from_config(c: &CallbackConfig) -> Result<EarlyStopping, CallbackConfigError> {
        let metric =
            c.metric.clone().ok_or(CallbackConfigError::Missing { callback: "early stopping", field: "metric" })?;
        let mut es =
            EarlyStopping::new(&metric, c.mode == Some(Mode::Max), c.patience.unwrap_or(5), c.min_delta.unwrap_or(0.0));
        es.min_delta_percent = c.min_delta_percent.unwrap_or(0.0);
        Ok(es)
    }

    /// Judges one evaluation (an epoch's value, or a value without epoch).
    fn evaluate(&mut self, label: i64, value: f64, actions: &mut Vec<Action>) {
        if self.fired {
            return;
        }
        if improves(value, self.best, self.max, self.min_delta, self.min_delta_percent) {
            self.best = Some(value);
            self.best_epoch = Some(label);
            self.waited = 0;
            return;
        }
        self.waited += 1;
        if self.waited < self.patience.max(1) {
            return;
        }
        self.fired = true;
        let best = self.best.map(format_number).unwrap_or_else(|| "none".into());
        let best_epoch = self.best_epoch.map(|e| e.to_string()).unwrap_or_else(|| "none".into());
        let message = format!(
            "stopped early: {} did not improve for {} epoch(s) (best {best} at epoch {best_epoch})",
            self.metric, self.waited
        );
        actions.push(Action::Stop {
            status: RunStatus::EarlyStopped,
            message,
            tags: vec![
                ("early_stopping.metric".into(), self.metric.clone()),
                ("early_stopping.best_value".into(), self.best.map(|b| b.to_string()).unwrap_or_default()),
                ("early_stopping.best_epoch".into(), best_epoch),
                ("early_stopping.stopped_at".into(), label.to_string()),
            ],
        });
    }
}

impl Callback for EarlyStopping {
    fn on_metric(&mut self, _run: &CallbackRun, point: Point<'_>, actions: &mut Vec<Action>) {
        if self.fired || point.key != self.metric {
            return;
        }
        let Some(epoch) = point.epoch else {
            return self.evaluate(point.step, point.value, actions);
        };
        if let Some((pending_epoch, value)) = self.pending
            && pending_epoch != epoch
        {
            // A later epoch began without an `epoch_end` for that one.
            self.pending = None;
            self.evaluate(pending_epoch, value, actions);
        }
        if !self.fired {
            self.pending = Some((epoch, point.value));
        }
    }

    fn on_epoch_end(&mut self, _run: &CallbackRun, epoch: i64, _metrics: &[(String, f64)], actions: &mut Vec<Action>) {
        if let Some((pending_epoch, value)) = self.pending
            && pending_epoch <= epoch
        {
            self.pending = None;
            self.evaluate(pending_epoch, value, actions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> CallbackRun {
        CallbackRun {
            run_id: 1,
            uid: "u".into(),
            trial: "t".into(),
            repeat: 0,
            run_dir: std::env::temp_dir(),
            env: Default::default(),
            replaying: false,
        }
    }

    /// One value per epoch, each epoch ended.
    fn feed(es: &mut EarlyStopping, values: &[f64]) -> Vec<Action> {
        let mut actions = Vec::new();
        for (i, v) in values.iter().enumerate() {
            es.on_metric(
                &run(),
                Point { key: "val_loss", step: i as i64, epoch: Some(i as i64), value: *v },
                &mut actions,
            );
            es.on_epoch_end(&run(), i as i64, &[], &mut actions);
        }
        actions
    }

    #[test]
    fn patience_counts_epochs_not_values_logged_per_batch() {
        let mut es = EarlyStopping::new("val_loss", false, 2, 0.0);
        let mut actions = Vec::new();
        let mut step = 0;
        // Epoch 0 improves; within epochs 1 and 2 the metric is logged 10
        // times per epoch, worse each time, but only each epoch's last value counts.
        for (epoch, last) in [(0, 1.0), (1, 0.9), (2, 0.8)] {
            for k in 0..10 {
                let value = if k == 9 { last } else { 5.0 + k as f64 };
                es.on_metric(&run(), Point { key: "val_loss", step, epoch: Some(epoch), value }, &mut actions);
                step += 1;
            }
            es.on_epoch_end(&run(), epoch, &[], &mut actions);
        }
        assert!(actions.is_empty(), "every epoch improved: {actions:?}");
        // Without epoch_end events, a later epoch's first value ends the previous one.
        for epoch in 3..5 {
            es.on_metric(&run(), Point { key: "val_loss", step, epoch: Some(epoch), value: 2.0 }, &mut actions);
            step += 1;
        }
        assert!(actions.is_empty(), "epoch 3 judged (1 without improvement), epoch 4 still open");
        es.on_epoch_end(&run(), 4, &[], &mut actions);
        assert_eq!(actions.len(), 1, "epochs 3 and 4 did not improve: patience 2 is used up");
    }

    #[test]
    fn fires_after_patience_without_improvement() {
        let mut es = EarlyStopping::new("val_loss", false, 3, 0.01);
        let actions = feed(&mut es, &[1.0, 0.8, 0.7, 0.695, 0.70, 0.71, 0.5]);
        assert_eq!(actions.len(), 1, "fires once, and only after 3 non-improving values");
        let Action::Stop { status, message, tags } = &actions[0] else { panic!() };
        assert_eq!(*status, RunStatus::EarlyStopped);
        assert!(message.contains("best 0.7 at epoch 2"), "{message}");
        assert!(tags.contains(&("early_stopping.best_epoch".into(), "2".into())));
        assert!(tags.contains(&("early_stopping.stopped_at".into(), "5".into())));
    }

    #[test]
    fn max_mode_and_other_metrics_ignored() {
        let mut es = EarlyStopping::new("val_loss", true, 2, 0.0);
        let mut actions = Vec::new();
        es.on_metric(&run(), Point { key: "loss", step: 0, epoch: None, value: 1.0 }, &mut actions);
        assert!(actions.is_empty());
        let actions = feed(&mut es, &[0.1, 0.2, 0.3, 0.3, 0.29]);
        assert_eq!(actions.len(), 1);
    }
}
