//! Datasets and loaders for Python: `create_dataset`, `create_loader` (a sync iterator of
//! batches) and `create_async_loader` (an async one), over `s3dlio::loader`. Batches are
//! lists of zero-copy memoryviews; each `iter()` of a loader is a new epoch.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyIndexError, PyStopAsyncIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use s3dlio::loader::{
    Batch, DataLoader, Dataset, Epoch, LoaderOptions, ObjectDataset, OnError, ReadMode, Shard,
};

use crate::errors::to_py;
use crate::read::check_in_flight;
use crate::runtime::{Busy, Op, awaitable, block, current};
use crate::twins::store;
use crate::view::{in_one_collection, memoryview};

/// The option keys only a loader takes (the original s3dlio's, plus ours).
const LOADER_KEYS: &[&str] = &[
    "batch_size",
    "drop_last",
    "shuffle",
    "seed",
    "num_workers",
    "max_in_flight",
    "prefetch",
    "ordered",
    "on_error",
    "epoch",
    "with_uris",
];

/// The keys a dataset takes (how each object is read, which shard it holds); a loader
/// takes them too.
const DATASET_KEYS: &[&str] = &[
    "reader_mode",
    "part_size",
    "max_inflight_parts",
    "shard_rank",
    "shard_world_size",
    "worker_id",
    "worker_count",
];

/// What a Python options dict sets.
struct Parsed {
    loader: LoaderOptions,
    mode: ReadMode,
    /// Whether the dict named a read-mode key (a loader over a made dataset refuses it).
    mode_set: bool,
    /// The epoch the first iteration is.
    first_epoch: u64,
    /// Batches of `(uri, view)` instead of views.
    with_uris: bool,
    /// The keys named that only a loader takes.
    loader_only: Vec<String>,
}

impl Parsed {
    /// The read mode and shard of a dataset made with these options; a loader's key is
    /// refused rather than ignored.
    fn for_dataset(self) -> PyResult<(ReadMode, Shard)> {
        if !self.loader_only.is_empty() {
            return Err(PyValueError::new_err(format!(
                "{} belong to a loader, not a dataset: pass them to create_loader / \
                 PyBytesAsyncDataLoader; a dataset takes {}",
                self.loader_only.join(", "),
                DATASET_KEYS.join(", ")
            )));
        }
        Ok((self.mode, self.loader.shard))
    }
}

/// Loader options and read mode from a Python dict; an unknown key or a bad value is a
/// `ValueError` that names it.
fn options(opts: Option<&Bound<'_, PyDict>>) -> PyResult<Parsed> {
    let mut o = LoaderOptions::default();
    let mut first_epoch = 0;
    let mut shard = Shard::default();
    let (mut range_mode, mut part_size, mut parts) = (false, 8u64 << 20, 4usize);
    let (mut mode_set, mut with_uris) = (false, false);
    let mut loader_only = Vec::new();
    let Some(opts) = opts else {
        return Ok(Parsed {
            loader: o,
            mode: ReadMode::Whole,
            mode_set,
            first_epoch,
            with_uris,
            loader_only,
        });
    };
    for (key, value) in opts.iter() {
        let key: String = key.extract()?;
        if LOADER_KEYS.contains(&key.as_str()) {
            loader_only.push(key.clone());
        }
        mode_set |= matches!(key.as_str(), "reader_mode" | "part_size" | "max_inflight_parts");
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
            "with_uris" => with_uris = flag()?,
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
                    [LOADER_KEYS, DATASET_KEYS].concat().join(", ")
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
        mode_set,
        first_epoch,
        with_uris,
        loader_only,
    })
}

/// The dataset of `source`: a prefix URI (listed, recursively) or a list of URIs, read
/// in `mode`, holding only `shard`'s objects.
fn dataset(py: Python<'_>, source: &Bound<'_, PyAny>, mode: ReadMode, shard: Shard) -> PyResult<PyDataset> {
    let (made, prefix) = if let Ok(uri) = source.extract::<String>() {
        let s = store(py, &uri)?;
        let listed = uri.clone();
        let op: Op<ObjectDataset> = Box::pin(async move { ObjectDataset::from_prefix(s, &listed).await });
        (block(py, op)?, Some(s3dlio::as_prefix(&uri)))
    } else {
        let uris: Vec<String> = source.extract().map_err(|_| {
            PyValueError::new_err("expected a prefix URI, a list of object URIs or an s3dlio.PyDataset")
        })?;
        let first = uris
            .first()
            .ok_or_else(|| PyValueError::new_err("the list of URIs is empty"))?;
        (ObjectDataset::from_uris(store(py, first)?, uris), None)
    };
    let made = if shard == Shard::default() {
        made
    } else {
        made.sharded(shard)
    };
    Ok(PyDataset {
        inner: Arc::new(made.with_read_mode(mode)),
        prefix,
    })
}

/// A dataset as `create_dataset` / `PyDataset` make it from `options`.
fn made_dataset(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyDataset> {
    let (mode, shard) = self::options(options)?.for_dataset()?;
    dataset(py, source, mode, shard)
}

/// Samples by index: `len(ds)`, `ds[i]` (a zero-copy memoryview), `ds.uris()`.
#[pyclass(module = "s3dlio", name = "PyDataset", frozen)]
#[derive(Debug, Clone)]
pub struct PyDataset {
    inner: Arc<ObjectDataset>,
    /// The listed prefix, when made from one: `keys()` are relative to it.
    prefix: Option<String>,
}

impl PyDataset {
    /// `index` (negative counts from the end) checked against the length.
    fn index(&self, index: isize) -> PyResult<usize> {
        let len = self.inner.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if !(0..len).contains(&i) {
            return Err(PyIndexError::new_err(format!(
                "index {index} of a dataset of {len}"
            )));
        }
        Ok(i as usize)
    }
}

#[pymethods]
impl PyDataset {
    /// Every object under the prefix `uri`, or (a list) these objects; `options` as
    /// `create_dataset`'s.
    #[new]
    #[pyo3(signature = (uri, options = None))]
    fn new(py: Python<'_>, uri: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        made_dataset(py, uri, options)
    }

    /// These objects, in this order, without a listing.
    #[staticmethod]
    #[pyo3(signature = (uris, options = None))]
    fn from_uris(py: Python<'_>, uris: Vec<String>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        made_dataset(py, PyList::new(py, uris)?.as_any(), options)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyAny>> {
        let (ds, i) = (self.inner.clone(), self.index(index)?);
        let op: Op<Bytes> = Box::pin(async move { ds.get(i).await });
        memoryview(py, block(py, op)?)
    }

    /// Sample `index` as an awaitable of a zero-copy memoryview (the original's async
    /// form; `ds[index]` is the sync one).
    fn get_item<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let (ds, i) = (self.inner.clone(), self.index(index)?);
        awaitable(py, Box::pin(async move { ds.get(i).await }), memoryview)
    }

    /// Samples `indices`, in that order, read `max_in_flight` at a time (a batch in one
    /// call, as torch's `__getitems__` asks); the first failure is raised.
    #[pyo3(signature = (indices, max_in_flight = 64))]
    fn get_many(
        &self,
        py: Python<'_>,
        indices: Vec<isize>,
        max_in_flight: usize,
    ) -> PyResult<Vec<Py<PyAny>>> {
        check_in_flight(max_in_flight)?;
        let indices = indices
            .into_iter()
            .map(|i| self.index(i))
            .collect::<PyResult<Vec<_>>>()?;
        let ds = self.inner.clone();
        let op: Op<Vec<Bytes>> = Box::pin(async move {
            stream::iter(indices)
                .map(|i| ds.get(i))
                .buffered(max_in_flight)
                .try_collect()
                .await
        });
        let batch = block(py, op)?;
        in_one_collection(py, || batch.into_iter().map(|b| memoryview(py, b)).collect())
    }

    /// Every sample's URI, in index order.
    fn uris(&self) -> Vec<String> {
        self.inner.uris().to_vec()
    }

    /// Every sample's key: its URI relative to the listed prefix (the whole URI for a
    /// dataset made from a list).
    fn keys(&self) -> Vec<String> {
        let relative = |u: &String| match &self.prefix {
            Some(p) => u.strip_prefix(p.as_str()).unwrap_or(u).to_string(),
            None => u.clone(),
        };
        self.inner.uris().iter().map(relative).collect()
    }
}

#[pyfunction]
#[pyo3(signature = (source, options = None))]
pub fn create_dataset(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyDataset> {
    made_dataset(py, source, options)
}

/// A batch as a list of memoryviews, or of `(uri, memoryview)` given the dataset's URIs.
fn batch_list(py: Python<'_>, batch: Batch, uris: Option<&[String]>) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for (index, item) in batch.indices.into_iter().zip(batch.items) {
        let view = memoryview(py, item)?;
        match uris {
            Some(uris) => list.append((uris[index].as_str(), view))?,
            None => list.append(view)?,
        }
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
    /// The dataset's URIs, when batches name them (`with_uris`).
    uris: Option<Arc<ObjectDataset>>,
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
        let uris = self.uris.as_ref().map(|ds| ds.uris());
        block(py, self.next_op())?
            .map(|b| batch_list(py, b, uris))
            .transpose()
    }

    fn __aiter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().start_epoch(slf.py())?;
        Ok(slf)
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // A fn pointer converts the batch, so the URIs travel with it.
        let uris = self.uris.clone();
        let op = self.next_op();
        let op: Op<Option<(Batch, Option<Arc<ObjectDataset>>)>> =
            Box::pin(async move { Ok(op.await?.map(|b| (b, uris))) });
        awaitable(py, op, |py, batch| match batch {
            Some((b, uris)) => batch_list(py, b, uris.as_ref().map(|ds| ds.uris())),
            None => Err(PyStopAsyncIteration::new_err(())),
        })
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
    let made = match source.cast::<PyDataset>() {
        Ok(_) if parsed.mode_set => {
            return Err(PyValueError::new_err(
                "reader_mode, part_size and max_inflight_parts belong to the dataset: pass them \
                 to PyDataset / create_dataset",
            ));
        }
        Ok(made) => made.get().clone(),
        // The loader shards an epoch itself (the dataset holds every object).
        Err(_) => dataset(py, source, parsed.mode, Shard::default())?,
    };
    let ds: Arc<dyn Dataset> = made.inner.clone();
    Ok(PyLoader {
        loader: DataLoader::new(ds, parsed.loader).map_err(|e| to_py(py, e))?,
        next_epoch: Mutex::new(parsed.first_epoch),
        current: Arc::default(),
        is_async,
        uris: parsed.with_uris.then_some(made.inner),
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
) -> PyResult<Py<PyAny>> {
    // `{"format": "parquet", ...}`: the original's row-group stream instead of objects.
    if let Some(opts) = options
        && let Some(format) = opts.get_item("format")?
    {
        let format: String = format.extract()?;
        if format != "parquet" {
            return Err(PyValueError::new_err(format!(
                "format={format:?}: the one loader format is 'parquet' (row groups); leave it out to load objects"
            )));
        }
        return crate::parquet::stream_loader(py, source, opts)?.into_py_any(py);
    }
    loader(py, source, options, true)?.into_py_any(py)
}
