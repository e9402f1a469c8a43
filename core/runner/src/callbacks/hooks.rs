//! Hooks: shell commands at points of a run's life (`on_start`,
//! `on_epoch_end`, `on_end`, and `on_failure` when it ends FAILED, TIMEOUT
//! or LOST). They run through `/bin/sh -c` in the run directory, one at a
//! time in order, on a thread of their own so the run never waits for
//! them, with the run's environment plus `EXPMAN_STATUS`, `EXPMAN_EPOCH`
//! and `EXPMAN_METRIC_<KEY>` (the epoch's metric values). Their output goes
//! to `hooks.log`. A failing hook is logged against the run and does not
//! stop it.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use expman_schema::model::CallbackConfig;

use super::{Action, Callback, CallbackRun};
use expman_store::RunStatus;

/// How long the end of a run waits for its hooks.
const END_WAIT: Duration = Duration::from_secs(120);

struct Job {
    event: &'static str,
    command: String,
    env: BTreeMap<String, String>,
}

pub struct Hooks {
    on_start: Option<String>,
    on_epoch_end: Option<String>,
    on_end: Option<String>,
    on_failure: Option<String>,
    queue: Option<Sender<Job>>,
    results: Option<Receiver<Action>>,
    worker: Option<JoinHandle<()>>,
}

impl Hooks {
    pub fn from_config(c: &CallbackConfig) -> Hooks {
        Hooks {
            on_start: c.on_start.clone(),
            on_epoch_end: c.on_epoch_end.clone(),
            on_end: c.on_end.clone(),
            on_failure: c.on_failure.clone(),
            queue: None,
            results: None,
            worker: None,
        }
    }

    fn submit(&mut self, run: &CallbackRun, event: &'static str, command: &str, extra: Vec<(String, String)>) {
        if self.queue.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let (result_tx, result_rx) = mpsc::channel::<Action>();
            let dir = run.run_dir.clone();
            let worker = std::thread::Builder::new()
                .name(format!("hooks-{}", run.uid))
                .spawn(move || work(dir, rx, result_tx))
                .ok();
            self.queue = Some(tx);
            self.results = Some(result_rx);
            self.worker = worker;
        }
        let mut env = run.env.clone();
        env.extend(extra);
        if let Some(q) = &self.queue {
            let _ = q.send(Job { event, command: command.to_string(), env });
        }
    }

    fn collect(&self, actions: &mut Vec<Action>) {
        if let Some(results) = &self.results {
            actions.extend(results.try_iter());
        }
    }
}

fn work(dir: std::path::PathBuf, jobs: Receiver<Job>, results: Sender<Action>) {
    for job in jobs {
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("hooks.log")).ok();
        let started = Instant::now();
        let output =
            expman_os::process::tool("/bin/sh", &["-c", &job.command], &dir).env_clear().envs(&job.env).output();
        if let Some(log) = log.as_mut() {
            let _ = writeln!(log, "--- {} hook: {}", job.event, job.command);
            if let Ok(out) = &output {
                let _ = log.write_all(&out.stdout);
                let _ = log.write_all(&out.stderr);
            }
        }
        let failure = match &output {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "{} hook `{}` failed ({}); see hooks.log",
                job.event,
                job.command,
                out.status.code().map(|c| format!("exit code {c}")).unwrap_or_else(|| "killed".into())
            )),
            Err(e) => Some(format!("{} hook `{}` could not start: {e}", job.event, job.command)),
        };
        let detail = format!("{} hook `{}` in {:.1}s", job.event, job.command, started.elapsed().as_secs_f64());
        match failure {
            Some(why) => {
                let _ = results.send(Action::Event { kind: "hook_failed".into(), detail: why.clone() });
                let _ = results.send(Action::Warning(why));
            }
            None => {
                let _ = results.send(Action::Event { kind: "hook".into(), detail });
            }
        }
    }
}

fn metric_env(metrics: &[(String, f64)]) -> Vec<(String, String)> {
    metrics
        .iter()
        .map(|(k, v)| {
            let key: String =
                k.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
            (format!("EXPMAN_METRIC_{key}"), v.to_string())
        })
        .collect()
}

impl Callback for Hooks {
    fn on_start(&mut self, run: &CallbackRun, actions: &mut Vec<Action>) {
        if let Some(cmd) = self.on_start.clone() {
            self.submit(run, "on_start", &cmd, Vec::new());
        }
        self.collect(actions);
    }

    fn on_epoch_end(&mut self, run: &CallbackRun, epoch: i64, metrics: &[(String, f64)], actions: &mut Vec<Action>) {
        if let Some(cmd) = self.on_epoch_end.clone().filter(|_| !run.replaying) {
            let mut extra = metric_env(metrics);
            extra.push(("EXPMAN_EPOCH".into(), epoch.to_string()));
            self.submit(run, "on_epoch_end", &cmd, extra);
        }
        self.collect(actions);
    }

    fn on_end(&mut self, run: &CallbackRun, status: RunStatus, actions: &mut Vec<Action>) {
        let extra = vec![("EXPMAN_STATUS".to_string(), status.as_str().to_string())];
        if let Some(cmd) = self.on_end.clone() {
            self.submit(run, "on_end", &cmd, extra.clone());
        }
        if matches!(status, RunStatus::Failed | RunStatus::Timeout | RunStatus::Lost)
            && let Some(cmd) = self.on_failure.clone()
        {
            self.submit(run, "on_failure", &cmd, extra);
        }
        // Let the queue drain, so end hooks finish before the runner exits.
        self.queue.take();
        if let Some(worker) = self.worker.take() {
            let deadline = Instant::now() + END_WAIT;
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                actions.push(Action::Warning(format!(
                    "hooks still running after {}s; not waiting any longer",
                    END_WAIT.as_secs()
                )));
            }
        }
        self.collect(actions);
    }
}
