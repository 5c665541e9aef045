//! # s3dlio-backend-file
//!
//! Local files behind the s3dlio [`ObjectStore`](s3dlio_core::ObjectStore) API:
//!
//! - `file:///abs/path`: buffered I/O with positional reads and `posix_fadvise` hints
//!   ([`PageCacheHint`]);
//! - `direct:///abs/path`: O_DIRECT with aligned buffers (the unaligned tail is padded and
//!   truncated on write, and sliced without a copy on read); where the filesystem refuses
//!   O_DIRECT it warns once and falls back to buffered I/O, and
//!   [`FileStore::direct_io_stats`] tells which happened.
//!
//! Puts and streaming writers write a hidden temporary file beside the target and rename
//! it into place, so a reader sees the old file or the whole new one, and a cancelled or
//! dropped writer leaves nothing behind.
//!
//! ```
//! use bytes::Bytes;
//! use s3dlio_backend_file::{FileConfig, FileStore};
//! use s3dlio_core::ObjectStoreExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("s3dlio-doc-{}", std::process::id()));
//! let uri = format!("file://{}/shard-0.bin", dir.display());
//! let store = FileStore::new(FileConfig::default());
//! store.put(&uri, Bytes::from_static(b"tensor bytes")).await?;
//! assert_eq!(store.get_range(&uri, 7, None).await?, "bytes");
//! store.delete_prefix(&format!("file://{}/", dir.display())).await?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod aligned;
mod config;
mod io;
mod list;
mod ranges;
mod store;
mod writer;

pub use config::{ENV_DIRECT_ALIGNMENT, ENV_FSYNC, ENV_PAGE_CACHE, FileConfig, PageCacheHint};
pub use io::DirectIoStats;
pub use store::FileStore;
