//! Artifacts and lineage from Python, through the CLI's own commands
//! (`expman artifacts list|get`, `expman lineage`): the same lookups, the
//! same checks. Listings come back as JSON text that `expman/__init__.py`
//! turns into Python values.

use std::path::PathBuf;

use pyo3::prelude::*;

use expman::args::{ArtifactsGetArgs, ArtifactsListArgs, HwFormat, LineageArgs, LineageFormat, RecordArgs};

use crate::ExpmanError;

fn record(workspace: Option<PathBuf>) -> RecordArgs {
    let workspace =
        workspace.or_else(|| std::env::var_os("EXPMAN_WORKSPACE").filter(|w| !w.is_empty()).map(PathBuf::from));
    RecordArgs { dir: None, workspace }
}

fn error(e: anyhow::Error) -> PyErr {
    ExpmanError::new_err(format!("{e:#}"))
}

/// `expman artifacts list RUN --format json`.
#[pyfunction]
#[pyo3(signature = (run, workspace=None))]
pub fn artifacts_json(py: Python<'_>, run: String, workspace: Option<PathBuf>) -> PyResult<String> {
    let args = ArtifactsListArgs { run, format: HwFormat::Json, record: record(workspace) };
    let listing = py.detach(|| expman::commands::artifacts::listing(&args)).map_err(error)?;
    Ok(listing.to_string())
}

/// `expman artifacts get RUN PATH --out OUT`: the file written, checked.
#[pyfunction]
#[pyo3(signature = (run, path=None, out=None, force=false, workspace=None))]
pub fn get_artifact(
    py: Python<'_>,
    run: String,
    path: Option<String>,
    out: Option<PathBuf>,
    force: bool,
    workspace: Option<PathBuf>,
) -> PyResult<PathBuf> {
    let args = ArtifactsGetArgs { run, path, out, force, key_file: None, record: record(workspace) };
    let got =
        py.detach(|| expman::commands::artifacts::get_file(&args, &mut |line| eprintln!("{line}"))).map_err(error)?;
    Ok(got.path)
}

/// `expman lineage RUN --format json`.
#[pyfunction]
#[pyo3(signature = (run, depth=10, workspace=None))]
pub fn lineage_json(py: Python<'_>, run: String, depth: usize, workspace: Option<PathBuf>) -> PyResult<String> {
    let args = LineageArgs { run, format: LineageFormat::Json, depth, record: record(workspace) };
    py.detach(|| expman::commands::lineage::lineage_text(&args)).map_err(error)
}
