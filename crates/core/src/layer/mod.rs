//! Layers: wrapper stores that add one behaviour to every request of the store below,
//! as `object_store`'s wrapper stores and OpenDAL's layers do.
//!
//! A layer is an [`Interceptor`]: it says what happens around one request (retry it,
//! wait for a permit, record it) and [`Layered`] applies it to every primitive of the
//! store it wraps, so each layer is written once for all operations. The stack that
//! `s3dlio::store_for_uri_with` builds, top to bottom (decision 010):
//!
//! ```text
//! read path (s3dlio-range-engine: one request or concurrent pinned chunks)
//!   → RetryLayer (the one retry owner)
//!     → LimitLayer (requests in flight)
//!       → backend primitives
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use s3dlio_core::layer::{Layered, LimitLayer, RetryLayer};
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt, RetryPolicy};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let base: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
//! let limited = Arc::new(Layered::new(base, LimitLayer::new(8)));
//! let store = Layered::new(limited, RetryLayer::new(RetryPolicy::default()));
//! store.create_container("memory://b").await?;
//! store.put("memory://b/k", Bytes::from_static(b"hi")).await?;
//! assert_eq!(store.get("memory://b/k").await?, "hi");
//! # Ok::<_, s3dlio_core::Error>(())
//! # }).unwrap();
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::buffer::OutputBuffer;
use crate::error::{Error, Operation, Result};
use crate::meta::{Capabilities, ListEntry, ObjectMeta, PendingUpload};
use crate::options::{GetOptions, GetRange, PutOptions, RangesOptions, ReadOptions, WriterOptions};
use crate::store::{GetResult, ObjectStore, PutResult};
use crate::writer::ObjectWriter;

mod limit;
mod retry;

pub use limit::{ENV_MAX_REQUESTS, LimitLayer};
pub use retry::RetryLayer;

/// What a layer does around each request of the store below it.
pub trait Interceptor: Send + Sync + Debug + 'static {
    /// Runs one request; `request` makes a new try each time it is called.
    fn around<'a, T, F, Fut>(
        &'a self,
        op: Operation,
        uri: &'a str,
        request: F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a;

    /// The options a writer below this layer is opened with.
    fn writer_options(&self, opts: WriterOptions) -> WriterOptions {
        opts
    }

    /// A listing of the store below. The default passes it through: a listing is many
    /// page requests the layer cannot see one by one. (`prefix` is copied by whoever
    /// keeps it: the stream borrows only the layer and the store.)
    fn list<'a>(
        &'a self,
        inner: &'a dyn ObjectStore,
        prefix: &str,
        recursive: bool,
    ) -> BoxStream<'a, Result<ListEntry>> {
        inner.list_stream(prefix, recursive)
    }
}

/// A store with `layer` applied to every request of `inner`.
#[derive(Debug)]
pub struct Layered<I> {
    inner: Arc<dyn ObjectStore>,
    layer: I,
}

impl<I: Interceptor> Layered<I> {
    pub fn new(inner: Arc<dyn ObjectStore>, layer: I) -> Self {
        Layered { inner, layer }
    }

    pub fn layer(&self) -> &I {
        &self.layer
    }

    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

#[async_trait]
impl<I: Interceptor> ObjectStore for Layered<I> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let inner = &self.inner;
        let opts = &opts;
        self.layer
            .around(opts.operation(), uri, || async move {
                let r = inner.get_opts(uri, opts.clone()).await?;
                check_complete(uri, opts, r)
            })
            .await
    }

    /// Forwarded whole, so a backend's own `read_into` (file://: reads straight into
    /// `out`) is reached; a retried attempt rewrites the whole range from `out`'s start.
    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        let (inner, op) = (&self.inner, opts.clone().one_request().operation());
        let (opts, out) = (&opts, &out);
        self.layer
            .around(op, uri, || inner.read_into(uri, opts.clone(), out.clone()))
            .await
    }

    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        if !self.inner.capabilities().batched_ranges {
            // Each fetch through this layer's `get_opts`: retried on its own.
            return crate::fetch_ranges(self, uri, ranges, opts).await;
        }
        let inner = &self.inner;
        self.layer
            .around(Operation::GetRange, uri, || {
                inner.get_ranges_opts(uri, ranges, opts)
            })
            .await
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let (inner, opts) = (&self.inner, &opts);
        // `Bytes` clones share the buffer: a retried put re-sends without copying.
        self.layer
            .around(Operation::Put, uri, || {
                inner.put_opts(uri, data.clone(), opts.clone())
            })
            .await
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let (inner, opts) = (&self.inner, &self.layer.writer_options(opts));
        self.layer
            .around(Operation::Write, uri, || inner.writer(uri, opts.clone()))
            .await
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        let inner = &self.inner;
        self.layer.around(Operation::Stat, uri, || inner.stat(uri)).await
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        self.layer.list(&*self.inner, prefix, recursive)
    }

    /// Forwarded: a listing of uploads is an administrator's call, not retried per page.
    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        self.inner.list_uploads(prefix)
    }

    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::Delete, &upload.uri, || inner.abort_upload(upload))
            .await
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::Delete, uri, || inner.delete(uri))
            .await
    }

    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        let inner = &self.inner;
        let first = uris.first().map_or("", String::as_str);
        self.layer
            .around(Operation::Delete, first, || inner.delete_batch(uris))
            .await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::Copy, dst, || inner.copy(src, dst))
            .await
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::Rename, dst, || inner.rename(src, dst))
            .await
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::CreateContainer, uri, || inner.create_container(uri))
            .await
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        let inner = &self.inner;
        self.layer
            .around(Operation::DeleteContainer, uri, || inner.delete_container(uri))
            .await
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        let inner = &self.inner;
        self.layer
            .around(Operation::ListContainers, root, || inner.list_containers(root))
            .await
    }
}

/// A response that holds fewer bytes than its range (a body cut short) is a transient
/// failure, so the retry layer asks again instead of handing on a short buffer.
fn check_complete(uri: &str, opts: &GetOptions, r: GetResult) -> Result<GetResult> {
    let want =
        opts.range
            .as_ref()
            .unwrap_or(&GetRange::Offset(0))
            .resolve(opts.operation(), uri, r.meta.size);
    match want {
        Ok(want) if want != r.range || r.delivered(opts) != want.end - want.start => Err(Error::Transient {
            op: opts.operation(),
            uri: uri.to_string(),
            source: format!(
                "short or misplaced response: {} bytes at {}..{} for {}..{} of {} bytes",
                r.delivered(opts),
                r.range.start,
                r.range.end,
                want.start,
                want.end,
                r.meta.size
            )
            .into(),
        }),
        _ => Ok(r),
    }
}
