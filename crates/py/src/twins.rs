//! One operation, two Python functions: `name` blocks (GIL released) and `name_async`
//! returns an awaitable. Both are generated from the same operation builder, so the two
//! can never drift apart.

use std::sync::Arc;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use s3dlio::ObjectStore;

use crate::errors::to_py;
use crate::runtime::current;

/// Declares `$name` and `$name_async` over `$op(py, args...) -> PyResult<Op<T>>`, whose
/// result `$convert` turns into the Python value.
macro_rules! twins {
    (
        $(#[$doc:meta])*
        $name:ident / $name_async:ident ($($arg:ident : $ty:ty $(= $default:tt)?),* $(,)?)
        => $op:ident -> $convert:expr
    ) => {
        $(#[$doc])*
        #[pyfunction]
        #[pyo3(signature = ($($arg $(= $default)?),*))]
        #[allow(clippy::too_many_arguments)] // `put` keeps the original API's arguments
        pub fn $name(py: Python<'_>, $($arg: $ty),*) -> PyResult<Py<PyAny>> {
            let op = $op(py, $($arg),*)?;
            let value = crate::runtime::block(py, op)?;
            ($convert)(py, value)
        }

        $(#[$doc])*
        #[pyfunction]
        #[pyo3(signature = ($($arg $(= $default)?),*))]
        #[allow(clippy::too_many_arguments)]
        pub fn $name_async<'py>(py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
            let op = $op(py, $($arg),*)?;
            crate::runtime::awaitable(py, op, $convert)
        }
    };
}
pub(crate) use twins;

/// The store for `uri` in this process's generation.
pub fn store(py: Python<'_>, uri: &str) -> PyResult<Arc<dyn ObjectStore>> {
    current(py)?.stores.get(uri).map_err(|e| to_py(py, e))
}

/// `None`, for operations that return nothing.
pub fn none(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

/// Any value with a Python form.
pub fn plain<T: for<'py> IntoPyObject<'py>>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>> {
    value.into_py_any(py)
}
