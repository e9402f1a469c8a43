//! `metrics.csv` in the run directory: one row per (step, epoch), a column
//! per metric in the order they first appeared, kept up to date while the
//! run goes (rewritten atomically at most once a second, and at the end).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Action, Callback, CallbackRun, Point};
use expman_store::RunStatus;

#[derive(Default)]
pub struct MetricsCsv {
    columns: Vec<String>,
    rows: BTreeMap<(i64, Option<i64>), Vec<Option<f64>>>,
    dirty: bool,
    last_write: Option<Instant>,
}

impl MetricsCsv {
    fn write(&mut self, run: &CallbackRun, actions: &mut Vec<Action>) {
        let mut text = String::from("step,epoch");
        for c in &self.columns {
            text.push(',');
            text.push_str(&csv_cell(c));
        }
        text.push('\n');
        for ((step, epoch), values) in &self.rows {
            text.push_str(&step.to_string());
            text.push(',');
            if let Some(e) = epoch {
                text.push_str(&e.to_string());
            }
            for i in 0..self.columns.len() {
                text.push(',');
                if let Some(Some(v)) = values.get(i) {
                    text.push_str(&v.to_string());
                }
            }
            text.push('\n');
        }
        let path = run.run_dir.join("metrics.csv");
        let tmp = run.run_dir.join(".metrics.csv.tmp");
        let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            actions.push(Action::Warning(format!("cannot write {}: {e}", path.display())));
        }
        self.dirty = false;
        self.last_write = Some(Instant::now());
    }

    fn maybe_write(&mut self, run: &CallbackRun, actions: &mut Vec<Action>) {
        if self.dirty && self.last_write.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            self.write(run, actions);
        }
    }
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.to_string() }
}

impl Callback for MetricsCsv {
    fn on_metric(&mut self, _run: &CallbackRun, point: Point<'_>, _actions: &mut Vec<Action>) {
        let column = match self.columns.iter().position(|c| c == point.key) {
            Some(i) => i,
            None => {
                self.columns.push(point.key.to_string());
                self.columns.len() - 1
            }
        };
        let row = self.rows.entry((point.step, point.epoch)).or_default();
        if row.len() <= column {
            row.resize(column + 1, None);
        }
        row[column] = Some(point.value);
        self.dirty = true;
    }

    fn on_epoch_end(&mut self, run: &CallbackRun, _epoch: i64, _metrics: &[(String, f64)], actions: &mut Vec<Action>) {
        self.maybe_write(run, actions);
    }

    fn on_batch_end(&mut self, run: &CallbackRun, _epoch: Option<i64>, _batch: i64, actions: &mut Vec<Action>) {
        self.maybe_write(run, actions);
    }

    fn on_end(&mut self, run: &CallbackRun, _status: RunStatus, actions: &mut Vec<Action>) {
        if self.dirty || self.last_write.is_none() {
            self.write(run, actions);
        }
    }
}
