//! Replay and datasets from Python: the core's `replay` module, options and results as JSON
//! text (the Python side converts them). Network and store work runs without the GIL.

use fivelens_core::replay;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn call(
    py: Python<'_>,
    options: &str,
    f: fn(&serde_json::Value) -> Result<serde_json::Value, String>,
) -> PyResult<String> {
    let options: serde_json::Value =
        serde_json::from_str(options).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.detach(|| f(&options))
        .map(|v| v.to_string())
        .map_err(PyValueError::new_err)
}

/// _replay(options_json)
/// --
///
/// Replays a trace's snapshotted calls; returns the reports as JSON text.
#[pyfunction]
fn _replay(py: Python<'_>, options: &str) -> PyResult<String> {
    call(py, options, replay::replay_json)
}

/// _dataset_export(options_json)
/// --
///
/// The dataset lines of the matching snapshotted calls, as JSON text.
#[pyfunction]
fn _dataset_export(py: Python<'_>, options: &str) -> PyResult<String> {
    call(py, options, replay::dataset_json)
}

/// _dataset_run(options_json)
/// --
///
/// Runs a dataset against a candidate; the drift report as JSON text.
#[pyfunction]
fn _dataset_run(py: Python<'_>, options: &str) -> PyResult<String> {
    call(py, options, replay::run_dataset_json)
}

/// Adds the replay functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_replay, m)?)?;
    m.add_function(wrap_pyfunction!(_dataset_export, m)?)?;
    m.add_function(wrap_pyfunction!(_dataset_run, m)?)?;
    Ok(())
}
