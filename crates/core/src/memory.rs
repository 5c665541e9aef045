//! `memory://bucket/key`: a real, concurrent, in-process object store.
//!
//! Used by tests and benchmarks as the store with no I/O cost. Reads clone a `Bytes`
//! handle (no copy); puts swap the whole object under a short write lock, so readers see
//! the old or the new object, never a mix. Listings are paged like a remote service's,
//! so a listing never holds the store's lock while the caller works.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Operation, Result};
use crate::meta::{Capabilities, ListEntry, ObjectMeta};
use crate::options::{GetOptions, GetRange, PutOptions, WriterOptions};
use crate::store::{GetResult, ObjectStore, PutResult};
use crate::uri::{ObjectUri, Service, parse_for};
use crate::writer::{ObjectWriter, WriteSummary};

/// Entries a listing page holds, as on S3.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// The in-process store. Cloning it shares the same objects.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
    page_size: usize,
}

#[derive(Debug, Default)]
struct Inner {
    buckets: RwLock<HashMap<String, Bucket>>,
    next_tag: AtomicU64,
}

type Bucket = BTreeMap<String, StoredObject>;

#[derive(Debug, Clone)]
struct StoredObject {
    data: Bytes,
    last_modified: SystemTime,
    e_tag: String,
    put: PutOptions,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            inner: Arc::default(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Entries per listing page (at least 1).
    pub fn with_page_size(mut self, entries: usize) -> Self {
        self.page_size = entries.max(1);
        self
    }

    fn parse(uri: &str) -> Result<ObjectUri> {
        parse_for(uri, "memory", &[Service::Memory])
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Bucket>) -> T) -> T {
        f(&self.inner.buckets.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut HashMap<String, Bucket>) -> T) -> T {
        f(&mut self.inner.buckets.write().unwrap_or_else(PoisonError::into_inner))
    }

    fn lookup(&self, op: Operation, uri: &str) -> Result<(ObjectUri, StoredObject)> {
        let u = Self::parse(uri)?;
        if u.key().is_empty() {
            return Err(Error::invalid_argument(
                op,
                uri,
                "an object URI needs a key after the bucket",
            ));
        }
        let obj = self
            .read(|b| b.get(u.bucket()).and_then(|objs| objs.get(u.key())).cloned())
            .ok_or_else(|| Error::not_found(op, uri))?;
        Ok((u, obj))
    }

    fn store(&self, op: Operation, uri: &str, data: Bytes, put: PutOptions) -> Result<PutResult> {
        let u = Self::parse(uri)?;
        if u.key().is_empty() {
            return Err(Error::invalid_argument(
                op,
                uri,
                "an object URI needs a key after the bucket",
            ));
        }
        let e_tag = format!("\"{:016x}\"", self.inner.next_tag.fetch_add(1, Ordering::Relaxed));
        let obj = StoredObject {
            data,
            last_modified: SystemTime::now(),
            e_tag: e_tag.clone(),
            put,
        };
        self.write(|b| {
            let bucket = b.get_mut(u.bucket()).ok_or_else(|| missing_bucket(op, uri, &u))?;
            bucket.insert(u.key().to_string(), obj);
            Ok(PutResult {
                e_tag: Some(e_tag),
                version: None,
            })
        })
    }

    /// One page of a listing, starting at `from`; returns the entries and where the next
    /// page starts (`None` at the end).
    fn list_page(
        &self,
        prefix: &ObjectUri,
        recursive: bool,
        from: Bound<String>,
    ) -> Result<(Vec<ListEntry>, Option<Bound<String>>)> {
        self.read(|b| {
            let objs = b
                .get(prefix.bucket())
                .ok_or_else(|| missing_bucket(Operation::List, &prefix.to_string(), prefix))?;
            let mut out = Vec::with_capacity(self.page_size.min(objs.len()));
            let mut cursor = from;
            while out.len() < self.page_size {
                let Some((key, obj)) = objs.range((cursor.clone(), Bound::Unbounded)).next() else {
                    return Ok((out, None));
                };
                let Some(rest) = key.strip_prefix(prefix.key()) else {
                    return Ok((out, None));
                };
                match rest.find('/').filter(|_| !recursive) {
                    Some(slash) => {
                        let dir = &key[..prefix.key().len() + slash + 1];
                        out.push(ListEntry::Prefix(prefix.with_key(dir).to_string()));
                        cursor = Bound::Included(past_prefix(dir));
                    }
                    None => {
                        out.push(ListEntry::Object(meta_of(&prefix.with_key(key.as_str()), obj)));
                        cursor = Bound::Excluded(key.clone());
                    }
                }
            }
            Ok((out, Some(cursor)))
        })
    }
}

/// The smallest string above every string that starts with `dir` (which ends in `/`).
fn past_prefix(dir: &str) -> String {
    let mut s = dir[..dir.len() - 1].to_string();
    s.push(char::from(b'/' + 1));
    s
}

fn missing_bucket(op: Operation, uri: &str, u: &ObjectUri) -> Error {
    Error::NotFound {
        op,
        uri: uri.to_string(),
        source: Some(
            format!(
                "bucket {:?} does not exist; create it with create_container",
                u.bucket()
            )
            .into(),
        ),
    }
}

fn meta_of(u: &ObjectUri, obj: &StoredObject) -> ObjectMeta {
    ObjectMeta {
        uri: u.to_string(),
        size: obj.data.len() as u64,
        last_modified: Some(obj.last_modified),
        e_tag: Some(obj.e_tag.clone()),
        content_type: obj.put.content_type.clone(),
        storage_class: None,
        version: None,
        metadata: obj.put.metadata.clone(),
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_user_metadata()
            .with_server_side_copy()
            .with_atomic_rename()
            .with_explicit_containers()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let op = opts.operation();
        let (u, obj) = self.lookup(op, uri)?;
        if let Some(want) = &opts.if_match
            && *want != obj.e_tag
        {
            return Err(Error::Precondition {
                op,
                uri: uri.to_string(),
                message: format!("object changed: e_tag is {}, expected {want}", obj.e_tag),
            });
        }
        let size = obj.data.len() as u64;
        let range = opts.range.unwrap_or(GetRange::Offset(0)).resolve(op, uri, size)?;
        Ok(GetResult {
            data: obj.data.slice(range.start as usize..range.end as usize),
            meta: meta_of(&u, &obj),
            range,
        })
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        self.store(Operation::Put, uri, data, opts)
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let u = Self::parse(uri)?;
        opts.refuse_journal(uri, self.name())?;
        if !self.read(|b| b.contains_key(u.bucket())) {
            return Err(missing_bucket(Operation::Write, uri, &u));
        }
        Ok(Box::new(MemoryWriter {
            store: self.clone(),
            uri: uri.to_string(),
            parts: Vec::new(),
            len: 0,
            put: opts.put,
        }))
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        let (u, obj) = self.lookup(Operation::Stat, uri)?;
        Ok(meta_of(&u, &obj))
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        let prefix = match Self::parse(prefix) {
            Ok(p) => p,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        let start = Some(Bound::Included(prefix.key().to_string()));
        stream::try_unfold(start, move |cursor| {
            let prefix = prefix.clone();
            async move {
                let Some(from) = cursor else { return Ok(None) };
                let (page, next) = self.list_page(&prefix, recursive, from)?;
                Ok(Some((stream::iter(page.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
        .boxed()
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        let u = Self::parse(uri)?;
        self.write(|b| {
            let bucket = b
                .get_mut(u.bucket())
                .ok_or_else(|| missing_bucket(Operation::Delete, uri, &u))?;
            bucket.remove(u.key());
            Ok(())
        })
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let (_, obj) = self.lookup(Operation::Copy, src)?;
        self.store(Operation::Copy, dst, obj.data, obj.put).map(drop)
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        let (s, d) = (Self::parse(src)?, Self::parse(dst)?);
        if d.key().is_empty() {
            return Err(Error::invalid_argument(
                Operation::Rename,
                dst,
                "the destination needs a key",
            ));
        }
        self.write(|b| {
            if !b.contains_key(d.bucket()) {
                return Err(missing_bucket(Operation::Rename, dst, &d));
            }
            let obj = b
                .get_mut(s.bucket())
                .and_then(|objs| objs.remove(s.key()))
                .ok_or_else(|| Error::not_found(Operation::Rename, src))?;
            b.get_mut(d.bucket())
                .map(|objs| objs.insert(d.key().to_string(), obj));
            Ok(())
        })
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        let u = Self::parse(uri)?;
        self.write(|b| {
            b.entry(u.bucket().to_string()).or_default();
        });
        Ok(())
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        if root.trim_end_matches('/') != "memory:" {
            return Err(Error::InvalidUri {
                uri: root.to_string(),
                reason: "list the memory store's buckets with the root URI memory://".into(),
            });
        }
        let mut names: Vec<String> =
            self.read(|b| b.keys().map(|name| format!("memory://{name}/")).collect());
        names.sort();
        Ok(names)
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        let u = Self::parse(uri)?;
        self.write(|b| match b.get(u.bucket()) {
            None => Err(missing_bucket(Operation::DeleteContainer, uri, &u)),
            Some(objs) if !objs.is_empty() => Err(Error::Precondition {
                op: Operation::DeleteContainer,
                uri: uri.to_string(),
                message: format!(
                    "bucket holds {} objects; delete them first (delete_prefix)",
                    objs.len()
                ),
            }),
            Some(_) => {
                b.remove(u.bucket());
                Ok(())
            }
        })
    }
}

/// Gathers parts and stores them as one object on finalize; nothing is visible before.
#[derive(Debug)]
struct MemoryWriter {
    store: MemoryStore,
    uri: String,
    parts: Vec<Bytes>,
    len: u64,
    put: PutOptions,
}

#[async_trait]
impl ObjectWriter for MemoryWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.len += data.len() as u64;
        self.parts.push(data);
        Ok(())
    }

    async fn finalize(self: Box<Self>) -> Result<WriteSummary> {
        let data = match self.parts.len() {
            0 => Bytes::new(),
            1 => self.parts[0].clone(),
            _ => {
                let mut buf = BytesMut::with_capacity(self.len as usize);
                self.parts.iter().for_each(|p| buf.extend_from_slice(p));
                buf.freeze()
            }
        };
        let put = self
            .store
            .store(Operation::Finalize, &self.uri, data, self.put.clone())?;
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: self.len,
            size: self.len,
            e_tag: put.e_tag,
        })
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.len
    }
}
