//! # s3dlio-range-engine
//!
//! Concurrent ranged reads over any [`RangeGetClient`](s3dlio_core::RangeGetClient) —
//! every s3dlio store is one, and so is `dyn RangeGetClient`.
//!
//! - **No HEAD**: the first request asks for the first `threshold` bytes; its answer
//!   carries the object's total size and version, and the engine fans the rest out from
//!   there. Reads no larger than `threshold` are one request. With an [`ObjectHint`]
//!   (size known from a listing) there is no probe at all.
//! - **Version pinning**: every later request is pinned to the first answer's version; a
//!   change mid-read fails with `Error::Precondition`, never a mix of two versions.
//! - **Bounded memory**: at most `effective_concurrency()` requests in flight, which is
//!   `max_concurrency` lowered to fit `max_bytes_in_flight / chunk_size`.
//! - **No retries of its own**: the store's retry layer owns them (decision 010); a short
//!   response is a transient error for that layer to retry, and a failed chunk names its
//!   byte range. Dropping the future cancels every request in flight.
//! - [`ReadPath`]: the one read path, a wrapper store that plans every read of the store
//!   below (one request, or concurrent pinned chunks) for every front end.
//! - Outputs: one contiguous `Bytes` (each byte copied once, into a buffer allocated
//!   once), an in-order stream of chunks (no copies), or many ranges with coalescing.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//! use s3dlio_range_engine::{RangeEngine, RangeEngineConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! store.create_container("memory://b").await?;
//! store.put("memory://b/big", Bytes::from(vec![3u8; 10_000])).await?;
//! let config = RangeEngineConfig::default().with_chunk_size(1024).with_threshold(1024);
//! let engine = RangeEngine::new(store, config);
//! assert_eq!(engine.get("memory://b/big").await?.len(), 10_000);
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod checked;
mod config;
#[cfg(feature = "testkit")]
pub mod doubles;
mod engine;
mod read_path;

pub use config::{
    ENV_CHUNK_SIZE, ENV_CONCURRENCY, ENV_MAX_BYTES_IN_FLIGHT, ENV_THRESHOLD, RangeEngineConfig,
};
pub use engine::{Assembled, RangeEngine, read, read_stream};
pub use read_path::{ReadPath, layered};
pub use s3dlio_core::ObjectHint;
