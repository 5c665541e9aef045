//! `Retrying`: a `RangeGetClient` adaptor that checks every response and retries one
//! request at a time, so a failed chunk is re-requested alone, never the whole object.

use std::ops::Range;

use async_trait::async_trait;
use s3dlio_core::{Error, Operation, RangeChunk, RangeGetClient, Result};

use crate::config::RetryPolicy;

/// Wraps a client so that each request is validated and retried:
/// - a response of another version than the pinned one, or of another total size than
///   `expected_size`, fails at once with [`Error::Precondition`] (the object changed; no
///   retry can make the bytes consistent);
/// - a short response (fewer bytes than the range holds) counts as a transient failure;
/// - retryable errors are retried per the [`RetryPolicy`]; the last error, or the first
///   permanent one, is returned as [`Error::RangeFailed`] naming the byte range.
#[derive(Debug)]
pub(crate) struct Retrying<'a, C: ?Sized> {
    pub(crate) inner: &'a C,
    pub(crate) policy: &'a RetryPolicy,
    /// The object's size as the first response reported it, once known.
    pub(crate) expected_size: Option<u64>,
}

// Copy without requiring `C: Copy` (what a derive would ask for): only references inside.
impl<C: ?Sized> Clone for Retrying<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for Retrying<'_, C> {}

#[async_trait]
impl<C: RangeGetClient + ?Sized> RangeGetClient for Retrying<'_, C> {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
    ) -> Result<RangeChunk> {
        let mut attempt = 1;
        loop {
            let outcome = match self.inner.get_range_chunk(uri, range.clone(), version).await {
                Ok(chunk) => self.check(uri, &range, version, chunk),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(chunk) => return Ok(chunk),
                Err(e @ (Error::Precondition { .. } | Error::InvalidRange { .. })) => return Err(e),
                Err(e) if e.is_retryable() && attempt < self.policy.max_attempts => {
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                    attempt += 1;
                }
                // A missing object on the first request is plain NotFound, as on a get.
                Err(e) if e.is_not_found() && self.expected_size.is_none() => return Err(e),
                Err(e) => {
                    return Err(Error::RangeFailed {
                        op: Operation::GetRange,
                        uri: uri.to_string(),
                        start: range.start,
                        end: range.end,
                        attempts: attempt,
                        source: Box::new(e),
                    });
                }
            }
        }
    }
}

impl<'a, C: ?Sized> Retrying<'a, C> {
    /// A retrying view of `inner`; the object's size is learned from the first response.
    pub(crate) fn new(inner: &'a C, policy: &'a RetryPolicy) -> Self {
        Retrying {
            inner,
            policy,
            expected_size: None,
        }
    }

    fn check(
        &self,
        uri: &str,
        range: &Range<u64>,
        pin: Option<&str>,
        chunk: RangeChunk,
    ) -> Result<RangeChunk> {
        let changed = |what: String| Error::Precondition {
            op: Operation::GetRange,
            uri: uri.to_string(),
            message: format!("the object changed during a ranged read ({what}); read it again"),
        };
        if let (Some(pin), Some(got)) = (pin, chunk.version.as_deref())
            && pin != got
        {
            return Err(changed(format!("version {got}, expected {pin}")));
        }
        if let Some(size) = self.expected_size
            && size != chunk.total_size
        {
            return Err(changed(format!("size {}, expected {size}", chunk.total_size)));
        }
        let want = range.end.min(chunk.total_size).saturating_sub(range.start);
        if chunk.data.len() as u64 != want || chunk.range.start != range.start {
            return Err(Error::Transient {
                op: Operation::GetRange,
                uri: uri.to_string(),
                source: format!(
                    "short or misplaced response: {} bytes at {} for {}..{}",
                    chunk.data.len(),
                    chunk.range.start,
                    range.start,
                    range.end
                )
                .into(),
            });
        }
        Ok(chunk)
    }
}
