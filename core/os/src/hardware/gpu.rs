//! GPUs through NVML. The driver library is loaded at run time, so expman
//! builds and runs on machines without one; `hardware.gpu` decides what a
//! missing driver means (`off`: never look; `auto`: one informative log
//! line, no GPU figures; `required`: a clear error before anything runs).

use super::{GpuSample, HardwareError};

/// What a missing driver means: `hardware.gpu` in a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuPolicy {
    /// Never look.
    Off,
    /// Sample GPUs when a driver is present.
    Auto,
    /// A clear error when there is none.
    Required,
}

/// Why GPUs cannot be sampled.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("`hardware.gpu: required`, but {0}")]
    Required(#[source] HardwareError),
}

/// Access to the machine's NVIDIA GPUs.
pub struct Gpus {
    #[cfg(feature = "nvml")]
    nvml: nvml_wrapper::Nvml,
    pub count: u32,
    pub driver: Option<String>,
    pub names: Vec<String>,
}

impl Gpus {
    /// Opens NVML as `mode` says: `Ok(None)` when GPUs are off or absent.
    pub fn open(mode: GpuPolicy) -> Result<Option<Gpus>, GpuError> {
        if mode == GpuPolicy::Off {
            return Ok(None);
        }
        match Gpus::try_open() {
            Ok(gpus) => {
                tracing::info!("NVML: {} GPU(s), driver {}", gpus.count, gpus.driver.as_deref().unwrap_or("?"));
                Ok(Some(gpus))
            }
            Err(why) if mode == GpuPolicy::Required => Err(GpuError::Required(why)),
            Err(why) => {
                tracing::info!("GPU metrics off: {why}");
                Ok(None)
            }
        }
    }

    #[cfg(feature = "nvml")]
    fn try_open() -> Result<Gpus, HardwareError> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| HardwareError::NoDriver(Box::new(e)))?;
        let count = nvml.device_count().map_err(|e| HardwareError::DeviceCount(Box::new(e)))?;
        let driver = nvml.sys_driver_version().ok();
        let names = (0..count)
            .map(|i| nvml.device_by_index(i).and_then(|d| d.name()).unwrap_or_else(|_| format!("GPU {i}")))
            .collect();
        Ok(Gpus { nvml, count, driver, names })
    }

    #[cfg(not(feature = "nvml"))]
    fn try_open() -> Result<Gpus, HardwareError> {
        Err(HardwareError::NotBuilt)
    }

    /// Every GPU, and the GPU memory used per process id.
    #[cfg(feature = "nvml")]
    pub fn sample(&self) -> (Vec<GpuSample>, Vec<(u32, u32, u64)>) {
        use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let mut gpus = Vec::new();
        let mut processes = Vec::new();
        for index in 0..self.count {
            let Ok(device) = self.nvml.device_by_index(index) else { continue };
            let util = device.utilization_rates().map(|u| u.gpu).unwrap_or(0);
            let memory = device.memory_info().ok();
            gpus.push(GpuSample {
                index,
                name: self.names.get(index as usize).cloned().unwrap_or_default(),
                util_percent: util,
                mem_used: memory.as_ref().map(|m| m.used).unwrap_or(0),
                mem_total: memory.as_ref().map(|m| m.total).unwrap_or(0),
                temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
                power_w: device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            });
            let procs = device
                .running_compute_processes()
                .unwrap_or_default()
                .into_iter()
                .chain(device.running_graphics_processes().unwrap_or_default());
            for p in procs {
                let used = match p.used_gpu_memory {
                    UsedGpuMemory::Used(bytes) => bytes,
                    UsedGpuMemory::Unavailable => 0,
                };
                processes.push((p.pid, index, used));
            }
        }
        (gpus, processes)
    }

    #[cfg(not(feature = "nvml"))]
    pub fn sample(&self) -> (Vec<GpuSample>, Vec<(u32, u32, u64)>) {
        (Vec::new(), Vec::new())
    }
}
