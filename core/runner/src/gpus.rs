//! GPU slots: which GPUs a run gets (through `CUDA_VISIBLE_DEVICES`), so
//! that no two runs share one unless `runs_per_gpu` allows it.

/// Free capacity per GPU.
#[derive(Clone, Debug)]
pub struct GpuPool {
    slots: Vec<(u32, u32)>,
    per_run: u32,
}

impl GpuPool {
    /// `gpus` indices, each usable by `runs_per_gpu` runs at once; each run
    /// takes `gpus_per_run` distinct GPUs.
    pub fn new(gpus: &[u32], gpus_per_run: u32, runs_per_gpu: u32) -> GpuPool {
        GpuPool { slots: gpus.iter().map(|&g| (g, runs_per_gpu.max(1))).collect(), per_run: gpus_per_run.max(1) }
    }

    /// How many runs fit at once.
    pub fn capacity(&self) -> usize {
        let total: u32 = self.slots.iter().map(|(_, c)| c).sum();
        let distinct = self.slots.len() as u32;
        if distinct < self.per_run { 0 } else { (total / self.per_run) as usize }
    }

    /// Takes GPUs for one run (the least used first), or `None` when not
    /// enough are free.
    pub fn take(&mut self) -> Option<Vec<u32>> {
        let mut free: Vec<usize> = (0..self.slots.len()).filter(|&i| self.slots[i].1 > 0).collect();
        if free.len() < self.per_run as usize {
            return None;
        }
        free.sort_by_key(|&i| std::cmp::Reverse(self.slots[i].1));
        let chosen: Vec<usize> = free.into_iter().take(self.per_run as usize).collect();
        let mut gpus = Vec::new();
        for i in chosen {
            self.slots[i].1 -= 1;
            gpus.push(self.slots[i].0);
        }
        gpus.sort_unstable();
        Some(gpus)
    }

    pub fn give_back(&mut self, gpus: &[u32]) {
        for g in gpus {
            if let Some(slot) = self.slots.iter_mut().find(|(id, _)| id == g) {
                slot.1 += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sharing_unless_allowed() {
        let mut pool = GpuPool::new(&[0, 1], 1, 1);
        assert_eq!(pool.capacity(), 2);
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_ne!(a, b);
        assert!(pool.take().is_none());
        pool.give_back(&a);
        assert_eq!(pool.take(), Some(a));

        let mut shared = GpuPool::new(&[0, 1], 2, 2);
        assert_eq!(shared.capacity(), 2);
        assert_eq!(shared.take(), Some(vec![0, 1]));
        assert_eq!(shared.take(), Some(vec![0, 1]));
        assert!(shared.take().is_none());
    }
}
