//! `ObjectStoreExt`: conveniences every store gets for free, written once on top of the
//! `ObjectStore` primitives.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};

use crate::checksum::crc32c;
use crate::error::{Error, Operation, Result};
use crate::meta::{ListEntry, PendingUpload};
use crate::options::{GetOptions, GetRange, PutOptions, RangesOptions, ReadOptions, WriterOptions};
use crate::store::{ObjectStore, PutResult};
use crate::writer::{ObjectWriter, WriteSummary, ZstdWriter};

/// Keys `delete_prefix` hands to one `delete_batch` call (S3's DeleteObjects limit).
pub const DELETE_PAGE: usize = 1000;

/// Convenience methods for every [`ObjectStore`], including `dyn ObjectStore`.
#[async_trait]
pub trait ObjectStoreExt: ObjectStore {
    /// The whole object.
    async fn get(&self, uri: &str) -> Result<Bytes> {
        Ok(self.get_opts(uri, GetOptions::default()).await?.data)
    }

    /// `length` bytes from `offset`; `None` reads to the end. An offset past the end is
    /// [`Error::InvalidRange`]; a length past the end is clamped.
    async fn get_range(&self, uri: &str, offset: u64, length: Option<u64>) -> Result<Bytes> {
        let range = GetRange::from_offset_length(offset, length);
        Ok(self
            .get_opts(uri, GetOptions::default().with_range(range))
            .await?
            .data)
    }

    /// Many ranges of one object, returned in request order. Nearby ranges are merged
    /// into one request (see [`RangesOptions`]); every result slices its request's
    /// buffer without copying, except where a merged request's ranges hold less than half
    /// of it: their bytes are copied out into one buffer, so results never keep the gaps
    /// alive ([`Cutter`](crate::Cutter)). All fetches are pinned to the
    /// version the first one saw, so the results never mix two versions of the object.
    async fn get_ranges(&self, uri: &str, ranges: &[Range<u64>], opts: RangesOptions) -> Result<Vec<Bytes>> {
        self.get_ranges_opts(uri, ranges, opts).await
    }

    /// The whole object, failing with [`Error::ChecksumMismatch`] unless its CRC32C is
    /// `expected_crc32c`.
    async fn get_with_validation(&self, uri: &str, expected_crc32c: u32) -> Result<Bytes> {
        let data = self.get(uri).await?;
        check_crc32c(Operation::Get, uri, data, expected_crc32c)
    }

    /// A range, failing with [`Error::ChecksumMismatch`] unless the range's CRC32C is
    /// `expected_crc32c`.
    async fn get_range_with_validation(
        &self,
        uri: &str,
        offset: u64,
        length: Option<u64>,
        expected_crc32c: u32,
    ) -> Result<Bytes> {
        let data = self.get_range(uri, offset, length).await?;
        check_crc32c(Operation::GetRange, uri, data, expected_crc32c)
    }

    /// The read `opts` describes, as one buffer. A store without
    /// [`chunked_reads`](crate::Capabilities::chunked_reads) answers it with one request
    /// (memory:// hands back its buffer, file:// reads in place) unless the read sets its
    /// own chunking; others, and such reads, through [`get_stream`](ObjectStore::get_stream):
    /// a read that arrives as one chunk is returned as it is, more chunks are copied once
    /// into one buffer.
    async fn read(&self, uri: &str, opts: ReadOptions) -> Result<Bytes> {
        if !self.capabilities().chunked_reads && opts.chunk_size.is_none() {
            return Ok(self.get_opts(uri, opts.one_request()).await?.data);
        }
        // What the caller knows of the length sizes the buffer once.
        let known = opts
            .length
            .or(opts.hint.as_ref().map(|h| h.size.saturating_sub(opts.offset)));
        let mut chunks = self.get_stream(uri, opts);
        let Some(first) = chunks.try_next().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = chunks.try_next().await? else {
            return Ok(first);
        };
        let least = first.len() + second.len();
        let mut out = BytesMut::with_capacity(known.map_or(least, |n| (n as usize).max(least)));
        out.extend_from_slice(&first);
        out.extend_from_slice(&second);
        while let Some(chunk) = chunks.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    /// Stores `data` atomically.
    async fn put(&self, uri: &str, data: Bytes) -> Result<PutResult> {
        self.put_opts(uri, data, PutOptions::default()).await
    }

    /// A validated streaming writer, compressing with zstd when the options ask for it.
    async fn get_writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        opts.validate(uri)?;
        let level = opts.zstd_level;
        let flush_at = opts.buffer_size;
        let inner = self
            .writer(
                uri,
                WriterOptions {
                    zstd_level: None,
                    ..opts
                },
            )
            .await?;
        match level {
            None => Ok(inner),
            Some(level) => Ok(Box::new(ZstdWriter::new(inner, uri, level, flush_at)?)),
        }
    }

    /// Uploads `data` through a streaming writer in `part_size` slices (no copies).
    /// A failed upload is cancelled, so nothing partial is left.
    async fn put_multipart(&self, uri: &str, data: Bytes, opts: WriterOptions) -> Result<WriteSummary> {
        let part = opts.part_size_or(None).max(1);
        let mut w = self.get_writer(uri, opts).await?;
        for piece in part_slices(&data, part) {
            if let Err(e) = w.write(piece).await {
                // The write error is the one to report; a cancel failure adds nothing.
                let _ = w.cancel().await;
                return Err(e);
            }
        }
        w.finalize().await
    }

    /// True if the object exists; errors other than not-found are errors.
    async fn exists(&self, uri: &str) -> Result<bool> {
        match self.stat(uri).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every URI under `prefix` (prefixes of a non-recursive listing end in `/`).
    /// Holds the whole listing in memory: use `list_stream` for unbounded listings.
    async fn list(&self, prefix: &str, recursive: bool) -> Result<Vec<String>> {
        self.list_stream(prefix, recursive)
            .map_ok(ListEntry::into_uri)
            .try_collect()
            .await
    }

    /// Deletes every object under `prefix`, streaming the listing in pages of
    /// [`DELETE_PAGE`]; returns how many objects were deleted.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut pages = self
            .list_stream(prefix, true)
            .map_ok(ListEntry::into_uri)
            .try_chunks(DELETE_PAGE);
        let mut deleted = 0u64;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| e.1)?;
            self.delete_batch(&page).await?;
            deleted += page.len() as u64;
        }
        Ok(deleted)
    }

    /// Aborts the unfinished multipart uploads under `prefix` that started more than
    /// `older_than` ago (all of them with `None`; an upload the service does not date is
    /// kept when an age is given); returns those aborted. Streams the listing.
    async fn abort_uploads(&self, prefix: &str, older_than: Option<Duration>) -> Result<Vec<PendingUpload>> {
        let cutoff = older_than.map(|age| SystemTime::now() - age);
        let mut uploads = self.list_uploads(prefix);
        let mut aborted = Vec::new();
        while let Some(upload) = uploads.try_next().await? {
            let stale = match (cutoff, upload.initiated) {
                (None, _) => true,
                (Some(cutoff), Some(started)) => started <= cutoff,
                (Some(_), None) => false,
            };
            if stale {
                self.abort_upload(&upload).await?;
                aborted.push(upload);
            }
        }
        Ok(aborted)
    }
}

impl<T: ObjectStore + ?Sized> ObjectStoreExt for T {}

fn check_crc32c(op: Operation, uri: &str, data: Bytes, expected: u32) -> Result<Bytes> {
    let actual = crc32c(&data);
    if actual == expected {
        Ok(data)
    } else {
        Err(Error::ChecksumMismatch {
            op,
            uri: uri.to_string(),
            expected,
            actual,
        })
    }
}

/// `data` in consecutive slices of at most `part` bytes (at least 1), without copies.
pub fn part_slices(data: &Bytes, part: usize) -> impl Iterator<Item = Bytes> + '_ {
    let part = part.max(1);
    (0..data.len())
        .step_by(part)
        .map(move |off| data.slice(off..(off + part).min(data.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_slices_cover_the_data_once_in_order() {
        let data = Bytes::from_static(b"abcdefghij");
        let lens = |part| part_slices(&data, part).map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(lens(4), [4, 4, 2]);
        assert_eq!(lens(5), [5, 5]);
        assert_eq!(lens(0), [1; 10], "a zero part size is one byte");
        assert_eq!(
            part_slices(&data, 3).flat_map(|b| b.to_vec()).collect::<Vec<_>>(),
            b"abcdefghij"
        );
        assert_eq!(part_slices(&Bytes::new(), 4).count(), 0);
    }
}
