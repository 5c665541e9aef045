//! One rank's side of a save: its shard (whole or streamed), and rank 0's finalize.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use s3dlio_core::{
    Error, ObjectStoreExt, ObjectWriter, Operation, Result, crc32c_extend, part_slices, try_join_ordered,
};
use serde_json::{Map, Value};

use crate::manifest::{FORMAT_VERSION, Manifest, ShardMeta, format_checksum};
use crate::store::CheckpointStore;

/// Rank `rank` of `world_size`: stores its shards; rank 0 also finalizes.
#[derive(Debug, Clone)]
pub struct CheckpointWriter {
    ckpt: CheckpointStore,
    world_size: u32,
    rank: u32,
}

impl CheckpointWriter {
    pub(crate) fn new(ckpt: CheckpointStore, world_size: u32, rank: u32) -> Result<Self> {
        if world_size == 0 || rank >= world_size {
            return Err(Error::invalid_argument(
                Operation::Put,
                ckpt.base(),
                format!("rank {rank} is not in a world of size {world_size}; ranks run 0..world_size"),
            ));
        }
        Ok(CheckpointWriter {
            ckpt,
            world_size,
            rank,
        })
    }

    pub fn rank(&self) -> u32 {
        self.rank
    }

    pub fn world_size(&self) -> u32 {
        self.world_size
    }

    /// Stores this rank's shard of `step`. Nothing is visible under its key unless the
    /// whole shard is stored; a failed upload is aborted.
    pub async fn save_shard(&self, step: u64, data: Bytes) -> Result<ShardMeta> {
        let cfg = &self.ckpt.config;
        if cfg.writer.zstd_level.is_none() && (data.len() as u64) < cfg.multipart_threshold {
            let key = cfg.layout.shard_key(step, self.rank, false);
            let uri = self.ckpt.uri(&key);
            let crc = crc32c_extend(Operation::Put, &uri, 0, data.clone()).await?;
            let size = data.len() as u64;
            let put = self.ckpt.store.put(&uri, data).await?;
            return Ok(shard_meta(
                step, self.rank, key, size, size, crc, false, put.e_tag,
            ));
        }
        let mut w = self.shard_stream(step).await?;
        for piece in part_slices(&data, cfg.writer.part_size_or(None)) {
            if let Err(e) = w.write(piece).await {
                // The write error is the one to report; the abort's adds nothing.
                let _ = w.abort().await;
                return Err(e);
            }
        }
        w.finish().await
    }

    /// A streamed shard of `step`: write pieces, then `finish`; `abort` (or dropping it)
    /// leaves nothing behind.
    pub async fn shard_stream(&self, step: u64) -> Result<ShardWriter> {
        let cfg = &self.ckpt.config;
        let compressed = cfg.writer.zstd_level.is_some();
        let key = cfg.layout.shard_key(step, self.rank, compressed);
        let uri = self.ckpt.uri(&key);
        let inner = self.ckpt.store.get_writer(&uri, cfg.writer.clone()).await?;
        Ok(ShardWriter {
            inner,
            uri,
            key,
            step,
            rank: self.rank,
            crc: 0,
            compressed,
        })
    }

    /// Rank 0, after every rank's shard of `step` is stored: checks that each of
    /// `shards` (one per rank) is in the store with its size, writes the manifest, then
    /// moves `latest` to it (never back to an older step). A missing shard fails here,
    /// naming it, and leaves `latest` where it was.
    pub async fn finalize(
        &self,
        step: u64,
        epoch: u64,
        framework: &str,
        mut shards: Vec<ShardMeta>,
        user_meta: Map<String, Value>,
    ) -> Result<Manifest> {
        let base = self.ckpt.base();
        let bad = |m: String| Err(Error::invalid_argument(Operation::Finalize, base, m));
        if self.rank != 0 {
            return bad(format!(
                "rank {} called finalize; only rank 0 writes the manifest",
                self.rank
            ));
        }
        shards.sort_by_key(|s| s.rank);
        let ranks: Vec<u32> = shards.iter().map(|s| s.rank).collect();
        if ranks != (0..self.world_size).collect::<Vec<_>>() {
            return bad(format!(
                "finalize needs one shard from each of the {} ranks, got ranks {ranks:?}; gather every rank's shard meta first",
                self.world_size
            ));
        }
        if let Some(s) = shards.iter().find(|s| s.step != step) {
            return bad(format!(
                "the shard of rank {} belongs to step {}, not {step}",
                s.rank, s.step
            ));
        }
        let store = &self.ckpt.store;
        // Owned items: a closure over `&ShardMeta` defeats the `Send` proof of callers.
        let checks = shards.iter().cloned().map(|s| async move {
            let uri = self.ckpt.uri(&s.key);
            let meta = store.stat(&uri).await?;
            if meta.size != s.stored_size {
                return Err(Error::Precondition {
                    op: Operation::Finalize,
                    uri,
                    message: format!(
                        "the shard of rank {} holds {} bytes, its meta says {}; the manifest was not written",
                        s.rank, meta.size, s.stored_size
                    ),
                });
            }
            Ok(())
        });
        try_join_ordered(checks, self.ckpt.config.max_concurrency).await?;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            framework: framework.to_string(),
            step,
            epoch,
            timestamp_ms: now_ms(),
            world_size: self.world_size,
            layout: self.ckpt.config.layout.to_string(),
            total_size: shards.iter().map(|s| s.size).sum(),
            shards,
            user_meta,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        store
            .put(&self.ckpt.uri(&manifest.key()), Bytes::from(json))
            .await?;
        let current = self.ckpt.reader().latest_pointer().await?;
        if current.is_none_or(|l| l.step <= step) {
            self.ckpt.point_latest_at(&manifest).await?;
        }
        Ok(manifest)
    }
}

/// A shard being streamed: the bytes go to a [`get_writer`](ObjectStoreExt::get_writer)
/// upload (zstd when configured) and into a running CRC32C.
#[derive(Debug)]
pub struct ShardWriter {
    inner: Box<dyn ObjectWriter>,
    uri: String,
    key: String,
    step: u64,
    rank: u32,
    crc: u32,
    compressed: bool,
}

impl ShardWriter {
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Bytes written so far (before compression).
    pub fn bytes_written(&self) -> u64 {
        self.inner.bytes_written()
    }

    /// Appends `data`; waits while the upload's parts in flight are full.
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.crc = crc32c_extend(Operation::Write, &self.uri, self.crc, data.clone()).await?;
        self.inner.write(data).await
    }

    /// Makes the shard visible and returns what the manifest records of it.
    pub async fn finish(self) -> Result<ShardMeta> {
        let size = self.inner.bytes_written();
        let summary = self.inner.finalize().await?;
        Ok(shard_meta(
            self.step,
            self.rank,
            self.key,
            size,
            summary.size,
            self.crc,
            self.compressed,
            summary.e_tag,
        ))
    }

    /// Discards the shard.
    pub async fn abort(self) -> Result<()> {
        self.inner.cancel().await
    }
}

#[allow(clippy::too_many_arguments)] // one place builds the record, from either path
fn shard_meta(
    step: u64,
    rank: u32,
    key: String,
    size: u64,
    stored_size: u64,
    crc: u32,
    compressed: bool,
    etag: Option<String>,
) -> ShardMeta {
    ShardMeta {
        step,
        rank,
        key,
        size,
        stored_size,
        checksum: format_checksum(crc),
        compression: compressed.then(|| "zstd".to_string()),
        etag,
        timestamp: now_ms() as f64 / 1e3,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
