//! # s3dlio
//!
//! Fast object-storage I/O for AI/ML jobs: one [`ObjectStore`] API over every backend,
//! chosen by URI scheme with [`store_for_uri`]. Reads return [`bytes::Bytes`] and never
//! copy behind your back.
//!
//! | scheme | backend | feature |
//! |---|---|---|
//! | `file:///abs/path` | local files, page cache | `file` (default) |
//! | `direct:///abs/path` | local files, O_DIRECT | `file` (default) |
//! | `memory://bucket/key` | in-process store, shared by the whole process | always |
//! | `s3://bucket/key`, `s3://host:port/bucket/key` | S3 and S3-compatible servers | `s3` (default) |
//! | `az://account/container/key`, `https://account.blob.core.windows.net/container/key` | Azure Blob (and Azurite) | `azure` (default) |
//! | `gs://bucket/key`, `gcs://bucket/key` | Google Cloud Storage (and emulators via `STORAGE_EMULATOR_HOST`) | `gcs` (default) |
//!
//! ```
//! use bytes::Bytes;
//! use s3dlio::{ObjectStoreExt, store_for_uri};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("s3dlio-umbrella-doc-{}", std::process::id()));
//! let uri = format!("file://{}/sample.bin", dir.display());
//! let store = store_for_uri(&uri)?;
//! store.put(&uri, Bytes::from(vec![7u8; 1024])).await?;
//! assert_eq!(store.get(&uri).await?.len(), 1024);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<_, s3dlio::Error>(())
//! # }).unwrap();
//! ```

use std::sync::{Arc, OnceLock};

pub use s3dlio_core::*;

mod cache;
pub mod transfer;

pub use cache::StoreCache;
pub use s3dlio_datagen as datagen;
pub use s3dlio_loader as loader;
pub use s3dlio_range_engine as range_engine;

#[cfg(feature = "azure")]
pub use s3dlio_backend_azure as azure;
#[cfg(feature = "file")]
pub use s3dlio_backend_file as file;
#[cfg(feature = "gcs")]
pub use s3dlio_backend_gcs as gcs;
#[cfg(feature = "s3")]
pub use s3dlio_backend_s3 as s3;

/// The process-wide `memory://` store: every `store_for_uri("memory://...")` shares it,
/// so data put through one handle is visible through all.
pub fn memory_store() -> Arc<MemoryStore> {
    static STORE: OnceLock<Arc<MemoryStore>> = OnceLock::new();
    STORE.get_or_init(|| Arc::new(MemoryStore::new())).clone()
}

/// The process-wide S3 store: one set of SDK clients (connection pools, credentials)
/// shared by every `store_for_uri("s3://...")`, configured from the environment once.
#[cfg(feature = "s3")]
pub fn s3_store() -> Result<Arc<s3::S3Store>> {
    static STORE: OnceLock<Arc<s3::S3Store>> = OnceLock::new();
    if let Some(s) = STORE.get() {
        return Ok(s.clone());
    }
    let store = Arc::new(s3::S3Store::from_env()?);
    Ok(STORE.get_or_init(|| store).clone())
}

/// The process-wide Azure store: one set of clients per account (connection pools,
/// tokens) shared by every `store_for_uri("az://...")`, configured from the environment once.
#[cfg(feature = "azure")]
pub fn azure_store() -> Result<Arc<azure::AzureStore>> {
    static STORE: OnceLock<Arc<azure::AzureStore>> = OnceLock::new();
    if let Some(s) = STORE.get() {
        return Ok(s.clone());
    }
    let store = Arc::new(azure::AzureStore::from_env()?);
    Ok(STORE.get_or_init(|| store).clone())
}

/// The process-wide GCS store: one connection pool and one token source shared by every
/// `store_for_uri("gs://...")`, configured from the environment once.
#[cfg(feature = "gcs")]
pub fn gcs_store() -> Result<Arc<gcs::GcsStore>> {
    static STORE: OnceLock<Arc<gcs::GcsStore>> = OnceLock::new();
    if let Some(s) = STORE.get() {
        return Ok(s.clone());
    }
    let store = Arc::new(gcs::GcsStore::from_env()?);
    Ok(STORE.get_or_init(|| store).clone())
}

/// The URI schemes this build can serve.
pub fn supported_schemes() -> Vec<&'static str> {
    let mut v = vec!["memory://"];
    if cfg!(feature = "file") {
        v.extend(["file://", "direct://"]);
    }
    if cfg!(feature = "s3") {
        v.push("s3://");
    }
    if cfg!(feature = "azure") {
        v.extend(["az://", "https://ACCOUNT.blob.core.windows.net/"]);
    }
    if cfg!(feature = "gcs") {
        v.extend(["gs://", "gcs://"]);
    }
    v
}

/// The store for `uri`'s scheme, configured from the environment (see
/// `docs/configuration.md`). `uri` may be an object, a prefix or a service root (`s3://`
/// for `list_containers`); the store checks the rest of it on each call. A scheme this
/// build cannot serve is an error that lists the schemes it can.
pub fn store_for_uri(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    build_store(uri, true)
}

/// The store for `uri`'s scheme; `shared` takes the process-wide remote clients, else
/// new ones that belong to the caller.
fn build_store(uri: &str, shared: bool) -> Result<Arc<dyn ObjectStore>> {
    let scheme = match Scheme::of(uri) {
        Some(scheme) => scheme,
        // Parsing gives the error that lists the schemes.
        None => return Err(ObjectUri::parse(uri).expect_err("a URI without a known scheme never parses")),
    };
    match scheme.service() {
        Service::Memory => Ok(memory_store()),
        #[cfg(feature = "file")]
        Service::File => Ok(Arc::new(file::FileStore::new(file::FileConfig::from_env()?))),
        #[cfg(feature = "file")]
        Service::Direct => Ok(Arc::new(file::FileStore::direct(file::FileConfig::from_env()?))),
        #[cfg(feature = "s3")]
        Service::S3 if shared => Ok(s3_store()?),
        #[cfg(feature = "s3")]
        Service::S3 => Ok(Arc::new(s3::S3Store::from_env()?)),
        #[cfg(feature = "azure")]
        Service::Azure if shared => Ok(azure_store()?),
        #[cfg(feature = "azure")]
        Service::Azure => Ok(Arc::new(azure::AzureStore::from_env()?)),
        #[cfg(feature = "gcs")]
        Service::Gcs if shared => Ok(gcs_store()?),
        #[cfg(feature = "gcs")]
        Service::Gcs => Ok(Arc::new(gcs::GcsStore::from_env()?)),
        other => Err(Error::InvalidUri {
            uri: uri.to_string(),
            reason: format!(
                "this build of s3dlio has no {other} backend{}; it serves {}",
                match other {
                    Service::File | Service::Direct => " (enable the `file` feature)",
                    Service::S3 => " (enable the `s3` feature)",
                    Service::Azure => " (enable the `azure` feature)",
                    Service::Gcs => " (enable the `gcs` feature)",
                    _ => "",
                },
                supported_schemes().join(", ")
            ),
        }),
    }
}
