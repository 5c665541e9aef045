//! Core errors as Python exceptions.
//!
//! The classes live in `s3dlio/errors.py`, where each can subclass both `S3dlioError` and
//! the built-in exception that Python code already catches (`FileNotFoundError`,
//! `PermissionError`, `ValueError`, `TimeoutError`, ...).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use s3dlio::Error;

/// The exception class for `e`'s kind.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::NotFound { .. } => "NotFoundError",
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => "AccessDeniedError",
        Error::InvalidUri { .. } | Error::InvalidRange { .. } | Error::InvalidArgument { .. } => {
            "InvalidInputError"
        }
        Error::AlreadyExists { .. } => "AlreadyExistsError",
        Error::Timeout { .. } => "OperationTimeoutError",
        Error::NotSupported { .. } => "NotSupportedError",
        Error::ChecksumMismatch { .. } => "ChecksumMismatchError",
        Error::RangeFailed { source, .. } | Error::Retried { source, .. } => class_name(source),
        _ => "S3dlioError",
    }
}

/// `e` as an exception whose message names the operation, the URI and every cause.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = match e.causes() {
        Some(causes) => format!("{e}: {causes}"),
        None => e.to_string(),
    };
    let class = errors_module(py)
        .and_then(|m| m.getattr(class_name(&e)))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(lookup) => lookup,
    }
}

/// A failure of the wheel itself rather than of storage.
pub fn internal(message: String) -> PyErr {
    PyRuntimeError::new_err(message)
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("s3dlio.errors")?.unbind()))
        .map(|m| m.bind(py))
}
