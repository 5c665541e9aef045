//! `OpLogStore`: a wrapper store that records every operation it is asked for.
//!
//! It sits on top of the stack (above the read path and the retry layer), so a row is
//! one operation as the caller asked for it (a 1 GiB GET is one row however many ranged
//! requests served it), and a replay re-issues what the job did.

use std::cell::Cell;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::{
    Capabilities, GetOptions, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectWriter, PendingUpload,
    PutOptions, PutResult, RangesOptions, ReadOptions, Result, WriteSummary, WriterOptions,
};

use crate::log::OpLog;
use crate::record::OpRecord;

/// Records every operation of `inner` into `log`.
#[derive(Debug)]
pub struct OpLogStore {
    inner: Arc<dyn ObjectStore>,
    log: Arc<OpLog>,
}

impl OpLogStore {
    pub fn new(inner: Arc<dyn ObjectStore>, log: Arc<OpLog>) -> Self {
        OpLogStore { inner, log }
    }

    pub fn log(&self) -> &Arc<OpLog> {
        &self.log
    }
}

/// A small number per OS thread, in the order threads first record.
fn thread_no() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static NO: Cell<Option<u64>> = const { Cell::new(None) };
    }
    NO.with(|n| match n.get() {
        Some(v) => v,
        None => {
            let v = NEXT.fetch_add(1, Ordering::Relaxed);
            n.set(Some(v));
            v
        }
    })
}

/// One operation being timed.
struct Timing {
    op: &'static str,
    uri: String,
    start: SystemTime,
    first_byte: Option<SystemTime>,
}

impl Timing {
    fn start(op: &'static str, uri: &str) -> Timing {
        Timing {
            op,
            uri: uri.to_string(),
            start: SystemTime::now(),
            first_byte: None,
        }
    }

    fn row<E: std::fmt::Display>(
        self,
        backend: &'static str,
        n_objects: u64,
        bytes: u64,
        error: Option<E>,
    ) -> OpRecord {
        let end = SystemTime::now();
        OpRecord {
            thread: thread_no(),
            op: self.op,
            n_objects,
            bytes,
            backend,
            uri: self.uri,
            error: error.map(|e| e.to_string()).unwrap_or_default(),
            start: self.start,
            first_byte: self.first_byte.unwrap_or(end),
            end,
        }
    }
}

impl OpLogStore {
    /// Runs `call`, then records it as `op` with the objects and bytes `size` reads off
    /// its result.
    async fn timed<T>(
        &self,
        op: &'static str,
        uri: &str,
        call: impl Future<Output = Result<T>>,
        size: impl FnOnce(&T) -> (u64, u64),
    ) -> Result<T> {
        let timing = Timing::start(op, uri);
        let result = call.await;
        let (n, bytes) = match &result {
            Ok(v) => size(v),
            Err(_) => (1, 0),
        };
        let row = timing.row(self.inner.name(), n, bytes, result.as_ref().err());
        self.log.record(row).await;
        result
    }
}

impl OpLogStore {
    /// `inner` passed through, recorded as one row when it ends: `n_objects` starts at
    /// `n` and each item adds what `per_item` says (objects, bytes); the first item sets
    /// `first_byte`, the first error the row's error.
    fn logged_stream<'a, T: Send + 'a>(
        &'a self,
        inner: BoxStream<'a, Result<T>>,
        timing: Timing,
        n: u64,
        per_item: fn(&T) -> (u64, u64),
    ) -> BoxStream<'a, Result<T>> {
        struct State<'a, T> {
            inner: BoxStream<'a, Result<T>>,
            timing: Option<Timing>,
            n: u64,
            bytes: u64,
            error: Option<String>,
        }
        let state = State {
            inner,
            timing: Some(timing),
            n,
            bytes: 0,
            error: None,
        };
        stream::unfold(state, move |mut st| async move {
            match st.inner.next().await {
                Some(item) => {
                    if let Some(t) = st.timing.as_mut() {
                        t.first_byte.get_or_insert_with(SystemTime::now);
                    }
                    match &item {
                        Ok(v) => {
                            let (n, bytes) = per_item(v);
                            st.n += n;
                            st.bytes += bytes;
                        }
                        Err(e) => {
                            st.error.get_or_insert_with(|| e.to_string());
                        }
                    }
                    Some((item, st))
                }
                None => {
                    if let Some(t) = st.timing.take() {
                        let row = t.row(self.inner.name(), st.n, st.bytes, st.error.take());
                        self.log.record(row).await;
                    }
                    None
                }
            }
        })
        .boxed()
    }
}

fn one(_: &impl Sized) -> (u64, u64) {
    (1, 0)
}

#[async_trait]
impl ObjectStore for OpLogStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let delivered = opts.clone();
        self.timed("GET", uri, self.inner.get_opts(uri, opts), |r| {
            (1, r.delivered(&delivered))
        })
        .await
    }

    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        self.timed("GET", uri, self.inner.read_into(uri, opts, out), |n| (1, *n))
            .await
    }

    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        let call = self.inner.get_ranges_opts(uri, ranges, opts);
        self.timed("GET", uri, call, |parts| {
            (parts.len() as u64, parts.iter().map(|p| p.len() as u64).sum())
        })
        .await
    }

    fn get_stream<'a>(&'a self, uri: &'a str, opts: ReadOptions) -> BoxStream<'a, Result<Bytes>> {
        let timing = Timing::start("GET", uri);
        self.logged_stream(self.inner.get_stream(uri, opts), timing, 1, |chunk| {
            (0, chunk.len() as u64)
        })
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let len = data.len() as u64;
        self.timed("PUT", uri, self.inner.put_opts(uri, data, opts), |_| (1, len))
            .await
    }

    /// The upload is one `PUT` row, recorded when it is finalized or cancelled, timed
    /// from the writer's opening.
    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let timing = Timing::start("PUT", uri);
        match self.inner.writer(uri, opts).await {
            Ok(inner) => Ok(Box::new(LoggedWriter {
                inner,
                timing,
                backend: self.inner.name(),
                log: self.log.clone(),
            })),
            Err(e) => {
                self.log
                    .record(timing.row(self.inner.name(), 1, 0, Some(&e)))
                    .await;
                Err(e)
            }
        }
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        self.timed("STAT", uri, self.inner.stat(uri), one).await
    }

    /// A listing is one `LIST` row when its stream ends, with the entries it returned.
    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        let timing = Timing::start("LIST", prefix);
        self.logged_stream(self.inner.list_stream(prefix, recursive), timing, 0, |_| (1, 0))
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        self.timed("DELETE", uri, self.inner.delete(uri), one).await
    }

    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        let first = uris.first().map_or("", String::as_str);
        let n = uris.len() as u64;
        self.timed("DELETE", first, self.inner.delete_batch(uris), |_| (n, 0))
            .await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        self.timed("COPY", src, self.inner.copy(src, dst), one).await
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        self.timed("RENAME", src, self.inner.rename(src, dst), one).await
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        self.timed("MKBUCKET", uri, self.inner.create_container(uri), one)
            .await
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        self.timed("RMBUCKET", uri, self.inner.delete_container(uri), one)
            .await
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        self.timed("LISTBUCKETS", root, self.inner.list_containers(root), |v| {
            (v.len() as u64, 0)
        })
        .await
    }

    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        self.inner.list_uploads(prefix)
    }

    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        self.timed("ABORT", &upload.uri, self.inner.abort_upload(upload), one)
            .await
    }
}

impl LoggedWriter {
    /// Ends the upload with `how` and records its row: the bytes written, and the end's
    /// error, else `outcome`.
    async fn end<T, Fut>(
        self: Box<Self>,
        how: impl FnOnce(Box<dyn ObjectWriter>) -> Fut,
        outcome: Option<&str>,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let LoggedWriter {
            inner,
            timing,
            backend,
            log,
        } = *self;
        let written = inner.bytes_written();
        let result = how(inner).await;
        let error = result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .or(outcome.map(str::to_string));
        log.record(timing.row(backend, 1, written, error)).await;
        result
    }
}

/// A writer whose upload becomes one row when it ends.
#[derive(Debug)]
struct LoggedWriter {
    inner: Box<dyn ObjectWriter>,
    timing: Timing,
    backend: &'static str,
    log: Arc<OpLog>,
}

impl std::fmt::Debug for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timing")
            .field("op", &self.op)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ObjectWriter for LoggedWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.timing.first_byte.get_or_insert_with(SystemTime::now);
        self.inner.write(data).await
    }

    async fn finalize(self: Box<Self>) -> Result<WriteSummary> {
        self.end(|w| w.finalize(), None).await
    }

    /// A cancelled upload's row carries "cancelled" unless the cancel itself failed.
    async fn cancel(self: Box<Self>) -> Result<()> {
        self.end(|w| w.cancel(), Some("cancelled")).await
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
