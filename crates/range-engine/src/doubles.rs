//! Test doubles (feature `testkit`): prove concurrency, ordering, memory caps and retries
//! without a network.
//!
//! - [`InMemoryClient`]: objects in memory; every response's bytes are tracked until
//!   dropped, so [`InMemoryClient::peak_live_bytes`] is the most response data the
//!   caller ever held at once;
//! - [`Throttled`]: adds a fixed latency and a per-request bandwidth to any client, and
//!   counts the requests in progress (a dropped request stops counting at once);
//! - [`Faulty`]: fails, truncates or changes the object at chosen request numbers.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use s3dlio_core::buffer::Placement;
use s3dlio_core::{Error, GetRange, Operation, RangeChunk, RangeGetClient, Result};

#[derive(Debug, Default)]
struct Live {
    now: AtomicU64,
    peak: AtomicU64,
}

/// Response bytes that report their own drop.
struct Tracked {
    data: Bytes,
    live: Arc<Live>,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.now.fetch_sub(self.data.len() as u64, Ordering::SeqCst);
    }
}

/// Objects held in memory; versions count up on every `put`.
#[derive(Debug, Default)]
pub struct InMemoryClient {
    objects: Mutex<HashMap<String, (Bytes, u64)>>,
    requests: AtomicU64,
    live: Arc<Live>,
}

impl InMemoryClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores (or replaces, with a new version) an object.
    pub fn put(&self, uri: &str, data: Bytes) {
        let mut objs = self.objects.lock().unwrap();
        let version = objs.get(uri).map_or(1, |(_, v)| v + 1);
        objs.insert(uri.to_string(), (data, version));
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// The most response bytes alive at once (handed out and not yet dropped).
    pub fn peak_live_bytes(&self) -> u64 {
        self.live.peak.load(Ordering::SeqCst)
    }

    pub fn live_bytes(&self) -> u64 {
        self.live.now.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RangeGetClient for InMemoryClient {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        _place: Option<Placement>,
    ) -> Result<RangeChunk> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let (data, v) = self
            .objects
            .lock()
            .unwrap()
            .get(uri)
            .cloned()
            .ok_or_else(|| Error::not_found(Operation::GetRange, uri))?;
        let tag = v.to_string();
        if let Some(pin) = version
            && pin != tag
        {
            return Err(Error::Precondition {
                op: Operation::GetRange,
                uri: uri.to_string(),
                message: format!("version is {tag}, expected {pin}"),
            });
        }
        let r = GetRange::Bounded(range).resolve(Operation::GetRange, uri, data.len() as u64)?;
        let slice = data.slice(r.start as usize..r.end as usize);
        let now = self.live.now.fetch_add(slice.len() as u64, Ordering::SeqCst) + slice.len() as u64;
        self.live.peak.fetch_max(now, Ordering::SeqCst);
        let tracked = Tracked {
            data: slice,
            live: self.live.clone(),
        };
        Ok(RangeChunk {
            data: Bytes::from_owner(tracked),
            range: r,
            total_size: data.len() as u64,
            version: Some(tag),
        })
    }
}

/// Adds `latency + bytes / bytes_per_sec` to every request of `inner`.
#[derive(Debug)]
pub struct Throttled<C> {
    inner: C,
    latency: Duration,
    bytes_per_sec: f64,
    in_progress: AtomicUsize,
    peak_in_progress: AtomicUsize,
}

impl<C> Throttled<C> {
    pub fn new(inner: C, latency: Duration, bytes_per_sec: f64) -> Self {
        Throttled {
            inner,
            latency,
            bytes_per_sec,
            in_progress: AtomicUsize::new(0),
            peak_in_progress: AtomicUsize::new(0),
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Requests being served right now.
    pub fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }

    /// The most requests ever served at once.
    pub fn peak_in_progress(&self) -> usize {
        self.peak_in_progress.load(Ordering::SeqCst)
    }
}

/// Counts a request as in progress until dropped (completed or cancelled).
struct InProgress<'a>(&'a AtomicUsize);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl<C: RangeGetClient> RangeGetClient for Throttled<C> {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        place: Option<Placement>,
    ) -> Result<RangeChunk> {
        let now = self.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InProgress(&self.in_progress);
        self.peak_in_progress.fetch_max(now, Ordering::SeqCst);
        let chunk = self.inner.get_range_chunk(uri, range, version, place).await?;
        let transfer = Duration::from_secs_f64(chunk.data.len() as f64 / self.bytes_per_sec);
        tokio::time::sleep(self.latency + transfer).await;
        Ok(chunk)
    }
}

/// What [`Faulty`] does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail with a retryable error.
    Transient,
    /// Fail with a permanent error (permission denied).
    Permanent,
    /// Return the first half of the bytes only.
    Truncate,
    /// Replace the object with a new version before serving the request.
    ChangeVersion,
}

/// Injects [`Fault`]s at chosen request numbers (1-based) of an [`InMemoryClient`].
#[derive(Debug)]
pub struct Faulty {
    inner: Arc<InMemoryClient>,
    faults: Mutex<HashMap<u64, Fault>>,
    seen: AtomicU64,
    ignore_pins: bool,
}

impl Faulty {
    pub fn new(inner: Arc<InMemoryClient>) -> Self {
        Faulty {
            inner,
            faults: Mutex::default(),
            seen: AtomicU64::new(0),
            ignore_pins: false,
        }
    }

    /// Serves every request whatever version it is pinned to, like a server that
    /// ignores `If-Match`.
    pub fn ignoring_pins(mut self) -> Self {
        self.ignore_pins = true;
        self
    }

    /// Applies `fault` to request number `n` (1-based).
    pub fn at(self, n: u64, fault: Fault) -> Self {
        self.faults.lock().unwrap().insert(n, fault);
        self
    }

    pub fn requests(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RangeGetClient for Faulty {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        place: Option<Placement>,
    ) -> Result<RangeChunk> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.faults.lock().unwrap().get(&n).copied();
        let fail = |msg: &str| Error::Transient {
            op: Operation::GetRange,
            uri: uri.to_string(),
            source: msg.to_string().into(),
        };
        match fault {
            Some(Fault::Transient) => return Err(fail("injected transient fault")),
            Some(Fault::Permanent) => {
                return Err(Error::PermissionDenied {
                    op: Operation::GetRange,
                    uri: uri.to_string(),
                    source: None,
                });
            }
            Some(Fault::ChangeVersion) => {
                let current = self.inner.get_range_chunk(uri, 0..u64::MAX, None, None).await?;
                let mut changed = current.data.to_vec();
                changed.iter_mut().for_each(|b| *b = b.wrapping_add(1));
                self.inner.put(uri, Bytes::from(changed));
            }
            Some(Fault::Truncate) | None => {}
        }
        let version = version.filter(|_| !self.ignore_pins);
        let mut chunk = self.inner.get_range_chunk(uri, range, version, place).await?;
        if fault == Some(Fault::Truncate) {
            chunk.data = chunk.data.slice(..chunk.data.len() / 2);
        }
        Ok(chunk)
    }
}

/// `store` behind the layers every front end reads through ([`crate::layered`]), with
/// 1 MiB chunks so that the conformance suite's multi-MiB reads fan out.
pub fn conformance_stack(
    store: std::sync::Arc<dyn s3dlio_core::ObjectStore>,
) -> std::sync::Arc<dyn s3dlio_core::ObjectStore> {
    let read = crate::RangeEngineConfig::default()
        .with_chunk_size(1 << 20)
        .with_threshold(1 << 20);
    crate::layered(store, read, s3dlio_core::RetryPolicy::default())
}
