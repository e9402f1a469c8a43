//! The record as tables, through the CLI's own query commands (the same
//! filter language, the same frames as `expman runs --format json`), each
//! handed to Python as a [`Table`]: an object with `__arrow_c_stream__`,
//! from which `polars.DataFrame(table)` takes the columns without copying
//! them (pyarrow and pandas can too).

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use expman::args::{
    CompareArgs, FrameFormat, MetricArgs, MetricsArgs, ModeArg, OutputArgs, RecordArgs, RunsArgs, ScopeArgs, SqlArgs,
    SummaryArgs,
};
use expman::commands::query::{self, Answer};
use expman_query::DataFrame;

use crate::ExpmanError;

/// A table of the record, for `polars.DataFrame(table)`.
#[pyclass(frozen, module = "expman._expman", name = "Table")]
pub struct Table {
    frame: Mutex<DataFrame>,
}

impl Table {
    fn new(frame: DataFrame) -> Table {
        Table { frame: Mutex::new(frame) }
    }
}

#[pymethods]
impl Table {
    /// The Arrow PyCapsule interface: a stream of record batches. Columns
    /// are shared, not copied (the frame's buffers are reference counted).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The interface lets a producer keep its own schema.
        let _ = requested_schema;
        let frame = self.frame.lock().unwrap_or_else(|e| e.into_inner()).clone();
        PyCapsule::new_with_value(py, expman_query::arrow::stream(frame), c"arrow_array_stream")
    }

    #[getter]
    fn height(&self) -> usize {
        self.frame.lock().unwrap_or_else(|e| e.into_inner()).height()
    }

    #[getter]
    fn columns(&self) -> Vec<String> {
        let frame = self.frame.lock().unwrap_or_else(|e| e.into_inner());
        frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }
}

/// Turns frames found by the engine into tables.
pub fn tables(frames: Vec<DataFrame>) -> Vec<Table> {
    frames.into_iter().map(Table::new).collect()
}

/// Where the record is and which experiment, as the CLI's flags say it.
/// `EXPMAN_WORKSPACE` stands in for a workspace not given.
fn scope(workspace: Option<PathBuf>, experiment: Option<String>, all_experiments: bool) -> ScopeArgs {
    let workspace =
        workspace.or_else(|| std::env::var_os("EXPMAN_WORKSPACE").filter(|w| !w.is_empty()).map(PathBuf::from));
    ScopeArgs { record: RecordArgs { dir: None, workspace }, experiment, all_experiments }
}

fn data() -> OutputArgs {
    OutputArgs { format: FrameFormat::Json, out: None }
}

/// The first frame of a command's answers.
fn first_frame(answers: anyhow::Result<Vec<Answer>>) -> PyResult<Table> {
    let answers = answers.map_err(error)?;
    answers
        .into_iter()
        .find_map(|a| match a {
            Answer::Frame(f) => Some(Table::new(f)),
            Answer::Text(_) => None,
        })
        .ok_or_else(|| ExpmanError::new_err("the query gave no table"))
}

/// A command's failure with its causes, as the CLI prints it.
fn error(e: anyhow::Error) -> PyErr {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    ExpmanError::new_err(text)
}

fn mode(mode: Option<&str>) -> PyResult<Option<ModeArg>> {
    match mode.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("min") => Ok(Some(ModeArg::Min)),
        Some("max") => Ok(Some(ModeArg::Max)),
        Some(other) => Err(pyo3::exceptions::PyValueError::new_err(format!("mode `{other}`: `min` or `max`"))),
    }
}

fn metric_args(metric: String, at: String, mode_: Option<&str>, all_runs: bool) -> PyResult<MetricArgs> {
    Ok(MetricArgs { metric, mode: mode(mode_)?, at, all_runs })
}

/// `expman runs`: one row per run.
#[pyfunction]
#[pyo3(signature = (filter=None, workspace=None, experiment=None, order_by=None, limit=None, columns=None, all_experiments=false))]
#[allow(clippy::too_many_arguments)]
pub fn runs(
    py: Python<'_>,
    filter: Option<String>,
    workspace: Option<PathBuf>,
    experiment: Option<String>,
    order_by: Option<Vec<String>>,
    limit: Option<usize>,
    columns: Option<Vec<String>>,
    all_experiments: bool,
) -> PyResult<Table> {
    let args = RunsArgs {
        filter,
        scope: scope(workspace, experiment, all_experiments),
        order_by: order_by.unwrap_or_default(),
        limit,
        columns: columns.unwrap_or_default(),
        output: data(),
    };
    first_frame(py.detach(|| query::runs(&args)))
}

/// `expman metrics`: every point of the runs (ids) or trials (names).
#[pyfunction]
#[pyo3(signature = (targets, keys=None, workspace=None, experiment=None, all_experiments=false))]
pub fn metrics(
    py: Python<'_>,
    targets: Vec<String>,
    keys: Option<Vec<String>>,
    workspace: Option<PathBuf>,
    experiment: Option<String>,
    all_experiments: bool,
) -> PyResult<Table> {
    let args = MetricsArgs {
        targets,
        keys: keys.unwrap_or_default(),
        scope: scope(workspace, experiment, all_experiments),
        output: data(),
    };
    first_frame(py.detach(|| query::metrics(&args)))
}

/// `expman sql`: SQL over the record's tables.
#[pyfunction]
#[pyo3(signature = (sql, workspace=None, experiment=None, all_experiments=false))]
pub fn sql(
    py: Python<'_>,
    sql: String,
    workspace: Option<PathBuf>,
    experiment: Option<String>,
    all_experiments: bool,
) -> PyResult<Table> {
    let args = SqlArgs { query: sql, scope: scope(workspace, experiment, all_experiments), output: data() };
    first_frame(py.detach(|| query::sql(&args)))
}

/// `expman summary`: mean ± std of a metric per trial.
#[pyfunction]
#[pyo3(signature = (metric, at="final".to_string(), mode=None, all_runs=false, workspace=None, experiment=None, all_experiments=false))]
#[allow(clippy::too_many_arguments)]
pub fn summary(
    py: Python<'_>,
    metric: String,
    at: String,
    mode: Option<&str>,
    all_runs: bool,
    workspace: Option<PathBuf>,
    experiment: Option<String>,
    all_experiments: bool,
) -> PyResult<Table> {
    let args = SummaryArgs {
        metric: metric_args(metric, at, mode, all_runs)?,
        scope: scope(workspace, experiment, all_experiments),
        output: data(),
    };
    first_frame(py.detach(|| query::summary(&args)))
}

/// `expman compare`: Welch's test of trial `a` against trial `b`, as one
/// row.
#[pyfunction]
#[pyo3(signature = (a, b, metric, at="final".to_string(), mode=None, all_runs=false, workspace=None, experiment=None, all_experiments=false))]
#[allow(clippy::too_many_arguments)]
pub fn compare(
    py: Python<'_>,
    a: String,
    b: String,
    metric: String,
    at: String,
    mode: Option<&str>,
    all_runs: bool,
    workspace: Option<PathBuf>,
    experiment: Option<String>,
    all_experiments: bool,
) -> PyResult<Table> {
    let args = CompareArgs {
        trial_a: a,
        trial_b: b,
        metric: metric_args(metric, at, mode, all_runs)?,
        scope: scope(workspace, experiment, all_experiments),
    };
    let compared = py.detach(|| query::comparison(&args).and_then(|(c, _)| Ok(c.frame()?)));
    Ok(Table::new(compared.map_err(error)?))
}
