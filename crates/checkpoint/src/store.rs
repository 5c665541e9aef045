//! [`CheckpointStore`]: checkpoints under one base URI of any store.

use std::sync::Arc;

use bytes::Bytes;
use s3dlio_core::{
    Error, ObjectStore, ObjectStoreExt, Operation, Result, WriterOptions, as_prefix, try_join_ordered,
};
use serde_json::{Map, Value};

use crate::layout::Layout;
use crate::manifest::{LATEST, Latest, MANIFESTS, Manifest, step_of_key};
use crate::reader::CheckpointReader;
use crate::writer::CheckpointWriter;

/// How shards are written and read.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointConfig {
    pub layout: Layout,
    /// Shards of at least this many bytes stream through a multipart writer (bounded by
    /// `writer`'s part size × parts in flight); smaller ones are one atomic PUT.
    pub multipart_threshold: u64,
    /// Part size and parts in flight of multipart shards, and the zstd level that
    /// compresses every shard when set (which makes every shard a stream).
    pub writer: WriterOptions,
    /// Shards read, checked or deleted at once.
    pub max_concurrency: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            layout: Layout::Flat,
            multipart_threshold: 32 << 20,
            writer: WriterOptions::default(),
            max_concurrency: 16,
        }
    }
}

impl CheckpointConfig {
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// Compresses each shard with zstd at this level (1..=22).
    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.writer = self.writer.with_zstd_level(level);
        self
    }

    pub fn with_writer(mut self, writer: WriterOptions) -> Self {
        self.writer = writer;
        self
    }

    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }
}

/// One complete checkpoint, as [`CheckpointStore::list`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    pub step: u64,
    pub epoch: u64,
    pub framework: String,
    /// Unix seconds.
    pub timestamp: f64,
    pub world_size: u32,
    pub total_size: u64,
    /// The manifest's key, relative to the base.
    pub manifest: String,
    /// Whether `latest` points at it.
    pub is_latest: bool,
}

/// Checkpoints under one base URI (`s3://bucket/run-7/`): each rank stores its shard,
/// rank 0 then writes a manifest naming every shard, and only then moves `latest` to it,
/// so a reader never sees a manifest whose shards are missing.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) base: String,
    pub(crate) config: CheckpointConfig,
}

impl CheckpointStore {
    /// Checkpoints under `base` (a `/` is added when missing) of `store`; the writer
    /// options are checked here, before any shard is written.
    pub fn new(store: Arc<dyn ObjectStore>, base: &str, config: CheckpointConfig) -> Result<Self> {
        config.writer.validate(base)?;
        Ok(CheckpointStore {
            store,
            base: as_prefix(base),
            config,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn config(&self) -> &CheckpointConfig {
        &self.config
    }

    /// The full URI of `key` (relative to the base).
    pub fn uri(&self, key: &str) -> String {
        format!("{}{key}", self.base)
    }

    /// Rank `rank` of `world_size`'s writer.
    pub fn writer(&self, world_size: u32, rank: u32) -> Result<CheckpointWriter> {
        CheckpointWriter::new(self.clone(), world_size, rank)
    }

    pub fn reader(&self) -> CheckpointReader {
        CheckpointReader::new(self.clone())
    }

    /// A single-rank checkpoint of `data`: its shard, then its manifest, then `latest`.
    pub async fn save(
        &self,
        step: u64,
        epoch: u64,
        framework: &str,
        data: Bytes,
        user_meta: Map<String, Value>,
    ) -> Result<Manifest> {
        let w = self.writer(1, 0)?;
        let shard = w.save_shard(step, data).await?;
        w.finalize(step, epoch, framework, vec![shard], user_meta).await
    }

    /// The latest checkpoint and every shard of it (checked against its CRC32C when
    /// `validate`), or `None` when there is none.
    pub async fn load_latest(&self, validate: bool) -> Result<Option<(Manifest, Vec<Bytes>)>> {
        let reader = self.reader();
        let Some(m) = reader.latest_manifest().await? else {
            return Ok(None);
        };
        let shards = reader.read_all(&m, validate).await?;
        Ok(Some((m, shards)))
    }

    /// Every complete checkpoint (one with a manifest), oldest step first.
    pub async fn list(&self) -> Result<Vec<CheckpointInfo>> {
        let reader = self.reader();
        let latest = reader.latest_pointer().await?;
        let keys = self.manifest_keys().await?;
        let manifests = self.manifests(&reader, &keys).await?;
        Ok(manifests
            .into_iter()
            .map(|m| CheckpointInfo {
                step: m.step,
                epoch: m.epoch,
                framework: m.framework.clone(),
                timestamp: m.timestamp(),
                world_size: m.world_size,
                total_size: m.total_size,
                is_latest: latest.as_ref().is_some_and(|l| l.manifest == m.key()),
                manifest: m.key(),
            })
            .collect())
    }

    /// The manifests at `keys`, read concurrently.
    async fn manifests(&self, reader: &CheckpointReader, keys: &[String]) -> Result<Vec<Manifest>> {
        // Owned keys: a closure over `&String` defeats the `Send` proof of callers.
        let reads = keys
            .iter()
            .cloned()
            .map(|k| async move { reader.manifest_at(&k).await });
        try_join_ordered(reads, self.config.max_concurrency).await
    }

    /// Manifest keys (relative to the base), oldest first.
    pub(crate) async fn manifest_keys(&self) -> Result<Vec<String>> {
        let prefix = self.uri(MANIFESTS);
        let mut keys: Vec<String> = self
            .store
            .list(&prefix, true)
            .await?
            .into_iter()
            .filter_map(|u| u.strip_prefix(&self.base).map(str::to_string))
            .filter(|k| step_of_key(k).is_some())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Deletes every checkpoint of `step`: first `latest` moves to the newest other
    /// checkpoint (or goes), then the manifests go, then their shards, so no reader ever
    /// follows a pointer to a deleted manifest or a manifest to a deleted shard. Returns
    /// the objects deleted; `NotFound` when `step` has no checkpoint.
    pub async fn delete(&self, step: u64) -> Result<usize> {
        let keys = self.manifest_keys().await?;
        let (doomed, kept): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|k| step_of_key(k) == Some(step));
        if doomed.is_empty() {
            return Err(Error::not_found(
                Operation::Delete,
                self.uri(&format!("{MANIFESTS}ckpt-{step:012}-*")),
            ));
        }
        let reader = self.reader();
        let manifests = self.manifests(&reader, &doomed).await?;
        if reader.latest_pointer().await?.is_some_and(|l| l.step == step) {
            match kept.last() {
                Some(prev) => {
                    let m = reader.manifest_at(prev).await?;
                    self.point_latest_at(&m).await?;
                }
                None => self.store.delete(&self.uri(LATEST)).await?,
            }
        }
        let mut uris: Vec<String> = doomed.iter().map(|k| self.uri(k)).collect();
        self.store.delete_batch(&uris).await?;
        let shards: Vec<String> = manifests
            .iter()
            .flat_map(|m| m.shards.iter().map(|s| self.uri(&s.key)))
            .collect();
        self.store.delete_batch(&shards).await?;
        uris.extend(shards);
        Ok(uris.len())
    }

    /// Writes `latest` to name `m`.
    pub(crate) async fn point_latest_at(&self, m: &Manifest) -> Result<()> {
        let latest = Latest {
            format_version: crate::manifest::FORMAT_VERSION,
            step: m.step,
            manifest: m.key(),
        };
        let json = serde_json::to_vec_pretty(&latest).expect("a pointer serializes");
        self.store.put(&self.uri(LATEST), Bytes::from(json)).await?;
        Ok(())
    }
}
