//! The live view of `expman run` on stderr: an overall bar and one line per
//! active run (status, epoch, latest metrics) in a terminal; one line per
//! start and end otherwise (logs, CI).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use expman_os::format::format_number;
use expman_os::time::format_duration;
use expman_runner::{Observer, RunInfo, RunnerEvent};
use expman_store::RunStatus;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Renders runner events for a person.
pub struct ProgressView {
    live: Option<Live>,
    color: bool,
    done: usize,
    total: usize,
    counts: Vec<(RunStatus, usize)>,
    /// Per run: the text of its last progress, and its last CPU % and RSS.
    lines: HashMap<i64, (String, Option<(f32, u64)>)>,
    /// The machine's last figures.
    machine: String,
    /// `verbose: true` in env.yaml: every progress report as a line too.
    verbose: bool,
}

struct Live {
    multi: MultiProgress,
    overall: ProgressBar,
    runs: HashMap<i64, ProgressBar>,
    /// One line per search: how far it is, its best so far.
    searches: HashMap<String, ProgressBar>,
}

fn label(run: &RunInfo) -> String {
    let id = &run.run.uid[..8.min(run.run.uid.len())];
    if run.repeats > 1 {
        format!("{} #{}/{} ({id})", run.trial, run.repeat + 1, run.repeats)
    } else {
        format!("{} ({id})", run.trial)
    }
}

fn metrics_text(latest: &[(String, f64)]) -> String {
    latest.iter().take(6).map(|(k, v)| format!("{k}={}", format_number(*v))).collect::<Vec<_>>().join(" ")
}

impl ProgressView {
    pub fn new(color: bool) -> ProgressView {
        let live = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} runs {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Live { multi, overall, runs: HashMap::new(), searches: HashMap::new() }
        });
        ProgressView {
            live,
            color,
            done: 0,
            total: 0,
            counts: Vec::new(),
            lines: HashMap::new(),
            machine: String::new(),
            verbose: false,
        }
    }

    /// With `verbose`, each run's progress (epoch and latest metrics) is
    /// printed as a line as well, as `verbose: true` in env.yaml asks.
    pub fn verbose(mut self, verbose: bool) -> ProgressView {
        self.verbose = verbose;
        self
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn println(&self, line: String) {
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn counts_text(&self) -> String {
        self.counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
    }

    fn redraw(&self, run_id: i64, state: &str) {
        let Some(bar) = self.live.as_ref().and_then(|l| l.runs.get(&run_id)) else { return };
        let (text, resources) = self.lines.get(&run_id).cloned().unwrap_or_default();
        let usage = resources
            .map(|(cpu, rss)| format!("  [{cpu:.0}% cpu, {}]", expman_os::format::format_bytes(rss)))
            .unwrap_or_default();
        bar.set_message(format!("{state}  {text}{usage}"));
    }

    fn update_overall(&self) {
        if let Some(live) = &self.live {
            let counts = self.counts_text();
            let sep = if counts.is_empty() || self.machine.is_empty() { "" } else { " | " };
            live.overall.set_message(format!("{counts}{sep}{}", self.machine));
        }
    }

    /// Clears the live lines (before the summary is printed).
    pub fn finish(&mut self) {
        if let Some(live) = self.live.take() {
            for bar in live.runs.values().chain(live.searches.values()) {
                bar.finish_and_clear();
            }
            live.overall.finish_and_clear();
            let _ = live.multi.clear();
        }
    }
}

impl Observer for ProgressView {
    fn on_event(&mut self, event: RunnerEvent<'_>) {
        match event {
            RunnerEvent::Plan { to_run, skipped, parallel } => {
                self.total = to_run;
                let skip = if skipped > 0 { format!(" ({skipped} already succeeded, skipped)") } else { String::new() };
                self.println(format!("running {to_run} run(s), {parallel} at a time{skip}"));
                if let Some(live) = &self.live {
                    live.overall.set_length(to_run as u64);
                    live.overall.enable_steady_tick(Duration::from_millis(250));
                }
            }
            RunnerEvent::Skipped { .. } => {}
            RunnerEvent::Started { run } => {
                if let Some(live) = self.live.as_mut() {
                    let bar = live.multi.insert_before(&live.overall, ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {prefix} {msg} [{elapsed}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(label(run));
                    bar.set_message("RUNNING");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    live.runs.insert(run.run.id, bar);
                } else {
                    self.println(format!("started  {}", label(run)));
                }
            }
            RunnerEvent::Progress { run, epoch, latest } => {
                let epoch = epoch.map(|e| format!("epoch {e}  ")).unwrap_or_default();
                let text = format!("{epoch}{}", metrics_text(latest));
                if self.verbose {
                    self.println(format!("  {}  {text}", label(run)));
                }
                self.lines.entry(run.run.id).or_default().0 = text;
                self.redraw(run.run.id, "RUNNING");
            }
            RunnerEvent::Stopping { run, message } => {
                self.println(format!("{} {}: {message}", self.paint("33", "stopping"), label(run)));
                self.redraw(run.run.id, "STOPPING");
            }
            RunnerEvent::Hardware { sample } => {
                let m = &sample.machine;
                let mut text = format!(
                    "cpu {:.0}%  mem {}/{}",
                    m.cpu_percent,
                    expman_os::format::format_bytes(m.mem_used),
                    expman_os::format::format_bytes(m.mem_total)
                );
                for g in &sample.gpus {
                    text.push_str(&format!("  gpu{} {}%", g.index, g.util_percent));
                }
                self.machine = text;
                for r in &sample.runs {
                    self.lines.entry(r.run_id).or_default().1 = Some((r.cpu_percent, r.rss));
                    self.redraw(r.run_id, "RUNNING");
                }
                self.update_overall();
            }
            RunnerEvent::Finished { run, status, duration, error } => {
                self.done += 1;
                match self.counts.iter_mut().find(|(s, _)| *s == status) {
                    Some(slot) => slot.1 += 1,
                    None => self.counts.push((status, 1)),
                }
                self.counts.sort();
                let (mark, code) = if status.is_done() { ("ok", "32") } else { ("!!", "31") };
                let mut line = format!(
                    "{} {} {} in {}",
                    self.paint(code, mark),
                    label(run),
                    self.paint(code, status.as_str()),
                    format_duration(duration)
                );
                if let Some(e) = error {
                    let first = e.lines().next().unwrap_or("");
                    line.push_str(&format!(": {first}"));
                    if status == RunStatus::Failed {
                        line.push_str(&format!(" (logs: {})", run.run_dir.join("stderr.log").display()));
                    }
                }
                if let Some(live) = self.live.as_mut() {
                    if let Some(bar) = live.runs.remove(&run.run.id) {
                        bar.finish_and_clear();
                        live.multi.remove(&bar);
                    }
                    live.overall.inc(1);
                }
                self.lines.remove(&run.run.id);
                self.update_overall();
                self.println(line);
            }
            RunnerEvent::Warning { run, message } => {
                let who = run.map(|r| format!("{}: ", label(r))).unwrap_or_default();
                self.println(format!("{} {who}{message}", self.paint("33", "warning:")));
            }
            RunnerEvent::Search { progress } => {
                let line = progress.describe();
                match self.live.as_mut() {
                    Some(live) => {
                        let bar = live.searches.entry(progress.trial.clone()).or_insert_with(|| {
                            let bar = live.multi.insert(1, ProgressBar::new_spinner());
                            bar.set_style(
                                ProgressStyle::with_template("  {msg}")
                                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                            );
                            bar
                        });
                        bar.set_message(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
            RunnerEvent::Cancelling { active } => {
                self.println(format!(
                    "{} stopping {active} run(s) (SIGTERM, then SIGKILL after the grace period); Ctrl-C again to quit at once",
                    self.paint("33", "cancelled:")
                ));
            }
        }
    }
}
