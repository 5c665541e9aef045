//! The op-log from Python: `init_op_log`, `finalize_op_log`, `is_op_log_active`,
//! `op_log_stats`, the original's names. One log per process at a time; stores are
//! rebuilt around it, so every call after `init_op_log` is recorded.

use std::path::PathBuf;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3dlio::oplog::{OpLog, OpLogOptions};

use crate::errors::to_py;
use crate::runtime::{block, op_log, set_op_log};

/// Starts recording every operation into `path` (zstd-compressed TSV in MinIO warp's
/// format). `lossy` drops rows (counted) instead of making operations wait when
/// `capacity` rows are queued; `sort_by_start` writes rows in start order at finalize.
#[pyfunction]
#[pyo3(signature = (path, *, lossy = false, capacity = 8192, client_id = None, sort_by_start = false, clock_offset_ns = 0))]
pub fn init_op_log(
    py: Python<'_>,
    path: PathBuf,
    lossy: bool,
    capacity: usize,
    client_id: Option<String>,
    sort_by_start: bool,
    clock_offset_ns: i64,
) -> PyResult<()> {
    if let Some(active) = op_log().filter(|l| l.is_active()) {
        return Err(PyRuntimeError::new_err(format!(
            "an op-log is already recording into {}; call finalize_op_log() first",
            active.path().display()
        )));
    }
    let defaults = OpLogOptions::default();
    let opts = OpLogOptions {
        capacity,
        lossy,
        client_id: client_id.unwrap_or(defaults.client_id),
        clock_offset_ns,
        sort_by_start,
        ..defaults
    };
    let log = OpLog::create(&path, opts).map_err(|e| to_py(py, e))?;
    set_op_log(py, log)
}

/// Stops recording and closes the file (writing what is queued); does nothing when no
/// log is active.
#[pyfunction]
pub fn finalize_op_log(py: Python<'_>) -> PyResult<()> {
    let Some(log) = op_log().filter(|l| l.is_active()) else {
        return Ok(());
    };
    // A finished log records nothing more; the stores are rebuilt without it.
    block(py, Box::pin(async move { log.finish().await }))?;
    crate::runtime::reset_stores(py)
}

#[pyfunction]
pub fn is_op_log_active() -> bool {
    op_log().is_some_and(|l| l.is_active())
}

/// Counters of the current (or last) log: active, path, recorded, written, dropped,
/// errors; an empty dict when none was started.
#[pyfunction]
pub fn op_log_stats(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    if let Some(log) = op_log() {
        let s = log.stats();
        d.set_item("active", log.is_active())?;
        d.set_item("path", log.path().display().to_string())?;
        d.set_item("recorded", s.recorded)?;
        d.set_item("written", s.written)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("errors", s.errors)?;
    }
    Ok(d.unbind())
}
