//! The `ObjectStore` trait: the small set of primitives every backend implements.
//!
//! Conveniences (`get`, `get_range`, `get_ranges`, `put`, `exists`, `list`,
//! `delete_prefix`, validation) live in [`crate::ObjectStoreExt`], written once on top
//! of these primitives. The provided methods here have generic defaults that a backend
//! overrides when the service does better (a batch-delete call, an atomic rename);
//! `get_stream` and `read_into` are overridden only by the read layer, never by a backend.

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};

use crate::buffer::OutputBuffer;
use crate::error::{Operation, Result};
use crate::meta::{Capabilities, ListEntry, ObjectMeta, PendingUpload};
use crate::options::{GetOptions, PutOptions, RangesOptions, ReadOptions, WriterOptions};
use crate::writer::ObjectWriter;

/// Deletes that `delete_batch`'s default runs at once.
pub const DEFAULT_DELETE_CONCURRENCY: usize = 32;

/// The bytes a read returned, and what the store knows of the whole object.
#[derive(Debug, Clone)]
pub struct GetResult {
    pub data: Bytes,
    /// The byte range `data` holds, after clamping to the object's size.
    pub range: Range<u64>,
    /// Metadata of the whole object: `meta.size` is the total size, `meta.e_tag` the
    /// version the bytes came from.
    pub meta: ObjectMeta,
}

impl GetResult {
    /// The bytes this result stands for: `data`'s, or, when the backend wrote the body
    /// into the read's [`place`](GetOptions::place) (and `data` is empty), its range's.
    pub fn delivered(&self, opts: &GetOptions) -> u64 {
        if opts.place.is_some() && self.data.is_empty() {
            self.range.end - self.range.start
        } else {
            self.data.len() as u64
        }
    }
}

/// What a successful `put` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// One API over every storage service. Methods take full URIs, so one store can serve
/// many buckets. Object-safe: use it as `Arc<dyn ObjectStore>`.
#[async_trait]
pub trait ObjectStore: Send + Sync + Debug + 'static {
    /// The backend's name, as errors report it (`"memory"`, `"file"`, ...).
    fn name(&self) -> &'static str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Reads an object or a range of it. An `if_match` that does not match the current
    /// e_tag fails with [`Error::Precondition`](crate::Error::Precondition).
    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult>;

    /// Stores an object atomically: readers see the old object or the whole new one.
    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult>;

    /// A streaming writer. Backends receive options already validated and without
    /// compression (the extension trait's `get_writer` adds zstd on top).
    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>>;

    async fn stat(&self, uri: &str) -> Result<ObjectMeta>;

    /// Lists everything under `prefix` as a stream, fetched page by page. Non-recursive
    /// listings yield the objects directly under the prefix and one
    /// [`ListEntry::Prefix`] (ending in `/`) per "directory".
    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>>;

    /// Deletes an object. Deleting a missing object succeeds (as on S3), so deletes are
    /// idempotent and safe to retry.
    async fn delete(&self, uri: &str) -> Result<()>;

    /// Copies an object, inside the service where it can
    /// ([`Capabilities::server_side_copy`]).
    async fn copy(&self, src: &str, dst: &str) -> Result<()>;

    /// Creates a bucket, container or directory. Creating one that exists succeeds.
    async fn create_container(&self, uri: &str) -> Result<()>;

    /// Deletes an empty bucket, container or directory.
    async fn delete_container(&self, uri: &str) -> Result<()>;

    /// The buckets, containers or directories under a service root (`s3://`,
    /// `s3://host:port/`, `memory://`, `file:///dir/`), as URIs ending in `/`, sorted.
    async fn list_containers(&self, root: &str) -> Result<Vec<String>>;

    /// Moves an object. The default copies then deletes; backends with an atomic
    /// rename override it ([`Capabilities::atomic_rename`]).
    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        self.copy(src, dst).await?;
        self.delete(src).await
    }

    /// Multipart uploads started under `prefix` and neither completed nor aborted (a
    /// crashed writer's, or a journaled one waiting to resume), in the service's order,
    /// as a paged stream. The default: the backend has none to list.
    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        let e = crate::Error::NotSupported {
            operation: Operation::List,
            backend: self.name(),
            uri: prefix.to_string(),
            hint: "only S3 lists unfinished multipart uploads (Azure drops uncommitted blocks and GCS resumable sessions after 7 days by itself)".into(),
        };
        stream::once(async move { Err(e) }).boxed()
    }

    /// Aborts an upload [`list_uploads`](ObjectStore::list_uploads) returned: its parts
    /// are freed and it can no longer complete. One already gone counts as aborted.
    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        Err(crate::Error::NotSupported {
            operation: Operation::Delete,
            backend: self.name(),
            uri: upload.uri.clone(),
            hint: "this backend lists no unfinished uploads to abort".into(),
        })
    }

    /// Deletes many objects. The default runs [`DEFAULT_DELETE_CONCURRENCY`] deletes at
    /// once; a failure of any key is reported in [`Error::Batch`](crate::Error::Batch) with every failed key,
    /// after all the others were attempted.
    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        crate::batch::delete_each(self, uris, DEFAULT_DELETE_CONCURRENCY).await
    }

    /// Several ranges of one object, in input order ([`ObjectStoreExt::get_ranges`]). The
    /// default plans and fetches them through [`get_opts`](ObjectStore::get_opts)
    /// ([`fetch_ranges`](crate::fetch_ranges)); a backend that reads many ranges more
    /// cheaply in one step overrides it (file://: one open, positional reads in batches).
    /// Wrapper stores forward it.
    ///
    /// [`ObjectStoreExt::get_ranges`]: crate::ObjectStoreExt::get_ranges
    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        crate::fetch_ranges(self, uri, ranges, opts).await
    }

    /// The bytes of `opts`'s range as an in-order stream of chunks. Backends keep this
    /// default (one [`get_opts`](ObjectStore::get_opts), as one chunk); the read layer
    /// that `s3dlio::store_for_uri` puts on top plans it instead: one request up to its
    /// threshold, else concurrent ranged requests pinned to one version, within its bytes
    /// in flight (the one read path, decision 010).
    fn get_stream<'a>(&'a self, uri: &'a str, opts: ReadOptions) -> BoxStream<'a, Result<Bytes>> {
        stream::once(async move { self.get_opts(uri, opts.one_request()).await.map(|r| r.data) })
            .filter(|r| std::future::ready(!matches!(r, Ok(b) if b.is_empty())))
            .boxed()
    }

    /// Reads `opts`'s range into `out` from its first byte and returns the bytes written.
    /// A range longer than `out` fails with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) before a byte is written.
    /// Backends keep this default (one [`get_opts`](ObjectStore::get_opts), copied in);
    /// the read layer fans a large read out and copies each response into place as it
    /// arrives, so no response is assembled twice.
    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        let data = self.get_opts(uri, opts.one_request()).await?.data;
        out.room_for(Operation::Get, uri, data.len() as u64)?;
        let n = data.len() as u64;
        // SAFETY: one piece, the whole read, from the buffer's start.
        unsafe { out.copy_in(Operation::Get, uri, 0, data) }.await?;
        Ok(n)
    }
}
