//! # s3dlio-checkpoint
//!
//! Checkpoints on any s3dlio store. Each rank stores its shard (one PUT, or a multipart
//! stream above a threshold, optionally zstd, with a CRC32C of what the rank wrote);
//! rank 0 then checks that every shard is stored, writes a manifest naming them, and
//! only after that moves the `latest` pointer, so a reader never finds a manifest whose
//! shards are missing and a crash mid-save leaves `latest` on the previous good step.
//!
//! ```text
//! <base>/shards/step-000000000100/rank-000003.shard     (or p007/…, b/1/0/1/… by Layout)
//! <base>/manifests/ckpt-000000000100-1764000000000.json
//! <base>/latest                                         {"step": 100, "manifest": "manifests/…"}
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use s3dlio_checkpoint::{CheckpointConfig, CheckpointStore};
//! use s3dlio_core::{MemoryStore, ObjectStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! store.create_container("memory://ckpt").await?;
//! let ckpt = CheckpointStore::new(store, "memory://ckpt/run-1", CheckpointConfig::default())?;
//! // Two ranks store their shards; rank 0 finalizes with both shards' metas.
//! let (w0, w1) = (ckpt.writer(2, 0)?, ckpt.writer(2, 1)?);
//! let shards = vec![
//!     w0.save_shard(100, Bytes::from_static(b"rank 0 state")).await?,
//!     w1.save_shard(100, Bytes::from_static(b"rank 1 state")).await?,
//! ];
//! w0.finalize(100, 3, "torch", shards, Default::default()).await?;
//!
//! let reader = ckpt.reader();
//! let m = reader.latest_manifest().await?.expect("a checkpoint");
//! assert_eq!((m.step, m.world_size), (100, 2));
//! assert_eq!(reader.read_shard(&m, 1, true).await?, "rank 1 state");
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod layout;
mod manifest;
mod reader;
mod store;
mod writer;

pub use layout::Layout;
pub use manifest::{
    FORMAT_VERSION, LATEST, Latest, MANIFESTS, Manifest, ShardMeta, format_checksum, parse_checksum,
};
pub use reader::CheckpointReader;
pub use store::{CheckpointConfig, CheckpointInfo, CheckpointStore};
pub use writer::{CheckpointWriter, ShardWriter};
