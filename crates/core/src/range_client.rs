//! `RangeGetClient`: the one primitive the range engine needs.

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

use crate::buffer::Placement;
use crate::error::Result;
use crate::options::{GetOptions, GetRange};
use crate::store::ObjectStore;

/// One ranged response and what the server said about the whole object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeChunk {
    pub data: Bytes,
    /// The bytes `data` holds (clamped to the object's end).
    pub range: Range<u64>,
    /// The object's total size (from `Content-Range` or equivalent), so a reader can
    /// plan the rest of the object from the first response without a HEAD.
    pub total_size: u64,
    /// The version the bytes came from (ETag or generation).
    pub version: Option<String>,
}

/// Fetches `range` of an object, optionally pinned to a version: when `version` is set
/// and the object has changed, the call fails with
/// [`Error::Precondition`](crate::Error::Precondition) instead of returning bytes of
/// another version. With a `place`, the body may be written there instead: then the
/// chunk's `data` is empty and its `range` says what was written (a client that cannot
/// returns the bytes, as without one).
///
/// Every [`ObjectStore`] is a `RangeGetClient`; test doubles implement it directly.
#[async_trait]
pub trait RangeGetClient: Send + Sync + Debug {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        place: Option<Placement>,
    ) -> Result<RangeChunk>;
}

#[async_trait]
impl<T: ObjectStore + ?Sized> RangeGetClient for T {
    async fn get_range_chunk(
        &self,
        uri: &str,
        range: Range<u64>,
        version: Option<&str>,
        place: Option<Placement>,
    ) -> Result<RangeChunk> {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: version.map(str::to_string),
            place,
        };
        let r = self.get_opts(uri, opts).await?;
        Ok(RangeChunk {
            data: r.data,
            range: r.range,
            total_size: r.meta.size,
            version: r.meta.e_tag,
        })
    }
}
