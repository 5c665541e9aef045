//! Value types that carry the options of each operation. Each has a `Default` and `with_*`
//! setters, so a new option never changes a method signature.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::error::{Error, Operation, Result};
use crate::retry::RetryPolicy;

/// Which bytes of an object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetRange {
    /// `start..end`; an `end` past the object's end is clamped.
    Bounded(Range<u64>),
    /// From an offset to the end.
    Offset(u64),
    /// The last `n` bytes (all of them if the object is shorter).
    Suffix(u64),
}

impl GetRange {
    /// The range for `get_range(uri, offset, length)`.
    pub fn from_offset_length(offset: u64, length: Option<u64>) -> Self {
        match length {
            Some(len) => GetRange::Bounded(offset..offset.saturating_add(len)),
            None => GetRange::Offset(offset),
        }
    }

    /// Resolves against an object of `size` bytes. Rules every backend shares:
    /// an offset at or past the end of a non-empty object is [`Error::InvalidRange`];
    /// a length past the end is clamped; an empty request (`start == end`) is empty;
    /// reading from offset 0 of an empty object is empty.
    pub fn resolve(&self, op: Operation, uri: &str, size: u64) -> Result<Range<u64>> {
        let (start, end) = match *self {
            GetRange::Bounded(ref r) => {
                if r.start > r.end {
                    return Err(Error::invalid_argument(
                        op,
                        uri,
                        format!("range start {} is after its end {}", r.start, r.end),
                    ));
                }
                if r.start == r.end && r.start <= size {
                    return Ok(r.start..r.start);
                }
                (r.start, r.end.min(size))
            }
            GetRange::Offset(o) => (o, size),
            GetRange::Suffix(n) => (size.saturating_sub(n), size),
        };
        if start >= size && !(start == 0 && size == 0) {
            return Err(Error::InvalidRange {
                op,
                uri: uri.to_string(),
                offset: start,
                size,
            });
        }
        Ok(start..end)
    }
}

/// What the caller already knows of an object (from a listing or a cache): with it a
/// chunked read sends no probe and plans every chunk at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHint {
    pub size: u64,
    /// Pin every chunk to this version (ETag/generation), if known. Without it, the
    /// first response's version pins the rest.
    pub version: Option<String>,
}

/// A listing's or a response's size and ETag: the engine skips its probe and pins
/// every chunk to that version.
impl From<&crate::meta::ObjectMeta> for ObjectHint {
    fn from(m: &crate::meta::ObjectMeta) -> Self {
        ObjectHint {
            size: m.size,
            version: m.e_tag.clone(),
        }
    }
}

/// Options of a streamed read ([`ObjectStore::get_stream`](crate::ObjectStore::get_stream)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    pub offset: u64,
    /// Bytes to read from `offset`; `None` reads to the end.
    pub length: Option<u64>,
    pub hint: Option<ObjectHint>,
    /// Pin every chunk to this version (an `if_match`); the hint's version otherwise.
    pub version: Option<String>,
    /// Reads like this one that run at once: each gets this share of the store's
    /// bytes-in-flight budget (at least two chunks), so `-j 64` copies hold about one
    /// read's memory, not 64.
    pub concurrent_reads: usize,
    /// Bytes per ranged request of this read (and the first request's size), instead of
    /// the store's read settings.
    pub chunk_size: Option<u64>,
    /// Ranged requests of this read in flight at once, instead of the store's setting
    /// (still within its bytes-in-flight cap).
    pub max_concurrency: Option<usize>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            offset: 0,
            length: None,
            hint: None,
            version: None,
            concurrent_reads: 1,
            chunk_size: None,
            max_concurrency: None,
        }
    }
}

impl ReadOptions {
    /// One request for all of the range, pinned to the version (explicit, else the hint's).
    pub fn one_request(self) -> GetOptions {
        GetOptions {
            range: Some(GetRange::from_offset_length(self.offset, self.length)),
            if_match: self.version.or(self.hint.and_then(|h| h.version)),
            place: None,
        }
    }

    pub fn with_range(mut self, offset: u64, length: Option<u64>) -> Self {
        self.offset = offset;
        self.length = length;
        self
    }

    pub fn with_hint(mut self, hint: Option<ObjectHint>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_concurrent_reads(mut self, n: usize) -> Self {
        self.concurrent_reads = n.max(1);
        self
    }

    /// Splits this read into `chunk_size` requests, `max_concurrency` at once.
    pub fn with_chunking(mut self, chunk_size: u64, max_concurrency: usize) -> Self {
        self.chunk_size = Some(chunk_size.max(1));
        self.max_concurrency = Some(max_concurrency.max(1));
        self
    }
}

/// Options of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// `None` reads the whole object.
    pub range: Option<GetRange>,
    /// Fail with [`Error::Precondition`] unless the object's e_tag is this one.
    pub if_match: Option<String>,
    /// Where the body may go instead of a buffer of its own. A backend that writes it
    /// there returns a [`GetResult`](crate::GetResult) with empty `data` and the `range`
    /// it wrote (see [`GetResult::delivered`](crate::GetResult::delivered)); one that
    /// does not returns the bytes as usual. Only the read path sets it.
    pub place: Option<crate::buffer::Placement>,
}

impl GetOptions {
    /// The operation errors of this read report: `get_range` with a range, `get` without.
    pub fn operation(&self) -> Operation {
        if self.range.is_some() {
            Operation::GetRange
        } else {
            Operation::Get
        }
    }

    pub fn with_range(mut self, range: GetRange) -> Self {
        self.range = Some(range);
        self
    }

    pub fn with_if_match(mut self, e_tag: impl Into<String>) -> Self {
        self.if_match = Some(e_tag.into());
        self
    }
}

/// Options of a single-shot `put`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

impl PutOptions {
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// True when the caller asked for anything beyond the bytes.
    pub fn has_attributes(&self) -> bool {
        self.content_type.is_some() || !self.metadata.is_empty()
    }
}

/// Part size of a streaming writer when neither its options nor its store set one.
pub const DEFAULT_PART_SIZE: usize = 16 << 20;
/// Parts uploading at once when neither a writer's options nor its store set it.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 4;
/// The store-level part size (every part-by-part backend reads it into its config).
pub const ENV_PART_SIZE: &str = "S3DLIO_MULTIPART_PART_SIZE";
/// The store-level parts in flight (S3 and Azure read it into their config).
pub const ENV_PARTS_IN_FLIGHT: &str = "S3DLIO_MULTIPART_IN_FLIGHT";

/// Options of a streaming writer. Memory held by a writer is bounded by
/// `max_in_flight × part_size` (plus `buffer_size` for the part being filled).
///
/// `part_size` and `max_in_flight` left `None` take the store's setting (its config,
/// which `S3DLIO_MULTIPART_PART_SIZE` / `S3DLIO_MULTIPART_IN_FLIGHT` can set), then
/// [`DEFAULT_PART_SIZE`] / [`DEFAULT_PARTS_IN_FLIGHT`]; a value set here always wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Bytes gathered before a write is handed to the backend.
    pub buffer_size: usize,
    /// Size of each uploaded part (multipart/block backends); `None` = the store's.
    pub part_size: Option<usize>,
    /// Parts uploading at once; `write` waits when this many are in flight. `None` =
    /// the store's.
    pub max_in_flight: Option<usize>,
    /// Writers like this one running at once: each gets this share of the parts in
    /// flight (at least one), so `-j 64` uploads hold about one writer's memory.
    pub concurrent_writers: usize,
    /// Compress the stream with zstd at this level (1..=22) before storing it.
    pub zstd_level: Option<i32>,
    pub put: PutOptions,
    /// How each part is retried. Parts are sent inside the writer, so the retry layer
    /// hands its own policy down here ([`RetryLayer`](crate::layer::RetryLayer)); a
    /// finalize is never retried (decision 010).
    pub part_retry: RetryPolicy,
    /// Makes the upload resumable: its id and stored parts are journaled in this local
    /// file, and a writer given a journal of an unfinished upload of the same URI sends
    /// only the parts the service lacks ([`crate::resume`]). Multipart services only
    /// (S3, Azure, GCS); others refuse it.
    pub journal: Option<PathBuf>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            buffer_size: 1 << 20,
            part_size: None,
            max_in_flight: None,
            concurrent_writers: 1,
            zstd_level: None,
            put: PutOptions::default(),
            part_retry: RetryPolicy::none(),
            journal: None,
        }
    }
}

impl WriterOptions {
    /// The part size to use: this writer's, else the store's `configured` one, else
    /// [`DEFAULT_PART_SIZE`].
    pub fn part_size_or(&self, configured: Option<usize>) -> usize {
        self.part_size.or(configured).unwrap_or(DEFAULT_PART_SIZE)
    }

    /// Parts in flight: this writer's, else the store's `configured` number, else
    /// [`DEFAULT_PARTS_IN_FLIGHT`], shared among `concurrent_writers` (at least one each).
    pub fn parts_in_flight_or(&self, configured: Option<usize>) -> usize {
        let total = self
            .max_in_flight
            .or(configured)
            .unwrap_or(DEFAULT_PARTS_IN_FLIGHT);
        (total / self.concurrent_writers.max(1)).max(1)
    }

    pub fn with_buffer_size(mut self, bytes: usize) -> Self {
        self.buffer_size = bytes;
        self
    }

    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = Some(bytes);
        self
    }

    pub fn with_max_in_flight(mut self, parts: usize) -> Self {
        self.max_in_flight = Some(parts);
        self
    }

    /// This writer is one of `n` running at once (see [`concurrent_writers`](Self::concurrent_writers)).
    pub fn with_concurrent_writers(mut self, n: usize) -> Self {
        self.concurrent_writers = n.max(1);
        self
    }

    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = Some(level);
        self
    }

    pub fn with_put_options(mut self, put: PutOptions) -> Self {
        self.put = put;
        self
    }

    pub fn with_journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// The error of a backend that cannot resume uploads, when a journal was asked for.
    pub fn refuse_journal(&self, uri: &str, backend: &'static str) -> Result<()> {
        match self.journal {
            None => Ok(()),
            Some(_) => Err(Error::NotSupported {
                operation: Operation::Write,
                backend,
                uri: uri.to_string(),
                hint: "resumable uploads (a journal) need a multipart service: s3://, az:// or gs://; leave journal unset"
                    .into(),
            }),
        }
    }

    /// Rejects options no backend can honour, naming the URI.
    pub fn validate(&self, uri: &str) -> Result<()> {
        let bad = |m: String| Err(Error::invalid_argument(Operation::Write, uri, m));
        if self.buffer_size == 0 || self.part_size == Some(0) {
            return bad("buffer_size and part_size must be greater than 0".into());
        }
        if self.max_in_flight == Some(0) {
            return bad("max_in_flight must be at least 1".into());
        }
        if let Some(level) = self.zstd_level
            && !(1..=22).contains(&level)
        {
            return bad(format!("zstd level {level} is outside 1..=22"));
        }
        Ok(())
    }
}

/// How `get_ranges` fetches many ranges of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangesOptions {
    /// Requests whose ranges are at most this many bytes apart are merged into one;
    /// `0` never merges.
    pub coalesce_gap: u64,
    /// A merged request spans at most this many bytes (a single range longer than that is
    /// still one request); `0` never merges.
    pub max_merged_size: u64,
    /// Requests in flight at once.
    pub max_concurrency: usize,
}

impl Default for RangesOptions {
    fn default() -> Self {
        RangesOptions {
            coalesce_gap: 1 << 20,
            max_merged_size: 16 << 20,
            max_concurrency: 16,
        }
    }
}

impl RangesOptions {
    pub fn with_coalesce_gap(mut self, bytes: u64) -> Self {
        self.coalesce_gap = bytes;
        self
    }

    pub fn with_max_merged_size(mut self, bytes: u64) -> Self {
        self.max_merged_size = bytes;
        self
    }

    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: GetRange, size: u64) -> Result<Range<u64>> {
        r.resolve(Operation::GetRange, "memory://b/k", size)
    }

    #[test]
    fn range_rules() {
        assert_eq!(resolve(GetRange::Offset(0), 10).unwrap(), 0..10);
        assert_eq!(resolve(GetRange::Offset(9), 10).unwrap(), 9..10);
        assert_eq!(resolve(GetRange::Bounded(2..100), 10).unwrap(), 2..10);
        assert_eq!(resolve(GetRange::Suffix(3), 10).unwrap(), 7..10);
        assert_eq!(resolve(GetRange::Suffix(30), 10).unwrap(), 0..10);
        assert_eq!(resolve(GetRange::Offset(0), 0).unwrap(), 0..0);
        assert_eq!(resolve(GetRange::Bounded(4..4), 10).unwrap(), 4..4);
        assert!(matches!(
            resolve(GetRange::Offset(10), 10),
            Err(Error::InvalidRange {
                offset: 10,
                size: 10,
                ..
            })
        ));
        assert!(matches!(
            resolve(GetRange::Offset(1), 0),
            Err(Error::InvalidRange { .. })
        ));
        #[allow(clippy::reversed_empty_ranges)] // the reversed range is the input under test
        let reversed = GetRange::Bounded(5..3);
        assert!(matches!(
            resolve(reversed, 10),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn an_explicit_part_size_beats_the_store_and_in_flight_is_shared() {
        let o = WriterOptions::default();
        assert_eq!(o.part_size_or(None), DEFAULT_PART_SIZE);
        assert_eq!(
            o.part_size_or(Some(8 << 20)),
            8 << 20,
            "the store's setting fills a gap"
        );
        let o = o.with_part_size(5 << 20);
        assert_eq!(o.part_size_or(Some(8 << 20)), 5 << 20, "an explicit value wins");
        assert_eq!(o.parts_in_flight_or(None), DEFAULT_PARTS_IN_FLIGHT);
        assert_eq!(o.parts_in_flight_or(Some(10)), 10);
        let shared = WriterOptions::default()
            .with_max_in_flight(8)
            .with_concurrent_writers(3);
        assert_eq!(shared.parts_in_flight_or(Some(100)), 2);
        assert_eq!(shared.with_concurrent_writers(64).parts_in_flight_or(None), 1);
    }

    #[test]
    fn writer_options_are_validated() {
        assert!(WriterOptions::default().validate("u").is_ok());
        let e = WriterOptions::default()
            .with_zstd_level(40)
            .validate("memory://b/k");
        assert!(e.unwrap_err().to_string().contains("zstd level 40"));
        assert!(
            WriterOptions::default()
                .with_max_in_flight(0)
                .validate("u")
                .is_err()
        );
    }
}
