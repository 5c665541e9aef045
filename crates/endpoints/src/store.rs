//! `MultiEndpointStore`: the wrapper store that sends each request to one endpoint of an
//! [`Endpoints`] set and hands results back under the URIs the caller wrote.
//!
//! It sits below the retry layer (decision 022): each try of a request picks its
//! endpoint afresh, so a try that failed on an endpoint, which is then out for its
//! back-off, is retried on another, and the retry budget stays the one budget.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::{
    Capabilities, Error, GetOptions, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectWriter, Operation,
    PendingUpload, PutOptions, PutResult, RangesOptions, ReadOptions, Result, WriteSummary, WriterOptions,
};

use crate::balance::{Endpoints, Route};

/// `uri`, under endpoint prefix `base`, moved under the caller's prefix.
fn back(base: &str, caller: &str, uri: String) -> String {
    match uri.strip_prefix(base) {
        Some(rest) => format!("{caller}{rest}"),
        None => uri,
    }
}

/// `e` naming the caller's URIs instead of the endpoint's.
fn error_back(base: &str, caller: &str, mut e: Error) -> Error {
    if let Error::Batch { failures, .. } = &mut e {
        for f in failures.iter_mut() {
            f.uri = back(base, caller, std::mem::take(&mut f.uri));
            let inner = f.error.uri_mut();
            *inner = back(base, caller, std::mem::take(inner));
        }
    }
    let uri = e.uri_mut();
    *uri = back(base, caller, std::mem::take(uri));
    e
}

/// One store over the endpoints of `endpoints`, all served by `inner` (one backend
/// store serves every endpoint of its service: S3 keeps a client per `host:port`).
#[derive(Debug)]
pub struct MultiEndpointStore {
    inner: Arc<dyn ObjectStore>,
    endpoints: Arc<Endpoints>,
    pin: Option<usize>,
}

impl MultiEndpointStore {
    /// Balances every request over `endpoints`.
    pub fn new(inner: Arc<dyn ObjectStore>, endpoints: Arc<Endpoints>) -> Self {
        MultiEndpointStore {
            inner,
            endpoints,
            pin: None,
        }
    }

    /// Sends every request to endpoint `index` (counted in its statistics): the
    /// original's `*_from_endpoint` / `*_to_endpoint` calls.
    pub fn pinned(inner: Arc<dyn ObjectStore>, endpoints: Arc<Endpoints>, index: usize) -> Result<Self> {
        endpoints.check_index(index, &endpoints.uris().join(","))?;
        Ok(MultiEndpointStore {
            inner,
            endpoints,
            pin: Some(index),
        })
    }

    pub fn endpoints(&self) -> &Arc<Endpoints> {
        &self.endpoints
    }

    /// Runs `request` on the endpoint picked for it, with `uri` moved under that
    /// endpoint; `read` counts the bytes a result holds, `written` those sent. An error
    /// names the caller's URI.
    async fn on_one<'a, T, F, Fut>(
        &'a self,
        op: Operation,
        uri: &'a str,
        written: u64,
        read: impl FnOnce(&T) -> u64,
        request: F,
    ) -> Result<(T, Route<'a>, usize)>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.on_at(None, op, uri, written, read, request).await
    }

    /// As [`on_one`](Self::on_one), on endpoint `at` when given.
    async fn on_at<'a, T, F, Fut>(
        &'a self,
        at: Option<usize>,
        op: Operation,
        uri: &'a str,
        written: u64,
        read: impl FnOnce(&T) -> u64,
        request: F,
    ) -> Result<(T, Route<'a>, usize)>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let route = self.endpoints.route(op, uri)?;
        let index = at.unwrap_or_else(|| self.endpoints.pick(self.pin));
        let call = self.endpoints.begin(index);
        let result = request(self.at(index, &route)).await;
        call.end(&result, read, written);
        match result {
            Ok(v) => Ok((v, route, index)),
            Err(e) => Err(error_back(self.endpoints.base(index), route.caller, e)),
        }
    }

    fn at(&self, index: usize, route: &Route<'_>) -> String {
        format!("{}{}", self.endpoints.base(index), route.rel)
    }

    /// `uri` from endpoint `index` handed back under the caller's prefix.
    fn back(&self, index: usize, caller: &str, uri: String) -> String {
        back(self.endpoints.base(index), caller, uri)
    }

    fn error_back(&self, index: usize, caller: &str, e: Error) -> Error {
        error_back(self.endpoints.base(index), caller, e)
    }

    fn meta_back(&self, index: usize, caller: &str, mut meta: ObjectMeta) -> ObjectMeta {
        meta.uri = self.back(index, caller, meta.uri);
        meta
    }
}

#[async_trait]
impl ObjectStore for MultiEndpointStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let opts = &opts;
        let delivered = |r: &GetResult| r.delivered(opts);
        let (mut r, route, i) = self
            .on_one(opts.operation(), uri, 0, delivered, |at| async move {
                self.inner.get_opts(&at, opts.clone()).await
            })
            .await?;
        r.meta = self.meta_back(i, route.caller, r.meta);
        Ok(r)
    }

    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        let op = opts.clone().one_request().operation();
        self.on_one(
            op,
            uri,
            0,
            |n| *n,
            |at| async move { self.inner.read_into(&at, opts, out).await },
        )
        .await
        .map(|(n, _, _)| n)
    }

    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        let total = |v: &Vec<Bytes>| v.iter().map(|b| b.len() as u64).sum();
        self.on_one(Operation::GetRange, uri, 0, total, |at| async move {
            self.inner.get_ranges_opts(&at, ranges, opts).await
        })
        .await
        .map(|(v, _, _)| v)
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let len = data.len() as u64;
        self.on_one(
            Operation::Put,
            uri,
            len,
            |_| 0,
            |at| async move { self.inner.put_opts(&at, data, opts).await },
        )
        .await
        .map(|(r, _, _)| r)
    }

    /// A writer stays on the endpoint it was opened on: its parts belong to an upload
    /// that endpoint started.
    /// A journaled upload resumes on the endpoint its journal names.
    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let resume_on = match (&opts.journal, self.pin) {
            (Some(path), None) => s3dlio_core::resume::journal_uri(path)
                .await
                .and_then(|u| self.endpoints.index_of(&u)),
            _ => None,
        };
        let (inner, route, index) = self
            .on_at(
                resume_on,
                Operation::Write,
                uri,
                0,
                |_| 0,
                |at| async move { self.inner.writer(&at, opts).await },
            )
            .await?;
        Ok(Box::new(CountedWriter {
            inner,
            endpoints: self.endpoints.clone(),
            index,
            caller: route.caller.to_string(),
        }))
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        let (meta, route, i) = self
            .on_one(
                Operation::Stat,
                uri,
                0,
                |_| 0,
                |at| async move { self.inner.stat(&at).await },
            )
            .await?;
        Ok(self.meta_back(i, route.caller, meta))
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        self.listed(
            prefix,
            |at| self.inner.list_stream(at, recursive),
            |s, i, caller, entry| match entry {
                ListEntry::Object(m) => ListEntry::Object(s.meta_back(i, caller, m)),
                ListEntry::Prefix(p) => ListEntry::Prefix(s.back(i, caller, p)),
            },
        )
    }

    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        self.listed(
            prefix,
            |at| self.inner.list_uploads(at),
            |s, i, caller, mut upload| {
                upload.uri = s.back(i, caller, upload.uri);
                upload
            },
        )
    }

    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        self.on_unit(Operation::Delete, &upload.uri, |at| async move {
            let upload = PendingUpload {
                uri: at,
                ..upload.clone()
            };
            self.inner.abort_upload(&upload).await
        })
        .await
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        self.on_unit(Operation::Delete, uri, |at| async move {
            self.inner.delete(&at).await
        })
        .await
    }

    /// The whole batch goes to one endpoint (one batch request on S3).
    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        let Some(first) = uris.first() else {
            return Ok(());
        };
        let rels = uris
            .iter()
            .map(|u| self.endpoints.route(Operation::Delete, u).map(|r| r.rel))
            .collect::<Result<Vec<_>>>()?;
        self.on_unit(Operation::Delete, first, |at| async move {
            let base = &at[..at.len() - rels[0].len()];
            let moved: Vec<String> = rels.iter().map(|rel| format!("{base}{rel}")).collect();
            self.inner.delete_batch(&moved).await
        })
        .await
    }

    /// Both objects on the one endpoint picked (a server-side copy stays inside one).
    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        self.on_pair(Operation::Copy, src, dst, |s, d| async move {
            self.inner.copy(&s, &d).await
        })
        .await
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        self.on_pair(Operation::Rename, src, dst, |s, d| async move {
            self.inner.rename(&s, &d).await
        })
        .await
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        self.on_unit(Operation::CreateContainer, uri, |at| async move {
            self.inner.create_container(&at).await
        })
        .await
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        self.on_unit(Operation::DeleteContainer, uri, |at| async move {
            self.inner.delete_container(&at).await
        })
        .await
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        let (all, route, i) = self
            .on_one(
                Operation::ListContainers,
                root,
                0,
                |_| 0,
                |at| async move { self.inner.list_containers(&at).await },
            )
            .await?;
        Ok(all.into_iter().map(|u| self.back(i, route.caller, u)).collect())
    }
}

impl MultiEndpointStore {
    /// A listing of `prefix` (`list` of the URI moved) on the endpoint picked for it, as
    /// one request; `back` hands each item back under the caller's prefix.
    fn listed<'a, T: Send + 'a>(
        &'a self,
        prefix: &str,
        list: impl FnOnce(&str) -> BoxStream<'a, Result<T>>,
        back: fn(&Self, usize, &str, T) -> T,
    ) -> BoxStream<'a, Result<T>> {
        let (caller, at, index) = match self.endpoints.route(Operation::List, prefix) {
            Ok(route) => {
                let index = self.endpoints.pick(self.pin);
                (route.caller.to_string(), self.at(index, &route), index)
            }
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let call = self.endpoints.begin(index);
        list(&at)
            .map(move |item| match item {
                Ok(v) => Ok(back(self, index, &caller, v)),
                Err(e) => {
                    call.error(&e);
                    Err(self.error_back(index, &caller, e))
                }
            })
            .boxed()
    }

    /// [`on_one`](Self::on_one) for a request that moves no bytes and returns nothing.
    async fn on_unit<F, Fut>(&self, op: Operation, uri: &str, request: F) -> Result<()>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        self.on_one(op, uri, 0, |_| 0, request).await.map(|_| ())
    }

    /// `request` with `src` and `dst` both moved to the one endpoint picked.
    async fn on_pair<F, Fut>(&self, op: Operation, src: &str, dst: &str, request: F) -> Result<()>
    where
        F: FnOnce(String, String) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let dst_rel = self.endpoints.route(op, dst)?.rel;
        let src_rel = self.endpoints.route(op, src)?.rel;
        self.on_one(
            op,
            src,
            0,
            |_| 0,
            |at| {
                let base = &at[..at.len() - src_rel.len()];
                let moved_dst = format!("{base}{dst_rel}");
                request(at, moved_dst)
            },
        )
        .await
        .map(|_| ())
    }
}

/// A writer on one endpoint: its finalize counts as a request there, with the bytes;
/// its errors and summary name the caller's URI.
#[derive(Debug)]
struct CountedWriter {
    inner: Box<dyn ObjectWriter>,
    endpoints: Arc<Endpoints>,
    index: usize,
    caller: String,
}

impl CountedWriter {
    fn error_back(&self, e: Error) -> Error {
        error_back(self.endpoints.base(self.index), &self.caller, e)
    }
}

#[async_trait]
impl ObjectWriter for CountedWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        match self.inner.write(data).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.error_back(e)),
        }
    }

    async fn finalize(self: Box<Self>) -> Result<WriteSummary> {
        let CountedWriter {
            inner,
            endpoints,
            index,
            caller,
        } = *self;
        let base = endpoints.base(index);
        let call = endpoints.begin(index);
        let written = inner.bytes_written();
        let result = inner.finalize().await;
        call.end(&result, |_| 0, written);
        match result {
            Ok(mut summary) => {
                summary.uri = back(base, &caller, summary.uri);
                Ok(summary)
            }
            Err(e) => Err(error_back(base, &caller, e)),
        }
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        let base = self.endpoints.base(self.index).to_string();
        let caller = self.caller.clone();
        self.inner
            .cancel()
            .await
            .map_err(|e| error_back(&base, &caller, e))
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
