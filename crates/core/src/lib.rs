//! # s3dlio-core
//!
//! The contracts every s3dlio backend keeps, and the pieces they share:
//!
//! - [`ObjectStore`]: the small set of primitives a backend implements, object-safe and
//!   addressed by full URIs (`s3://bucket/key`, `file:///path`, `memory://bucket/key`);
//! - [`ObjectStoreExt`]: conveniences every store gets for free (`get`, `get_range`,
//!   `get_ranges` with coalescing, checksum-validated reads, `put_multipart`, `exists`,
//!   `list`, `delete_prefix`);
//! - [`RangeGetClient`]: the one primitive the range engine needs, implemented by every
//!   store;
//! - [`layer`]: wrapper stores (the retry owner, a request limit) over any store;
//! - [`ObjectWriter`]: streaming uploads with an explicit `finalize` and `cancel`;
//! - [`Error`]: one error enum carrying the operation, the URI and the cause;
//! - [`ObjectUri`]: URI parsing for every scheme;
//! - [`MemoryStore`]: a real concurrent in-process store;
//! - `testkit` (feature): the conformance suite every backend runs.
//!
//! Every read returns [`bytes::Bytes`]: a reference-counted buffer that slices without
//! copying.
//!
//! ```
//! use bytes::Bytes;
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! store.create_container("memory://data").await?;
//! store.put("memory://data/train/shard-0", Bytes::from_static(b"hello world")).await?;
//! assert_eq!(store.get_range("memory://data/train/shard-0", 6, None).await?, "world");
//! assert_eq!(store.list("memory://data/", false).await?, ["memory://data/train/"]);
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod batch;
pub mod blocks;
pub mod buffer;
mod checksum;
mod coalesce;
pub mod env;
mod error;
mod ext;
pub mod layer;
mod many;
mod memory;
mod meta;
mod options;
pub mod paging;
pub mod parts;
mod range_client;
pub mod resume;
mod retry;
pub mod slab;
pub mod staging;
mod store;
mod task;
mod uri;
pub mod wire;
mod writer;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use batch::{batch_outcome, delete_each, delete_grouped};
pub use checksum::{crc32c, crc32c_append, crc32c_extend};
pub use coalesce::{CoalescePlan, Cutter, coalesce, fetch_ranges, plan_ranges, slice_fetched};
pub use error::{BatchFailure, BoxError, Error, Operation, Result};
pub use ext::{DELETE_PAGE, ObjectStoreExt, part_slices};
pub use many::{get_many, get_many_stats, put_many};
pub use memory::{DEFAULT_PAGE_SIZE, MemoryStore};
pub use meta::{Capabilities, ListEntry, ObjectMeta, PendingUpload};
pub use options::{
    DEFAULT_PART_SIZE, DEFAULT_PARTS_IN_FLIGHT, ENV_PART_SIZE, ENV_PARTS_IN_FLIGHT, GetOptions, GetRange,
    ObjectHint, PutOptions, RangesOptions, ReadOptions, WriterOptions,
};
pub use range_client::{RangeChunk, RangeGetClient};
pub use retry::{
    ENV_RETRY_ATTEMPTS, ENV_RETRY_INITIAL_MS, ENV_RETRY_MAX_ELAPSED_MS, ENV_RETRY_MAX_MS, RetryPolicy, retry,
};
pub use store::{DEFAULT_DELETE_CONCURRENCY, GetResult, ObjectStore, PutResult};
pub use task::{as_waiting_caller, run_blocking, run_short_blocking, try_join_ordered};
pub use uri::{ALL_SCHEMES, ObjectUri, Scheme, Serves, Service, as_prefix, parse_for, parse_object};
pub use writer::{ObjectWriter, WriteSummary, ZstdWriter};
