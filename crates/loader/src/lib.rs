//! # s3dlio-loader
//!
//! Feeding training loops from object storage: [`stream_prefix`], the iterable form
//! (objects as they are listed, read concurrently), and a [`Dataset`] of samples read by index
//! ([`ObjectDataset`]: one object per sample, from a prefix listing or a list of URIs,
//! read whole or through the range engine), and a [`DataLoader`] that batches them,
//! shuffles per epoch with a seed, splits them across ranks and workers, reads
//! `max_in_flight` at a time and keeps at most `prefetch` batches ahead. Items are
//! `bytes::Bytes`: what the store returned, never copied.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use futures::TryStreamExt;
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//! use s3dlio_loader::{DataLoader, LoaderOptions, ObjectDataset};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
//! store.create_container("memory://train").await?;
//! for i in 0..10u8 {
//!     store.put(&format!("memory://train/{i}.bin"), Bytes::from(vec![i; 4])).await?;
//! }
//! let dataset = ObjectDataset::from_prefix(store, "memory://train/").await?;
//! let loader = DataLoader::new(Arc::new(dataset), LoaderOptions::default().with_batch_size(4).with_shuffle(true, 42))?;
//! let batches: Vec<_> = loader.epoch(0).try_collect().await?;
//! assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod dataset;
mod iterable;
mod loader;
mod order;

pub use dataset::{Dataset, ObjectDataset, ReadMode};
pub use iterable::stream_prefix;
pub use loader::{Batch, DataLoader, Epoch, EpochReport, LoaderOptions, OnError};
pub use order::{Shard, epoch_order};
