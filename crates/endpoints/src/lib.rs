//! s3dlio's multi-endpoint layer: one store over several endpoints of one service
//! (MinIO or Vast nodes, AIStore gateways, several mount points), without a load
//! balancer in front.
//!
//! [`Endpoints`] is the set: from a list, a template (`http://10.0.0.{1...8}:9000`), a
//! file or `S3_ENDPOINT_URIS`; round-robin or least-connections; per-endpoint
//! statistics; a failing endpoint is taken out for a back-off period.
//! [`MultiEndpointStore`] is the wrapper store that sends each request to one endpoint
//! and hands results back under the URIs the caller wrote. `s3dlio::StoreOptions::
//! with_endpoints` puts it below the retry layer, so a failed try is retried elsewhere.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//! use s3dlio_endpoints::{Endpoints, MultiEndpointStore, Strategy};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Two "mount points" of one in-memory service, balanced in turn.
//! let memory = Arc::new(MemoryStore::new());
//! memory.create_container("memory://b").await?;
//! let eps = Arc::new(Endpoints::new(&["memory://b/ep1/", "memory://b/ep2/"], Strategy::RoundRobin)?);
//! let store = MultiEndpointStore::new(memory, eps.clone());
//! store.put("memory://b/ep1/a", Bytes::from_static(b"first")).await?;  // lands on ep1
//! store.put("memory://b/ep1/b", Bytes::from_static(b"second")).await?; // lands on ep2
//! let stats = eps.stats();
//! assert_eq!((stats[0].bytes_written, stats[1].bytes_written), (5, 6));
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

mod balance;
mod spec;
mod stats;
mod store;

pub use balance::{DEFAULT_BACKOFF, DEFAULT_MAX_BACKOFF, Endpoints};
pub use spec::{
    ENV_FILE, ENV_STRATEGY, ENV_TEMPLATE, ENV_URIS, Strategy, expand_template, parse_list, read_file,
};
pub use stats::EndpointStats;
pub use store::MultiEndpointStore;
