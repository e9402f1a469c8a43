//! Live hardware use: the machine (CPU total and per core, memory, swap,
//! load), each GPU (through NVML, loaded at run time), and each active
//! run's whole process tree (CPU %, resident memory, GPU memory).
//!
//! [`Sampler`] takes one [`Sample`]; the runner's sampling thread
//! (`expman_runner::sampling`) takes one every `hardware.interval`, writes
//! it to the store and keeps per-run statistics.

mod gpu;
mod sampler;

pub use crate::format::format_bytes;
pub use gpu::{GpuError, GpuPolicy, Gpus};
pub use sampler::Sampler;

use serde::Serialize;

/// Why the machine's figures or its GPUs cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error("cannot read this system's hardware figures: {0}")]
    System(#[source] sysinfo::Error),
    #[error("no NVIDIA driver could be loaded ({0})")]
    NoDriver(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("NVML cannot count devices ({0})")]
    DeviceCount(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("this expman was built without NVML support (feature `nvml`)")]
    NotBuilt,
}

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
