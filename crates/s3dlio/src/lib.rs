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

// The READMEs' Rust blocks compile (and run) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct RootReadme;
#[cfg(doctest)]
#[doc = include_str!("../../checkpoint/README.md")]
struct CheckpointReadme;
#[cfg(doctest)]
#[doc = include_str!("../../oplog/README.md")]
struct OpLogReadme;
#[cfg(doctest)]
#[doc = include_str!("../../endpoints/README.md")]
struct EndpointsReadme;

mod cache;
mod options;
pub mod transfer;

pub use cache::StoreCache;
pub use options::StoreOptions;
pub use s3dlio_checkpoint as checkpoint;
pub use s3dlio_datagen as datagen;
pub use s3dlio_endpoints as endpoints;
pub use s3dlio_loader as loader;
pub use s3dlio_oplog as oplog;
#[cfg(feature = "parquet")]
pub use s3dlio_parquet as parquet;
pub use s3dlio_range_engine::{
    ENV_CHUNK_SIZE, ENV_CONCURRENCY, ENV_MAX_BYTES_IN_FLIGHT, ENV_THRESHOLD, RangeEngineConfig, ReadPath,
};

#[cfg(feature = "azure")]
pub use s3dlio_backend_azure as azure;
#[cfg(feature = "file")]
pub use s3dlio_backend_file as file;
#[cfg(feature = "gcs")]
pub use s3dlio_backend_gcs as gcs;
#[cfg(feature = "s3")]
pub use s3dlio_backend_s3 as s3;

/// The process-wide `memory://` store: every `store_for_uri("memory://...")` shares it,
/// so data put through one handle is visible through all. (This is the bare store;
/// `store_for_uri` puts the layers on top.)
pub fn memory_store() -> Arc<MemoryStore> {
    static STORE: OnceLock<Arc<MemoryStore>> = OnceLock::new();
    STORE.get_or_init(|| Arc::new(MemoryStore::new())).clone()
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
///
/// Remote stores are process-wide (one connection pool and credential cache per
/// service), made from the environment on first use. Every store comes with the layers
/// of [`store_for_uri_with`].
pub fn store_for_uri(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    static SHARED: OnceLock<StoreCache> = OnceLock::new();
    SHARED.get_or_init(StoreCache::new).get(uri)
}

/// A new store for `uri`'s scheme, made with `options` (a backend config left `None` in
/// them is read from the environment), with its own connections: the caller owns it and
/// shares it by cloning the `Arc`.
///
/// Every read of the returned store goes through the one read path ([`ReadPath`]), every
/// request through the one retry owner ([`layer::RetryLayer`]) and, when
/// `options.max_requests` is set, a [`layer::LimitLayer`] (decision 010). With
/// `options.endpoints`, `uri` must be of the endpoints' service and every request goes
/// to one of them (decision 022).
pub fn store_for_uri_with(uri: &str, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    Ok(layered(backend_for(uri, options)?, options))
}

/// The bare backend store [`store_for_uri_with`] puts its layers on: `uri`'s, or, with
/// `options.endpoints`, the endpoints' (over HTTPS when they were given as `https://`
/// URLs). Several stacks can share it (and its connections) through [`layered`].
pub fn backend_for(uri: &str, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    match &options.endpoints {
        Some(eps) => endpoints_backend(uri, eps, options),
        None => backend(uri, options),
    }
}

/// The layers every store handle has, over `backend`, top to bottom: the op-log when
/// one is set, the read path and the retry owner ([`s3dlio_range_engine::layered`]),
/// the multi-endpoint layer when endpoints are set, and the request limit.
pub fn layered(backend: Arc<dyn ObjectStore>, options: &StoreOptions) -> Arc<dyn ObjectStore> {
    let mut store = backend;
    if let Some(n) = options.max_requests {
        store = Arc::new(layer::Layered::new(store, layer::LimitLayer::new(n)));
    }
    if let Some(eps) = &options.endpoints {
        store = Arc::new(endpoints::MultiEndpointStore::new(store, eps.clone()));
    }
    let store = s3dlio_range_engine::layered(store, options.read.clone(), options.retry.clone());
    match &options.op_log {
        Some(log) => Arc::new(oplog::OpLogStore::new(store, log.clone())),
        None => store,
    }
}

fn endpoints_backend(
    uri: &str,
    eps: &endpoints::Endpoints,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>> {
    let service = service_of(uri)?;
    if service != eps.service() {
        return Err(Error::InvalidUri {
            uri: uri.to_string(),
            reason: format!(
                "the store balances over {} endpoints ({}), so its URIs must be {} URIs",
                eps.service(),
                eps.uris().join(", "),
                eps.service()
            ),
        });
    }
    #[cfg(feature = "s3")]
    if let (Service::S3, Some(scheme)) = (service, eps.url_scheme()) {
        let config = match &options.s3 {
            Some(c) => c.clone(),
            None => s3::S3Config::from_reader(&options.source())?,
        };
        let options = StoreOptions {
            s3: Some(s3::S3Config {
                explicit_endpoint_scheme: scheme.to_string(),
                ..config
            }),
            ..options.clone()
        };
        return backend(uri, &options);
    }
    backend(uri, options)
}

fn service_of(uri: &str) -> Result<Service> {
    match Scheme::of(uri) {
        Some(scheme) => Ok(scheme.service()),
        None => Err(Error::InvalidUri {
            uri: uri.to_string(),
            reason: format!(
                "unknown or missing scheme; this build serves {}",
                supported_schemes().join(", ")
            ),
        }),
    }
}

/// The bare GCS store `options` configure, for what only GCS has
/// ([`GcsStore::storage_class`](gcs::GcsStore::storage_class)).
#[cfg(feature = "gcs")]
pub fn gcs_store_with(options: &StoreOptions) -> Result<gcs::GcsStore> {
    Ok(match &options.gcs {
        Some(c) => gcs::GcsStore::new(c.clone()),
        None => gcs::GcsStore::new(gcs::GcsConfig::from_reader(&options.source())?),
    })
}

/// The bare backend store for `uri`'s scheme.
fn backend(uri: &str, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    let source = options.source();
    #[cfg(feature = "file")]
    let file_config = || -> Result<file::FileConfig> {
        let base = match &options.file {
            Some(c) => c.clone(),
            None => file::FileConfig::from_reader(&source)?,
        };
        // file://'s in-place reads take the read path's chunking knobs.
        Ok(file::FileConfig {
            range: options.read.clone(),
            ..base
        })
    };
    match service_of(uri)? {
        Service::Memory => Ok(memory_store()),
        #[cfg(feature = "file")]
        Service::File => Ok(Arc::new(file::FileStore::new(file_config()?))),
        #[cfg(feature = "file")]
        Service::Direct => Ok(Arc::new(file::FileStore::direct(file_config()?))),
        #[cfg(feature = "s3")]
        Service::S3 => Ok(Arc::new(match &options.s3 {
            Some(c) => s3::S3Store::new(c.clone()),
            None => s3::S3Store::new(s3::S3Config::from_reader(&source)?),
        })),
        #[cfg(feature = "azure")]
        Service::Azure => Ok(Arc::new(match &options.azure {
            Some(c) => azure::AzureStore::new(c.clone()),
            None => azure::AzureStore::new(azure::AzureConfig::from_reader(&source)?),
        })),
        #[cfg(feature = "gcs")]
        Service::Gcs => Ok(Arc::new(gcs_store_with(options)?)),
        #[allow(unreachable_patterns)] // every arm above is compiled in by default
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
