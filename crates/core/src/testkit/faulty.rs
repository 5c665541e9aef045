//! `FaultyStore`: a store double that counts and slows requests and injects faults, so
//! layers (retries, limits, the read path's version pinning) are proven without a network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{
    Capabilities, Error, GetOptions, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectWriter, Operation,
    PendingUpload, PutOptions, PutResult, Result, WriteSummary, WriterOptions,
};

/// What happens to one `get_opts` call.
#[derive(Debug, Clone)]
pub enum StoreFault {
    /// Fails with a retryable [`Error::Transient`].
    Transient,
    /// Fails with a permanent [`Error::PermissionDenied`].
    Permanent,
    /// Serves half the bytes asked for, as a body cut short would.
    Truncate,
    /// Replaces the object with these bytes, then serves the request.
    Replace(Bytes),
}

/// Wraps a store: counts `get_opts` calls (1-based), applies a [`StoreFault`] to chosen
/// ones, can fail a listing once after some entries, adds latency to reads, tracks how
/// many reads run at once, and can declare `chunked_reads` so the read path splits
/// reads of an in-memory store.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    gets: AtomicUsize,
    faults: Mutex<HashMap<usize, StoreFault>>,
    list_fails_after: Mutex<Option<usize>>,
    latency: Duration,
    running: AtomicUsize,
    peak: AtomicUsize,
    chunked: bool,
    puts: AtomicUsize,
    writes: Arc<Mutex<Vec<usize>>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        FaultyStore {
            inner,
            gets: AtomicUsize::new(0),
            faults: Mutex::default(),
            list_fails_after: Mutex::new(None),
            latency: Duration::ZERO,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            chunked: false,
            puts: AtomicUsize::new(0),
            writes: Arc::default(),
        }
    }

    /// Applies `fault` to `get_opts` call number `n` (1-based).
    pub fn at(self, n: usize, fault: StoreFault) -> Self {
        self.faults.lock().unwrap().insert(n, fault);
        self
    }

    /// The next listing fails with a transient error after yielding `n` entries (once).
    pub fn fail_listing_after(&self, n: usize) {
        *self.list_fails_after.lock().unwrap() = Some(n);
    }

    /// Every read takes at least `latency`.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Declares `chunked_reads`, so the read path splits large reads.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    /// `get_opts` calls so far.
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    pub fn reset_gets(&self) {
        self.gets.store(0, Ordering::SeqCst);
    }

    /// `put_opts` calls so far.
    pub fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    /// The length of every `write` to a writer this store opened, in order.
    pub fn writes(&self) -> Vec<usize> {
        self.writes.lock().unwrap().clone()
    }

    /// The most reads that ever ran at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        let caps = self.inner.capabilities();
        if self.chunked {
            caps.with_chunked_reads()
        } else {
            caps
        }
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let n = self.gets.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let fault = self.faults.lock().unwrap().get(&n).cloned();
        let result = match fault {
            Some(StoreFault::Transient) => Err(Error::Transient {
                op: opts.operation(),
                uri: uri.to_string(),
                source: "injected transient fault".into(),
            }),
            Some(StoreFault::Permanent) => Err(Error::PermissionDenied {
                op: opts.operation(),
                uri: uri.to_string(),
                source: None,
            }),
            Some(StoreFault::Truncate) => self.inner.get_opts(uri, opts).await.map(|mut r| {
                r.data = r.data.slice(..r.data.len() / 2);
                r
            }),
            Some(StoreFault::Replace(data)) => {
                match self.inner.put_opts(uri, data, PutOptions::default()).await {
                    Ok(_) => self.inner.get_opts(uri, opts).await,
                    Err(e) => Err(e),
                }
            }
            None => self.inner.get_opts(uri, opts).await,
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_opts(uri, data, opts).await
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        Ok(Box::new(Recorded {
            inner: self.inner.writer(uri, opts).await?,
            log: self.writes.clone(),
        }))
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        self.inner.stat(uri).await
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        let Some(n) = self.list_fails_after.lock().unwrap().take() else {
            return self.inner.list_stream(prefix, recursive);
        };
        let failure = Error::Transient {
            op: Operation::List,
            uri: prefix.to_string(),
            source: "injected listing failure".into(),
        };
        self.inner
            .list_stream(prefix, recursive)
            .take(n)
            .chain(futures::stream::once(async move { Err(failure) }))
            .boxed()
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

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        self.inner.copy(src, dst).await
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

/// A writer that logs the length of each write, for [`FaultyStore::writes`].
#[derive(Debug)]
struct Recorded {
    inner: Box<dyn ObjectWriter>,
    log: Arc<Mutex<Vec<usize>>>,
}

#[async_trait]
impl ObjectWriter for Recorded {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.log.lock().unwrap().push(data.len());
        self.inner.write(data).await
    }

    async fn finalize(self: Box<Self>) -> Result<WriteSummary> {
        self.inner.finalize().await
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        self.inner.cancel().await
    }

    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written()
    }

    fn reused_bytes(&self) -> u64 {
        self.inner.reused_bytes()
    }

    fn resumable(&self) -> bool {
        self.inner.resumable()
    }

    fn part_size(&self) -> Option<usize> {
        self.inner.part_size()
    }
}
