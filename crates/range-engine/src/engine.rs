//! The engine: plan from the first response, fan out the rest, assemble or stream.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use s3dlio_core::{Error, GetRange, Operation, RangeGetClient, RangesOptions, Result, fetch_ranges};

use crate::assembly::Assembly;
use crate::config::RangeEngineConfig;
use crate::retry::Retrying;

/// What the caller already knows of an object (from a listing or a cache): with it the
/// engine sends no probe and plans every chunk at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHint {
    pub size: u64,
    /// Pin every chunk to this version (ETag/generation), if known.
    pub version: Option<String>,
}

/// Concurrent ranged reads over any [`RangeGetClient`], including `dyn RangeGetClient`.
#[derive(Debug)]
pub struct RangeEngine<C: ?Sized> {
    client: Arc<C>,
    config: RangeEngineConfig,
}

impl<C: RangeGetClient + ?Sized> RangeEngine<C> {
    pub fn new(client: Arc<C>, config: RangeEngineConfig) -> Self {
        RangeEngine { client, config }
    }

    pub fn config(&self) -> &RangeEngineConfig {
        &self.config
    }

    /// The whole object as one contiguous buffer.
    pub async fn get(&self, uri: &str) -> Result<Bytes> {
        read(&*self.client, &self.config, uri, 0, None, None).await
    }

    /// `length` bytes from `offset` (`None`: to the end) as one contiguous buffer.
    pub async fn get_range(&self, uri: &str, offset: u64, length: Option<u64>) -> Result<Bytes> {
        read(&*self.client, &self.config, uri, offset, length, None).await
    }

    /// Like [`get_range`](Self::get_range) for an object whose size (and version) the
    /// caller knows: no probe request.
    pub async fn get_range_hinted(
        &self,
        uri: &str,
        offset: u64,
        length: Option<u64>,
        hint: &ObjectHint,
    ) -> Result<Bytes> {
        read(&*self.client, &self.config, uri, offset, length, Some(hint)).await
    }

    /// The bytes as an in-order stream of chunks (no copies), holding at most
    /// `effective_concurrency()` chunks besides the one the consumer holds.
    pub fn stream<'a>(
        &'a self,
        uri: &'a str,
        offset: u64,
        length: Option<u64>,
        hint: Option<ObjectHint>,
    ) -> BoxStream<'a, Result<Bytes>> {
        read_stream(&*self.client, &self.config, uri, offset, length, hint)
    }

    /// Many ranges of one object, coalesced and fetched concurrently, in request order,
    /// each request retried alone and pinned to the first response's version.
    pub async fn get_ranges(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        let retrying = Retrying::new(&*self.client, &self.config.retry);
        fetch_ranges(&retrying, uri, ranges, opts).await
    }
}

/// What the first response (or the caller's hint) told us.
struct Plan {
    start: u64,
    end: u64,
    size: u64,
    version: Option<Arc<str>>,
    /// The bytes the first request already brought, from `start`.
    first: Bytes,
}

async fn plan<C: RangeGetClient + ?Sized>(
    client: &Retrying<'_, C>,
    config: &RangeEngineConfig,
    uri: &str,
    offset: u64,
    length: Option<u64>,
    hint: Option<&ObjectHint>,
) -> Result<Plan> {
    if let Some(h) = hint {
        let r = GetRange::from_offset_length(offset, length).resolve(Operation::GetRange, uri, h.size)?;
        return Ok(Plan {
            start: r.start,
            end: r.end,
            size: h.size,
            version: h.version.as_deref().map(Arc::from),
            first: Bytes::new(),
        });
    }
    let want_end = length.map_or(u64::MAX, |l| offset.saturating_add(l));
    let first_end = offset.saturating_add(config.threshold.max(1)).min(want_end);
    let chunk = client.get_range_chunk(uri, offset..first_end, None).await?;
    Ok(Plan {
        start: offset,
        end: want_end.min(chunk.total_size).max(offset),
        size: chunk.total_size,
        version: chunk.version.as_deref().map(Arc::from),
        first: chunk.data,
    })
}

fn chunk_ranges(from: u64, end: u64, chunk: u64) -> impl Iterator<Item = Range<u64>> {
    let chunk = chunk.max(1);
    (from..end)
        .step_by(chunk as usize)
        .map(move |s| s..(s + chunk).min(end))
}

/// Reads `offset..offset+length` of `uri` into one buffer allocated once: each byte is
/// copied once, from its response into place, by copy tasks on the blocking pool. A read
/// the first request covers is returned as that response, without any copy.
pub async fn read<C: RangeGetClient + ?Sized>(
    client: &C,
    config: &RangeEngineConfig,
    uri: &str,
    offset: u64,
    length: Option<u64>,
    hint: Option<&ObjectHint>,
) -> Result<Bytes> {
    let mut retrying = Retrying::new(client, &config.retry);
    let plan = plan(&retrying, config, uri, offset, length, hint).await?;
    retrying.expected_size = Some(plan.size);
    let total = (plan.end - plan.start) as usize;
    if plan.first.len() == total {
        return Ok(plan.first);
    }
    let out = Assembly::new(total);
    let (retrying, pin, out_ref) = (&retrying, plan.version.as_deref(), &out);
    let from = plan.start + plan.first.len() as u64;
    // Two stages: requests (at most `effective_concurrency()` in flight) and copies (at
    // most the rest of the byte cap pending). A finished request frees its slot at once,
    // so copying never holds back the next request; responses held by both stages
    // together stay within `max_bytes_in_flight`.
    let responses = stream::iter(chunk_ranges(from, plan.end, config.chunk_size))
        .map(|range| async move {
            let offset = (range.start - plan.start) as usize;
            Ok::<_, Error>((offset, retrying.get_range_chunk(uri, range, pin).await?.data))
        })
        .buffer_unordered(config.effective_concurrency());
    let written: usize = stream::once(async { Ok((0, plan.first)) })
        .chain(responses)
        .map_ok(|(offset, data)| async move {
            let len = data.len();
            out_ref.copy_in(uri, offset, data).await.map(|()| len)
        })
        .try_buffer_unordered(config.copy_concurrency())
        .try_fold(0, |sum, len| async move { Ok(sum + len) })
        .await?;
    Ok(out.finish(written))
}

/// Streams `offset..offset+length` of `uri` as in-order chunks, each a response as
/// received (no copies).
pub fn read_stream<'a, C: RangeGetClient + ?Sized>(
    client: &'a C,
    config: &'a RangeEngineConfig,
    uri: &'a str,
    offset: u64,
    length: Option<u64>,
    hint: Option<ObjectHint>,
) -> BoxStream<'a, Result<Bytes>> {
    let chunks = async move {
        let mut retrying = Retrying::new(client, &config.retry);
        let plan = plan(&retrying, config, uri, offset, length, hint.as_ref()).await?;
        retrying.expected_size = Some(plan.size);
        let from = plan.start + plan.first.len() as u64;
        let first = (!plan.first.is_empty()).then_some(Ok(plan.first));
        let version = plan.version;
        let rest = stream::iter(chunk_ranges(from, plan.end, config.chunk_size))
            .map(move |range| {
                let version = version.clone();
                async move {
                    let c = retrying.get_range_chunk(uri, range, version.as_deref()).await?;
                    Ok(c.data)
                }
            })
            .buffered(config.effective_concurrency());
        Ok::<_, Error>(stream::iter(first).chain(rest))
    };
    stream::once(chunks).try_flatten().boxed()
}
