//! `Checked`: a `RangeGetClient` adaptor that checks every response of one read, so a
//! read never returns bytes of two versions or a short buffer.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use s3dlio_core::buffer::Placement;
use s3dlio_core::{Error, Operation, RangeChunk, RangeGetClient, Result};

/// Wraps a client for the requests of one read:
/// - every response must be of one version: the pinned one when the caller knows it,
///   else the first version any response reports, which later requests then send as
///   their precondition; another version fails with [`Error::Precondition`] (the object
///   changed; no retry can make the bytes consistent);
/// - every response must report the size the first one did;
/// - a short response (fewer bytes than the range holds) is [`Error::Transient`].
///
/// Retries are not made here: the store's retry layer owns them (decision 010). A failed
/// chunk is returned as [`Error::RangeFailed`] naming its byte range.
#[derive(Debug)]
pub(crate) struct Checked<'a, C: ?Sized> {
    inner: &'a C,
    /// The version every response must carry, once known.
    version: OnceLock<Arc<str>>,
    /// The object's size as the first response reported it, once known.
    size: OnceLock<u64>,
}

#[async_trait]
impl<C: RangeGetClient + ?Sized> RangeGetClient for Checked<'_, C> {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        place: Option<Placement>,
    ) -> Result<RangeChunk> {
        let pin = version.or(self.version.get().map(|v| &**v));
        let placed = place.is_some();
        let outcome = match self.inner.get_range_chunk(uri, range.clone(), pin, place).await {
            Ok(chunk) => self.check(uri, &range, chunk, placed),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(chunk) => Ok(chunk),
            // A later chunk past the end: the object shrank since the size was learned.
            Err(Error::InvalidRange { size, .. }) if self.size.get().is_some_and(|&s| s != size) => {
                Err(Error::Precondition {
                    op: Operation::GetRange,
                    uri: uri.to_string(),
                    message: format!(
                        "the object changed during a ranged read (size {size}, expected {}); read it again",
                        self.size.get().copied().unwrap_or_default()
                    ),
                })
            }
            Err(e @ (Error::Precondition { .. } | Error::InvalidRange { .. })) => Err(e),
            // A missing object on the first request is plain NotFound, as on a get.
            Err(e) if e.is_not_found() && self.size.get().is_none() => Err(e),
            Err(e) => Err(Error::RangeFailed {
                op: Operation::GetRange,
                uri: uri.to_string(),
                start: range.start,
                end: range.end,
                source: Box::new(e),
            }),
        }
    }
}

impl<'a, C: ?Sized> Checked<'a, C> {
    /// A checking view of `inner`, pinned to `version` if the caller knows it.
    pub(crate) fn new(inner: &'a C, version: Option<&str>) -> Self {
        let pinned = OnceLock::new();
        if let Some(v) = version {
            let _ = pinned.set(Arc::from(v));
        }
        Checked {
            inner,
            version: pinned,
            size: OnceLock::new(),
        }
    }

    /// The version every response so far carried.
    pub(crate) fn version(&self) -> Option<&str> {
        self.version.get().map(|v| &**v)
    }

    /// Sets the size later responses must report (from the caller's hint).
    pub(crate) fn expect_size(&self, size: u64) {
        let _ = self.size.set(size);
    }

    /// `placed`: the request offered a placement, so an empty `data` means the body was
    /// written there and `chunk.range` says how much.
    fn check(&self, uri: &str, range: &Range<u64>, chunk: RangeChunk, placed: bool) -> Result<RangeChunk> {
        let changed = |what: String| Error::Precondition {
            op: Operation::GetRange,
            uri: uri.to_string(),
            message: format!("the object changed during a ranged read ({what}); read it again"),
        };
        if let Some(got) = chunk.version.as_deref() {
            let pin = self.version.get_or_init(|| Arc::from(got));
            if **pin != *got {
                return Err(changed(format!("version {got}, expected {pin}")));
            }
        }
        let size = *self.size.get_or_init(|| chunk.total_size);
        if size != chunk.total_size {
            return Err(changed(format!("size {}, expected {size}", chunk.total_size)));
        }
        let want = range.end.min(chunk.total_size).saturating_sub(range.start);
        let got = if placed && chunk.data.is_empty() {
            chunk.range.end - chunk.range.start
        } else {
            chunk.data.len() as u64
        };
        if got != want || chunk.range.start != range.start {
            return Err(Error::Transient {
                op: Operation::GetRange,
                uri: uri.to_string(),
                source: format!(
                    "short or misplaced response: {} bytes at {} for {}..{}",
                    got, chunk.range.start, range.start, range.end
                )
                .into(),
            });
        }
        Ok(chunk)
    }
}
