//! `ReadPath`: the one read path (decision 010). Every read of every front end (the CLI,
//! the wheel, the loader, `transfer`, Rust callers of `store_for_uri`) goes through it.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::layer::{Layered, RetryLayer};
use s3dlio_core::{
    Capabilities, GetOptions, GetRange, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectWriter,
    PendingUpload, PutOptions, PutResult, RangesOptions, ReadOptions, Result, RetryPolicy, WriterOptions,
    fetch_ranges,
};

use crate::config::RangeEngineConfig;
use crate::engine::{read, read_into, read_stream};

/// The two layers every store handle has, over `backend`, top to bottom: the read path
/// and the one retry owner (decision 010). `s3dlio::layered` puts them over the request
/// limit and the multi-endpoint layer; the backends' conformance tests run through them
/// too.
pub fn layered(
    backend: Arc<dyn ObjectStore>,
    read: RangeEngineConfig,
    retry: RetryPolicy,
) -> Arc<dyn ObjectStore> {
    let store = Arc::new(Layered::new(backend, RetryLayer::new(retry)));
    Arc::new(ReadPath::new(store, read))
}

/// A wrapper store that plans every read of the store below from one
/// [`RangeEngineConfig`]:
/// - a store without [`Capabilities::chunked_reads`] gets one `get_opts` per read
///   (memory:// hands back its buffer; file:// reads large ranges in place), except a
///   stream;
/// - otherwise a read asks for its first `threshold` bytes, learns the size and version
///   from the answer (no HEAD) and fans the rest out as concurrent ranged requests, each
///   pinned to that version, within the bytes-in-flight cap;
/// - [`get_stream`](ObjectStore::get_stream) yields the chunks in order, without copies,
///   on every store (its memory is its chunks in flight, whatever the object's size);
/// - [`read_into`](ObjectStore::read_into) fans out as a read does, into the caller's memory.
///
/// Everything else passes through to the store below.
#[derive(Debug)]
pub struct ReadPath {
    inner: Arc<dyn ObjectStore>,
    config: RangeEngineConfig,
}

impl ReadPath {
    pub fn new(inner: Arc<dyn ObjectStore>, config: RangeEngineConfig) -> Self {
        ReadPath { inner, config }
    }

    pub fn config(&self) -> &RangeEngineConfig {
        &self.config
    }

    fn chunked(&self) -> bool {
        self.inner.capabilities().chunked_reads
    }
}

#[async_trait]
impl ObjectStore for ReadPath {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let (offset, length) = match &opts.range {
            _ if !self.chunked() => return self.inner.get_opts(uri, opts).await,
            None => (0, None),
            Some(GetRange::Offset(o)) => (*o, None),
            Some(GetRange::Bounded(r)) if r.end.saturating_sub(r.start) <= self.config.threshold => {
                return self.inner.get_opts(uri, opts).await;
            }
            Some(GetRange::Bounded(r)) => (r.start, Some(r.end.saturating_sub(r.start))),
            // A suffix needs the size first: one request, as the service resolves it.
            Some(GetRange::Suffix(_)) => return self.inner.get_opts(uri, opts).await,
        };
        let read_opts = ReadOptions {
            version: opts.if_match,
            ..ReadOptions::default().with_range(offset, length)
        };
        let got = read(&*self.inner, &self.config, uri, &read_opts).await?;
        Ok(GetResult {
            data: got.data,
            range: got.range,
            meta: ObjectMeta {
                size: got.size,
                e_tag: got.version,
                uri: uri.to_string(),
                ..ObjectMeta::default()
            },
        })
    }

    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        if self.inner.capabilities().batched_ranges {
            return self.inner.get_ranges_opts(uri, ranges, opts).await;
        }
        // Each merged fetch through this read path (a large one split into chunks).
        fetch_ranges(self, uri, ranges, opts).await
    }

    /// Chunked on every backend, `chunked_reads` or not: a stream's consumer (a copy to
    /// another store, a pipe) holds one chunk at a time, so the stream holds a bounded
    /// number of chunks whatever the object's size, never the object (a 1 GiB local file
    /// copied to S3 once held 1 GiB).
    fn get_stream<'a>(&'a self, uri: &'a str, opts: ReadOptions) -> BoxStream<'a, Result<Bytes>> {
        read_stream(&*self.inner, &self.config, uri, opts)
    }

    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        if !self.chunked() {
            return self.inner.read_into(uri, opts, out).await;
        }
        read_into(&*self.inner, &self.config, uri, &opts, &out).await
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(uri, data, opts).await
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        self.inner.writer(uri, opts).await
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        self.inner.stat(uri).await
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        self.inner.list_stream(prefix, recursive)
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        self.inner.delete(uri).await
    }

    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        self.inner.list_uploads(prefix)
    }

    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        self.inner.abort_upload(upload).await
    }

    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        self.inner.delete_batch(uris).await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        self.inner.copy(src, dst).await
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        self.inner.rename(src, dst).await
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        self.inner.create_container(uri).await
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        self.inner.delete_container(uri).await
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        self.inner.list_containers(root).await
    }
}
