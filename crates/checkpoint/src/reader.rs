//! Finding a checkpoint (latest, by step) and reading its shards.

use bytes::Bytes;
use s3dlio_core::{Error, ObjectStoreExt, Operation, Result, crc32c_extend, run_blocking, try_join_ordered};

use crate::manifest::{LATEST, Latest, MANIFESTS, Manifest, ShardMeta};
use crate::store::CheckpointStore;

/// Reads checkpoints of one [`CheckpointStore`].
#[derive(Debug, Clone)]
pub struct CheckpointReader {
    ckpt: CheckpointStore,
}

impl CheckpointReader {
    pub(crate) fn new(ckpt: CheckpointStore) -> Self {
        CheckpointReader { ckpt }
    }

    /// The `latest` pointer, or `None` before the first finalize.
    pub async fn latest_pointer(&self) -> Result<Option<Latest>> {
        let uri = self.ckpt.uri(LATEST);
        match self.ckpt.store.get(&uri).await {
            Ok(data) => Latest::parse(&uri, &data).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The manifest `latest` names, or `None` when there is no checkpoint yet.
    pub async fn latest_manifest(&self) -> Result<Option<Manifest>> {
        match self.latest_pointer().await? {
            Some(l) => self.manifest_at(&l.manifest).await.map(Some),
            None => Ok(None),
        }
    }

    /// The newest manifest of `step`, or `None` when that step has none.
    pub async fn manifest_for_step(&self, step: u64) -> Result<Option<Manifest>> {
        let prefix = format!("{MANIFESTS}ckpt-{step:012}-");
        let newest = self
            .ckpt
            .manifest_keys()
            .await?
            .into_iter()
            .rfind(|k| k.starts_with(&prefix));
        match newest {
            Some(key) => self.manifest_at(&key).await.map(Some),
            None => Ok(None),
        }
    }

    /// The manifest at `key` (relative to the base).
    pub async fn manifest_at(&self, key: &str) -> Result<Manifest> {
        let uri = self.ckpt.uri(key);
        let data = self.ckpt.store.get(&uri).await?;
        Manifest::parse(&uri, &data)
    }

    /// Rank `rank`'s shard of `m`: its size is checked, its CRC32C when `validate`;
    /// a compressed shard is decompressed (one copy), any other is the stored bytes.
    pub async fn read_shard(&self, m: &Manifest, rank: u32, validate: bool) -> Result<Bytes> {
        let shard = m.shards.iter().find(|s| s.rank == rank).ok_or_else(|| {
            Error::invalid_argument(
                Operation::Get,
                self.ckpt.uri(&m.key()),
                format!(
                    "the checkpoint of step {} has no rank {rank} (world size {})",
                    m.step, m.world_size
                ),
            )
        })?;
        self.read(shard, validate).await
    }

    /// Every shard of `m`, in rank order, `max_concurrency` at once.
    pub async fn read_all(&self, m: &Manifest, validate: bool) -> Result<Vec<Bytes>> {
        // Owned items: a closure over `&ShardMeta` defeats the `Send` proof of callers.
        let reads = m
            .shards
            .iter()
            .cloned()
            .map(|s| async move { self.read(&s, validate).await });
        try_join_ordered(reads, self.ckpt.config.max_concurrency).await
    }

    /// Reads every shard of `m` and checks its size and CRC32C: a corrupted or missing
    /// shard fails, naming it.
    pub async fn validate(&self, m: &Manifest) -> Result<()> {
        let checks = m
            .shards
            .iter()
            .cloned()
            .map(|s| async move { self.read(&s, true).await.map(drop) });
        try_join_ordered(checks, self.ckpt.config.max_concurrency).await?;
        Ok(())
    }

    async fn read(&self, shard: &ShardMeta, validate: bool) -> Result<Bytes> {
        let uri = self.ckpt.uri(&shard.key);
        let stored = self.ckpt.store.get(&uri).await?;
        let data = if shard.is_compressed() {
            let u = uri.clone();
            run_blocking(Operation::Get, &uri, "zstd decompression", move || {
                zstd::decode_all(&stored[..])
                    .map(Bytes::from)
                    .map_err(|e| Error::from_io(Operation::Get, u, e))
            })
            .await??
        } else {
            stored
        };
        if data.len() as u64 != shard.size {
            return Err(Error::Precondition {
                op: Operation::Get,
                uri,
                message: format!(
                    "the shard of rank {} holds {} bytes, the manifest says {}; the checkpoint is damaged",
                    shard.rank,
                    data.len(),
                    shard.size
                ),
            });
        }
        if validate {
            let expected = shard.crc32c().ok_or_else(|| {
                Error::invalid_argument(
                    Operation::Get,
                    &uri,
                    format!("unknown checksum {:?} in the manifest", shard.checksum),
                )
            })?;
            let actual = crc32c_extend(Operation::Get, &uri, 0, data.clone()).await?;
            if actual != expected {
                return Err(Error::ChecksumMismatch {
                    op: Operation::Get,
                    uri,
                    expected,
                    actual,
                });
            }
        }
        Ok(data)
    }
}
