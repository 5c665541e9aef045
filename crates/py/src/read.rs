//! Reads: whole objects, ranges, many objects, and reads into the caller's buffer.
//! Every read returns a zero-copy `memoryview` (or `bytes` from the `_bytes` variants).

use std::sync::Arc;

use bytes::Bytes;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use s3dlio::{Error, ObjectStore, ObjectStoreExt, RangesOptions, ReadOptions};

use crate::runtime::Op;
use crate::twins::{plain, store, twins};
use crate::view::{Target, in_one_collection, memoryview, py_bytes};

fn get_op(py: Python<'_>, uri: String) -> PyResult<Op<Bytes>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.get(&uri).await }))
}

fn get_range_op(py: Python<'_>, uri: String, offset: u64, length: Option<u64>) -> PyResult<Op<Bytes>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(
        async move { store.get_range(&uri, offset, length).await },
    ))
}

twins! {
    /// The whole object as a read-only memoryview over the Rust buffer (no copy).
    get / get_async (uri: String) => get_op -> memoryview
}

twins! {
    /// The whole object as `bytes` (one copy).
    get_bytes / get_bytes_async (uri: String) => get_op -> py_bytes
}

twins! {
    /// `length` bytes from `offset` (`None`: to the end) as a read-only memoryview.
    get_range / get_range_async (uri: String, offset: u64, length: Option<u64> = None)
        => get_range_op -> memoryview
}

twins! {
    /// `length` bytes from `offset` (`None`: to the end) as `bytes` (one copy).
    get_range_bytes / get_range_bytes_async (uri: String, offset: u64, length: Option<u64> = None)
        => get_range_op -> py_bytes
}

/// `max_in_flight` of a batched call: 0 would never start a read.
pub(crate) fn check_in_flight(max_in_flight: usize) -> PyResult<()> {
    if max_in_flight == 0 {
        return Err(PyValueError::new_err("max_in_flight must be at least 1"));
    }
    Ok(())
}

fn get_ranges_op(
    py: Python<'_>,
    uri: String,
    ranges: Vec<(u64, u64)>,
    coalesce_gap: u64,
    max_merged_size: u64,
    max_in_flight: usize,
) -> PyResult<Op<Vec<Bytes>>> {
    check_in_flight(max_in_flight)?;
    let store = store(py, &uri)?;
    let ranges: Vec<_> = ranges
        .into_iter()
        .map(|(offset, length)| offset..offset.saturating_add(length))
        .collect();
    let opts = RangesOptions::default()
        .with_coalesce_gap(coalesce_gap)
        .with_max_merged_size(max_merged_size)
        .with_max_concurrency(max_in_flight);
    Ok(Box::pin(
        async move { store.get_ranges(&uri, &ranges, opts).await },
    ))
}

/// A list of `item(x)` for each of `items`, made in one collection (each holds a view).
fn list_of<T>(py: Python<'_>, items: Vec<T>, item: impl Fn(T) -> PyResult<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    in_one_collection(py, || {
        let list = PyList::empty(py);
        for x in items {
            list.append(item(x)?)?;
        }
        Ok(list.into_any().unbind())
    })
}

fn views(py: Python<'_>, items: Vec<Bytes>) -> PyResult<Py<PyAny>> {
    list_of(py, items, |data| memoryview(py, data))
}

twins! {
    /// Many `(offset, length)` ranges of one object, as read-only memoryviews in request
    /// order. Ranges at most `coalesce_gap` bytes apart share one request while it spans
    /// at most `max_merged_size` bytes (either 0: every range is its own request); each
    /// view slices its request's buffer (no copy), unless the ranges of a merged request
    /// hold less than half of it: then their bytes are copied into one buffer, so views
    /// never keep a merge's gaps in memory; all requests read one version.
    get_ranges / get_ranges_async (
        uri: String,
        ranges: Vec<(u64, u64)>,
        coalesce_gap: u64 = 1_048_576,
        max_merged_size: u64 = 16_777_216,
        max_in_flight: usize = 16
    ) => get_ranges_op -> views
}

/// Each URI with its store, once `max_in_flight` is known to be usable.
fn jobs(
    py: Python<'_>,
    uris: Vec<String>,
    max_in_flight: usize,
) -> PyResult<Vec<(Arc<dyn ObjectStore>, String)>> {
    check_in_flight(max_in_flight)?;
    uris.into_iter().map(|uri| Ok((store(py, &uri)?, uri))).collect()
}

fn get_many_op(
    py: Python<'_>,
    uris: Vec<String>,
    max_in_flight: usize,
) -> PyResult<Op<Vec<(String, Bytes)>>> {
    let jobs = jobs(py, uris, max_in_flight)?;
    Ok(Box::pin(s3dlio::get_many(jobs, max_in_flight)))
}

fn get_many_stats_op(py: Python<'_>, uris: Vec<String>, max_in_flight: usize) -> PyResult<Op<(u64, u64)>> {
    let jobs = jobs(py, uris, max_in_flight)?;
    Ok(Box::pin(s3dlio::get_many_stats(jobs, max_in_flight)))
}

twins! {
    /// Reads every object, `max_in_flight` at a time, and keeps only `(count,
    /// total_bytes)`: memory holds at most `max_in_flight` objects.
    get_many_stats / get_many_stats_async (uris: Vec<String>, max_in_flight: usize = 64)
        => get_many_stats_op -> plain
}

fn uri_views(py: Python<'_>, items: Vec<(String, Bytes)>) -> PyResult<Py<PyAny>> {
    list_of(py, items, |(uri, data)| {
        (uri, memoryview(py, data)?).into_py_any(py)
    })
}

twins! {
    /// Many objects, `max_in_flight` at a time, as `(uri, memoryview)` in input order.
    get_many / get_many_async (uris: Vec<String>, max_in_flight: usize = 64)
        => get_many_op -> uri_views
}

fn get_into_op(
    py: Python<'_>,
    uri: String,
    buffer: Bound<'_, PyAny>,
    offset: u64,
    length: Option<u64>,
) -> PyResult<Op<u64>> {
    let target = Target::new(&buffer)?;
    if let Some(len) = length.filter(|&len| len > target.len() as u64) {
        return Err(PyValueError::new_err(format!(
            "buffer of {} bytes is too small for {len} bytes of {uri}",
            target.len()
        )));
    }
    let store = store(py, &uri)?;
    let out = target.into_output();
    Ok(Box::pin(async move {
        // The read path learns the size from its first response (no HEAD) and refuses a
        // buffer too small before a byte is written.
        let opts = ReadOptions::default().with_range(offset, length);
        match store.read_into(&uri, opts, out).await {
            // Reading at the end of the object: nothing to copy.
            Err(Error::InvalidRange { size, .. }) if offset == size => Ok(0),
            read => read,
        }
    }))
}

twins! {
    /// Reads `uri` (or `length` bytes from `offset`) straight into the writable `buffer`;
    /// returns the bytes read.
    get_into / get_into_async (uri: String, buffer: Bound<'_, PyAny>, offset: u64 = 0, length: Option<u64> = None)
        => get_into_op -> plain
}
