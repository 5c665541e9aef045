//! # s3dlio-backend-s3
//!
//! `s3://bucket/key` (and `s3://host:port/bucket/key` for an explicit endpoint) on
//! aws-sdk-s3 (data requests on hyper with `aws-sigv4`, [`DataPath`]): the standard AWS credential chain with a bounded lookup, path-style
//! addressing for custom endpoints, listings as page streams, DeleteObjects batches that
//! report every refused key, a bounded-memory multipart writer that aborts on any
//! failure, and ranged GETs pinnable with If-Match, which the umbrella's read path fans
//! out (`chunked_reads`). One SDK attempt per call: the umbrella's retry layer owns retries.
//!
//! ```no_run
//! use bytes::Bytes;
//! use s3dlio_backend_s3::{S3Config, S3Store};
//! use s3dlio_core::ObjectStoreExt;
//!
//! # async fn demo() -> s3dlio_core::Result<()> {
//! let store = S3Store::new(S3Config::from_env()?.with_endpoint("http://127.0.0.1:9000"));
//! store.put("s3://my-bucket/train/0.bin", Bytes::from_static(b"sample")).await?;
//! let first = store.get_range("s3://my-bucket/train/0.bin", 0, Some(3)).await?;
//! assert_eq!(first, "sam");
//! # Ok(()) }
//! ```

mod checksum;
mod client;
mod config;
mod conn;
mod direct;
mod error;
mod https;
mod signer;
mod store;
mod writer;

pub use client::FALLBACK_REGION;
pub use config::*;
pub use store::{DELETE_BATCH, MULTIPART_PUT_PARTS, S3Store};
pub use writer::{MAX_PARTS, MIN_PART_SIZE};
