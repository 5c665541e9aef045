//! # s3dlio-py
//!
//! The native module `s3dlio._s3dlio` behind the `s3dlio` Python package (built by
//! maturin into one abi3 wheel for CPython ≥ 3.11). Reads return read-only `memoryview`s
//! over the Rust `Bytes` — no copy between the storage response and Python:
//!
//! ```python
//! import numpy as np, s3dlio
//! s3dlio.put_bytes("file:///tmp/x.bin", b"\x01\x02\x03")
//! view = s3dlio.get("file:///tmp/x.bin")          # memoryview, read-only, zero-copy
//! assert view.obj.address == np.frombuffer(view, np.uint8).ctypes.data
//! ```
//!
//! Every I/O function has an `_async` twin; both run on one Tokio runtime per process
//! (renewed in a forked child), with the GIL released while they wait.

mod checkpoint;
mod errors;
mod generate;
mod inbox;
mod loader;
mod manage;
mod multi;
mod oplog;
mod parquet;
mod read;
mod reserve;
mod runtime;
mod stream;
mod twins;
mod view;
mod write;

use std::collections::BTreeMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Sends the library's `tracing` events to stderr at `level` (error, warn, info, debug,
/// trace) or a full `RUST_LOG`-style filter. Call once; later calls change nothing.
#[pyfunction]
fn init_logging(level: &str) -> PyResult<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| PyValueError::new_err(format!("logging level {level:?}: {e}")))?;
    // A second call finds a subscriber installed; the first one stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

/// `s3dlio.configure`: the knobs' variables with their values, in front of the process
/// environment (which is read again too) for every store made from now on. A malformed
/// read, retry or limit knob raises here, naming its variable; a backend's, on the first
/// call that makes that backend's store.
#[pyfunction]
fn _configure(py: Python<'_>, vars: BTreeMap<String, String>) -> PyResult<()> {
    let options = s3dlio::StoreOptions::from_vars(vars).map_err(|e| errors::to_py(py, e))?;
    runtime::set_options(py, options)
}

/// Called by `os.register_at_fork(before=...)` (see `runtime::before_fork`).
#[pyfunction]
fn _before_fork(py: Python<'_>) {
    runtime::before_fork(py);
}

/// Called by `atexit` (see `runtime::at_exit`).
#[pyfunction]
fn _at_exit(py: Python<'_>) {
    runtime::at_exit(py);
}

#[pymodule]
fn _s3dlio(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<view::BytesView>()?;
    m.add_class::<write::Writer>()?;
    m.add_class::<reserve::ReservedBuffer>()?;
    m.add_class::<checkpoint::PyCheckpointStore>()?;
    m.add_class::<multi::PyMultiEndpointStore>()?;
    m.add_function(wrap_pyfunction!(multi::create_multi_endpoint_store, m)?)?;
    m.add_function(wrap_pyfunction!(
        multi::create_multi_endpoint_store_from_template,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(multi::create_multi_endpoint_store_from_file, m)?)?;
    m.add_function(wrap_pyfunction!(multi::create_multi_endpoint_store_from_env, m)?)?;
    m.add_class::<stream::Reader>()?;
    m.add_function(wrap_pyfunction!(stream::open_reader, m)?)?;
    m.add_class::<loader::PyDataset>()?;
    m.add_class::<loader::PyLoader>()?;
    m.add_function(wrap_pyfunction!(loader::create_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(loader::create_loader, m)?)?;
    m.add_function(wrap_pyfunction!(loader::create_async_loader, m)?)?;
    m.add_function(wrap_pyfunction!(init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(manage::parse_s3_uri_full, m)?)?;
    m.add_function(wrap_pyfunction!(manage::gcs_bucket_storage_class, m)?)?;
    m.add_function(wrap_pyfunction!(_configure, m)?)?;
    m.add_function(wrap_pyfunction!(_before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(_at_exit, m)?)?;
    m.add_class::<generate::PyGenerator>()?;
    m.add_function(wrap_pyfunction!(generate::generate_data, m)?)?;
    m.add_function(wrap_pyfunction!(generate::generate_data_with_threads, m)?)?;
    m.add_function(wrap_pyfunction!(generate::generate_into_buffer, m)?)?;
    m.add_function(wrap_pyfunction!(generate::generate_npz_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::generate_parquet_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::generate_parquet_bytes_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::generate_and_write_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::generate_and_write_parquet_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_get_rg, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_get_rg_async, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_rg_row_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_cache_invalidate, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_cache_clear, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::parquet_cache_len, m)?)?;
    m.add_class::<parquet::PyParquetIndex>()?;
    m.add_class::<parquet::PyParquetItem>()?;
    m.add_class::<parquet::PyParquetStreamLoader>()?;
    m.add_class::<parquet::ParquetStreamIter>()?;
    m.add_function(wrap_pyfunction!(generate::py_total_cpus, m)?)?;
    m.add_function(wrap_pyfunction!(generate::py_default_data_gen_threads, m)?)?;
    m.add_function(wrap_pyfunction!(write::open_writer, m)?)?;
    m.add_function(wrap_pyfunction!(oplog::init_op_log, m)?)?;
    m.add_function(wrap_pyfunction!(oplog::finalize_op_log, m)?)?;
    m.add_function(wrap_pyfunction!(oplog::is_op_log_active, m)?)?;
    m.add_function(wrap_pyfunction!(oplog::op_log_stats, m)?)?;
    macro_rules! add_twins {
        ($($module:ident :: $name:ident / $name_async:ident),* $(,)?) => {
            $(
                m.add_function(wrap_pyfunction!($module::$name, m)?)?;
                m.add_function(wrap_pyfunction!($module::$name_async, m)?)?;
            )*
        };
    }
    add_twins!(
        read::get / get_async,
        read::get_bytes / get_bytes_async,
        read::get_range / get_range_async,
        read::get_range_bytes / get_range_bytes_async,
        read::get_many / get_many_async,
        read::get_many_stats / get_many_stats_async,
        write::put_many / put_many_async,
        manage::list_containers / list_containers_async,
        read::get_ranges / get_ranges_async,
        read::get_into / get_into_async,
        write::put_bytes / put_bytes_async,
        write::put / put_async,
        manage::list / list_async,
        manage::list_stat / list_stat_async,
        manage::list_uploads / list_uploads_async,
        manage::abort_uploads / abort_uploads_async,
        manage::stat / stat_async,
        manage::exists / exists_async,
        manage::delete / delete_async,
        manage::copy / copy_async,
        manage::upload / upload_async,
        manage::download / download_async,
        manage::mkdir / mkdir_async,
        manage::create_bucket / create_bucket_async,
        manage::delete_bucket / delete_bucket_async,
    );
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
