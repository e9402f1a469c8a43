//! The log tracker (`type: log`, experiment_manager's `LogTracker`): a
//! readable line per event in each run's `expman.log`, in the run
//! directory: its start, params, every metric point, its hardware samples,
//! the artifacts it kept and its end. (`verbose: true` in env.yaml shows
//! the runs' progress line by line on the console as well.)

use std::path::PathBuf;

use super::files::{Appender, memo_object, set_memo};
use super::{Memo, TrackedRun, TrackedTrial, Tracker, TrackerContext, TrackerResult, param_text};
use expman_os::format::format_number;
use expman_os::time::format_utc;
use expman_store::{ArtifactRow, HardwareRow, MetricRow, ParamValue};

pub struct LogTracker;

impl LogTracker {
    fn append(&self, run: &TrackedRun, memo: &mut Memo, lines: &[String]) -> TrackerResult<()> {
        let Some(dir) = &run.run_dir else { return Ok(()) };
        let path: PathBuf = dir.join("expman.log");
        let mut m = memo_object(memo);
        let mut out = Appender::open(&path, m.get("len").and_then(|l| l.as_u64()).unwrap_or(0))?;
        for line in lines {
            out.write(line.as_bytes())?;
            out.write(b"\n")?;
        }
        m.insert("len".into(), out.finish()?.into());
        set_memo(memo, m);
        Ok(())
    }
}

impl Tracker for LogTracker {
    fn experiment(&mut self, _cx: &TrackerContext<'_>) -> TrackerResult<Option<String>> {
        Ok(None)
    }

    fn run_started(
        &mut self,
        cx: &TrackerContext<'_>,
        _trial: &TrackedTrial,
        run: &TrackedRun,
        memo: &mut Memo,
    ) -> TrackerResult<Option<String>> {
        let at = format_utc(run.started_at.unwrap_or(run.created_at));
        let seed = run.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
        let line = format!(
            "{at} start run {} of experiment `{}`: {}{seed}, config {}",
            run.uid,
            cx.experiment.name,
            run.label(),
            &run.config_hash[..run.config_hash.len().min(12)]
        );
        self.append(run, memo, &[line])?;
        Ok(None)
    }

    fn params_and_tags(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        params: &[(String, ParamValue)],
        tags: &[(String, String)],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let at = format_utc(run.started_at.unwrap_or(run.created_at));
        let mut lines: Vec<String> =
            params.iter().map(|(k, v)| format!("{at} param {k} = {}", param_text(v))).collect();
        lines.extend(tags.iter().map(|(k, v)| format!("{at} tag {k} = {v}")));
        self.append(run, memo, &lines)
    }

    fn metrics(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        points: &[MetricRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let lines: Vec<String> = points
            .iter()
            .map(|p| {
                let epoch = p.epoch.map(|e| format!(" epoch {e}")).unwrap_or_default();
                format!(
                    "{} metric {} = {} (step {}{epoch})",
                    format_utc(p.timestamp),
                    p.key,
                    format_number(p.value),
                    p.step
                )
            })
            .collect();
        self.append(run, memo, &lines)
    }

    fn hardware(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        samples: &[HardwareRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let lines: Vec<String> = samples
            .iter()
            .map(|s| {
                let mut parts = Vec::new();
                if let Some(c) = s.cpu_percent {
                    parts.push(format!("cpu {c:.0}%"));
                }
                if let Some(r) = s.rss {
                    parts.push(format!("rss {}", expman_os::format::format_bytes(r.max(0) as u64)));
                }
                if let Some(g) = s.gpu_percent {
                    parts.push(format!("gpu {g:.0}%"));
                }
                format!("{} hardware {}", format_utc(s.timestamp), parts.join(", "))
            })
            .collect();
        self.append(run, memo, &lines)
    }

    fn run_ended(
        &mut self,
        _cx: &TrackerContext<'_>,
        run: &TrackedRun,
        artifacts: &[ArtifactRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let at = format_utc(run.ended_at.unwrap_or(run.created_at));
        let mut lines: Vec<String> = artifacts
            .iter()
            .filter(|a| !a.deleted)
            .map(|a| {
                format!(
                    "{at} artifact {} ({}{})",
                    a.path,
                    a.kind,
                    a.size.map(|s| format!(", {s} bytes")).unwrap_or_default()
                )
            })
            .collect();
        let why = run.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        lines.push(format!("{at} end {} {}{why}", run.uid, run.status.as_str()));
        self.append(run, memo, &lines)
    }
}
