//! Writes: bytes from any Python buffer, synthetic objects, and a streaming writer.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMemoryView};
use s3dlio::as_prefix;
use s3dlio::datagen::DataSpec;
use s3dlio::transfer::{Generation, abandon, object_name, put_generated, synthetic};
use s3dlio::{ObjectStoreExt, ObjectWriter, Operation, PutOptions, Scheme, WriteSummary, WriterOptions};

use crate::manage::ensure_container;
use crate::read::check_in_flight;
use crate::reserve::ReservedBuffer;
use crate::runtime::{Op, block, current};
use crate::twins::{none, store, twins};
use crate::view::{bytes_from, held, is_shared, stage};
use s3dlio::staging::Staging;

/// A store that keeps the `Bytes` it is given (memory://) would see later changes to
/// the caller's buffer, so it gets a private copy of any buffer but `bytes`.
pub(crate) fn keeps_buffers(uri: &str) -> bool {
    Scheme::of(uri) == Some(Scheme::Memory)
}

fn put_bytes_op(py: Python<'_>, uri: String, data: Bound<'_, PyAny>) -> PyResult<Op<()>> {
    let data = bytes_from(&data, "data", keeps_buffers(&uri))?;
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.put(&uri, data).await.map(drop) }))
}

twins! {
    /// Stores `data` (any C-contiguous buffer, not copied) as `uri`, atomically.
    put_bytes / put_bytes_async (uri: String, data: Bound<'_, PyAny>) => put_bytes_op -> none
}

fn put_many_op(
    py: Python<'_>,
    items: Vec<(String, Bound<'_, PyAny>)>,
    max_in_flight: usize,
    borrow: bool,
) -> PyResult<Op<()>> {
    check_in_flight(max_in_flight)?;
    // Every payload is checked (a bad type raises TypeError) before any I/O starts.
    let jobs = items
        .into_iter()
        .map(|(uri, data)| {
            let data = bytes_from(&data, "data", !borrow || keeps_buffers(&uri))?;
            Ok((store(py, &uri)?, uri, data))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Box::pin(s3dlio::put_many(jobs, max_in_flight)))
}

twins! {
    /// Stores every `(uri, data)` item, `max_in_flight` at a time; every item is tried and
    /// the first failure (in input order) is raised. `borrow=False` copies each buffer
    /// first, so the caller may change it while the puts run.
    put_many / put_many_async (
        items: Vec<(String, Bound<'_, PyAny>)>,
        max_in_flight: usize = 64,
        borrow: bool = true
    ) => put_many_op -> none
}

#[allow(clippy::too_many_arguments)]
fn put_op(
    py: Python<'_>,
    prefix: String,
    num: u64,
    template: Option<String>,
    max_in_flight: usize,
    size: Option<u64>,
    should_create_bucket: bool,
    object_type: &str,
    dedup_factor: u64,
    compress_factor: u64,
    data_gen_algorithm: &str,
    data_gen_mode: &str,
    chunk_size: usize,
) -> PyResult<Op<()>> {
    if chunk_size == 0 || dedup_factor == 0 || compress_factor == 0 || max_in_flight == 0 {
        return Err(PyValueError::new_err(
            "chunk_size, dedup_factor, compress_factor and max_in_flight must be at least 1",
        ));
    }
    let spec = DataSpec::default()
        .with_dedup(dedup_factor)
        .with_compress(compress_factor);
    let what = synthetic(object_type, spec).map_err(|m| match object_type.eq_ignore_ascii_case("hdf5") {
        true => PyNotImplementedError::new_err(m),
        false => PyValueError::new_err(m),
    })?;
    if data_gen_algorithm != "random" {
        return Err(PyValueError::new_err(
            "data_gen_algorithm must be 'random' (the one generator s3dlio has)",
        ));
    }
    let how = match data_gen_mode {
        "streaming" => Generation::Streaming { step: chunk_size },
        "single-pass" => Generation::SinglePass,
        other => {
            return Err(PyValueError::new_err(format!(
                "data_gen_mode={other:?}: use 'streaming' (chunk_size bytes at a time) or 'single-pass' \
                 (each object generated whole, then stored with one put)"
            )));
        }
    };
    let template = template.unwrap_or_else(|| "object_{}_of_{}.dat".into());
    if num > 1 && !template.contains("{}") {
        return Err(PyValueError::new_err(format!(
            "template {template:?} has no {{}} for the object index: all {num} objects would get one name"
        )));
    }
    let prefix = as_prefix(&prefix);
    let size = size.unwrap_or(20 * 1024 * 1024);
    let store = store(py, &prefix)?;
    Ok(Box::pin(async move {
        if should_create_bucket && store.capabilities().explicit_containers {
            ensure_container(&*store, &prefix).await?;
        }
        stream::iter(0..num)
            .map(|i| {
                let uri = format!("{prefix}{}", object_name(&template, i, num));
                let what = what.with_seed(i);
                let store = store.clone();
                async move { put_generated(&*store, &uri, size, what, how).await }
            })
            .buffer_unordered(max_in_flight)
            .try_for_each(|_| async { Ok(()) })
            .await
    }))
}

twins! {
    /// Writes `num` synthetic objects of `size` bytes under `prefix`, named by `template`
    /// (first `{}`: index, second: count), `max_in_flight` at a time. `object_type`
    /// 'zeros' writes zero bytes; 'random' (or 'raw') generated data that `dedup_factor`
    /// and `compress_factor` shape as in `generate_data`; 'npz', 'tfrecord' and 'parquet'
    /// files of about `size` bytes that numpy, TensorFlow and pyarrow read, holding such
    /// data ('hdf5' raises: no HDF5 writer is built in). `data_gen_mode` 'streaming'
    /// generates `chunk_size` bytes at a time into a streaming upload; 'single-pass'
    /// generates each object whole and stores it with one put (file types choose their
    /// own pieces).
    put / put_async (
        prefix: String,
        num: u64,
        template: Option<String> = None,
        max_in_flight: usize = 64,
        size: Option<u64> = None,
        should_create_bucket: bool = false,
        object_type: &str = "zeros",
        dedup_factor: u64 = 1,
        compress_factor: u64 = 1,
        data_gen_algorithm: &str = "random",
        data_gen_mode: &str = "streaming",
        chunk_size: usize = 262144,
    ) => put_op -> none
}

/// A streaming upload: `write` any buffers, then `close` makes the object visible.
/// Nothing is visible before; `abort` (or an exception inside `with`) discards it all.
/// It speaks the writable-file protocol (`write` returns the count, `tell`, `flush`,
/// `writable`, `closed`), so `torch.save(obj, writer)` and `shutil.copyfileobj` take it.
#[pyclass(module = "s3dlio", name = "ObjectWriter")]
#[derive(Debug)]
pub struct Writer {
    uri: String,
    // A Mutex only to make the class Sync; every method holds it briefly.
    inner: std::sync::Mutex<Option<Box<dyn ObjectWriter>>>,
    written: u64,
    /// `reused_bytes` and `stored_bytes` of the writer when it was closed.
    reused: u64,
    stored: u64,
    /// What a successful `close` returned: closing again returns it (as a file's second
    /// `close` does nothing), where a writer that failed or was aborted raises.
    summary: Option<Py<PyAny>>,
    /// Borrowed buffers copied into part-sized blocks before the writer takes them.
    staging: Staging,
    /// The running CRC32C of the bytes handed over, when asked for.
    crc: Option<u32>,
    /// A `reserve`d buffer not yet committed, and the memoryview given out over it.
    reserved: Option<(Py<ReservedBuffer>, Py<PyAny>)>,
}

/// Staging blocks of a writer that does not upload in parts.
const STAGING_BLOCK: usize = 8 << 20;

impl Writer {
    /// Fails as a write would once the writer is closed or aborted.
    fn ensure_open(&self) -> PyResult<()> {
        match self.slot().is_some() {
            true => Ok(()),
            false => Err(self.closed_error()),
        }
    }

    fn closed_error(&self) -> PyErr {
        PyRuntimeError::new_err(format!(
            "the writer for {} is closed or aborted; open a new one with s3dlio.open_writer",
            self.uri
        ))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Box<dyn ObjectWriter>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&mut self) -> PyResult<Box<dyn ObjectWriter>> {
        self.slot().take().ok_or_else(|| self.closed_error())
    }

    /// Passes `blocks` to the writer, in order (nothing to do for none: a small write
    /// only staged), extending the checksum over them. A failed write abandons the
    /// upload.
    fn hand_over(&mut self, py: Python<'_>, blocks: Vec<Bytes>) -> PyResult<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        let mut writer = self.take()?;
        let uri = self.uri.clone();
        let mut crc = self.crc;
        let op: Op<(Box<dyn ObjectWriter>, Option<u32>)> = Box::pin(async move {
            for data in blocks {
                if let Some(sum) = crc {
                    crc = Some(s3dlio::crc32c_extend(Operation::Write, &uri, sum, data.clone()).await?);
                }
                if let Err(e) = writer.write(data).await {
                    return Err(abandon(writer, &uri, e).await);
                }
            }
            Ok((writer, crc))
        });
        let (writer, crc) = block(py, op)?;
        *self.slot() = Some(writer);
        self.crc = crc;
        Ok(())
    }

    /// Hands `data` over after what is staged, so the object's bytes stay in order.
    fn append(&mut self, py: Python<'_>, data: Bytes) -> PyResult<()> {
        let len = data.len() as u64;
        match self.staging.is_empty() {
            true => self.hand_over(py, vec![data])?,
            false => self.copy_in(py, &data)?,
        }
        self.written += len;
        Ok(())
    }

    /// Copies `data` into the staging blocks a block at a time, each full block handed
    /// over before the next is copied: a large write holds no more blocks than the
    /// writer's parts in flight.
    fn copy_in(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        for chunk in data.chunks(self.staging.block_size()) {
            let blocks = stage(py, chunk, &mut self.staging);
            self.hand_over(py, blocks)?;
        }
        Ok(())
    }
}

#[pymethods]
impl Writer {
    /// Appends `data` (any C-contiguous buffer) and returns its length. The writer holds
    /// parts after the call returns, so only `bytes` and `BytesView` are shared (unless
    /// `copy=True`); any other buffer is copied (into part-sized blocks) and may be
    /// reused at once, as a file allows. Waits while the writer's parts in flight are
    /// full. A failed write aborts the upload.
    #[pyo3(signature = (data, /, *, copy = false))]
    fn write(&mut self, py: Python<'_>, data: Bound<'_, PyAny>, copy: bool) -> PyResult<u64> {
        self.ensure_open()?;
        if !copy && is_shared(&data) {
            let shared = bytes_from(&data, "data", true)?;
            let len = shared.len() as u64;
            self.append(py, shared)?;
            return Ok(len);
        }
        let held = held(&data, "data")?;
        let len = held.as_ref().len() as u64;
        self.copy_in(py, held.as_ref())?;
        self.written += len;
        Ok(len)
    }

    /// A writable `memoryview` of `size` bytes of Rust memory to fill, then `commit`:
    /// the bytes go to the upload without being copied from Python. One reservation at
    /// a time.
    #[pyo3(signature = (size, /))]
    fn reserve(&mut self, py: Python<'_>, size: usize) -> PyResult<Py<PyAny>> {
        self.ensure_open()?;
        if self.reserved.is_some() {
            return Err(PyRuntimeError::new_err(format!(
                "reserve() on the writer for {}: the buffer reserved before is not committed; \
                 call commit(nbytes) first",
                self.uri
            )));
        }
        let buffer = Bound::new(py, ReservedBuffer::new(size))?;
        let view = PyMemoryView::from(buffer.as_any())?.into_any().unbind();
        self.reserved = Some((buffer.unbind(), view.clone_ref(py)));
        Ok(view)
    }

    /// Appends the first `nbytes` of the reserved buffer and releases the `memoryview`
    /// `reserve` returned (using it afterwards raises `ValueError`). Without a copy when
    /// no other view of the buffer is alive; else the bytes are copied once, so later
    /// changes through such a view never reach the upload.
    #[pyo3(signature = (nbytes, /))]
    fn commit(&mut self, py: Python<'_>, nbytes: usize) -> PyResult<()> {
        self.ensure_open()?;
        let Some((buffer, view)) = self.reserved.take() else {
            return Err(PyRuntimeError::new_err(format!(
                "commit() on the writer for {}: nothing is reserved; call reserve(size) first",
                self.uri
            )));
        };
        let size = buffer.get().len();
        if nbytes > size {
            self.reserved = Some((buffer, view));
            return Err(PyValueError::new_err(format!(
                "commit(nbytes={nbytes}) on the writer for {}: only {size} bytes are reserved",
                self.uri
            )));
        }
        // A view with exports of its own (an array over it) cannot be released: the
        // buffer stays shared and `take` copies.
        let _ = view.bind(py).call_method0("release");
        let data = buffer.get().take(nbytes);
        self.append(py, data)
    }

    /// Does nothing: parts upload as they fill, and nothing is visible before `close`
    /// whatever is flushed (file protocol; `torch.save` calls it).
    fn flush(&self) -> PyResult<()> {
        self.ensure_open()
    }

    /// Bytes written so far: the stream's position (it only appends).
    fn tell(&self) -> PyResult<u64> {
        self.ensure_open()?;
        Ok(self.written)
    }

    fn writable(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        false
    }

    fn seekable(&self) -> bool {
        false
    }

    /// True once closed or aborted.
    #[getter]
    fn closed(&self) -> bool {
        self.slot().is_none()
    }

    /// Finishes the upload and makes the object visible; returns a summary dict. Its
    /// error is the upload's error. A reserved buffer not committed is dropped. Closing a
    /// closed writer returns the same summary (`TextIOWrapper` and fsspec's `OpenFile`
    /// both close it); closing an aborted or failed one raises.
    fn close(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(summary) = &self.summary {
            return Ok(summary.clone_ref(py));
        }
        self.ensure_open()?;
        self.reserved = None;
        let rest = self.staging.take_rest();
        if !rest.is_empty() {
            self.hand_over(py, vec![rest])?;
        }
        let writer = self.take()?;
        self.reused = writer.reused_bytes();
        let summary: WriteSummary = block(py, Box::pin(writer.finalize()))?;
        self.stored = summary.size;
        let d = PyDict::new(py);
        d.set_item("uri", summary.uri)?;
        d.set_item("bytes_written", summary.bytes_written)?;
        d.set_item("size", summary.size)?;
        d.set_item("etag", summary.e_tag)?;
        let d = d.into_any().unbind();
        self.summary = Some(d.clone_ref(py));
        Ok(d)
    }

    /// Discards the upload; no object is left behind. Aborting a closed writer does nothing.
    fn abort(&mut self, py: Python<'_>) -> PyResult<()> {
        let writer = self.slot().take();
        match writer {
            Some(writer) => block(py, Box::pin(writer.cancel())),
            None => Ok(()),
        }
    }

    /// Bytes accepted so far.
    #[getter]
    fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Of those, bytes a resumed upload found stored and did not send again (kept after
    /// `close`).
    #[getter]
    fn reused_bytes(&self) -> u64 {
        self.slot().as_ref().map_or(self.reused, |w| w.reused_bytes())
    }

    /// Bytes handed on to be stored: `bytes_written` unless compressed (then the
    /// compressed bytes so far; after `close`, the stored object's size).
    #[getter]
    fn stored_bytes(&self) -> u64 {
        self.slot().as_ref().map_or(self.stored, |w| w.stored_bytes())
    }

    /// The CRC32C of the bytes accepted so far (a writer opened with `checksum=True`),
    /// else None. Bytes still staged count once handed over, at the latest on `close`.
    #[getter]
    fn crc32c(&self) -> Option<u32> {
        self.crc
    }

    /// The size of the parts this writer uploads, or None when it does not upload in
    /// parts (a file, a compressed stream).
    #[getter]
    fn part_size(&self) -> Option<usize> {
        self.slot().as_ref().and_then(|w| w.part_size())
    }

    /// True for a journaled writer: an exception inside `with` (or a failed write)
    /// keeps the upload for a resume instead of discarding it; `abort` still discards.
    #[getter]
    fn resumable(&self) -> bool {
        self.slot().as_ref().is_some_and(|w| w.resumable())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes on a clean exit (raising its error), aborts when the block raised (a
    /// journaled writer keeps its upload for a resume instead).
    fn __exit__(
        &mut self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if exc_type.is_some() && self.resumable() {
            let kept = self.slot().take();
            drop_on_runtime(py, kept);
        } else if exc_type.is_some() {
            self.abort(py)?;
        } else if self.slot().is_some() {
            self.close(py)?;
        }
        Ok(false)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let writer = self.slot().take();
        Python::attach(|py| drop_on_runtime(py, writer));
    }
}

/// Drops an unclosed writer inside the runtime: its drop discards the upload (or keeps a
/// journaled one) by spawning the cleanup there.
fn drop_on_runtime(py: Python<'_>, writer: Option<Box<dyn ObjectWriter>>) {
    let Some(writer) = writer else { return };
    match current(py) {
        Ok(generation) => {
            let _entered = generation.runtime.enter();
            drop(writer);
        }
        Err(_) => std::mem::forget(writer),
    }
}

/// Opens a streaming upload to `uri`. `part_size` and `max_in_flight` bound memory
/// (`max_in_flight × part_size`); `zstd_level` compresses the stream, in pieces of
/// `buffer_size` bytes. `journal` (a local path) makes it resumable on S3 and Azure: a
/// writer given the journal of an unfinished upload of `uri` sends only the parts the
/// service lacks. `checksum=True` keeps a CRC32C of the bytes written (`crc32c`);
/// `content_type` is stored with the object (object stores only).
#[pyfunction]
#[pyo3(signature = (
    uri, part_size = None, max_in_flight = None, zstd_level = None, journal = None,
    *, checksum = false, content_type = None, buffer_size = None
))]
#[allow(clippy::too_many_arguments)]
pub fn open_writer(
    py: Python<'_>,
    uri: String,
    part_size: Option<usize>,
    max_in_flight: Option<usize>,
    zstd_level: Option<i32>,
    journal: Option<std::path::PathBuf>,
    checksum: bool,
    content_type: Option<String>,
    buffer_size: Option<usize>,
) -> PyResult<Writer> {
    let mut opts = WriterOptions::default();
    if let Some(content_type) = content_type {
        opts = opts.with_put_options(PutOptions::default().with_content_type(content_type));
    }
    if let Some(bytes) = buffer_size {
        opts = opts.with_buffer_size(bytes);
    }
    if let Some(path) = journal {
        opts = opts.with_journal(path);
    }
    if let Some(bytes) = part_size {
        opts = opts.with_part_size(bytes);
    }
    if let Some(parts) = max_in_flight {
        opts = opts.with_max_in_flight(parts);
    }
    if let Some(level) = zstd_level {
        opts = opts.with_zstd_level(level);
    }
    let store = store(py, &uri)?;
    let target = uri.clone();
    let writer = block(py, Box::pin(async move { store.get_writer(&target, opts).await }))?;
    Ok(Writer {
        uri,
        staging: Staging::new(writer.part_size().unwrap_or(STAGING_BLOCK)),
        inner: std::sync::Mutex::new(Some(writer)),
        written: 0,
        reused: 0,
        stored: 0,
        summary: None,
        crc: checksum.then_some(0),
        reserved: None,
    })
}
