//! Datasets and loaders for Python: `create_dataset`, `create_loader` (a sync iterator of
//! batches) and `create_async_loader` (an async one), over `s3dlio::loader`. Batches are
//! lists of zero-copy memoryviews; each `iter()` of a loader is a new epoch.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pyo3::exceptions::{PyIndexError, PyStopAsyncIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use s3dlio::loader::{
    Batch, DataLoader, Dataset, Epoch, LoaderOptions, ObjectDataset, OnError, ReadMode, Shard,
};

use crate::errors::to_py;
use crate::runtime::{Busy, Op, awaitable, block, current};
use crate::twins::store;
use crate::view::memoryview;

/// The option keys (the original s3dlio's, plus ours) and what each takes.
const KEYS: &[&str] = &[
    "batch_size",
    "drop_last",
    "shuffle",
    "seed",
    "num_workers",
    "max_in_flight",
    "prefetch",
    "reader_mode",
    "part_size",
    "max_inflight_parts",
    "shard_rank",
    "shard_world_size",
    "worker_id",
    "worker_count",
    "ordered",
    "on_error",
    "epoch",
];

/// What a Python options dict sets.
struct Parsed {
    loader: LoaderOptions,
    mode: ReadMode,
    /// The epoch the first iteration is.
    first_epoch: u64,
}

/// Loader options and read mode from a Python dict; an unknown key or a bad value is a
/// `ValueError` that names it.
fn options(opts: Option<&Bound<'_, PyDict>>) -> PyResult<Parsed> {
    let mut o = LoaderOptions::default();
    let mut first_epoch = 0;
    let mut shard = Shard::default();
    let (mut range_mode, mut part_size, mut parts) = (false, 8u64 << 20, 4usize);
    let Some(opts) = opts else {
        return Ok(Parsed {
            loader: o,
            mode: ReadMode::Whole,
            first_epoch,
        });
    };
    for (key, value) in opts.iter() {
        let key: String = key.extract()?;
        let bad = |want: &str| PyValueError::new_err(format!("option {key:?}: expected {want}, got {value}"));
        let count = || value.extract::<usize>().map_err(|_| bad("a whole number"));
        let flag = || value.extract::<bool>().map_err(|_| bad("True or False"));
        match key.as_str() {
            "batch_size" => o.batch_size = count()?,
            "drop_last" => o.drop_last = flag()?,
            "shuffle" => o.shuffle = flag()?,
            "seed" => o.seed = value.extract::<u64>().map_err(|_| bad("a whole number"))?,
            // The original's name for the reads running at once.
            "num_workers" | "max_in_flight" => o.max_in_flight = count()?,
            "prefetch" => o.prefetch = count()?,
            "reader_mode" => {
                range_mode = match value.extract::<String>().map_err(|_| bad("a string"))?.as_str() {
                    "sequential" => false,
                    "range" => true,
                    _ => return Err(bad("\"sequential\" or \"range\"")),
                }
            }
            "part_size" => part_size = count()? as u64,
            "max_inflight_parts" => parts = count()?,
            "shard_rank" => shard.rank = count()?,
            "shard_world_size" => shard.world_size = count()?,
            "worker_id" => shard.worker_id = count()?,
            "worker_count" => shard.num_workers = count()?,
            "ordered" => o.ordered = flag()?,
            "epoch" => first_epoch = value.extract::<u64>().map_err(|_| bad("a whole number"))?,
            "on_error" => {
                o.on_error = match value.extract::<String>().map_err(|_| bad("a string"))?.as_str() {
                    "fail" => OnError::Fail,
                    "skip" => OnError::Skip,
                    _ => return Err(bad("\"fail\" or \"skip\"")),
                }
            }
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown loader option {key:?}; known: {}",
                    KEYS.join(", ")
                )));
            }
        }
    }
    o.shard = shard;
    let mode = if range_mode {
        ReadMode::Ranged {
            part_size,
            parts_in_flight: parts,
        }
    } else {
        ReadMode::Whole
    };
    Ok(Parsed {
        loader: o,
        mode,
        first_epoch,
    })
}

/// The dataset of `source`: a prefix URI (listed, recursively) or a list of URIs.
fn dataset(py: Python<'_>, source: &Bound<'_, PyAny>, mode: ReadMode) -> PyResult<ObjectDataset> {
    if let Ok(uri) = source.extract::<String>() {
        let s = store(py, &uri)?;
        let op: Op<ObjectDataset> = Box::pin(async move { ObjectDataset::from_prefix(s, &uri).await });
        return Ok(block(py, op)?.with_read_mode(mode));
    }
    let uris: Vec<String> = source
        .extract()
        .map_err(|_| PyValueError::new_err("expected a prefix URI or a list of object URIs"))?;
    let first = uris
        .first()
        .ok_or_else(|| PyValueError::new_err("the list of URIs is empty"))?;
    Ok(ObjectDataset::from_uris(store(py, first)?, uris).with_read_mode(mode))
}

/// Samples by index: `len(ds)`, `ds[i]` (a zero-copy memoryview), `ds.uris`.
#[pyclass(module = "s3dlio", name = "Dataset", frozen)]
#[derive(Debug)]
pub struct PyDataset {
    inner: Arc<ObjectDataset>,
}

#[pymethods]
impl PyDataset {
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyAny>> {
        let len = self.inner.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if !(0..len).contains(&i) {
            return Err(PyIndexError::new_err(format!(
                "index {index} of a dataset of {len}"
            )));
        }
        let ds = self.inner.clone();
        let op: Op<Bytes> = Box::pin(async move { ds.get(i as usize).await });
        memoryview(py, block(py, op)?)
    }

    #[getter]
    fn uris(&self) -> Vec<String> {
        self.inner.uris().to_vec()
    }
}

#[pyfunction]
#[pyo3(signature = (source, options = None))]
pub fn create_dataset(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyDataset> {
    let parsed = self::options(options)?;
    Ok(PyDataset {
        inner: Arc::new(dataset(py, source, parsed.mode)?),
    })
}

fn batch_list(py: Python<'_>, batch: Batch) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for item in batch.items {
        list.append(memoryview(py, item)?)?;
    }
    Ok(list.into_any().unbind())
}

/// The epoch a loader is in (it keeps the runtime busy until it ends); taken out while a
/// batch is awaited.
type Current = Arc<Mutex<Option<(Epoch, Option<Busy>)>>>;

/// Batches as lists of memoryviews. `iter(loader)` starts the next epoch (0, 1, ...);
/// `async for` does the same on the async loader.
#[pyclass(module = "s3dlio", name = "Loader", frozen)]
#[derive(Debug)]
pub struct PyLoader {
    loader: DataLoader,
    next_epoch: Mutex<u64>,
    current: Current,
    is_async: bool,
}

impl PyLoader {
    fn start_epoch(&self, py: Python<'_>) -> PyResult<()> {
        let generation = current(py)?;
        let _in_runtime = generation.runtime.enter();
        let mut n = self.next_epoch.lock().unwrap_or_else(|p| p.into_inner());
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((self.loader.epoch(*n), Some(Busy::new())));
        *n += 1;
        Ok(())
    }

    /// The next batch of the current epoch, with the epoch handed back afterwards.
    fn next_op(&self) -> Op<Option<Batch>> {
        let slot = self.current.clone();
        Box::pin(async move {
            let Some((mut epoch, busy)) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                return Ok(None);
            };
            match epoch.next_batch().await {
                Some(Ok(batch)) => {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((epoch, busy));
                    Ok(Some(batch))
                }
                Some(Err(e)) => Err(e),
                None => {
                    // Ended: the report stays readable, the runtime is no longer in use.
                    drop(busy);
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((epoch, None));
                    Ok(None)
                }
            }
        })
    }
}

fn batch_or_stop(py: Python<'_>, batch: Option<Batch>) -> PyResult<Py<PyAny>> {
    match batch {
        Some(b) => batch_list(py, b),
        None => Err(PyStopAsyncIteration::new_err(())),
    }
}

#[pymethods]
impl PyLoader {
    fn __iter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        if slf.get().is_async {
            return Err(PyValueError::new_err("an async loader: use `async for`"));
        }
        slf.get().start_epoch(slf.py())?;
        Ok(slf)
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        block(py, self.next_op())?.map(|b| batch_list(py, b)).transpose()
    }

    fn __aiter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().start_epoch(slf.py())?;
        Ok(slf)
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.next_op(), batch_or_stop)
    }

    fn __len__(&self) -> usize {
        self.loader.batches_per_epoch()
    }

    /// Samples left out of the last epoch (`on_error="skip"`), as `(uri, message)`.
    fn skipped(&self) -> Vec<(String, String)> {
        let slot = self.current.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .map(|(e, _)| {
                e.take_report()
                    .skipped
                    .into_iter()
                    .map(|f| (f.uri, f.error.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn loader(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
    is_async: bool,
) -> PyResult<PyLoader> {
    let parsed = self::options(options)?;
    let ds: Arc<dyn Dataset> = Arc::new(dataset(py, source, parsed.mode)?);
    Ok(PyLoader {
        loader: DataLoader::new(ds, parsed.loader).map_err(|e| to_py(py, e))?,
        next_epoch: Mutex::new(parsed.first_epoch),
        current: Arc::default(),
        is_async,
    })
}

#[pyfunction]
#[pyo3(signature = (source, options = None))]
pub fn create_loader(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyLoader> {
    loader(py, source, options, false)
}

#[pyfunction]
#[pyo3(signature = (source, options = None))]
pub fn create_async_loader(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyLoader> {
    loader(py, source, options, true)
}
