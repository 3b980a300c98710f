//! The behaviour lens from Python: goldens for drift checks and the evaluation pool's drop
//! count. Guardrails, feedback, signals and outcomes are spans and attributes
//! (`fivelens/_behaviour.py`); the core's processing thread does the rest.

use fivelens_core::behaviour;
use pyo3::prelude::*;

/// _register_golden(prompt_version, output, input=None)
/// --
///
/// Registers a golden output (kept in memory at once, persisted off the calling thread).
#[pyfunction]
#[pyo3(signature = (prompt_version, output, input=None))]
fn _register_golden(prompt_version: &str, output: &str, input: Option<&str>) {
    behaviour::register_golden(prompt_version, input, output);
}

/// _golden(prompt_version, input=None)
/// --
///
/// The golden output of a prompt version (or of one of its test inputs), or `None`. May read
/// the goldens file or the store the first time: for the evaluation pool, not a request path.
#[pyfunction]
#[pyo3(signature = (prompt_version, input=None))]
fn _golden(py: Python<'_>, prompt_version: &str, input: Option<&str>) -> Option<String> {
    py.detach(|| behaviour::golden(prompt_version, input))
}

/// _evaluation_dropped(name)
/// --
///
/// Counts an evaluation the pool dropped (`fivelens.evaluation.dropped`). Never blocks.
#[pyfunction]
fn _evaluation_dropped(name: &str) {
    behaviour::evaluation_dropped(name);
}

/// _lexical_similarity(a, b)
/// --
///
/// The core's documented lexical similarity of two texts (0 to 1).
#[pyfunction]
fn _lexical_similarity(a: &str, b: &str) -> f64 {
    behaviour::lexical_similarity(a, b)
}

/// Adds the behaviour functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_register_golden, m)?)?;
    m.add_function(wrap_pyfunction!(_golden, m)?)?;
    m.add_function(wrap_pyfunction!(_evaluation_dropped, m)?)?;
    m.add_function(wrap_pyfunction!(_lexical_similarity, m)?)?;
    Ok(())
}
