//! # s3dlio-backend-gcs
//!
//! `gs://bucket/key` (and `gcs://bucket/key`) on the Cloud Storage JSON API, through the
//! `gcloud-storage` client: Application Default Credentials (key file, gcloud, metadata
//! server, each within a time limit), an emulator via `STORAGE_EMULATOR_HOST`, anonymous
//! access to public buckets, listings as page streams (with a delimiter for
//! "directories"), concurrent deletes that report every failure, a resumable writer
//! whose memory is two chunks and which leaves nothing behind on cancel, and reads that
//! are one ranged GET each, pinned to the object's generation, which the umbrella's read
//! path fans out (`chunked_reads`). One try per request: the retry layer owns retries.
//!
//! ```no_run
//! use bytes::Bytes;
//! use s3dlio_backend_gcs::{GcsConfig, GcsStore};
//! use s3dlio_core::ObjectStoreExt;
//!
//! # async fn demo() -> s3dlio_core::Result<()> {
//! // STORAGE_EMULATOR_HOST=127.0.0.1:4443 points at an emulator (no credentials).
//! let store = GcsStore::new(GcsConfig::from_env()?);
//! store.put("gs://data/train/0.bin", Bytes::from_static(b"sample")).await?;
//! let first = store.get_range("gs://data/train/0.bin", 0, Some(3)).await?;
//! assert_eq!(first, "sam");
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod read;
mod store;
mod writer;

pub use config::*;
pub use store::GcsStore;
pub use writer::{CHUNK_UNIT, MAX_OBJECT_SIZE, chunk_size};
