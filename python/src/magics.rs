//! The `%expman` magics in IPython (`%load_ext expman`): the expman
//! kernel's own interpreter (`expman::magics::Magics`, collecting mode),
//! run on a thread of its own while the caller's thread shows its outputs
//! as they come: streams, displays updated in place by id (the live run
//! table), results. Query magics give their tables back as the magic's
//! value. Ctrl-C (KeyboardInterrupt) sets the cell's interrupt flag, as
//! the kernel's stop button does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;

use expman_kernel::{Bundle, Cell, Interpreter, Output};

use crate::ExpmanError;
use crate::query::{Table, tables};

/// One IPython session's magics (what the kernel's interpreter is).
#[pyclass(frozen, module = "expman._expman", name = "Magics")]
pub struct Magics {
    inner: Arc<expman::magics::Magics>,
    cells: AtomicUsize,
}

/// Outputs of a cell still to come after it returned (runs it left going
/// with `--background` update their tables).
#[pyclass(frozen, module = "expman._expman", name = "Outputs")]
pub struct Outputs {
    receiver: Mutex<Receiver<Output>>,
}

/// An output as Python gets it: `(kind, name_or_id, payload)`; bundles
/// as JSON text (`{"data": ..., "metadata": ...}`).
type Shown = (&'static str, Option<String>, String);

fn shown(output: Output) -> Shown {
    let bundle = |b: Bundle| serde_json::json!({"data": b.data, "metadata": b.metadata}).to_string();
    match output {
        Output::Stream { name, text } => ("stream", Some(name.to_string()), text),
        Output::Display { id, bundle: b } => ("display", Some(id), bundle(b)),
        Output::Update { id, bundle: b } => ("update", Some(id), bundle(b)),
        Output::Result(b) => ("result", None, bundle(b)),
    }
}

#[pymethods]
impl Outputs {
    /// The next output, waiting up to `timeout` seconds: `None` when none
    /// came, `("closed", None, "")` when none ever will.
    fn next(&self, py: Python<'_>, timeout: f64) -> Option<Shown> {
        let wait = Duration::from_secs_f64(timeout.max(0.0));
        let received = py.detach(|| self.receiver.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(wait));
        match received {
            Ok(output) => Some(shown(output)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(("closed", None, String::new())),
        }
    }
}

#[pymethods]
impl Magics {
    #[new]
    fn new() -> Magics {
        Magics { inner: Arc::new(expman::magics::Magics::collecting()), cells: AtomicUsize::new(0) }
    }

    /// Runs `code` (`%expman ...` lines or a `%%expman ...` cell), calling
    /// `show(kind, name_or_id, payload)` for each output as it comes.
    /// Returns the tables the magic answered with, and the outputs still
    /// to come.
    fn execute(&self, py: Python<'_>, code: String, show: Bound<'_, PyAny>) -> PyResult<(Vec<Table>, Outputs)> {
        let n = self.cells.fetch_add(1, Ordering::Relaxed) + 1;
        let (cell, receiver) = Cell::channel(&format!("ipython-{}-{n}", std::process::id()), n);
        // Waited on with the interpreter released: shared, hence the lock.
        let receiver = Mutex::new(receiver);
        let recv = |wait: Duration| receiver.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(wait);
        let interrupt = cell.interrupt_flag();
        let inner = self.inner.clone();
        let worker = std::thread::Builder::new()
            .name("expman-magic".into())
            .spawn(move || {
                let result = inner.execute(&code, &cell);
                (result, inner.take_frames())
            })
            .map_err(|e| ExpmanError::new_err(format!("cannot start a thread: {e}")))?;
        let mut interrupted = false;
        let mut failed_to_show: Option<PyErr> = None;
        loop {
            match py.detach(|| recv(Duration::from_millis(50))) {
                Ok(output) => {
                    let (kind, id, payload) = shown(output);
                    if let Err(e) = show.call1((kind, id, payload)) {
                        failed_to_show.get_or_insert(e);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if worker.is_finished() => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if py.check_signals().is_err() {
                // As the kernel's stop button: the cell winds down (runs
                // are stopped and recorded KILLED), then the interrupt
                // goes on.
                interrupted = true;
                interrupt.store(true, Ordering::SeqCst);
            }
        }
        let (result, frames) =
            py.detach(|| worker.join()).map_err(|_| ExpmanError::new_err("the magic panicked; see the log above"))?;
        // Outputs sent between the last look and the end of the cell.
        while let Ok(output) = recv(Duration::ZERO) {
            let (kind, id, payload) = shown(output);
            if let Err(e) = show.call1((kind, id, payload)) {
                failed_to_show.get_or_insert(e);
            }
        }
        if interrupted {
            return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted"));
        }
        if let Err(e) = result {
            let mut text = if e.ename == "ExpmanError" { e.evalue } else { format!("{}: {}", e.ename, e.evalue) };
            for line in e.traceback {
                text.push('\n');
                text.push_str(&line);
            }
            return Err(ExpmanError::new_err(text));
        }
        if let Some(e) = failed_to_show {
            return Err(e);
        }
        Ok((tables(frames), Outputs { receiver }))
    }

    /// Completions for `%expman` lines: `(matches, start, end)`, offsets
    /// in characters.
    fn complete(&self, code: &str, cursor: usize) -> (Vec<String>, usize, usize) {
        let byte = code.char_indices().nth(cursor).map_or(code.len(), |(i, _)| i);
        let found = self.inner.complete(code, byte);
        let chars = |b: usize| code[..b.min(code.len())].chars().count();
        (found.matches, chars(found.start), chars(found.end))
    }
}
