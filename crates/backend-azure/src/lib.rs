//! # s3dlio-backend-azure
//!
//! `az://account/container/key` (and the portal form
//! `https://account.blob.core.windows.net/container/key`) on the Azure SDK for Rust
//! (`azure_storage_blob`): Shared Key, SAS or Entra ID authorization, Azurite or any
//! custom endpoint, listings as page streams (with a delimiter for "directories"), Blob
//! Batch deletes (256 a request), a bounded-memory block writer that commits once, and
//! ranged reads pinnable with If-Match, which the umbrella's read path fans out
//! (`chunked_reads`). One try per request: the umbrella's retry layer owns retries.
//!
//! ```no_run
//! use bytes::Bytes;
//! use s3dlio_backend_azure::{AzureConfig, AzureStore};
//! use s3dlio_core::ObjectStoreExt;
//!
//! # async fn demo() -> s3dlio_core::Result<()> {
//! // AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true points at Azurite.
//! let store = AzureStore::new(AzureConfig::from_env()?);
//! store.put("az://devstoreaccount1/data/train/0.bin", Bytes::from_static(b"sample")).await?;
//! let first = store.get_range("az://devstoreaccount1/data/train/0.bin", 0, Some(3)).await?;
//! assert_eq!(first, "sam");
//! # Ok(()) }
//! ```

mod auth;
mod batch;
mod client;
mod config;
mod error;
mod list;
mod store;
mod writer;

pub use azure_core::credentials::Secret;
pub use config::*;
pub use store::AzureStore;
pub use writer::{MAX_BLOCK_SIZE, MAX_BLOCKS};
