//! The original's Parquet functions: generated files (in memory or streamed to a URI),
//! row groups by byte range through a process-wide footer cache, a row index, and a
//! stream of every row group of many files.

use std::sync::Arc;

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3dlio::datagen::DataSpec;
use s3dlio::parquet::{
    Column, DEFAULT_FOOTER_CAP, Decode, FooterCache, ParquetIndex, ParquetSpec, RowGroup, StreamOptions,
    generate, spawn_row_groups,
};
use s3dlio::transfer::write_parquet;
use s3dlio::{ObjectStore, ObjectStoreExt};
use tokio::sync::{Mutex, mpsc};

use crate::runtime::{Op, block, current};
use crate::twins::{store, twins};
use crate::view::memoryview;

fn columns_of(num_cols: usize) -> Vec<Column> {
    (0..num_cols).map(|i| Column::new(format!("col{i}"), 1)).collect()
}

fn named(columns: Vec<(String, usize)>) -> Vec<Column> {
    columns
        .into_iter()
        .map(|(name, width)| Column::new(name, width))
        .collect()
}

fn spec(columns: Vec<Column>, rows_per_rg: usize, num_row_groups: usize, seed: u64) -> ParquetSpec {
    ParquetSpec::new(columns, rows_per_rg, num_row_groups).with_data(DataSpec::default().with_seed(seed))
}

fn in_memory(py: Python<'_>, spec: ParquetSpec) -> PyResult<Py<PyAny>> {
    let file = py
        .detach(|| generate("generated.parquet", &spec))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    memoryview(py, file)
}

fn to_uri(py: Python<'_>, uri: String, spec: ParquetSpec) -> PyResult<()> {
    let store = store(py, &uri)?;
    block(
        py,
        Box::pin(async move { write_parquet(&*store, &uri, spec).await.map(drop) }),
    )
}

/// A Parquet file of `num_cols` Float32 columns `col0`… and `num_row_groups` row groups
/// of `rows_per_rg` rows of generated data (uncompressed, no statistics or
/// dictionaries), as a read-only memoryview.
#[pyfunction]
#[pyo3(signature = (num_cols, rows_per_rg, num_row_groups, *, seed = 0))]
pub fn generate_parquet_bytes(
    py: Python<'_>,
    num_cols: usize,
    rows_per_rg: usize,
    num_row_groups: usize,
    seed: u64,
) -> PyResult<Py<PyAny>> {
    in_memory(py, spec(columns_of(num_cols), rows_per_rg, num_row_groups, seed))
}

/// `generate_parquet_bytes` with named columns: `(name, width)`, width 1 a Float32
/// column, more a FixedSizeList<Float32>[width] (an embedding per row).
#[pyfunction]
#[pyo3(signature = (columns, rows_per_rg, num_row_groups, *, seed = 0))]
pub fn generate_parquet_bytes_schema(
    py: Python<'_>,
    columns: Vec<(String, usize)>,
    rows_per_rg: usize,
    num_row_groups: usize,
    seed: u64,
) -> PyResult<Py<PyAny>> {
    in_memory(py, spec(named(columns), rows_per_rg, num_row_groups, seed))
}

/// `generate_parquet_bytes`'s file written to `uri`, a row group at a time (memory: one
/// row group and the writer's parts in flight); nothing is visible until it is whole.
#[pyfunction]
#[pyo3(signature = (uri, num_cols, rows_per_rg, num_row_groups, *, seed = 0))]
pub fn generate_and_write_parquet(
    py: Python<'_>,
    uri: String,
    num_cols: usize,
    rows_per_rg: usize,
    num_row_groups: usize,
    seed: u64,
) -> PyResult<()> {
    to_uri(
        py,
        uri,
        spec(columns_of(num_cols), rows_per_rg, num_row_groups, seed),
    )
}

/// `generate_parquet_bytes_schema`'s file written to `uri`, a row group at a time. The
/// original's `generate_and_write_parquet_schema_streaming` is this same function: every
/// write streams here.
#[pyfunction]
#[pyo3(signature = (uri, columns, rows_per_rg, num_row_groups, *, seed = 0))]
pub fn generate_and_write_parquet_schema(
    py: Python<'_>,
    uri: String,
    columns: Vec<(String, usize)>,
    rows_per_rg: usize,
    num_row_groups: usize,
    seed: u64,
) -> PyResult<()> {
    to_uri(py, uri, spec(named(columns), rows_per_rg, num_row_groups, seed))
}

fn decode_of(decode: &str) -> PyResult<Decode> {
    decode.parse().map_err(PyValueError::new_err)
}

fn get_rg_op(
    py: Python<'_>,
    uri: String,
    rg_idx: usize,
    col_indices: Option<Vec<usize>>,
    footer_cap: u64,
    decode: &str,
) -> PyResult<Op<Bytes>> {
    let decode = decode_of(decode)?;
    let store = store(py, &uri)?;
    Ok(Box::pin(async move {
        FooterCache::global()
            .read_row_group(&*store, &uri, rg_idx, col_indices.as_deref(), decode, footer_cap)
            .await
    }))
}

// Python signatures show their defaults only when written as literals.
const _: () = assert!(
    DEFAULT_FOOTER_CAP == 4_194_304,
    "footer_cap's default in the signatures below"
);

twins! {
    /// Row group `rg_idx` of the Parquet file `uri` (footer read once per process and
    /// cached), every request pinned to the footer's version. `decode='arrow'`: the
    /// columns `col_indices` (leaf indices; None: all) as an Arrow IPC stream
    /// (`pyarrow.ipc.open_stream`), fetching only their chunks; `'raw'`: the bytes from the
    /// first selected column chunk to the end of the last, as stored.
    parquet_get_rg / parquet_get_rg_async (
        uri: String,
        rg_idx: usize,
        col_indices: Option<Vec<usize>> = None,
        footer_cap: u64 = 4_194_304,
        decode: &str = "arrow"
    ) => get_rg_op -> memoryview
}

/// The first row of each row group of `uri`, then the total: `num_row_groups + 1`
/// entries (footer cached as for `parquet_get_rg`).
#[pyfunction]
pub fn parquet_rg_row_offsets(py: Python<'_>, uri: String) -> PyResult<Vec<i64>> {
    let store = store(py, &uri)?;
    let op: Op<Vec<i64>> = Box::pin(async move {
        let footer = FooterCache::global()
            .footer(&*store, &uri, DEFAULT_FOOTER_CAP)
            .await?;
        Ok(footer.row_offsets.clone())
    });
    block(py, op)
}

/// Forgets the cached footer of `uri` (the next read fetches it again).
#[pyfunction]
pub fn parquet_cache_invalidate(uri: &str) {
    FooterCache::global().invalidate(uri);
}

/// Forgets every cached footer.
#[pyfunction]
pub fn parquet_cache_clear() {
    FooterCache::global().clear();
}

/// Files whose footers the cache holds.
#[pyfunction]
pub fn parquet_cache_len() -> usize {
    FooterCache::global().len()
}

/// Row-group byte ranges of many Parquet files, for readers that pick samples by row:
/// which row group holds a row, where its bytes are, and whether an epoch fetched it.
#[pyclass(module = "s3dlio", name = "PyParquetIndex")]
#[derive(Debug)]
pub struct PyParquetIndex {
    index: Arc<ParquetIndex>,
}

#[pymethods]
impl PyParquetIndex {
    #[new]
    #[pyo3(signature = (col_indices = None, footer_cap = 4_194_304))]
    fn new(col_indices: Option<Vec<usize>>, footer_cap: u64) -> Self {
        PyParquetIndex {
            index: Arc::new(ParquetIndex::new(col_indices, footer_cap)),
        }
    }

    /// Reads the footers of the files not indexed yet, `batch_size` at a time. Returns
    /// how many row groups of `uris` are not yet marked fetched in `epoch`.
    #[pyo3(signature = (uris, epoch = 1, batch_size = 16))]
    fn ensure_indexed(
        &self,
        py: Python<'_>,
        uris: Vec<String>,
        epoch: u32,
        batch_size: usize,
    ) -> PyResult<usize> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        let files = (uris.iter())
            .map(|u| Ok((store(py, u)?, u.clone())))
            .collect::<PyResult<Vec<(Arc<dyn ObjectStore>, String)>>>()?;
        let index = self.index.clone();
        block(
            py,
            Box::pin(async move { index.ensure_indexed(files, batch_size).await }),
        )?;
        Ok(uris.iter().map(|u| self.index.unfetched(u, epoch)).sum())
    }

    /// The row group of `uri` holding its row `sample_idx`.
    fn rg_for_sample(&self, py: Python<'_>, uri: &str, sample_idx: i64) -> PyResult<usize> {
        self.index
            .row_group_of(uri, sample_idx)
            .map_err(|e| crate::errors::to_py(py, e))
    }

    /// `(byte_offset, byte_length)` of row group `rg_idx` of `uri`.
    fn rg_range(&self, py: Python<'_>, uri: &str, rg_idx: usize) -> PyResult<(u64, u64)> {
        let r = self
            .index
            .range(uri, rg_idx)
            .map_err(|e| crate::errors::to_py(py, e))?;
        Ok((r.start, r.end - r.start))
    }

    /// `(rg_idx, byte_offset, byte_length)` of the row group holding row `sample_idx`.
    fn rg_lookup(&self, py: Python<'_>, uri: &str, sample_idx: i64) -> PyResult<(usize, u64, u64)> {
        let rg = self.rg_for_sample(py, uri, sample_idx)?;
        let (offset, len) = self.rg_range(py, uri, rg)?;
        Ok((rg, offset, len))
    }

    /// Whether `(uri, rg_idx)` was marked fetched in `epoch` or later.
    fn was_fetched(&self, uri: &str, rg_idx: usize, epoch: u32) -> bool {
        self.index.was_fetched(uri, rg_idx, epoch)
    }

    fn mark_fetched(&self, uri: &str, rg_idx: usize, epoch: u32) {
        self.index.check_and_mark(uri, rg_idx, epoch);
    }

    /// Marks `(uri, rg_idx)` fetched in `epoch`; True if it already was (skip the GET).
    fn check_and_mark(&self, uri: &str, rg_idx: usize, epoch: u32) -> bool {
        self.index.check_and_mark(uri, rg_idx, epoch)
    }

    fn is_indexed(&self, uri: &str) -> bool {
        self.index.is_indexed(uri)
    }

    /// Row groups of `uri`, None when not indexed.
    fn file_rg_count(&self, uri: &str) -> Option<usize> {
        self.index.row_groups(uri)
    }

    fn __len__(&self) -> usize {
        self.index.len()
    }

    fn file_count(&self) -> usize {
        self.index.file_count()
    }

    fn invalidate_uri(&self, uri: &str) {
        self.index.invalidate(uri);
    }

    fn clear(&self) {
        self.index.clear();
    }

    fn __repr__(&self) -> String {
        format!(
            "PyParquetIndex(files={}, rgs={}, col_indices={:?}, footer_cap={})",
            self.index.file_count(),
            self.index.len(),
            self.index.columns,
            self.index.footer_cap
        )
    }
}

/// One row group from `PyParquetStreamLoader`.
#[pyclass(module = "s3dlio", name = "PyParquetItem", frozen)]
#[derive(Debug)]
pub struct PyParquetItem {
    #[pyo3(get)]
    file_uri: String,
    #[pyo3(get)]
    rg_idx: usize,
    data: Bytes,
}

#[pymethods]
impl PyParquetItem {
    /// The row group's bytes as a read-only memoryview (no copy).
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        memoryview(py, self.data.clone())
    }

    #[getter]
    fn byte_count(&self) -> usize {
        self.data.len()
    }

    fn __len__(&self) -> usize {
        self.data.len()
    }

    /// A copy of the bytes, as `bytes(item)`.
    fn __bytes__(&self) -> Vec<u8> {
        self.data.to_vec()
    }

    fn __repr__(&self) -> String {
        format!(
            "PyParquetItem(file_uri={:?}, rg_idx={}, byte_count={})",
            self.file_uri,
            self.rg_idx,
            self.data.len()
        )
    }
}

/// Every row group of the Parquet files under a prefix; each `iter()` is one pass.
#[pyclass(module = "s3dlio", name = "PyParquetStreamLoader")]
#[derive(Debug)]
pub struct PyParquetStreamLoader {
    files: Vec<(Arc<dyn ObjectStore>, String)>,
    opts: StreamOptions,
}

#[pymethods]
impl PyParquetStreamLoader {
    /// Starts a pass: `prefetch` row-group reads in flight, items in completion order.
    fn __iter__(&self, py: Python<'_>) -> PyResult<ParquetStreamIter> {
        let generation = current(py)?;
        let rx = spawn_row_groups(generation.runtime.handle(), self.files.clone(), self.opts.clone());
        let uris = self.files.iter().map(|(_, u)| u.clone()).collect();
        Ok(ParquetStreamIter {
            rx: Arc::new(Mutex::new(rx)),
            uris: Arc::new(uris),
        })
    }

    /// The files of each pass.
    fn files(&self) -> Vec<String> {
        self.files.iter().map(|(_, u)| u.clone()).collect()
    }
}

/// One pass of a `PyParquetStreamLoader`; the GIL is released while waiting.
#[pyclass(module = "s3dlio", name = "ParquetStreamIter")]
#[derive(Debug)]
pub struct ParquetStreamIter {
    rx: Arc<Mutex<mpsc::Receiver<s3dlio::Result<RowGroup>>>>,
    uris: Arc<Vec<String>>,
}

#[pymethods]
impl ParquetStreamIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyParquetItem>> {
        let rx = self.rx.clone();
        let op: Op<Option<RowGroup>> = Box::pin(async move { rx.lock().await.recv().await.transpose() });
        Ok(block(py, op)?.map(|item| PyParquetItem {
            file_uri: self.uris[item.file].clone(),
            rg_idx: item.rg,
            data: item.data,
        }))
    }
}

/// Keys a Parquet stream loader takes.
const PARQUET_KEYS: [&str; 5] = ["format", "columns", "footer_cap", "prefetch", "decode"];

/// `create_async_loader(source, {"format": "parquet", ...})`: the files (a URI ending in
/// `.parquet`, a prefix whose `.parquet` objects are listed, or a list of URIs) and the
/// stream's options.
pub fn stream_loader(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: &Bound<'_, PyDict>,
) -> PyResult<PyParquetStreamLoader> {
    for (key, _) in options.iter() {
        let key: String = key.extract()?;
        if !PARQUET_KEYS.contains(&key.as_str()) {
            return Err(PyValueError::new_err(format!(
                "option {key:?} does not apply to a Parquet stream loader; it takes {PARQUET_KEYS:?}"
            )));
        }
    }
    let get = |key: &str| options.get_item(key);
    let opts = StreamOptions {
        columns: get("columns")?.map(|v| v.extract()).transpose()?,
        decode: match get("decode")? {
            Some(v) => decode_of(&v.extract::<String>()?)?,
            None => Decode::Raw,
        },
        footer_cap: get("footer_cap")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(DEFAULT_FOOTER_CAP),
        concurrency: get("prefetch")?.map(|v| v.extract()).transpose()?.unwrap_or(32),
    };
    if opts.concurrency == 0 {
        return Err(PyValueError::new_err("prefetch must be at least 1"));
    }
    let uris: Vec<String> = match source.extract::<String>() {
        Ok(uri) if uri.ends_with(".parquet") => vec![uri],
        Ok(prefix) => {
            let store = store(py, &prefix)?;
            let op: Op<Vec<String>> = Box::pin(async move {
                let mut all = store.list(&prefix, true).await?;
                all.retain(|u| u.ends_with(".parquet"));
                all.sort();
                Ok(all)
            });
            block(py, op)?
        }
        Err(_) => source.extract()?,
    };
    let files = (uris.into_iter())
        .map(|u| Ok((store(py, &u)?, u)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyParquetStreamLoader { files, opts })
}
