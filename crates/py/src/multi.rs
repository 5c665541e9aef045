//! `MultiEndpointStore`: the original's multi-endpoint store, over s3dlio's
//! multi-endpoint layer. Its methods are awaitables, as the original's are.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3dlio::endpoints::{EndpointStats, Endpoints, MultiEndpointStore, Strategy};
use s3dlio::{ObjectStore, ObjectStoreExt, StoreOptions};

use crate::errors::to_py;
use crate::runtime::{Op, awaitable};
use crate::twins::{none, plain};
use crate::view::{bytes_from, memoryview};
use crate::write::keeps_buffers;

/// One store over several endpoints of one service (`http(s)://host:port` S3 endpoints
/// or store URIs such as `s3://host:port/bucket/` and `file:///mnt/a/`). Each request
/// goes to one endpoint (round-robin or least connections); a failing endpoint is taken
/// out for a back-off and its requests are retried on the others.
#[derive(Debug)]
#[pyclass(name = "MultiEndpointStore", module = "s3dlio", frozen)]
pub struct PyMultiEndpointStore {
    endpoints: Arc<Endpoints>,
    /// The stacks of the process that made them (a forked child makes its own).
    stacks: Mutex<Option<(u32, Arc<Stacks>)>>,
}

/// The balanced store, and one pinned to each endpoint, over one backend.
#[derive(Debug)]
struct Stacks {
    balanced: Arc<dyn ObjectStore>,
    pinned: Vec<Arc<dyn ObjectStore>>,
}

impl PyMultiEndpointStore {
    fn make(py: Python<'_>, endpoints: s3dlio::Result<Endpoints>) -> PyResult<Self> {
        let endpoints = Arc::new(endpoints.map_err(|e| to_py(py, e))?);
        let store = PyMultiEndpointStore {
            endpoints,
            stacks: Mutex::new(None),
        };
        // Bad options (a malformed S3DLIO_* variable) fail here, not on first use.
        store.stacks(py)?;
        Ok(store)
    }

    fn stacks(&self, py: Python<'_>) -> PyResult<Arc<Stacks>> {
        let pid = std::process::id();
        let mut slot = self.stacks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((owner, stacks)) = slot.as_ref()
            && *owner == pid
        {
            return Ok(stacks.clone());
        }
        let options = crate::runtime::store_options(py)?.with_endpoints(self.endpoints.clone());
        let root = self.endpoints.uris()[0].to_string();
        let backend = s3dlio::backend_for(&root, &options).map_err(|e| to_py(py, e))?;
        let plain_options = StoreOptions {
            endpoints: None,
            ..options.clone()
        };
        let mut pinned = Vec::with_capacity(self.endpoints.len());
        for i in 0..self.endpoints.len() {
            let one = MultiEndpointStore::pinned(backend.clone(), self.endpoints.clone(), i)
                .map_err(|e| to_py(py, e))?;
            pinned.push(s3dlio::layered(Arc::new(one), &plain_options));
        }
        let stacks = Arc::new(Stacks {
            balanced: s3dlio::layered(backend, &options),
            pinned,
        });
        *slot = Some((pid, stacks.clone()));
        Ok(stacks)
    }

    /// The balanced store, or the one pinned to endpoint `index`.
    fn store(&self, py: Python<'_>, index: Option<usize>) -> PyResult<Arc<dyn ObjectStore>> {
        let stacks = self.stacks(py)?;
        match index {
            None => Ok(stacks.balanced.clone()),
            Some(i) => stacks.pinned.get(i).cloned().ok_or_else(|| {
                pyo3::exceptions::PyIndexError::new_err(format!(
                    "endpoint index {i} is out of range: this store has {} endpoints",
                    stacks.pinned.len()
                ))
            }),
        }
    }

    fn get_on(&self, py: Python<'_>, index: Option<usize>, uri: String) -> PyResult<Op<Bytes>> {
        let store = self.store(py, index)?;
        Ok(Box::pin(async move { store.get(&uri).await }))
    }

    fn range_on(
        &self,
        py: Python<'_>,
        index: Option<usize>,
        uri: String,
        offset: u64,
        length: Option<u64>,
    ) -> PyResult<Op<Bytes>> {
        let store = self.store(py, index)?;
        Ok(Box::pin(
            async move { store.get_range(&uri, offset, length).await },
        ))
    }

    fn put_on(
        &self,
        py: Python<'_>,
        index: Option<usize>,
        uri: String,
        data: &Bound<'_, PyAny>,
        borrow: bool,
    ) -> PyResult<Op<()>> {
        let data = bytes_from(data, "data", !borrow || keeps_buffers(&uri))?;
        let store = self.store(py, index)?;
        Ok(Box::pin(async move { store.put(&uri, data).await.map(drop) }))
    }

    fn list_on(
        &self,
        py: Python<'_>,
        index: Option<usize>,
        prefix: String,
        recursive: bool,
    ) -> PyResult<Op<Vec<String>>> {
        let store = self.store(py, index)?;
        Ok(Box::pin(async move {
            let mut all = store.list(&prefix, recursive).await?;
            all.sort();
            Ok(all)
        }))
    }

    fn delete_on(&self, py: Python<'_>, index: Option<usize>, uri: String) -> PyResult<Op<()>> {
        let store = self.store(py, index)?;
        Ok(Box::pin(async move { store.delete(&uri).await }))
    }
}

#[pymethods]
impl PyMultiEndpointStore {
    /// The whole object, from the endpoint its turn picks, as a read-only memoryview.
    fn get<'py>(&self, py: Python<'py>, uri: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.get_on(py, None, uri)?, memoryview)
    }

    #[pyo3(signature = (uri, offset, length=None))]
    fn get_range<'py>(
        &self,
        py: Python<'py>,
        uri: String,
        offset: u64,
        length: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.range_on(py, None, uri, offset, length)?, memoryview)
    }

    /// Stores `data` (any C-contiguous buffer; `borrow=False` copies it first).
    #[pyo3(signature = (uri, data, *, borrow=true))]
    fn put<'py>(
        &self,
        py: Python<'py>,
        uri: String,
        data: Bound<'py, PyAny>,
        borrow: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.put_on(py, None, uri, &data, borrow)?, none)
    }

    fn delete<'py>(&self, py: Python<'py>, uri: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.delete_on(py, None, uri)?, none)
    }

    /// The URIs under `prefix`, sorted, named under the prefix given.
    #[pyo3(signature = (prefix, recursive=true))]
    fn list<'py>(&self, py: Python<'py>, prefix: String, recursive: bool) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.list_on(py, None, prefix, recursive)?, plain)
    }

    fn get_from_endpoint<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        uri: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.get_on(py, Some(index), uri)?, memoryview)
    }

    #[pyo3(signature = (index, uri, offset, length=None))]
    fn get_range_from_endpoint<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        uri: String,
        offset: u64,
        length: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.range_on(py, Some(index), uri, offset, length)?,
            memoryview,
        )
    }

    #[pyo3(signature = (index, uri, data, *, borrow=true))]
    fn put_to_endpoint<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        uri: String,
        data: Bound<'py, PyAny>,
        borrow: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.put_on(py, Some(index), uri, &data, borrow)?, none)
    }

    #[pyo3(signature = (index, prefix, recursive=true))]
    fn list_from_endpoint<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        prefix: String,
        recursive: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.list_on(py, Some(index), prefix, recursive)?, plain)
    }

    fn delete_from_endpoint<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        uri: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.delete_on(py, Some(index), uri)?, none)
    }

    /// Stores `data` on every endpoint (for endpoints that do not share their data,
    /// such as separate mount points); fails if any endpoint fails, after all tried.
    #[pyo3(signature = (uri, data, *, borrow=true))]
    fn put_all_endpoints<'py>(
        &self,
        py: Python<'py>,
        uri: String,
        data: Bound<'py, PyAny>,
        borrow: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let puts = (0..self.endpoints.len())
            .map(|i| self.put_on(py, Some(i), uri.clone(), &data, borrow))
            .collect::<PyResult<Vec<_>>>()?;
        let op: Op<()> = Box::pin(async move {
            let results = futures::future::join_all(puts).await;
            results.into_iter().collect::<s3dlio::Result<Vec<()>>>().map(drop)
        });
        awaitable(py, op, none)
    }

    /// `{endpoint: [URIs]}`: each endpoint's listing of `prefix`, named as on that
    /// endpoint.
    #[pyo3(signature = (prefix, recursive=true))]
    fn list_all_endpoints<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        recursive: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut lists = Vec::with_capacity(self.endpoints.len());
        for i in 0..self.endpoints.len() {
            let at = self.endpoints.uri_on(i, &prefix).map_err(|e| to_py(py, e))?;
            lists.push((
                self.endpoints.uris()[i].to_string(),
                self.list_on(py, Some(i), at, recursive)?,
            ));
        }
        let op: Op<BTreeMap<String, Vec<String>>> = Box::pin(async move {
            let mut all = BTreeMap::new();
            for (endpoint, list) in lists {
                all.insert(endpoint, list.await?);
            }
            Ok(all)
        });
        awaitable(py, op, plain)
    }

    fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Each endpoint's prefix, in order (URLs are shown as `s3://host:port/`).
    fn endpoints(&self) -> Vec<String> {
        self.endpoints.uris().into_iter().map(str::to_string).collect()
    }

    /// `"round_robin"` or `"least_connections"`.
    fn strategy(&self) -> String {
        self.endpoints.strategy().to_string()
    }

    /// One dict per endpoint: uri, total_requests, bytes_read, bytes_written,
    /// error_count, active_requests, available, latency_mean_us, latency_p50_us,
    /// latency_p99_us, latency_max_us.
    fn get_endpoint_stats<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.endpoints.stats().iter().map(|s| stats_dict(py, s)).collect()
    }

    /// The same keys summed over every endpoint (latencies: the largest endpoint's).
    fn get_total_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.endpoints.total())
    }

    fn __repr__(&self) -> String {
        format!(
            "MultiEndpointStore({:?}, strategy={:?})",
            self.endpoints.uris(),
            self.endpoints.strategy().to_string()
        )
    }
}

fn stats_dict<'py>(py: Python<'py>, s: &EndpointStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("uri", &s.uri)?;
    d.set_item("total_requests", s.requests)?;
    d.set_item("bytes_read", s.bytes_read)?;
    d.set_item("bytes_written", s.bytes_written)?;
    d.set_item("error_count", s.errors)?;
    d.set_item("active_requests", s.active)?;
    d.set_item("available", s.available)?;
    d.set_item("latency_mean_us", s.latency_mean.as_micros() as u64)?;
    d.set_item("latency_p50_us", s.latency_p50.as_micros() as u64)?;
    d.set_item("latency_p99_us", s.latency_p99.as_micros() as u64)?;
    d.set_item("latency_max_us", s.latency_max.as_micros() as u64)?;
    Ok(d)
}

fn strategy_of(py: Python<'_>, strategy: Option<&str>) -> PyResult<Strategy> {
    strategy.map_or(Ok(Strategy::default()), |s| s.parse().map_err(|e| to_py(py, e)))
}

/// A store over `uris` (URLs or store URIs of one service); `strategy`: `"round_robin"`
/// (default) or `"least_connections"`.
#[pyfunction]
#[pyo3(signature = (uris, strategy=None))]
pub fn create_multi_endpoint_store(
    py: Python<'_>,
    uris: Vec<String>,
    strategy: Option<&str>,
) -> PyResult<PyMultiEndpointStore> {
    let strategy = strategy_of(py, strategy)?;
    PyMultiEndpointStore::make(py, Endpoints::new(&uris, strategy))
}

/// A store over the endpoints a template names: `http://10.0.0.{1...8}:9000`.
#[pyfunction]
#[pyo3(signature = (uri_template, strategy=None))]
pub fn create_multi_endpoint_store_from_template(
    py: Python<'_>,
    uri_template: &str,
    strategy: Option<&str>,
) -> PyResult<PyMultiEndpointStore> {
    let strategy = strategy_of(py, strategy)?;
    PyMultiEndpointStore::make(py, Endpoints::from_template(uri_template, strategy))
}

/// A store over the endpoints of a file, one per line (templates allowed, `#` comments).
#[pyfunction]
#[pyo3(signature = (file_path, strategy=None))]
pub fn create_multi_endpoint_store_from_file(
    py: Python<'_>,
    file_path: PathBuf,
    strategy: Option<&str>,
) -> PyResult<PyMultiEndpointStore> {
    let strategy = strategy_of(py, strategy)?;
    PyMultiEndpointStore::make(py, Endpoints::from_file(&file_path, strategy))
}

/// A store over `S3_ENDPOINT_URIS` (else `S3_ENDPOINT_TEMPLATE`, else `S3_ENDPOINT_FILE`);
/// `strategy` beats `S3_LOAD_BALANCE_STRATEGY`.
#[pyfunction]
#[pyo3(signature = (strategy=None))]
pub fn create_multi_endpoint_store_from_env(
    py: Python<'_>,
    strategy: Option<&str>,
) -> PyResult<PyMultiEndpointStore> {
    let strategy = strategy.map(|s| strategy_of(py, Some(s))).transpose()?;
    PyMultiEndpointStore::make(py, Endpoints::from_env(strategy))
}
