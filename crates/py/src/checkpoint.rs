//! Checkpoints (`s3dlio.checkpoint`): the native half. Manifests and shard metas cross
//! as JSON text, which `s3dlio/checkpoint.py` turns into dicts under the original's
//! names; shard bytes cross without a copy (buffers in, memoryviews out).

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use s3dlio::WriterOptions;
use s3dlio::checkpoint::{CheckpointConfig, CheckpointStore, Layout, Manifest, ShardMeta};
use serde_json::{Map, Value};

use crate::runtime::block;
use crate::twins::store;
use crate::view::{bytes_from, memoryview};
use crate::write::keeps_buffers;

/// Checkpoints under one base URI. Holds only its settings: the store is looked up per
/// call, so a handle made before a fork works in the child.
#[derive(Debug)]
#[pyclass(module = "s3dlio", name = "_CheckpointStore", frozen)]
pub struct PyCheckpointStore {
    base: String,
    config: CheckpointConfig,
}

fn bad_json(what: &str, e: serde_json::Error) -> PyErr {
    PyValueError::new_err(format!(
        "{what} is not what s3dlio wrote ({e}); pass the dict s3dlio returned"
    ))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("checkpoint records serialize")
}

impl PyCheckpointStore {
    fn open(&self, py: Python<'_>) -> PyResult<CheckpointStore> {
        let s = store(py, &self.base)?;
        CheckpointStore::new(s, &self.base, self.config.clone()).map_err(|e| crate::errors::to_py(py, e))
    }
}

fn manifest(text: &str) -> PyResult<Manifest> {
    serde_json::from_str(text).map_err(|e| bad_json("the manifest", e))
}

#[pymethods]
impl PyCheckpointStore {
    /// `strategy`: `flat`, `round_robin[:N]` or `binary[:LEVELS]`; shards of at least
    /// `multipart_threshold` bytes stream as multipart uploads of `part_size` bytes,
    /// `max_in_flight` parts at once; `compression_level` is zstd's (1..=22).
    #[new]
    #[pyo3(signature = (uri, strategy = None, multipart_threshold = None, compression_level = None, part_size = None, max_in_flight = None))]
    fn new(
        uri: String,
        strategy: Option<String>,
        multipart_threshold: Option<u64>,
        compression_level: Option<i32>,
        part_size: Option<usize>,
        max_in_flight: Option<usize>,
    ) -> PyResult<Self> {
        let mut config = CheckpointConfig::default();
        if let Some(s) = strategy {
            config.layout = Layout::parse(&s).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "strategy {s:?}: use 'flat', 'round_robin' (or 'round_robin:N') or 'binary' (or 'binary:LEVELS')"
                ))
            })?;
        }
        if let Some(n) = multipart_threshold {
            config.multipart_threshold = n;
        }
        let mut writer = WriterOptions::default();
        if let Some(level) = compression_level.filter(|&l| l != 0) {
            // Checked here to name this argument and its "none" values.
            if !(1..=22).contains(&level) {
                return Err(PyValueError::new_err(format!(
                    "compression_level {level} is outside 1..=22 (0 or None: no compression)"
                )));
            }
            writer = writer.with_zstd_level(level);
        }
        if let Some(bytes) = part_size {
            writer = writer.with_part_size(bytes);
        }
        if let Some(parts) = max_in_flight {
            writer = writer.with_max_in_flight(parts);
        }
        writer
            .validate(&uri)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        config.writer = writer;
        Ok(PyCheckpointStore {
            base: s3dlio::as_prefix(&uri),
            config,
        })
    }

    #[getter]
    fn uri(&self) -> &str {
        &self.base
    }

    #[getter]
    fn strategy(&self) -> String {
        self.config.layout.to_string()
    }

    /// Stores rank `rank`'s shard of `step`; returns its meta as JSON.
    fn save_shard(
        &self,
        py: Python<'_>,
        world_size: u32,
        rank: u32,
        step: u64,
        data: Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let data: Bytes = bytes_from(&data, "data", keeps_buffers(&self.base))?;
        let w = self
            .open(py)?
            .writer(world_size, rank)
            .map_err(|e| crate::errors::to_py(py, e))?;
        let meta = block(py, Box::pin(async move { w.save_shard(step, data).await }))?;
        Ok(json(&meta))
    }

    /// Rank 0: checks every shard, writes the manifest, moves `latest`; returns the
    /// manifest's key and the manifest as JSON.
    #[pyo3(signature = (world_size, rank, step, epoch, framework, shard_metas, user_meta = None))]
    #[allow(clippy::too_many_arguments)] // the original's arguments
    fn finalize(
        &self,
        py: Python<'_>,
        world_size: u32,
        rank: u32,
        step: u64,
        epoch: u64,
        framework: String,
        shard_metas: String,
        user_meta: Option<String>,
    ) -> PyResult<(String, String)> {
        let shards: Vec<ShardMeta> =
            serde_json::from_str(&shard_metas).map_err(|e| bad_json("shard_metas", e))?;
        let meta: Map<String, Value> = match user_meta {
            Some(text) => serde_json::from_str(&text).map_err(|e| bad_json("user_meta", e))?,
            None => Map::new(),
        };
        let w = self
            .open(py)?
            .writer(world_size, rank)
            .map_err(|e| crate::errors::to_py(py, e))?;
        let m = block(
            py,
            Box::pin(async move { w.finalize(step, epoch, &framework, shards, meta).await }),
        )?;
        Ok((m.key(), json(&m)))
    }

    /// The manifest `latest` names (JSON), or None.
    fn latest_manifest(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let r = self.open(py)?.reader();
        let m = block(py, Box::pin(async move { r.latest_manifest().await }))?;
        Ok(m.as_ref().map(json))
    }

    /// The newest manifest of `step` (JSON), or None.
    fn manifest_for_step(&self, py: Python<'_>, step: u64) -> PyResult<Option<String>> {
        let r = self.open(py)?.reader();
        let m = block(py, Box::pin(async move { r.manifest_for_step(step).await }))?;
        Ok(m.as_ref().map(json))
    }

    /// Rank `rank`'s shard of the manifest: a read-only memoryview.
    #[pyo3(signature = (manifest_json, rank, validate = false))]
    fn read_shard(
        &self,
        py: Python<'_>,
        manifest_json: &str,
        rank: u32,
        validate: bool,
    ) -> PyResult<Py<PyAny>> {
        let m = manifest(manifest_json)?;
        let r = self.open(py)?.reader();
        let data = block(
            py,
            Box::pin(async move { r.read_shard(&m, rank, validate).await }),
        )?;
        memoryview(py, data)
    }

    /// Every shard of the manifest, in rank order, read concurrently.
    #[pyo3(signature = (manifest_json, validate = false))]
    fn read_all(&self, py: Python<'_>, manifest_json: &str, validate: bool) -> PyResult<Vec<Py<PyAny>>> {
        let m = manifest(manifest_json)?;
        let r = self.open(py)?.reader();
        let shards = block(py, Box::pin(async move { r.read_all(&m, validate).await }))?;
        shards.into_iter().map(|b| memoryview(py, b)).collect()
    }

    /// Reads every shard and checks its size and CRC32C; raises on the first bad one.
    fn validate(&self, py: Python<'_>, manifest_json: &str) -> PyResult<()> {
        let m = manifest(manifest_json)?;
        let r = self.open(py)?.reader();
        block(py, Box::pin(async move { r.validate(&m).await }))
    }

    /// Every complete checkpoint, oldest step first, as dicts.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let c = self.open(py)?;
        let infos = block(py, Box::pin(async move { c.list().await }))?;
        infos
            .into_iter()
            .map(|i| {
                let d = PyDict::new(py);
                d.set_item("step", i.step)?;
                d.set_item("epoch", i.epoch)?;
                d.set_item("framework", i.framework)?;
                d.set_item("timestamp", i.timestamp)?;
                d.set_item("world_size", i.world_size)?;
                d.set_item("total_size", i.total_size)?;
                d.set_item("manifest", i.manifest)?;
                d.set_item("is_latest", i.is_latest)?;
                Ok(d.into_any().unbind())
            })
            .collect()
    }

    /// Deletes every checkpoint of `step`; returns the objects deleted.
    fn delete(&self, py: Python<'_>, step: u64) -> PyResult<usize> {
        let c = self.open(py)?;
        block(py, Box::pin(async move { c.delete(step).await }))
    }
}
