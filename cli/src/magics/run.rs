//! `%%expman run`: the cell's YAML (over `--dir`'s files) checked, expanded
//! and launched with a live table; then a per-trial summary. By default the
//! cell waits for its runs and the stop button stops them (KILLED, as
//! Ctrl-C in the CLI); with `--background` it returns at once, the table
//! keeps updating, and `%expman status` / `%expman stop` act on the runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::live::LiveTable;
use expman_kernel::render::table;
use expman_kernel::view::{TableView, ViewColumn};
use expman_kernel::{Bundle, Cell, CellError};
use expman_os::format::format_number;
use expman_runner::callbacks::CallbackRegistry;
use expman_runner::pipeline::PipelineRegistry;
use expman_runner::workspace::Workspace;
use expman_runner::{Observer, RunReport, RunnerEvent, RunnerOptions, StopRequests, StopTarget};
use expman_schema::{ExpandOptions, FsLoader, Project, RunPlan};
use expman_store::Store;
use expman_store::summary::summarize;

use super::parse::{RunCellArgs, StopArgs};
use super::present::error;
use crate::searches::Searches;

/// A run as `%expman status` lists it.
#[derive(Clone, Debug)]
struct RunLine {
    uid: String,
    trial: String,
    repeat: String,
    status: String,
}

/// Runs launched with `--background`, and those of a cell still running.
#[derive(Default)]
pub struct Background {
    jobs: Mutex<Vec<Job>>,
    next: AtomicUsize,
}

struct Job {
    id: usize,
    title: String,
    stop: StopRequests,
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    runs: Arc<Mutex<Vec<RunLine>>>,
    started: Instant,
    thread: Option<JoinHandle<()>>,
}

/// What the cell needs once it has been checked.
struct Launch {
    title: String,
    workspace: Workspace,
    experiment: String,
}

/// Checks the cell's config and launches it; `remember` learns the
/// workspace and experiment (later magics default to them).
pub fn run_cell(
    background: &Background,
    args: RunCellArgs,
    body: Option<&str>,
    cell: &Cell,
    remember: &dyn Fn(&Path, &str),
) -> Result<(), CellError> {
    let (project, plans, searches) = load_cell(&args, body, cell)?;
    let workspace = Workspace::for_project(&project).map_err(|e| error(e.into()))?;
    let registry = PipelineRegistry::with_builtins();
    expman_runner::check_plans(&plans, &registry, &CallbackRegistry::with_builtins()).map_err(|e| error(e.into()))?;
    remember(&workspace.root, project.experiment_name());

    let launch = Launch {
        title: format!("experiment `{}`", project.experiment_name()),
        workspace,
        experiment: project.experiment_name().to_string(),
    };
    let cancel = if args.background { Arc::new(AtomicBool::new(false)) } else { cell.interrupt_flag() };
    let stop = StopRequests::default();
    let options = RunnerOptions {
        max_parallel: args.options.parallel,
        resume: args.options.resume,
        cancel: cancel.clone(),
        stop: stop.clone(),
        ..RunnerOptions::default()
    };
    let runs = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let mut observer = JobObserver {
        live: LiveTable::show(cell, &launch.title),
        runs: runs.clone(),
        tail: args.show_output.then(|| Tail::start(cell.clone())),
    };
    let thread_done = done.clone();
    let is_background = args.background;
    let thread_cell = cell.clone();
    let thread = std::thread::Builder::new()
        .name("expman-run".into())
        .spawn(move || {
            let jobs = searches.jobs();
            let result = expman_runner::run_with_searches(
                &launch.workspace,
                &project,
                &plans,
                &jobs,
                &registry,
                &options,
                &mut observer,
            );
            drop(jobs);
            if let Some(tail) = observer.tail.take() {
                tail.stop();
            }
            let summary = match &result {
                Ok(report) => Some(summary(&launch.workspace, report)),
                Err(_) => None,
            };
            match (&summary, is_background) {
                // A finished background cell can only change its displays:
                // the summary joins the live table.
                (Some(Ok((view, best))), true) => {
                    let mut extra = table::bundle(view);
                    if let Some(best) = best {
                        extra = Bundle::text(format!("{}\n{best}", text_of(&extra))).with_html(format!(
                            "{}<div>{}</div>",
                            html_of(&extra),
                            expman_kernel::render::escape(best)
                        ));
                    }
                    observer.live.finish_with(Some(extra));
                }
                _ => observer.live.finish(),
            }
            thread_done.store(true, Ordering::SeqCst);
            (result, summary, launch, thread_cell)
        })
        .map_err(|e| CellError::new("ExpmanError", format!("cannot start the runner thread: {e}")))?;

    let id = background.next.fetch_add(1, Ordering::SeqCst) + 1;
    if is_background {
        let job = Job {
            id,
            title: format!("cell [{}]", cell.execution_count()),
            stop,
            cancel,
            done,
            runs,
            started: Instant::now(),
            thread: None,
        };
        // The thread's result is seen through the live table and the record.
        let watcher = std::thread::spawn(move || {
            let _ = thread.join();
        });
        let mut job = job;
        job.thread = Some(watcher);
        background.jobs.lock().unwrap_or_else(|e| e.into_inner()).push(job);
        cell.stdout(&format!(
            "running in the background as job {id}: `%expman status` shows it, `%expman stop --all` stops it\n"
        ));
        return Ok(());
    }

    // Waiting here keeps the cell busy (and the shell channel: requests
    // from other cells wait, as with any kernel); the stop button stops
    // these runs. The job is listed so that `%expman status` after an
    // interrupt, or `shutdown`, sees it.
    background.jobs.lock().unwrap_or_else(|e| e.into_inner()).push(Job {
        id,
        title: format!("cell [{}]", cell.execution_count()),
        stop,
        cancel,
        done: done.clone(),
        runs,
        started: Instant::now(),
        thread: None,
    });
    let joined = thread.join();
    background.jobs.lock().unwrap_or_else(|e| e.into_inner()).retain(|j| j.id != id);
    let (result, summary, launch, _) = joined
        .map_err(|_| CellError::new("InternalError", "the runner thread failed; the record keeps what was reported"))?;
    let report = result.map_err(|e| error(e.into()))?;
    if let Some(Ok((view, best))) = summary {
        cell.display(table::bundle(&view));
        if let Some(best) = best {
            cell.stdout(&format!("{best}\n"));
        }
    }
    finished(cell, &report, &launch)
}

/// The last line of a cell that waited for its runs, and an error when
/// they were stopped.
fn finished(cell: &Cell, report: &RunReport, launch: &Launch) -> Result<(), CellError> {
    for search in &report.searches {
        cell.stdout(&format!("{}\n", search.describe()));
    }
    let counts =
        if report.runs.is_empty() { "nothing to run".to_string() } else { expman_runner::status_counts(report) };
    let skipped =
        if report.skipped > 0 { format!(", {} skipped (already succeeded)", report.skipped) } else { String::new() };
    let database = &launch.workspace.database;
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| database.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| database.clone());
    cell.stdout(&format!("experiment `{}`: {counts}{skipped}; record: {}\n", launch.experiment, shown.display()));
    if report.cancelled {
        return Err(CellError::new(
            "Interrupted",
            "the runs were stopped (KILLED); the record keeps everything they reported",
        ));
    }
    Ok(())
}

/// The cell's config: `--dir`, the YAML body, or both (the body over the
/// directory's files), checked; diagnostics shown, errors refused.
fn load_cell(
    args: &RunCellArgs,
    body: Option<&str>,
    cell: &Cell,
) -> Result<(Project, Vec<RunPlan>, Searches), CellError> {
    let cwd =
        std::env::current_dir().map_err(|e| CellError::new("ExpmanError", format!("no working directory: {e}")))?;
    let dir = args.dir.as_ref().map(|d| if d.is_absolute() { d.clone() } else { cwd.join(d) });
    if let Some(d) = &dir
        && !d.is_dir()
    {
        return Err(CellError::new("ExpmanError", format!("--dir {}: no such directory", d.display())));
    }
    let body = body.filter(|b| !b.trim().is_empty());
    let name = format!("cell-{}.yaml", cell.execution_count());
    let analysis = match (&dir, body) {
        (Some(d), Some(b)) => expman_schema::load_with_overlay(&FsLoader, d, &d.join(&name), b),
        (Some(d), None) => expman_schema::load(&FsLoader, d),
        (None, Some(b)) => expman_schema::load_text(&FsLoader, &cwd.join(&name), b),
        (None, None) => {
            return Err(CellError::new("UsageError", "nothing to run").with_traceback([
                "give `--dir CONFIG_DIR`, or a YAML body under `%%expman run` (a trials list, or env/experiment/base/trials sections)".into(),
            ]));
        }
    };
    let options = ExpandOptions { trials: args.options.trials.clone(), ..ExpandOptions::default() };
    let (analysis, expansion) = expman_schema::check_loaded(&FsLoader, analysis, &args.overrides, options);
    if !analysis.diagnostics.is_empty() {
        let mut shown = analysis.clone();
        crate::commands::config::display_relative(&mut shown);
        let text = crate::output::diagnostics_text(&shown.diagnostics, &shown.sources, false);
        if analysis.has_errors() {
            let errors = analysis.diagnostics.iter().filter(|d| d.is_error()).count();
            return Err(CellError::new("ConfigError", format!("not running: the config has {errors} error(s)"))
                .with_traceback(text.lines().map(str::to_string)));
        }
        cell.stderr(&format!("{text}\n"));
    }
    if !expansion.unknown_trials.is_empty() {
        let known: Vec<&str> = analysis.project.trials.iter().map(|t| t.name.as_str()).collect();
        return Err(CellError::new("UsageError", format!("no trial named {}", expansion.unknown_trials.join(", ")))
            .with_traceback([format!("trials: {}", known.join(", "))]));
    }
    let searches = Searches::new(&analysis, &expansion);
    Ok((analysis.project, expansion.runs, searches))
}

fn text_of(b: &Bundle) -> String {
    b.data.get("text/plain").and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

fn html_of(b: &Bundle) -> String {
    b.data.get("text/html").and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

/// Per-trial mean ± std of each metric's final value, and the best run
/// by the first validation metric (else the first metric).
fn summary(workspace: &Workspace, report: &RunReport) -> Result<(TableView, Option<String>), CellError> {
    let store = Store::open(&workspace.database).map_err(|e| error(e.into()))?;
    let ids = report.run_ids();
    let summaries = summarize(&store.trial_summaries(&ids).map_err(|e| error(e.into()))?);
    let mut keys: Vec<String> = Vec::new();
    for s in &summaries {
        for (k, _) in &s.metrics {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut columns = vec![ViewColumn::text("trial"), ViewColumn::number("runs"), ViewColumn::text("status")];
    columns.extend(keys.iter().map(|k| ViewColumn::number(k)));
    let rows = summaries
        .iter()
        .map(|s| {
            let mut row = vec![
                s.trial.clone(),
                s.runs.to_string(),
                s.statuses.iter().map(|(st, n)| format!("{n} {st}")).collect::<Vec<_>>().join(", "),
            ];
            for k in &keys {
                row.push(s.metrics.iter().find(|(key, _)| key == k).map(|(_, m)| m.display()).unwrap_or_default());
            }
            row
        })
        .collect();
    let view = TableView::from_rows(columns, rows);
    // The validation loss if there is one, else a validation metric, else the first.
    let key = keys
        .iter()
        .find(|k| k.starts_with("val") && k.contains("loss"))
        .or_else(|| keys.iter().find(|k| k.starts_with("val")))
        .or(keys.first())
        .cloned();
    let best = key.and_then(|key| {
        let lower = crate::commands::query::lower_is_better(&key);
        let finals = store.final_metrics(&ids).ok()?;
        let (id, value) = finals
            .iter()
            .filter_map(|(id, values)| values.iter().find(|(k, _)| *k == key).map(|(_, v)| (*id, *v)))
            .filter(|(_, v)| v.is_finite())
            .reduce(|a, b| if (b.1 < a.1) == lower { b } else { a })?;
        let (info, _) = report.runs.iter().find(|(r, _)| r.run.id == id)?;
        Some(format!(
            "best run: {} ({}, repeat {}) with {key} = {} ({} is better)",
            info.run.uid,
            info.trial,
            info.repeat + 1,
            format_number(value),
            if lower { "lower" } else { "higher" }
        ))
    });
    Ok((view, best))
}

/// The live table, the status list, and the output tail, fed by the runner.
struct JobObserver {
    live: LiveTable,
    runs: Arc<Mutex<Vec<RunLine>>>,
    tail: Option<Tail>,
}

impl Observer for JobObserver {
    fn tick(&mut self) {
        self.live.tick();
    }

    fn on_event(&mut self, event: RunnerEvent<'_>) {
        match &event {
            RunnerEvent::Started { run } => {
                self.runs.lock().unwrap_or_else(|e| e.into_inner()).push(RunLine {
                    uid: run.run.uid.clone(),
                    trial: run.trial.clone(),
                    repeat: format!("{}/{}", run.repeat + 1, run.repeats),
                    status: "RUNNING".into(),
                });
                if let Some(tail) = &self.tail {
                    let label = format!("[{} {}/{}]", run.trial, run.repeat + 1, run.repeats);
                    tail.follow(&label, &run.run_dir);
                }
            }
            RunnerEvent::Finished { run, status, .. } => {
                let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
                match runs.iter_mut().find(|r| r.uid == run.run.uid) {
                    Some(r) => r.status = status.as_str().to_string(),
                    None => runs.push(RunLine {
                        uid: run.run.uid.clone(),
                        trial: run.trial.clone(),
                        repeat: format!("{}/{}", run.repeat + 1, run.repeats),
                        status: status.as_str().to_string(),
                    }),
                }
            }
            _ => {}
        }
        self.live.on_event(event);
    }
}

/// Follows runs' stdout.log and stderr.log into the cell (`--show-output`).
struct Tail {
    files: Arc<Mutex<Vec<Followed>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// One log file being followed: what was read of it, and a line not yet
/// finished (shown once its newline comes, or at the end).
struct Followed {
    label: String,
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    stdout: bool,
}

impl Followed {
    /// The complete new lines (all of them when `last`), each prefixed
    /// with the run's label.
    fn read_new(&mut self, last: bool) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let mut new = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&self.path)
            && file.seek(SeekFrom::Start(self.offset)).is_ok()
            && let Ok(n) = file.read_to_end(&mut new)
        {
            self.offset += n as u64;
        }
        // Bytes until a newline, so that a character split between two
        // reads is decoded whole.
        self.partial.extend_from_slice(&new);
        let complete =
            if last { self.partial.len() } else { self.partial.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        let text = String::from_utf8_lossy(&self.partial[..complete]).into_owned();
        self.partial.drain(..complete);
        text.lines().map(|l| format!("{} {l}\n", self.label)).collect()
    }
}

impl Tail {
    fn start(cell: Cell) -> Tail {
        let files: Arc<Mutex<Vec<Followed>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (files.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            loop {
                let last = s.load(Ordering::SeqCst);
                for followed in f.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
                    let shown = followed.read_new(last);
                    if shown.is_empty() {
                        continue;
                    }
                    if followed.stdout { cell.stdout(&shown) } else { cell.stderr(&shown) }
                }
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Tail { files, stop, thread }
    }

    fn follow(&self, label: &str, run_dir: &Path) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        for (name, stdout) in [("stdout.log", true), ("stderr.log", false)] {
            files.push(Followed {
                label: label.to_string(),
                path: run_dir.join(name),
                offset: 0,
                partial: Vec::new(),
                stdout,
            });
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

impl Background {
    /// `%expman status`: each job and its runs.
    pub fn status(&self) -> Vec<TableView> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .map(|job| {
                let runs = job.runs.lock().unwrap_or_else(|e| e.into_inner());
                let state = if job.done.load(Ordering::SeqCst) { "finished" } else { "running" };
                let rows = runs
                    .iter()
                    .map(|r| {
                        vec![
                            format!("{} ({})", job.id, job.title),
                            state.to_string(),
                            r.uid.clone(),
                            r.trial.clone(),
                            r.repeat.clone(),
                            r.status.clone(),
                            format!("{:.0}s", job.started.elapsed().as_secs_f64()),
                        ]
                    })
                    .collect();
                TableView::from_rows(
                    ["job", "state", "run", "trial", "repeat", "status", "age"].map(ViewColumn::text).to_vec(),
                    rows,
                )
            })
            .collect()
    }

    /// `%expman stop`: what was asked of which job.
    pub fn stop(&self, args: &StopArgs) -> Result<Vec<String>, CellError> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let active: Vec<&Job> = jobs.iter().filter(|j| !j.done.load(Ordering::SeqCst)).collect();
        if active.is_empty() {
            return Err(CellError::new("ExpmanError", "no runs are running in this kernel"));
        }
        if args.all {
            for job in &active {
                job.cancel.store(true, Ordering::SeqCst);
            }
            return Ok(active.iter().map(|j| format!("stopping every run of job {} ({})", j.id, j.title)).collect());
        }
        if args.targets.is_empty() {
            return Err(CellError::new("UsageError", "stop what? give run ids, trial names, or --all"));
        }
        let mut said = Vec::new();
        for target in &args.targets {
            let mut hit = false;
            for job in &active {
                let runs = job.runs.lock().unwrap_or_else(|e| e.into_inner());
                let by_trial = StopTarget::Trial(target.clone());
                let by_run = StopTarget::Run(target.clone());
                if runs.iter().any(|r| by_trial.matches(&r.uid, &r.trial)) {
                    job.stop.push(by_trial);
                    said.push(format!("stopping trial `{target}` in job {}", job.id));
                    hit = true;
                } else if runs.iter().any(|r| by_run.matches(&r.uid, &r.trial)) {
                    job.stop.push(by_run);
                    said.push(format!("stopping run {target} in job {}", job.id));
                    hit = true;
                } else {
                    // Queued trials have no line yet: ask anyway.
                    job.stop.push(by_trial);
                }
            }
            if !hit {
                said.push(format!("`{target}` is not running yet; its queued runs will not start"));
            }
        }
        Ok(said)
    }

    /// The kernel is going away: stop everything and wait a little.
    pub fn shutdown(&self) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        for job in jobs.iter() {
            job.cancel.store(true, Ordering::SeqCst);
        }
        let deadline = Instant::now() + Duration::from_secs(12);
        for job in jobs.iter_mut() {
            while !job.done.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(t) = job.thread.take()
                && job.done.load(Ordering::SeqCst)
            {
                let _ = t.join();
            }
        }
    }
}
