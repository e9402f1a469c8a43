//! The live table of a `%%expman run` cell: a row per run (trial, repeat,
//! status, epoch, latest metrics, CPU, memory, GPU) and a machine line,
//! shown once and then updated in place (same display id). It is the
//! runner's observer; updates are coalesced (at most one every
//! [`LiveTable::MIN_INTERVAL`], plus every status change) and go out
//! through the cell's queue, so the runner never waits for a front end.

use std::time::{Duration, Instant};

use expman_kernel::view::{TableView, ViewColumn};
use expman_os::hardware::{Sample, format_bytes};
use expman_runner::{Observer, RunnerEvent};

use expman_kernel::render::{escape, table};
use expman_kernel::{Bundle, Cell, DisplayHandle};

/// Metric columns shown at most (the first ones reported).
const MAX_METRICS: usize = 4;

struct Row {
    run_id: i64,
    uid: String,
    trial: String,
    repeat: String,
    status: String,
    epoch: Option<i64>,
    metrics: Vec<(String, f64)>,
    cpu: Option<f32>,
    rss: Option<u64>,
    gpu: Option<f32>,
    started: Option<Instant>,
    took: Option<Duration>,
}

/// A run cell's live table.
pub struct LiveTable {
    cell: Cell,
    handle: DisplayHandle,
    title: String,
    rows: Vec<Row>,
    metric_keys: Vec<String>,
    machine: Option<Sample>,
    planned: usize,
    skipped: usize,
    notes: Vec<String>,
    /// One line per search (best so far; suggestions done, pruned, left).
    searches: Vec<(String, String)>,
    /// Shown under the table once the runs are over (a summary).
    footer: Option<Bundle>,
    last_sent: Instant,
    dirty: bool,
    updates: usize,
}

impl LiveTable {
    /// Most often an update goes out while runs only progress.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

    /// Shows the (empty) table and returns it, ready to observe a runner.
    pub fn show(cell: &Cell, title: &str) -> LiveTable {
        let mut table = LiveTable {
            cell: cell.clone(),
            handle: DisplayHandle { id: String::new() },
            title: title.to_string(),
            rows: Vec::new(),
            metric_keys: Vec::new(),
            machine: None,
            planned: 0,
            skipped: 0,
            notes: Vec::new(),
            searches: Vec::new(),
            footer: None,
            last_sent: Instant::now(),
            dirty: false,
            updates: 0,
        };
        table.handle = cell.display(table.bundle());
        table
    }

    /// Sends the final state.
    pub fn finish(&mut self) {
        self.send();
    }

    /// Sends the final state with `footer` (a summary) under the table.
    pub fn finish_with(&mut self, footer: Option<Bundle>) {
        self.footer = footer;
        self.send();
    }

    fn send(&mut self) {
        self.cell.update(&self.handle, self.bundle());
        self.last_sent = Instant::now();
        self.dirty = false;
        self.updates += 1;
    }

    fn row(&mut self, run_id: i64) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.run_id == run_id)
    }

    fn view(&self) -> TableView {
        let mut columns = vec![
            ViewColumn::text("run"),
            ViewColumn::text("trial"),
            ViewColumn::text("repeat"),
            ViewColumn::text("status"),
            ViewColumn::number("epoch"),
        ];
        columns.extend(self.metric_keys.iter().map(|k| ViewColumn::number(k)));
        // GPU use only where there are GPUs.
        let gpus = self.machine.as_ref().is_some_and(|m| !m.gpus.is_empty());
        columns.extend([ViewColumn::number("cpu %"), ViewColumn::number("rss")]);
        if gpus {
            columns.push(ViewColumn::number("gpu %"));
        }
        columns.push(ViewColumn::number("time"));
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = vec![
                    r.uid.chars().take(8).collect(),
                    r.trial.clone(),
                    r.repeat.clone(),
                    r.status.clone(),
                    r.epoch.map(|e| e.to_string()).unwrap_or_default(),
                ];
                for key in &self.metric_keys {
                    let v = r.metrics.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
                    cells.push(v.map(expman_os::format::format_number).unwrap_or_default());
                }
                let took = r.took.or_else(|| r.started.map(|s| s.elapsed()));
                cells.extend([
                    r.cpu.map(|c| format!("{c:.0}")).unwrap_or_default(),
                    r.rss.map(format_bytes).unwrap_or_default(),
                ]);
                if gpus {
                    cells.push(r.gpu.map(|g| format!("{g:.0}")).unwrap_or_default());
                }
                cells.push(took.map(|d| format!("{:.1}s", d.as_secs_f64())).unwrap_or_default());
                cells
            })
            .collect();
        TableView::from_rows(columns, rows)
    }

    fn progress(&self) -> String {
        let done = self.rows.iter().filter(|r| r.took.is_some()).count();
        let running = self.rows.iter().filter(|r| r.took.is_none()).count();
        let queued = self.planned.saturating_sub(done + running);
        let mut s = format!("{}: {done} of {} done, {running} running, {queued} queued", self.title, self.planned);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped (already succeeded)", self.skipped));
        }
        s
    }

    fn machine_line(&self) -> Option<String> {
        let m = self.machine.as_ref()?;
        let mut parts = vec![
            format!("CPU {:.0}%", m.machine.cpu_percent),
            format!("memory {} / {}", format_bytes(m.machine.mem_used), format_bytes(m.machine.mem_total)),
        ];
        for g in &m.gpus {
            parts.push(format!(
                "GPU{} {}% {} / {}",
                g.index,
                g.util_percent,
                format_bytes(g.mem_used),
                format_bytes(g.mem_total)
            ));
        }
        Some(format!("machine {}: {}", m.host, parts.join(" · ")))
    }

    fn bundle(&self) -> Bundle {
        let view = self.view();
        let mut text = format!("{}\n", self.progress());
        if !self.rows.is_empty() {
            text.push_str(&table::text(&view));
            text.push('\n');
        }
        let mut html = format!("<div><b>{}</b></div>", escape(&self.progress()));
        if !self.rows.is_empty() {
            html.push_str(&table::html(&view));
        }
        for (_, line) in &self.searches {
            text.push_str(line);
            text.push('\n');
            html.push_str(&format!("<div style=\"font-size:12px\">{}</div>", escape(line)));
        }
        if let Some(line) = self.machine_line() {
            text.push_str(&line);
            text.push('\n');
            html.push_str(&format!("<div style=\"font-size:12px\">{}</div>", escape(&line)));
        }
        for note in &self.notes {
            text.push_str(note);
            text.push('\n');
            html.push_str(&format!("<div style=\"font-size:12px;color:#a60\">{}</div>", escape(note)));
        }
        if let Some(footer) = &self.footer {
            let part = |mime: &str| footer.data.get(mime).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            text.push_str(&part("text/plain"));
            html.push_str(&part("text/html"));
        }
        Bundle::text(text.trim_end().to_string()).with_html(html)
    }
}

impl Observer for LiveTable {
    /// Held-back changes go out once [`Self::MIN_INTERVAL`] has passed, and
    /// the running times move on every second, even when no event comes.
    fn tick(&mut self) {
        let since = self.last_sent.elapsed();
        let running = self.rows.iter().any(|r| r.took.is_none());
        if (self.dirty && since >= Self::MIN_INTERVAL) || (running && since >= Duration::from_secs(1)) {
            self.send();
        }
    }

    fn on_event(&mut self, event: RunnerEvent<'_>) {
        let mut urgent = false;
        match event {
            RunnerEvent::Plan { to_run, skipped, .. } => {
                self.planned = to_run;
                self.skipped = skipped;
                urgent = true;
            }
            RunnerEvent::Skipped { .. } => {}
            RunnerEvent::Started { run } => {
                self.rows.push(Row {
                    run_id: run.run.id,
                    uid: run.run.uid.clone(),
                    trial: run.trial.clone(),
                    repeat: format!("{}/{}", run.repeat + 1, run.repeats),
                    status: "RUNNING".into(),
                    epoch: None,
                    metrics: Vec::new(),
                    cpu: None,
                    rss: None,
                    gpu: None,
                    started: Some(Instant::now()),
                    took: None,
                });
                urgent = true;
            }
            RunnerEvent::Progress { run, epoch, latest } => {
                for (k, _) in latest {
                    if self.metric_keys.len() < MAX_METRICS && !self.metric_keys.contains(k) {
                        self.metric_keys.push(k.clone());
                    }
                }
                if let Some(row) = self.row(run.run.id) {
                    row.epoch = epoch.or(row.epoch);
                    for (k, v) in latest {
                        match row.metrics.iter_mut().find(|(key, _)| key == k) {
                            Some(slot) => slot.1 = *v,
                            None => row.metrics.push((k.clone(), *v)),
                        }
                    }
                }
            }
            RunnerEvent::Stopping { run, .. } => {
                if let Some(row) = self.row(run.run.id) {
                    row.status = "STOPPING".into();
                }
                urgent = true;
            }
            RunnerEvent::Finished { run, status, duration, .. } => {
                if self.row(run.run.id).is_none() {
                    self.rows.push(Row {
                        run_id: run.run.id,
                        uid: run.run.uid.clone(),
                        trial: run.trial.clone(),
                        repeat: format!("{}/{}", run.repeat + 1, run.repeats),
                        status: String::new(),
                        epoch: None,
                        metrics: Vec::new(),
                        cpu: None,
                        rss: None,
                        gpu: None,
                        started: None,
                        took: None,
                    });
                }
                if let Some(row) = self.row(run.run.id) {
                    row.status = status.as_str().to_string();
                    row.took = Some(duration);
                }
                urgent = true;
            }
            RunnerEvent::Hardware { sample } => {
                for r in &sample.runs {
                    if let Some(row) = self.row(r.run_id) {
                        row.cpu = Some(r.cpu_percent);
                        row.rss = Some(r.rss);
                        row.gpu = r.gpu_util;
                    }
                }
                self.machine = Some(sample.clone());
            }
            RunnerEvent::Warning { run, message } => {
                if self.notes.len() < 5 {
                    let who = run.map(|r| format!("{} ", r.trial)).unwrap_or_default();
                    self.notes.push(format!("warning: {who}{message}"));
                }
            }
            RunnerEvent::Search { progress } => {
                let line = format!("{}; {} left", progress.describe(), progress.left());
                match self.searches.iter_mut().find(|(t, _)| *t == progress.trial) {
                    Some(slot) => slot.1 = line,
                    None => self.searches.push((progress.trial.clone(), line)),
                }
                // The planned count follows the searches' budgets.
                urgent = true;
            }
            RunnerEvent::Cancelling { active } => {
                self.notes.push(format!("stopping: {active} active run(s) are being stopped"));
                urgent = true;
            }
        }
        self.dirty = true;
        // Status changes go out quickly, progress at most every MIN_INTERVAL;
        // a thousand runs ending at once still make a few updates, not a thousand.
        let since = self.last_sent.elapsed();
        if since >= Self::MIN_INTERVAL || (urgent && since >= Self::MIN_INTERVAL / 5) {
            self.send();
        }
    }
}
