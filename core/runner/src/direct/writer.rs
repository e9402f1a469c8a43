//! The writer thread of a process's runs started from code: every
//! `interval` it commits what each run has buffered, on a connection of
//! its own, and keeps the runner's heartbeat fresh (for readers on other
//! hosts, who judge a runner by it). A commit that fails (the database
//! locked past its timeout, a full disk) is tried again next time; the
//! points wait in memory and nothing is dropped.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use expman_store::Store;

use super::DirectError;
use super::buffer::RunBuffer;

/// How often the runner row's heartbeat is refreshed.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// A buffered run with this many points is committed at once, without
/// waiting for the interval.
pub const EAGER_POINTS: usize = 200_000;

pub struct Writer {
    shared: Arc<Shared>,
    join: Option<JoinHandle<()>>,
}

struct Shared {
    runs: Mutex<Vec<Arc<RunBuffer>>>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    stop: bool,
    /// Someone asked for a pass now.
    nudged: bool,
}

impl Writer {
    /// Starts the thread on its own connection to `database`.
    pub fn spawn(database: &Path, runner_id: i64, interval: Duration) -> Result<Writer, DirectError> {
        let mut store = Store::open(database)?;
        let shared = Arc::new(Shared { runs: Mutex::new(Vec::new()), state: Mutex::default(), wake: Condvar::new() });
        let thread_shared = shared.clone();
        let join = std::thread::Builder::new()
            .name("expman-writer".into())
            .spawn(move || run(&thread_shared, &mut store, runner_id, interval))
            .map_err(DirectError::Thread)?;
        Ok(Writer { shared, join: Some(join) })
    }

    pub fn add(&self, run: Arc<RunBuffer>) {
        self.shared.runs.lock().unwrap_or_else(|e| e.into_inner()).push(run);
    }

    pub fn remove(&self, run_id: i64) {
        self.shared.runs.lock().unwrap_or_else(|e| e.into_inner()).retain(|r| r.run_id != run_id);
    }

    /// Asks for a pass now (a run's buffer is large).
    pub fn nudge(&self) {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).nudged = true;
        self.shared.wake.notify_one();
    }

    /// A last pass, then the thread ends.
    pub fn stop(&mut self) {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.shared.wake.notify_one();
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, store: &mut Store, runner_id: i64, interval: Duration) {
    let mut last_heartbeat = Instant::now();
    let mut failing = false;
    loop {
        let stop = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if !state.stop && !state.nudged {
                state = shared.wake.wait_timeout(state, interval).unwrap_or_else(|e| e.into_inner()).0;
            }
            state.nudged = false;
            state.stop
        };
        let runs: Vec<Arc<RunBuffer>> = shared.runs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut failed = false;
        for run in &runs {
            if let Err(e) = run.commit(store) {
                failed = true;
                if !failing {
                    tracing::warn!(
                        "run {}: cannot record what it logged yet ({e}); the points wait in memory and are tried again",
                        run.uid
                    );
                }
            }
        }
        if failing && !failed {
            tracing::info!("recording works again; what waited is recorded");
        }
        failing = failed;
        if last_heartbeat.elapsed() >= HEARTBEAT {
            last_heartbeat = Instant::now();
            if let Err(e) = store.heartbeat(runner_id) {
                tracing::debug!("heartbeat: {e}");
            }
        }
        if stop {
            return;
        }
    }
}
