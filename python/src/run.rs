//! `expman.Run`: a run started from Python code, or the run expman
//! launched this process as (then every call reports to that run). Its
//! methods are the logging API; `with` ends it SUCCESS, FAILED with the
//! exception, or KILLED on `KeyboardInterrupt`. The active runs (started
//! and not ended) form a stack, whose top the module-level shortcuts
//! (`expman.log_metric`) log to.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};

use expman_runner::direct::attached::AttachedRun;
use expman_runner::direct::{DirectError, DirectRun, RunIdentity, RunLog, StartOptions};
use expman_store::RunStatus;

use crate::values::{self, to_py};

/// The run behind a `Run`.
enum Handle {
    Direct(DirectRun),
    Attached(AttachedRun),
}

impl Handle {
    fn log(&self) -> &dyn RunLog {
        match self {
            Handle::Direct(run) => run,
            Handle::Attached(run) => run,
        }
    }
}

/// A run: log to it, then end it (or use it in a `with` block).
#[pyclass(frozen, module = "expman._expman", name = "Run")]
pub struct Run {
    handle: Handle,
    ended: Mutex<bool>,
    keys: Mutex<KeyCache>,
}

/// The metric names a run was last given, as Python strings and as Rust
/// ones: a training loop passes the same few `str` objects again and
/// again, and finding one here (by identity) is cheaper than reading its
/// text, which on the stable ABI for 3.9 means a copy. The cache holds its
/// strings, so an address it knows is never reused for another.
#[derive(Default)]
struct KeyCache {
    entries: Vec<(Py<PyString>, String)>,
    next: usize,
}

impl KeyCache {
    const SIZE: usize = 16;

    fn get(&mut self, name: &Bound<'_, PyString>) -> PyResult<&str> {
        let at = self.index_of(name)?;
        Ok(&self.entries[at].1)
    }

    /// Where `name` is in the cache (added if new). Up to [`KeyCache::SIZE`]
    /// names added in a row keep their places.
    fn index_of(&mut self, name: &Bound<'_, PyString>) -> PyResult<usize> {
        let found = self.entries.iter().position(|(k, _)| k.as_ptr() == name.as_ptr());
        Ok(match found {
            Some(at) => at,
            None => {
                let text = name.to_cow()?.into_owned();
                let entry = (name.clone().unbind(), text);
                if self.entries.len() < KeyCache::SIZE {
                    self.entries.push(entry);
                    self.entries.len() - 1
                } else {
                    let at = self.next;
                    self.next = (self.next + 1) % KeyCache::SIZE;
                    self.entries[at] = entry;
                    at
                }
            }
        })
    }
}

/// Runs started and not yet ended, the last started on top.
static ACTIVE: Mutex<Vec<Py<Run>>> = Mutex::new(Vec::new());

fn active() -> std::sync::MutexGuard<'static, Vec<Py<Run>>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run the module-level shortcuts log to: the last one started and
/// not ended, or `None`.
#[pyfunction]
pub fn active_run(py: Python<'_>) -> Option<Py<Run>> {
    active().last().map(|r| r.clone_ref(py))
}

/// What `start` and `Run.start_experiment` were given.
struct Wanted {
    name: String,
    experiment: Option<String>,
    workspace: Option<PathBuf>,
    code_dir: Option<PathBuf>,
    log_hardware: bool,
    uid: Option<String>,
    tags: Vec<(String, String)>,
    durable: bool,
    hardware_interval: f64,
    flush_interval: f64,
}

impl Wanted {
    fn options(&self) -> PyResult<StartOptions> {
        let cwd =
            std::env::current_dir().map_err(|e| crate::ExpmanError::new_err(format!("the current directory: {e}")))?;
        let mut o = StartOptions::new(&self.name, &cwd);
        o.experiment = self.experiment.clone();
        o.workspace = self.workspace.clone();
        o.env_workspace = std::env::var_os("EXPMAN_WORKSPACE").filter(|w| !w.is_empty()).map(PathBuf::from);
        o.code_dir = self.code_dir.clone();
        o.log_hardware = self.log_hardware;
        o.uid = self.uid.clone();
        o.tags = self.tags.clone();
        o.durable = self.durable;
        o.hardware_interval = seconds("hardware_interval", self.hardware_interval)?;
        o.flush_interval = seconds("flush_interval", self.flush_interval)?;
        Ok(o)
    }
}

fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| PyValueError::new_err(format!("`{what}` is a positive number of seconds; got {s}")))
}

fn tags_of(tags: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(tags) = tags else { return Ok(Vec::new()) };
    values::items("tag", tags)?.into_iter().map(|(k, v)| Ok((k, values::text(&v)?))).collect()
}

/// Starts a run (see `expman.start_experiment`): inside a run expman
/// launched, and with no workspace or run id given, the calls go to that
/// run; with `parent`, a child of it.
#[pyfunction]
#[pyo3(signature = (name, experiment=None, workspace=None, code_dir=None, log_hardware=false, experiment_uid=None,
                    tags=None, parent=None, durable=false, hardware_interval=2.0, flush_interval=0.1))]
#[allow(clippy::too_many_arguments)]
pub fn start(
    py: Python<'_>,
    name: String,
    experiment: Option<String>,
    workspace: Option<PathBuf>,
    code_dir: Option<PathBuf>,
    log_hardware: bool,
    experiment_uid: Option<String>,
    tags: Option<&Bound<'_, PyDict>>,
    parent: Option<Py<Run>>,
    durable: bool,
    hardware_interval: f64,
    flush_interval: f64,
) -> PyResult<Py<Run>> {
    let wanted = Wanted {
        name,
        experiment,
        workspace,
        code_dir,
        log_hardware,
        uid: experiment_uid,
        tags: tags_of(tags)?,
        durable,
        hardware_interval,
        flush_interval,
    };
    let options = wanted.options()?;
    let handle = match parent {
        Some(parent) => parent.get().child(py, &options)?,
        None => {
            let launched = if wanted.workspace.is_none() && wanted.uid.is_none() {
                AttachedRun::from_env(|k| std::env::var(k).ok(), durable)
            } else {
                None
            };
            match launched {
                Some(run) => Handle::Attached(run.map_err(to_py)?),
                None => Handle::Direct(py.detach(|| DirectRun::start(&options)).map_err(to_py)?),
            }
        }
    };
    let run = Py::new(py, Run { handle, ended: Mutex::new(false), keys: Mutex::default() })?;
    active().push(run.clone_ref(py));
    Ok(run)
}

impl Run {
    fn log(&self) -> &dyn RunLog {
        self.handle.log()
    }

    fn identity(&self) -> &RunIdentity {
        self.log().identity()
    }

    /// A child run of this one.
    fn child(&self, py: Python<'_>, options: &StartOptions) -> PyResult<Handle> {
        let started: Result<DirectRun, DirectError> = py.detach(|| match &self.handle {
            Handle::Direct(run) => run.child(options),
            Handle::Attached(run) => DirectRun::child_of_attached(run.identity(), options),
        });
        Ok(Handle::Direct(started.map_err(to_py)?))
    }

    fn finish(&self, py: Python<'_>, status: RunStatus, error: Option<String>) -> PyResult<()> {
        {
            let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
            if *ended {
                return Ok(());
            }
            py.detach(|| self.log().finish(status, error.as_deref())).map_err(to_py)?;
            *ended = true;
        }
        let me: *const Run = self;
        active().retain(|r| !std::ptr::eq(r.get(), me));
        Ok(())
    }
}

/// The status a `with` block ends with, from the exception that left it.
fn status_of(
    exc_type: Option<&Bound<'_, PyAny>>,
    exc: Option<&Bound<'_, PyAny>>,
) -> PyResult<(RunStatus, Option<String>)> {
    let Some(kind) = exc_type.filter(|t| !t.is_none()) else { return Ok((RunStatus::Success, None)) };
    let kind = kind.cast::<PyType>()?;
    let name = kind.name()?.to_string();
    let message = exc.map(|e| e.str().map(|s| s.to_string())).transpose()?.unwrap_or_default();
    let text = if message.is_empty() { name.clone() } else { format!("{name}: {message}") };
    if kind.is_subclass_of::<PyKeyboardInterrupt>()? {
        return Ok((RunStatus::Killed, Some(format!("interrupted ({text})"))));
    }
    if kind.is_subclass_of::<PySystemExit>()? {
        let code = exc.map(|e| e.getattr("code")).transpose()?;
        if code.is_none_or(|c| c.is_none() || c.extract::<i64>().is_ok_and(|c| c == 0)) {
            return Ok((RunStatus::Success, None));
        }
    }
    Ok((RunStatus::Failed, Some(text)))
}

#[pymethods]
impl Run {
    /// One metric value. `step` defaults to the metric's next (0, 1, 2,
    /// ...); `timestamp` is seconds since 1970 (`time.time()`, the
    /// default); `epoch` defaults to the current `with run.epoch(i)`.
    #[pyo3(signature = (name, value, step=None, timestamp=None, epoch=None))]
    fn log_metric(
        &self,
        name: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
        step: Option<i64>,
        timestamp: Option<f64>,
        epoch: Option<i64>,
    ) -> PyResult<()> {
        let ts = values::timestamp_ms(timestamp)?;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let name = keys.get(name)?;
        let v = values::number(name, value)?;
        self.log().log_metric(name, v, step, epoch, ts).map_err(to_py)
    }

    /// Several metrics at once, from a dict of name → number. With `step`,
    /// all at that step; without, each at its own next.
    #[pyo3(signature = (metrics, step=None, timestamp=None, epoch=None))]
    fn log_metrics(
        &self,
        metrics: &Bound<'_, PyDict>,
        step: Option<i64>,
        timestamp: Option<f64>,
        epoch: Option<i64>,
    ) -> PyResult<()> {
        let ts = values::timestamp_ms(timestamp)?;
        if metrics.len() <= KeyCache::SIZE {
            // Names through the cache (the usual dict of a few metrics).
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            let mut found: Vec<(usize, f64)> = Vec::with_capacity(metrics.len());
            for (key, value) in metrics.iter() {
                let Ok(key) = key.cast::<PyString>() else { return Err(values::not_a_name("metric", &key)) };
                let at = keys.index_of(key)?;
                found.push((at, values::number(&keys.entries[at].1, &value)?));
            }
            let pairs: Vec<(&str, f64)> = found.iter().map(|(at, v)| (keys.entries[*at].1.as_str(), *v)).collect();
            return self.log().log_metrics(&pairs, step, epoch, ts).map_err(to_py);
        }
        let mut pairs: Vec<(String, f64)> = Vec::with_capacity(metrics.len());
        for (key, value) in values::items("metric", metrics)? {
            let v = values::number(&key, &value)?;
            pairs.push((key, v));
        }
        let borrowed: Vec<(&str, f64)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.log().log_metrics(&borrowed, step, epoch, ts).map_err(to_py)
    }

    /// One parameter (any value: containers are kept as JSON, the rest as
    /// `str()`).
    fn log_parameter(&self, name: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.log().log_params(&[(name, values::json(value)?)]).map_err(to_py)
    }

    /// Parameters from a dict.
    fn log_parameters(&self, params: &Bound<'_, PyDict>) -> PyResult<()> {
        let values: Vec<(String, serde_json::Value)> = values::items("param", params)?
            .into_iter()
            .map(|(k, v)| Ok((k, values::json(&v)?)))
            .collect::<PyResult<_>>()?;
        self.log().log_params(&values).map_err(to_py)
    }

    /// As MLflow spells it.
    fn log_param(&self, name: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.log_parameter(name, value)
    }

    /// As MLflow spells it.
    fn log_params(&self, params: &Bound<'_, PyDict>) -> PyResult<()> {
        self.log_parameters(params)
    }

    fn set_tag(&self, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.log().set_tags(&[(key, values::text(value)?)]).map_err(to_py)
    }

    fn set_tags(&self, tags: &Bound<'_, PyDict>) -> PyResult<()> {
        self.log().set_tags(&tags_of(Some(tags))?).map_err(to_py)
    }

    /// A file, copied into the run's directory (unless it is there
    /// already) and recorded with its size and SHA-256. Returns the
    /// recorded paths, relative to the run directory.
    #[pyo3(signature = (path, kind="file"))]
    fn log_artifact(&self, py: Python<'_>, path: PathBuf, kind: &str) -> PyResult<Vec<String>> {
        py.detach(|| self.log().log_artifact(&path, kind)).map_err(to_py)
    }

    /// Every file under a directory, as `log_artifact`.
    #[pyo3(signature = (path, kind="file"))]
    fn log_artifacts(&self, py: Python<'_>, path: PathBuf, kind: &str) -> PyResult<Vec<String>> {
        if !path.is_dir() {
            return Err(PyValueError::new_err(format!(
                "{} is not a directory (log_artifact takes files)",
                path.display()
            )));
        }
        self.log_artifact(py, path, kind)
    }

    /// `with run.epoch(i):` counts what is logged inside in epoch `i`.
    fn epoch(slf: Py<Run>, epoch: i64) -> EpochScope {
        EpochScope { run: slf, epoch }
    }

    fn epoch_start(&self, epoch: i64) -> PyResult<()> {
        self.log().epoch_start(epoch).map_err(to_py)
    }

    fn epoch_end(&self, epoch: i64) -> PyResult<()> {
        self.log().epoch_end(epoch).map_err(to_py)
    }

    /// A line of text in the run's audit log.
    fn note(&self, text: &str) -> PyResult<()> {
        self.log().note(text).map_err(to_py)
    }

    /// Whether the run was asked to stop (`expman stop`, early stopping):
    /// a training loop checks this and ends cleanly.
    fn should_stop(&self) -> bool {
        self.log().should_stop()
    }

    /// Records what is buffered now (it is otherwise within 100 ms).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.log().flush()).map_err(to_py)
    }

    /// Ends the run: `SUCCESS` (also `FINISHED`), `FAILED` or `KILLED`,
    /// with an error message for the latter two.
    #[pyo3(signature = (status="SUCCESS", error=None))]
    fn end(&self, py: Python<'_>, status: &str, error: Option<String>) -> PyResult<()> {
        let parsed = match status.to_ascii_uppercase().as_str() {
            "FINISHED" => Some(RunStatus::Success),
            other => RunStatus::parse(other)
                .filter(|s| matches!(s, RunStatus::Success | RunStatus::Failed | RunStatus::Killed)),
        };
        let Some(status) = parsed else {
            return Err(PyValueError::new_err(format!(
                "status `{status}`: a run started from code ends SUCCESS (or FINISHED), FAILED or KILLED"
            )));
        };
        self.finish(py, status, error)
    }

    /// A child run of this one, recorded with it as its parent.
    #[pyo3(signature = (name, experiment=None, tags=None, log_hardware=false, code_dir=None, durable=false))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn start_experiment(
        slf: Py<Run>,
        py: Python<'_>,
        name: String,
        experiment: Option<String>,
        tags: Option<&Bound<'_, PyDict>>,
        log_hardware: bool,
        code_dir: Option<PathBuf>,
        durable: bool,
    ) -> PyResult<Py<Run>> {
        start(py, name, experiment, None, code_dir, log_hardware, None, tags, Some(slf), durable, 2.0, 0.1)
    }

    fn __enter__(slf: Py<Run>) -> Py<Run> {
        slf
    }

    #[pyo3(signature = (exc_type=None, exc=None, traceback=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        traceback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = traceback;
        let (status, error) = status_of(exc_type.as_ref(), exc.as_ref())?;
        self.finish(py, status, error)?;
        Ok(false)
    }

    /// The run's id (what `expman show` takes).
    #[getter]
    fn id(&self) -> String {
        self.identity().uid.clone()
    }

    #[getter]
    fn experiment(&self) -> String {
        self.identity().experiment.clone()
    }

    /// The run's name: its trial.
    #[getter]
    fn name(&self) -> String {
        self.identity().trial.clone()
    }

    #[getter]
    fn repeat(&self) -> u32 {
        self.identity().repeat
    }

    #[getter]
    fn run_dir(&self) -> PathBuf {
        self.identity().run_dir.clone()
    }

    #[getter]
    fn workspace(&self) -> PathBuf {
        self.identity().workspace.clone()
    }

    /// The parent run's id, for a child run.
    #[getter]
    fn parent_id(&self) -> Option<String> {
        self.identity().parent.clone()
    }

    /// Whether expman launched this process and the calls go to its run.
    #[getter]
    fn attached(&self) -> bool {
        self.identity().attached
    }

    #[getter]
    fn ended(&self) -> bool {
        *self.ended.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn __repr__(&self) -> String {
        let i = self.identity();
        let how = if i.attached { ", launched by expman" } else { "" };
        format!("<expman.Run {} {}#{} in {}{how}>", i.uid, i.trial, i.repeat, i.experiment)
    }
}

/// `with run.epoch(i):`: the epoch starts on entry and ends on exit.
#[pyclass(frozen, module = "expman._expman", name = "EpochScope")]
pub struct EpochScope {
    run: Py<Run>,
    epoch: i64,
}

#[pymethods]
impl EpochScope {
    fn __enter__(&self) -> PyResult<i64> {
        self.run.get().epoch_start(self.epoch)?;
        Ok(self.epoch)
    }

    #[pyo3(signature = (exc_type=None, exc=None, traceback=None))]
    fn __exit__(
        &self,
        exc_type: Option<Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        traceback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc, traceback);
        self.run.get().epoch_end(self.epoch)?;
        Ok(false)
    }
}
