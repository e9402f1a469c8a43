//! The sampling thread: a sample every interval, written to the store and
//! handed on; per-run statistics turned into a resource summary when a run
//! ends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use expman_os::hardware::{Sample, Sampler};
use expman_os::process::Usage;
use expman_store::{ResourceSummary, Store};

enum Control {
    Add { run_id: i64, pid: u32 },
    Remove { run_id: i64, wall_ms: i64, usage: Option<Usage> },
    Stop,
}

/// Tells a running [`SamplerThread`] which runs to watch.
#[derive(Clone)]
pub struct SamplerHandle {
    control: Sender<Control>,
}

impl SamplerHandle {
    /// Starts watching the process tree rooted at `pid`.
    pub fn add(&self, run_id: i64, pid: u32) {
        let _ = self.control.send(Control::Add { run_id, pid });
    }

    /// Stops watching a run and records its resource summary, with what
    /// the kernel counted for its process when it ended (`usage`).
    pub fn remove(&self, run_id: i64, wall_ms: i64, usage: Option<Usage>) {
        let _ = self.control.send(Control::Remove { run_id, wall_ms, usage });
    }
}

/// What the sampler cost.
#[derive(Clone, Debug, Default)]
pub struct SamplerReport {
    pub samples: u64,
    /// CPU time the sampling thread itself used.
    pub cpu_time: Duration,
    pub wall: Duration,
}

/// The background sampler.
pub struct SamplerThread {
    handle: SamplerHandle,
    join: JoinHandle<SamplerReport>,
}

#[derive(Default)]
struct Stats {
    samples: i64,
    cpu_sum: f64,
    cpu_peak: f64,
    rss_peak: u64,
    cpu_ms: u64,
    gpu_util_sum: f64,
    gpu_util_peak: f64,
    gpu_util_n: i64,
    gpu_mem_sum: u64,
    gpu_mem_peak: u64,
}

impl SamplerThread {
    /// Starts sampling every `interval`, writing to `database` (when given)
    /// and sending each sample to `out` (when given).
    pub fn spawn(
        sampler: Sampler,
        interval: Duration,
        database: Option<&Path>,
        out: Option<SampleSink>,
    ) -> std::io::Result<SamplerThread> {
        let (tx, rx) = mpsc::channel();
        let database = database.map(Path::to_path_buf);
        let join = std::thread::Builder::new()
            .name("expman-sampler".into())
            .spawn(move || run(sampler, interval, database.as_deref(), out, rx))?;
        Ok(SamplerThread { handle: SamplerHandle { control: tx }, join })
    }

    pub fn handle(&self) -> SamplerHandle {
        self.handle.clone()
    }

    /// Stops the thread; returns what it cost.
    pub fn stop(self) -> SamplerReport {
        let _ = self.handle.control.send(Control::Stop);
        self.join.join().unwrap_or_default()
    }
}

/// Where samples go as they are taken.
pub type SampleSink = Box<dyn Fn(Sample) + Send>;

fn run(
    mut sampler: Sampler,
    interval: Duration,
    database: Option<&Path>,
    out: Option<SampleSink>,
    control: Receiver<Control>,
) -> SamplerReport {
    let started = Instant::now();
    let mut store = database.and_then(|path| match Store::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("hardware samples will not be recorded: {e}");
            None
        }
    });
    let mut runs: Vec<(i64, u32)> = Vec::new();
    let mut stats: HashMap<i64, Stats> = HashMap::new();
    let mut report = SamplerReport::default();
    // The first CPU figures need a previous refresh to compare with.
    let _ = sampler.sample(&[]);
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match control.recv_timeout(wait) {
            Ok(Control::Add { run_id, pid }) => {
                runs.push((run_id, pid));
                stats.entry(run_id).or_default();
                continue;
            }
            Ok(Control::Remove { run_id, wall_ms, usage }) => {
                runs.retain(|(id, _)| *id != run_id);
                let s = stats.remove(&run_id).unwrap_or_default();
                if let Some(store) = store.as_mut() {
                    // The kernel's count covers what sampling missed (a run
                    // shorter than the interval, the time after the last
                    // sample); samples cover processes it did not wait for.
                    let sampled_cpu = (s.samples > 0).then_some(s.cpu_ms as i64);
                    let sampled_rss = (s.samples > 0).then_some(s.rss_peak as i64);
                    let cpu_ms = max_of(sampled_cpu, usage.map(|u| u.cpu_ms));
                    let mean_cpu_percent = match (s.samples > 0, cpu_ms) {
                        (true, _) => Some(s.cpu_sum / s.samples as f64),
                        (false, Some(cpu)) if wall_ms > 0 => Some(100.0 * cpu as f64 / wall_ms as f64),
                        _ => None,
                    };
                    let summary = ResourceSummary {
                        wall_ms,
                        cpu_ms,
                        mean_cpu_percent,
                        peak_cpu_percent: (s.samples > 0).then_some(s.cpu_peak),
                        peak_rss: max_of(sampled_rss, usage.map(|u| u.max_rss)),
                        mean_gpu_util: (s.gpu_util_n > 0).then(|| s.gpu_util_sum / s.gpu_util_n as f64),
                        peak_gpu_util: (s.gpu_util_n > 0).then_some(s.gpu_util_peak),
                        mean_gpu_mem: (s.samples > 0 && s.gpu_mem_peak > 0)
                            .then(|| (s.gpu_mem_sum / s.samples as u64) as i64),
                        peak_gpu_mem: (s.gpu_mem_peak > 0).then_some(s.gpu_mem_peak as i64),
                        samples: s.samples,
                    };
                    if let Err(e) = store.write_resources(run_id, &summary) {
                        tracing::warn!("cannot record the resource summary of run {run_id}: {e}");
                    }
                }
                continue;
            }
            Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        next += interval;
        if next < Instant::now() {
            next = Instant::now() + interval;
        }
        let sample = sampler.sample(&runs);
        report.samples += 1;
        for r in &sample.runs {
            let s = stats.entry(r.run_id).or_default();
            s.samples += 1;
            s.cpu_sum += f64::from(r.cpu_percent);
            s.cpu_peak = s.cpu_peak.max(f64::from(r.cpu_percent));
            s.rss_peak = s.rss_peak.max(r.rss);
            s.cpu_ms = s.cpu_ms.max(r.cpu_ms);
            if let Some(u) = r.gpu_util {
                s.gpu_util_n += 1;
                s.gpu_util_sum += f64::from(u);
                s.gpu_util_peak = s.gpu_util_peak.max(f64::from(u));
            }
            s.gpu_mem_sum += r.gpu_mem;
            s.gpu_mem_peak = s.gpu_mem_peak.max(r.gpu_mem);
        }
        if let Some(store) = store.as_mut()
            && let Err(e) = store.insert_hardware(&sample)
        {
            tracing::warn!("cannot record a hardware sample: {e}");
        }
        if let Some(out) = &out {
            out(sample);
        }
    }
    report.wall = started.elapsed();
    report.cpu_time = thread_cpu_time();
    report
}

/// CPU time used by the calling thread.
fn thread_cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_THREAD) {
        Ok(usage) => {
            let user = usage.user_time();
            let system = usage.system_time();
            Duration::from_micros(
                (user.tv_sec() * 1_000_000 + user.tv_usec() + system.tv_sec() * 1_000_000 + system.tv_usec()) as u64,
            )
        }
        Err(_) => Duration::ZERO,
    }
}

/// The larger of two optional figures.
fn max_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
