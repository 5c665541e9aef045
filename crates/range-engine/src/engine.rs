//! The engine: plan from the first response, fan out the rest, assemble or stream.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use s3dlio_core::buffer::{OutputBuffer, Placement};
use s3dlio_core::{
    Error, GetRange, Operation, RangeGetClient, RangesOptions, ReadOptions, Result, fetch_ranges,
};

use crate::checked::Checked;
use crate::config::RangeEngineConfig;

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
        Ok(read(&*self.client, &self.config, uri, &ReadOptions::default())
            .await?
            .data)
    }

    /// `length` bytes from `offset` (`None`: to the end) as one contiguous buffer.
    pub async fn get_range(&self, uri: &str, offset: u64, length: Option<u64>) -> Result<Bytes> {
        let opts = ReadOptions::default().with_range(offset, length);
        Ok(read(&*self.client, &self.config, uri, &opts).await?.data)
    }

    /// The read `opts` describes as one contiguous buffer.
    pub async fn read(&self, uri: &str, opts: &ReadOptions) -> Result<Bytes> {
        Ok(read(&*self.client, &self.config, uri, opts).await?.data)
    }

    /// The read `opts` describes, written into `out` from its start; the bytes written.
    pub async fn read_into(&self, uri: &str, opts: &ReadOptions, out: &Arc<OutputBuffer>) -> Result<u64> {
        read_into(&*self.client, &self.config, uri, opts, out).await
    }

    /// The bytes as an in-order stream of chunks (no copies), holding at most
    /// `effective_concurrency()` chunks besides the one the consumer holds.
    pub fn stream<'a>(&'a self, uri: &'a str, opts: ReadOptions) -> BoxStream<'a, Result<Bytes>> {
        read_stream(&*self.client, &self.config, uri, opts)
    }

    /// Many ranges of one object, coalesced and fetched concurrently, in request order,
    /// pinned to the first response's version.
    pub async fn get_ranges(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        fetch_ranges(&Checked::new(&*self.client, None), uri, ranges, opts).await
    }
}

/// A contiguous read and what it learned of the object.
#[derive(Debug)]
pub struct Assembled {
    pub data: Bytes,
    /// The bytes `data` holds.
    pub range: Range<u64>,
    /// The object's total size.
    pub size: u64,
    /// The version every chunk came from, if the store reports one.
    pub version: Option<String>,
}

/// What the first response (or the caller's hint) told us.
struct Plan {
    start: u64,
    end: u64,
    size: u64,
    /// The bytes the first request already brought, from `start`.
    first: Bytes,
}

async fn plan<C: RangeGetClient + ?Sized>(
    client: &Checked<'_, C>,
    config: &RangeEngineConfig,
    uri: &str,
    opts: &ReadOptions,
) -> Result<Plan> {
    let (offset, length) = (opts.offset, opts.length);
    if let Some(h) = &opts.hint {
        let r = GetRange::from_offset_length(offset, length).resolve(Operation::GetRange, uri, h.size)?;
        client.expect_size(h.size);
        return Ok(Plan {
            start: r.start,
            end: r.end,
            size: h.size,
            first: Bytes::new(),
        });
    }
    let want_end = length.map_or(u64::MAX, |l| offset.saturating_add(l));
    let first_end = offset.saturating_add(config.threshold.max(1)).min(want_end);
    let chunk = client.get_range_chunk(uri, offset..first_end, None, None).await?;
    Ok(Plan {
        start: offset,
        end: want_end.min(chunk.total_size).max(offset),
        size: chunk.total_size,
        first: chunk.data,
    })
}

fn chunk_ranges(from: u64, end: u64, chunk: u64) -> impl Iterator<Item = Range<u64>> {
    let chunk = chunk.max(1);
    (from..end)
        .step_by(chunk as usize)
        .map(move |s| s..(s + chunk).min(end))
}

/// The version the caller pins the read to, if any.
fn pin(opts: &ReadOptions) -> Option<&str> {
    opts.version
        .as_deref()
        .or(opts.hint.as_ref().and_then(|h| h.version.as_deref()))
}

/// The engine settings of one read: the read's own chunking where it sets one, and, as
/// one of `opts.concurrent_reads` reads, its share of the byte cap (never under two
/// chunks).
fn share(config: &RangeEngineConfig, opts: &ReadOptions) -> RangeEngineConfig {
    let mut c = config.clone();
    if let Some(chunk) = opts.chunk_size {
        c = c.with_chunk_size(chunk).with_threshold(chunk);
    }
    if let Some(n) = opts.max_concurrency {
        c = c.with_max_concurrency(n);
    }
    let n = opts.concurrent_reads.max(1) as u64;
    if n > 1 {
        let cap = (c.max_bytes_in_flight / n).max(c.chunk_size.saturating_mul(2));
        c = c.with_max_bytes_in_flight(cap);
    }
    c
}

/// Reads the range `opts` names into one buffer allocated once: each byte is copied
/// once, from its response into place, by copy tasks on the blocking pool. A read the
/// first request covers is returned as that response, without any copy. Every chunk is
/// of one version (the hint's, or the first response's).
pub async fn read<C: RangeGetClient + ?Sized>(
    client: &C,
    config: &RangeEngineConfig,
    uri: &str,
    opts: &ReadOptions,
) -> Result<Assembled> {
    let config = &share(config, opts);
    let checked = Checked::new(client, pin(opts));
    let plan = plan(&checked, config, uri, opts).await?;
    let (range, size) = (plan.start..plan.end, plan.size);
    let total = (plan.end - plan.start) as usize;
    let data = if plan.first.len() == total {
        plan.first
    } else {
        let out = OutputBuffer::new(total);
        let written = place(&checked, config, uri, plan, &out).await?;
        out.finish(written)
    };
    Ok(Assembled {
        data,
        range,
        size,
        version: checked.version().map(str::to_string),
    })
}

/// Reads the range `opts` names into `out` from its first byte, as [`read`] does into
/// memory of its own, and returns the bytes written. A range longer than `out` is
/// refused after the first response, before a byte is written.
pub async fn read_into<C: RangeGetClient + ?Sized>(
    client: &C,
    config: &RangeEngineConfig,
    uri: &str,
    opts: &ReadOptions,
    out: &Arc<OutputBuffer>,
) -> Result<u64> {
    let config = &share(config, opts);
    let checked = Checked::new(client, pin(opts));
    let plan = plan(&checked, config, uri, opts).await?;
    out.room_for(Operation::Get, uri, plan.end - plan.start)?;
    Ok(place(&checked, config, uri, plan, out).await? as u64)
}

/// Copies the plan's first response to the start of `out` and fetches the rest of its
/// range, each chunk copied to its place as it arrives; returns the bytes written.
async fn place<C: RangeGetClient + ?Sized>(
    checked: &Checked<'_, C>,
    config: &RangeEngineConfig,
    uri: &str,
    plan: Plan,
    out: &Arc<OutputBuffer>,
) -> Result<usize> {
    let from = plan.start + plan.first.len() as u64;
    let start = plan.start;
    // Two stages: requests (at most `effective_concurrency()` in flight) and copies (at
    // most the rest of the byte cap pending). A finished request frees its slot at once,
    // so copying never holds back the next request; responses held by both stages
    // together stay within `max_bytes_in_flight`.
    // Each chunk's request is offered its window of `out`: a backend that can write the
    // body there saves a buffer and a copy (`data` then comes back empty).
    let responses = stream::iter(chunk_ranges(from, plan.end, config.chunk_size))
        .map(|range| async move {
            let (offset, len) = ((range.start - start) as usize, (range.end - range.start) as usize);
            // SAFETY: the chunks are disjoint pieces of the range, after the first response.
            let place = unsafe { Placement::new(out.clone(), offset, len) };
            let data = checked.get_range_chunk(uri, range, None, Some(place)).await?.data;
            Ok::<_, Error>((offset, data, len))
        })
        .buffer_unordered(config.effective_concurrency());
    let first_len = plan.first.len();
    let first = (0, plan.first, first_len);
    stream::once(async { Ok(first) })
        .chain(responses)
        .map_ok(|(offset, data, len)| async move {
            // SAFETY: as above; a placed chunk's `data` is empty and copies nothing.
            unsafe { out.copy_in(Operation::GetRange, uri, offset, data) }
                .await
                .map(|()| len)
        })
        .try_buffer_unordered(config.copy_concurrency())
        .try_fold(0, |sum, len| async move { Ok(sum + len) })
        .await
}

/// Streams the range `opts` names as in-order chunks, each a response as received (no
/// copies), every one of one version.
pub fn read_stream<'a, C: RangeGetClient + ?Sized>(
    client: &'a C,
    config: &'a RangeEngineConfig,
    uri: &'a str,
    opts: ReadOptions,
) -> BoxStream<'a, Result<Bytes>> {
    let chunks = async move {
        let config = share(config, &opts);
        let checked = Arc::new(Checked::new(client, pin(&opts)));
        let plan = plan(&checked, &config, uri, &opts).await?;
        let from = plan.start + plan.first.len() as u64;
        let first = (!plan.first.is_empty()).then_some(Ok(plan.first));
        let rest = stream::iter(chunk_ranges(from, plan.end, config.chunk_size))
            .map(move |range| {
                let checked = checked.clone();
                async move { Ok(checked.get_range_chunk(uri, range, None, None).await?.data) }
            })
            .buffered(config.effective_concurrency());
        Ok::<_, Error>(stream::iter(first).chain(rest))
    };
    stream::once(chunks).try_flatten().boxed()
}
