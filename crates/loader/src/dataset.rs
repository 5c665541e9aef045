//! Datasets: a fixed list of samples, each read by index.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use s3dlio_core::{ListEntry, ObjectStore, ObjectStoreExt, ReadOptions, Result};

use crate::order::{Shard, epoch_order};

/// Samples addressed by index.
#[async_trait]
pub trait Dataset: Send + Sync + std::fmt::Debug + 'static {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads sample `index` (`index < len()`).
    async fn get(&self, index: usize) -> Result<Bytes>;

    /// What sample `index` is called in errors and reports (its URI).
    fn name(&self, index: usize) -> String;
}

/// How each object is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadMode {
    /// One GET per object.
    Whole,
    /// `part_size` ranges, `parts_in_flight` at once, through the store's read path (for
    /// large objects; ones up to `part_size` still take one GET). Stores that read in one
    /// request (memory://, file://, see `Capabilities::chunked_reads`) read whole.
    Ranged { part_size: u64, parts_in_flight: usize },
}

/// Objects of one store, one sample per object.
#[derive(Debug, Clone)]
pub struct ObjectDataset {
    store: Arc<dyn ObjectStore>,
    uris: Arc<[String]>,
    mode: ReadMode,
}

impl ObjectDataset {
    /// Every object under `prefix` (recursive), in listing order; the listing is read page
    /// by page as a stream.
    pub async fn from_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        let uris: Vec<String> = store
            .list_stream(prefix, true)
            .try_filter_map(|e| async move {
                Ok(match e {
                    ListEntry::Object(m) => Some(m.uri),
                    ListEntry::Prefix(_) => None,
                })
            })
            .try_collect()
            .await?;
        Ok(Self::from_uris(store, uris))
    }

    /// These objects, in this order; nothing is listed or read up front.
    pub fn from_uris(store: Arc<dyn ObjectStore>, uris: Vec<String>) -> Self {
        ObjectDataset {
            store,
            uris: uris.into(),
            mode: ReadMode::Whole,
        }
    }

    pub fn with_read_mode(mut self, mode: ReadMode) -> Self {
        self.mode = mode;
        self
    }

    /// Only shard `shard`'s objects: every `shard.count()`-th one from its offset, in
    /// order, as the loader splits an unshuffled epoch. A map-style reader (each rank
    /// indexing its own dataset) then reads each object on exactly one shard.
    pub fn sharded(mut self, shard: Shard) -> Self {
        let order = epoch_order(self.uris.len(), false, 0, 0, shard);
        self.uris = order.into_iter().map(|i| self.uris[i].clone()).collect();
        self
    }

    pub fn uris(&self) -> &[String] {
        &self.uris
    }
}

#[async_trait]
impl Dataset for ObjectDataset {
    fn len(&self) -> usize {
        self.uris.len()
    }

    async fn get(&self, index: usize) -> Result<Bytes> {
        let uri = &self.uris[index];
        match self.mode {
            ReadMode::Whole => self.store.get(uri).await,
            ReadMode::Ranged {
                part_size,
                parts_in_flight,
            } => {
                let opts = ReadOptions::default().with_chunking(part_size, parts_in_flight);
                self.store.read(uri, opts).await
            }
        }
    }

    fn name(&self, index: usize) -> String {
        self.uris[index].clone()
    }
}

#[cfg(test)]
mod tests {
    use s3dlio_core::MemoryStore;

    use super::*;

    #[test]
    fn shards_split_the_objects_once() {
        let uris: Vec<String> = (0..10).map(|i| format!("memory://b/{i}")).collect();
        let all = ObjectDataset::from_uris(Arc::new(MemoryStore::new()), uris.clone());
        let mut seen = Vec::new();
        for rank in 0..3 {
            let shard = Shard {
                rank,
                world_size: 3,
                ..Shard::default()
            };
            let part = all.clone().sharded(shard);
            assert_eq!(part.len(), if rank == 0 { 4 } else { 3 });
            seen.extend(part.uris().iter().cloned());
        }
        seen.sort();
        let mut want = uris;
        want.sort();
        assert_eq!(seen, want, "every object on exactly one shard");
        let second = all.sharded(Shard {
            rank: 1,
            world_size: 3,
            ..Shard::default()
        });
        assert_eq!(second.uris(), ["memory://b/1", "memory://b/4", "memory://b/7"]);
    }
}
