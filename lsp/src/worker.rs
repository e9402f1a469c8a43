//! One long-lived thread for analyses, and for freeing them.
//!
//! An analysis of a 50,000-line trials.yaml builds tens of megabytes of
//! small allocations. Run on tokio's blocking pool, each edit could land on
//! a different thread, and glibc's malloc keeps freed memory in per-thread
//! arenas: the server grew by a snapshot's size with every edit. One thread
//! that builds and frees every snapshot reuses the same memory (see
//! BENCHMARKS.md, language server). It also serialises analyses, so a burst
//! of edits queues instead of running side by side; jobs check whether they
//! are still wanted before starting.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// The handle to the analysis thread.
pub struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    pub fn spawn() -> std::io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("expman-analysis".into()).spawn(move || {
            for job in queue {
                job();
            }
        })?;
        Ok(Worker { jobs })
    }

    /// Runs `f` on the analysis thread. `None` when it panicked (the panic
    /// is logged; the thread lives on) or the thread is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(f));
            if let Err(panic) = &outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                tracing::error!("{what} failed: {message}");
            }
            let _ = done.send(outcome.ok());
        });
        self.jobs.send(job).ok()?;
        result.await.ok().flatten()
    }

    /// Drops `value` on the analysis thread, where it was allocated.
    pub fn free<T: Send + 'static>(&self, value: T) {
        let _ = self.jobs.send(Box::new(move || drop(value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_in_order_and_survives_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let worker = Worker::spawn().unwrap();
        runtime.block_on(async {
            assert_eq!(worker.run("first", || 1).await, Some(1));
            assert_eq!(worker.run("boom", || -> i32 { panic!("boom") }).await, None);
            assert_eq!(
                worker.run("after", || std::thread::current().name().map(str::to_string)).await.flatten().as_deref(),
                Some("expman-analysis")
            );
        });
    }
}
