//! Live hardware use: the machine (CPU total and per core, memory, swap,
//! load), each GPU (through NVML, loaded at run time), and each active
//! run's whole process tree (CPU %, resident memory, GPU memory).
//!
//! [`Sampler`] takes one [`Sample`]; [`SamplerThread`] takes one every
//! `hardware.interval`, writes it to the store, hands it to the runner (and
//! so to front ends), and keeps per-run statistics that become the run's
//! resource summary when it ends.

mod gpu;
mod sampler;
mod thread;

pub use gpu::{GpuError, Gpus};
pub use sampler::Sampler;
pub use thread::{SampleSink, SamplerHandle, SamplerReport, SamplerThread};

use serde::Serialize;

/// One look at the machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Unix milliseconds.
    pub timestamp: i64,
    pub host: String,
    pub machine: MachineSample,
    pub gpus: Vec<GpuSample>,
    pub runs: Vec<RunSample>,
}

/// Machine-wide figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MachineSample {
    pub cpu_percent: f32,
    pub per_core: Vec<f32>,
    pub mem_used: u64,
    pub mem_total: u64,
    pub swap_used: u64,
    pub swap_total: u64,
    pub load: [f64; 3],
}

/// One GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GpuSample {
    pub index: u32,
    pub name: String,
    pub util_percent: u32,
    pub mem_used: u64,
    pub mem_total: u64,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
}

/// One run's process tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunSample {
    pub run_id: i64,
    pub pid: u32,
    pub processes: usize,
    pub cpu_percent: f32,
    pub rss: u64,
    /// Accumulated CPU time of the tree's live processes, in ms.
    pub cpu_ms: u64,
    pub gpu_mem: u64,
    /// Utilisation of the GPUs its processes use (mean over them).
    pub gpu_util: Option<f32>,
}

/// `1.5 GiB` and the like.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
