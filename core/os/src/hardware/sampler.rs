//! One sample of the machine, its GPUs and the process trees of runs.

use std::collections::HashMap;

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};

use super::{Gpus, HardwareError, MachineSample, RunSample, Sample};
use crate::time::now_ms;

/// Takes samples; keeps the state that CPU percentages need between them.
pub struct Sampler {
    system: System,
    gpus: Option<Gpus>,
    host: String,
}

impl Sampler {
    /// A sampler; fails only where the OS does not expose its figures.
    pub fn new(gpus: Option<Gpus>) -> Result<Sampler, HardwareError> {
        let refresh = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_memory(MemoryRefreshKind::everything());
        let system = System::new_with_specifics(refresh).map_err(HardwareError::System)?;
        Ok(Sampler { system, gpus, host: crate::process::host_name() })
    }

    pub fn gpus(&self) -> Option<&Gpus> {
        self.gpus.as_ref()
    }

    /// CPU model, core count, memory, OS and GPUs, for the record.
    pub fn host_info(&self) -> serde_json::Value {
        let cpu = self.system.cpus().first().map(|c| c.brand().trim().to_string()).unwrap_or_default();
        serde_json::json!({
            "host": self.host,
            "os": System::long_os_version().unwrap_or_default(),
            "kernel": System::kernel_version().unwrap_or_default(),
            "cpu_model": cpu,
            "cpus": self.system.cpus().len(),
            "memory_bytes": self.system.total_memory(),
            "gpus": self.gpus.as_ref().map(|g| g.names.clone()).unwrap_or_default(),
            "gpu_driver": self.gpus.as_ref().and_then(|g| g.driver.clone()),
        })
    }

    /// A sample of the machine and of the process trees rooted at `runs`
    /// (run id, pid of the process expman started).
    pub fn sample(&mut self, runs: &[(i64, u32)]) -> Sample {
        self.system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.system.refresh_memory();
        let per_core: Vec<f32> = self.system.cpus().iter().map(|c| c.usage()).collect();
        let load = System::load_average().map(|l| [l.one, l.five, l.fifteen]).unwrap_or_default();
        let machine = MachineSample {
            cpu_percent: self.system.global_cpu_usage(),
            per_core,
            mem_used: self.system.used_memory(),
            mem_total: self.system.total_memory(),
            swap_used: self.system.used_swap(),
            swap_total: self.system.total_swap(),
            load,
        };
        let (gpus, gpu_procs) = self.gpus.as_ref().map(Gpus::sample).unwrap_or_default();
        let mut run_samples = Vec::new();
        if !runs.is_empty() {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing().with_cpu().with_memory().without_tasks(),
            );
            let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
            for (pid, process) in self.system.processes() {
                if let Some(parent) = process.parent() {
                    children.entry(parent).or_default().push(*pid);
                }
            }
            for &(run_id, root) in runs {
                let mut tree = vec![Pid::from_u32(root)];
                let mut i = 0;
                while i < tree.len() {
                    if let Some(kids) = children.get(&tree[i]) {
                        tree.extend(kids.iter().copied());
                    }
                    i += 1;
                }
                let mut sample = RunSample { run_id, pid: root, ..RunSample::default() };
                for pid in &tree {
                    let Some(p) = self.system.process(*pid) else { continue };
                    sample.processes += 1;
                    sample.cpu_percent += p.cpu_usage();
                    sample.rss += p.memory();
                    sample.cpu_ms += p.accumulated_cpu_time();
                }
                let tree_pids: Vec<u32> = tree.iter().map(|p| p.as_u32()).collect();
                let mut used_gpus: Vec<u32> = Vec::new();
                for (pid, gpu, mem) in &gpu_procs {
                    if tree_pids.contains(pid) {
                        sample.gpu_mem += mem;
                        if !used_gpus.contains(gpu) {
                            used_gpus.push(*gpu);
                        }
                    }
                }
                if !used_gpus.is_empty() {
                    let utils: Vec<f32> =
                        gpus.iter().filter(|g| used_gpus.contains(&g.index)).map(|g| g.util_percent as f32).collect();
                    sample.gpu_util = Some(utils.iter().sum::<f32>() / utils.len().max(1) as f32);
                }
                run_samples.push(sample);
            }
        }
        Sample { timestamp: now_ms(), host: self.host.clone(), machine, gpus, runs: run_samples }
    }
}
