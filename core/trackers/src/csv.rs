//! The CSV tracker (`type: csv`, optional `path`): under
//! `<workspace>/<path, default csv>/<experiment>/`, a `runs.csv` (one row
//! per run: id, trial, repeat, status, times, seed, each metric's last
//! value), rewritten as runs start and end, and per run
//! `<trial>/<run id>/metrics.csv`: one row per (step, epoch), a column per
//! metric in the order they first appeared, appended as points arrive.
//!
//! A row is written once its step is over (the next step's first point, or
//! the run's end); a metric that first appears late rewrites the run's file
//! from the record with the new column.

use std::collections::BTreeMap;
use std::path::PathBuf;

use expman_schema::model::TrackerConfig;
use serde_json::{Map, Value, json};

use super::files::{Appender, memo_object, set_memo, write_atomically};
use super::{Memo, TrackedRun, TrackedTrial, Tracker, TrackerContext, TrackerEnv, TrackerError, TrackerResult};
use expman_os::safe_name;
use expman_store::{ArtifactRow, MetricRow};

pub struct CsvTracker {
    root: PathBuf,
}

impl CsvTracker {
    pub fn from_config(config: &TrackerConfig, env: &TrackerEnv) -> CsvTracker {
        CsvTracker { root: env.workspace.join(config.path.as_deref().unwrap_or("csv")) }
    }

    fn experiment_dir(&self, cx: &TrackerContext<'_>) -> PathBuf {
        self.root.join(safe_name(&cx.experiment.name))
    }

    fn metrics_file(&self, cx: &TrackerContext<'_>, run: &TrackedRun) -> PathBuf {
        self.experiment_dir(cx).join(safe_name(&run.trial)).join(safe_name(&run.uid)).join("metrics.csv")
    }

    /// `runs.csv` from the record as it is now.
    fn write_runs(&self, cx: &TrackerContext<'_>) -> TrackerResult<()> {
        let store_error = |e: expman_store::StoreError| TrackerError::retry(e.to_string());
        let runs = cx.store.experiment_runs(cx.experiment.id).map_err(store_error)?;
        let ids: Vec<i64> = runs.iter().map(|(r, _)| r.id).collect();
        let finals = cx.store.final_metrics(&ids).map_err(store_error)?;
        let mut keys: Vec<String> = Vec::new();
        for (r, _) in &runs {
            for (k, _) in finals.get(&r.id).into_iter().flatten() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let mut text = String::from("id,trial,repeat,status,started_at,ended_at,duration_s,seed");
        for k in &keys {
            text.push(',');
            text.push_str(&cell(k));
        }
        text.push('\n');
        for (r, _) in &runs {
            let time = |ms: Option<i64>| ms.map(expman_os::time::format_utc).unwrap_or_default();
            let duration = match (r.started_at, r.ended_at) {
                (Some(a), Some(b)) => format!("{:.3}", (b - a) as f64 / 1000.0),
                _ => String::new(),
            };
            let fields = [
                r.uid.clone(),
                cell(&r.trial),
                (r.repeat + 1).to_string(),
                r.status.as_str().to_string(),
                time(r.started_at),
                time(r.ended_at),
                duration,
                r.seed.map(|s| s.to_string()).unwrap_or_default(),
            ];
            text.push_str(&fields.join(","));
            let values = finals.get(&r.id);
            for k in &keys {
                text.push(',');
                if let Some((_, v)) = values.and_then(|v| v.iter().find(|(key, _)| key == k))
                    && !v.is_nan()
                {
                    text.push_str(&v.to_string());
                }
            }
            text.push('\n');
        }
        write_atomically(&self.experiment_dir(cx).join("runs.csv"), &text)
    }
}

/// The streaming state of a run's metrics.csv, kept in its memo.
struct Table {
    len: u64,
    columns: Vec<String>,
    /// The row of the step still going: (step, epoch, values by column).
    held: Option<(i64, Option<i64>, BTreeMap<String, f64>)>,
}

impl Table {
    fn load(memo: &Memo) -> Table {
        let m = memo_object(memo);
        let columns = m
            .get("columns")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let held = m.get("held").and_then(|h| {
            let step = h.get("step")?.as_i64()?;
            let epoch = h.get("epoch").and_then(Value::as_i64);
            let values = h
                .get("values")?
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
                .collect();
            Some((step, epoch, values))
        });
        Table { len: m.get("len").and_then(Value::as_u64).unwrap_or(0), columns, held }
    }

    fn save(&self, memo: &mut Memo) {
        let mut m = Map::new();
        m.insert("len".into(), self.len.into());
        m.insert("columns".into(), json!(self.columns));
        if let Some((step, epoch, values)) = &self.held {
            let values: Map<String, Value> = values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            m.insert("held".into(), json!({"step": step, "epoch": epoch, "values": values}));
        }
        set_memo(memo, m);
    }

    fn header(&self) -> String {
        let mut line = String::from("step,epoch");
        for c in &self.columns {
            line.push(',');
            line.push_str(&cell(c));
        }
        line.push('\n');
        line
    }

    fn line(&self, step: i64, epoch: Option<i64>, values: &BTreeMap<String, f64>) -> String {
        let mut line = format!("{step},{}", epoch.map(|e| e.to_string()).unwrap_or_default());
        for c in &self.columns {
            line.push(',');
            if let Some(v) = values.get(c).filter(|v| !v.is_nan()) {
                line.push_str(&v.to_string());
            }
        }
        line.push('\n');
        line
    }

    /// Feeds points; the text of the rows they complete. `Err(())` when a
    /// new column appears after rows were written (rewrite instead).
    fn feed(&mut self, points: &[MetricRow], started: bool) -> Result<String, ()> {
        let mut out = String::new();
        for p in points {
            if !self.columns.contains(&p.key) {
                if started {
                    return Err(());
                }
                self.columns.push(p.key.clone());
            }
            match &mut self.held {
                Some((step, epoch, values)) if *step == p.step && *epoch == p.epoch => {
                    values.insert(p.key.clone(), p.value);
                }
                _ => {
                    if let Some((step, epoch, values)) = self.held.take() {
                        out.push_str(&self.line(step, epoch, &values));
                    }
                    self.held = Some((p.step, p.epoch, BTreeMap::from([(p.key.clone(), p.value)])));
                }
            }
        }
        Ok(out)
    }
}

impl Tracker for CsvTracker {
    fn experiment(&mut self, _cx: &TrackerContext<'_>) -> TrackerResult<Option<String>> {
        Ok(None)
    }

    fn run_started(
        &mut self,
        cx: &TrackerContext<'_>,
        _trial: &TrackedTrial,
        _run: &TrackedRun,
        _memo: &mut Memo,
    ) -> TrackerResult<Option<String>> {
        self.write_runs(cx)?;
        Ok(None)
    }

    fn metrics(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        points: &[MetricRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let path = self.metrics_file(cx, run);
        let mut table = Table::load(memo);
        // Columns are fixed once the header is out; a late one rewrites.
        let started = table.len > 0;
        let text = match table.feed(points, started) {
            Ok(text) => text,
            Err(()) => {
                let upto = points.last().map(|p| p.rowid).unwrap_or(0);
                let all = cx.store.metric_rows_of_run(run.id, upto).map_err(|e| TrackerError::retry(e.to_string()))?;
                let mut fresh = Table { len: 0, columns: Vec::new(), held: None };
                let rows = fresh.feed(&all, false).unwrap_or_default();
                let mut out = Appender::open(&path, 0)?;
                out.write(fresh.header().as_bytes())?;
                out.write(rows.as_bytes())?;
                fresh.len = out.finish()?;
                fresh.save(memo);
                return Ok(());
            }
        };
        let mut out = Appender::open(&path, table.len)?;
        if out.is_empty() {
            out.write(table.header().as_bytes())?;
        }
        out.write(text.as_bytes())?;
        table.len = out.finish()?;
        table.save(memo);
        Ok(())
    }

    fn run_ended(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        _artifacts: &[ArtifactRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let mut table = Table::load(memo);
        if let Some((step, epoch, values)) = table.held.take() {
            let line = table.line(step, epoch, &values);
            let mut out = Appender::open(&self.metrics_file(cx, run), table.len)?;
            if out.is_empty() {
                out.write(table.header().as_bytes())?;
            }
            out.write(line.as_bytes())?;
            table.len = out.finish()?;
            table.save(memo);
        }
        self.write_runs(cx)
    }
}

fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rowid: i64, key: &str, step: i64, value: f64) -> MetricRow {
        MetricRow { rowid, run_id: 1, key: key.into(), step, epoch: Some(step), value, timestamp: 0 }
    }

    #[test]
    fn rows_are_written_once_their_step_is_over() {
        let mut t = Table { len: 0, columns: Vec::new(), held: None };
        let text =
            t.feed(&[point(1, "loss", 0, 1.0), point(2, "acc", 0, 0.5), point(3, "loss", 1, 0.8)], false).unwrap();
        assert_eq!(t.header(), "step,epoch,loss,acc\n");
        assert_eq!(text, "0,0,1,0.5\n");
        let mut memo = None;
        t.len = 20;
        t.save(&mut memo);
        let mut back = Table::load(&memo);
        assert_eq!(back.len, 20);
        assert_eq!(back.feed(&[point(4, "acc", 1, 0.6), point(5, "loss", 2, 0.7)], true).unwrap(), "1,1,0.8,0.6\n");
        assert!(back.feed(&[point(6, "new", 2, 1.0)], true).is_err(), "a late column asks for a rewrite");
    }
}
