//! s3dlio's op-log: every operation through a store, recorded as one row of MinIO warp's
//! TSV format (`idx thread op client_id n_objects bytes endpoint file error start
//! first_byte end duration_ns`) in a zstd-compressed file that `zstd -dc` and warp read.
//!
//! [`OpLogStore`] wraps any store and records each operation it is asked for;
//! [`OpLog`] queues the rows (bounded: lossless by default, with back-pressure; lossy
//! counts what it drops) for a background thread that writes them, so the async workers
//! never touch the file. [`read_log`] and [`replay`] issue a log's operations again,
//! against another prefix or backend, at the recorded pace or faster.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//! use s3dlio_oplog::{OpLog, OpLogOptions, OpLogStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let log = OpLog::create(&dir.path().join("ops.tsv.zst"), OpLogOptions::default())?;
//! let store = OpLogStore::new(Arc::new(MemoryStore::new()), log.clone());
//! store.create_container("memory://b").await?;
//! store.put("memory://b/k", Bytes::from_static(b"hello")).await?;
//! store.get("memory://b/k").await?;
//! let stats = log.finish().await?;
//! assert_eq!((stats.written, stats.dropped), (3, 0));
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod log;
mod record;
mod replay;
mod store;

pub use log::{OpLog, OpLogOptions, OpLogStats};
pub use record::{HEADER, OpRecord};
pub use replay::{LoggedOp, OpSummary, ReplayOptions, ReplayReport, read_log, replay};
pub use store::OpLogStore;
