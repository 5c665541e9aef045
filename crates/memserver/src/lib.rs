//! `s3dlio-memserver`: an S3 server on loopback that keeps every object in memory, built on
//! the [`s3s`] library (real HTTP, real SigV4 checks). It is the fixture for client limits:
//! unlike s3s-fs it never touches a disk and never hashes a body, so what a benchmark
//! measures against it is the client and the loopback (issue 16).
//!
//! What it serves: buckets (create, head, list, delete: `BucketNotEmpty` when not empty),
//! PUT / GET / HEAD / DELETE of objects with `Range`, `If-Match` and `If-None-Match`
//! (412 and 304 as S3 answers), CopyObject, DeleteObjects, ListObjectsV2 with prefix,
//! delimiter, `StartAfter` and paging (listings carry ETags), and multipart uploads
//! (create, upload part, complete with part checks, abort, list parts). Upload checksums
//! (CRC32C and CRC32, as a header or an aws-chunked trailer) are checked against the
//! bytes received (`BadDigest`), and a multipart upload that declared one needs each
//! part's at completion, as on S3. An ETag is a version token that changes with every
//! write, not an MD5 of the body. A request can be delayed by a fixed latency to model a
//! remote store.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use s3dlio_memserver::{Options, Server};
//!
//! let server = Server::start("127.0.0.1:0", Options {
//!     credentials: Some(("key".into(), "secret".into())),
//!     latency: Duration::from_millis(10),
//!     share: None,
//!     max_in_flight: None,
//! })
//! .await?;
//! println!("S3 endpoint: {}", server.endpoint());
//! server.stop().await;
//! # Ok(())
//! # }
//! ```

mod body;
mod checksum;
mod s3;
mod server;
mod state;
mod usage;

pub use s3::MemS3;
pub use server::{Options, REQUESTS_PATH, Server};
pub use usage::cpu_seconds;
