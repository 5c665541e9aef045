//! The conformance suite: one async fn per behaviour, run by every backend.
//!
//! A backend's test file supplies a fixture factory and expands
//! [`conformance_tests!`](crate::conformance_tests), which makes one `#[tokio::test]`
//! per behaviour (the test crate needs `tokio` with the `macros` and `rt-multi-thread`
//! features):
//!
//! ```ignore
//! async fn fixture(test: &str) -> s3dlio_core::testkit::Fixture { /* ... */ }
//! s3dlio_core::conformance_tests!(fixture);
//! ```
//!
//! Each function panics with a message that names the behaviour and the URI when the
//! store breaks the contract.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};

use crate::buffer::OutputBuffer;
use crate::{
    Capabilities, Error, GetOptions, GetRange, ListEntry, ObjectHint, ObjectStore, ObjectStoreExt,
    PutOptions, RangesOptions, ReadOptions, Result, WriterOptions, crc32c,
};

mod environment;
mod faulty;
mod timeouts;
pub use environment::replace_env;
pub use faulty::{FaultyStore, StoreFault};
pub use timeouts::{Unconnectable, timeout_ends_the_wait};

/// The part size the writer tests use: the smallest S3 accepts, so every backend runs
/// the same multi-part cases.
const MIN_PART: usize = 5 << 20;

/// Server gap: a put into a missing bucket succeeds instead of failing.
pub const GAP_PUT_NEEDS_CONTAINER: &str = "put-into-missing-container-fails";

/// Server gap: deleting a non-empty bucket succeeds (and deletes its objects).
pub const GAP_DELETE_NEEDS_EMPTY_CONTAINER: &str = "delete-of-non-empty-container-fails";

/// What one conformance test runs against.
pub struct Fixture {
    pub store: Arc<dyn ObjectStore>,
    /// A prefix URI ending in `/`, inside an existing container, unused by any other test.
    pub base: String,
    /// A container URI (no key) that does not exist yet, for the container tests.
    pub fresh_container: String,
    /// Kept alive for the test's duration (a temporary directory, a server guard).
    pub guard: Box<dyn Any + Send + Sync>,
    /// Checks the *server* under test cannot pass although the backend would against
    /// the real service (an emulator's gap), by name; `docs/backends.md` lists them.
    pub server_gaps: &'static [&'static str],
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Fixture {
    /// `base` + `key`.
    pub fn uri(&self, key: &str) -> String {
        format!("{}{key}", self.base)
    }

    fn caps(&self) -> Capabilities {
        self.store.capabilities()
    }

    /// True when the server under test is known to lack `check` (see `server_gaps`).
    pub fn server_lacks(&self, check: &str) -> bool {
        self.server_gaps.contains(&check)
    }
}

/// Set by the full test command (`cargo xtask test`): tests that need a local server must
/// run, never skip.
pub const ENV_REQUIRE_SERVERS: &str = "S3DLIO_REQUIRE_EMULATORS";

/// Whether server-backed tests must run (see [`ENV_REQUIRE_SERVERS`]).
pub fn require_servers() -> bool {
    std::env::var(ENV_REQUIRE_SERVERS).is_ok_and(|v| v == "1")
}

/// For a fixture whose server is not configured: panics when servers are required,
/// otherwise prints a loud skip message.
pub fn server_missing(test: &str, what: &str) {
    let msg = format!(
        "{test}: no {what} configured; run `cargo xtask test` (or `cargo xtask emulators up` and export what it prints)"
    );
    if require_servers() {
        panic!("{ENV_REQUIRE_SERVERS}=1 but {msg}");
    }
    eprintln!("SKIPPED {msg}");
}

/// Deterministic, incompressible-looking bytes (xorshift), cheap to make in bulk.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Expands to one `#[tokio::test]` per behaviour of the suite. `$fixture` is an
/// `async fn(&str) -> Option<Fixture>` that receives the test's name; `None` skips the
/// test (a fixture that needs a server returns it only when none is configured and
/// [`require_servers`] is false, after printing why).
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:path) => {
        $crate::conformance_tests!(@each $fixture;
            put_get_round_trip, get_range_edges, get_ranges_order_and_coalescing, put_is_atomic,
            writer_streams_and_finalizes, writer_cancel_leaves_nothing, writer_zstd_round_trip,
            journaled_writer_resumes_or_is_refused,
            put_multipart_round_trip, list_recursive_and_delimited, list_paginates_past_1000,
            special_character_keys, stat_fields, user_metadata, exists_reports_presence,
            delete_removes, delete_missing_key_succeeds, delete_batch_deletes_listed_keys,
            delete_prefix_spans_pages, copy_duplicates, rename_moves, checksum_validation,
            not_found_on_every_read, streamed_reads_match_plain_reads, read_into_fills_caller_memory,
            if_match_pins_version,
            container_lifecycle,
        );
    };
    (@each $fixture:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(fx) = $fixture(stringify!($name)).await else { return };
                $crate::testkit::$name(&fx).await;
            }
        )*
    };
}

async fn put(fx: &Fixture, key: &str, data: Bytes) -> String {
    let uri = fx.uri(key);
    fx.store
        .put(&uri, data)
        .await
        .unwrap_or_else(|e| panic!("put {uri}: {e}"));
    uri
}

async fn sorted_list(fx: &Fixture, prefix: &str, recursive: bool) -> Vec<String> {
    let mut v = fx
        .store
        .list(prefix, recursive)
        .await
        .unwrap_or_else(|e| panic!("list {prefix}: {e}"));
    v.sort();
    v
}

fn uris(fx: &Fixture, keys: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = keys.iter().map(|k| fx.uri(k)).collect();
    v.sort();
    v
}

pub async fn put_get_round_trip(fx: &Fixture) {
    for (i, len) in [0usize, 1, (1 << 20) + 1, 64 << 20].into_iter().enumerate() {
        let data = pattern(len, i as u64);
        let uri = put(fx, &format!("obj-{len}"), data.clone()).await;
        let got = fx
            .store
            .get(&uri)
            .await
            .unwrap_or_else(|e| panic!("get {uri}: {e}"));
        assert_eq!(got.len(), len, "get {uri}: length");
        assert!(got == data, "get {uri}: content differs from what was put");
        assert_eq!(
            fx.store.stat(&uri).await.unwrap().size,
            len as u64,
            "stat {uri}: size"
        );
    }
    let uri = put(fx, "overwrite", pattern(100, 1)).await;
    put(fx, "overwrite", pattern(50, 2)).await;
    assert!(
        fx.store.get(&uri).await.unwrap() == pattern(50, 2),
        "overwrite {uri}: old content returned"
    );
}

pub async fn get_range_edges(fx: &Fixture) {
    let data = pattern(1000, 7);
    let uri = put(fx, "ranges", data.clone()).await;
    let s = &fx.store;
    assert!(
        s.get_range(&uri, 0, Some(10)).await.unwrap() == data.slice(0..10),
        "offset 0"
    );
    assert!(
        s.get_range(&uri, 999, Some(1)).await.unwrap() == data.slice(999..),
        "last byte"
    );
    assert!(
        s.get_range(&uri, 999, None).await.unwrap() == data.slice(999..),
        "last byte, open end"
    );
    assert!(
        s.get_range(&uri, 100, None).await.unwrap() == data.slice(100..),
        "offset to end"
    );
    assert!(
        s.get_range(&uri, 990, Some(100)).await.unwrap() == data.slice(990..),
        "length past end is clamped"
    );
    assert!(
        s.get_range(&uri, 5, Some(0)).await.unwrap().is_empty(),
        "zero length"
    );
    let suffix = s
        .get_opts(&uri, GetOptions::default().with_range(GetRange::Suffix(10)))
        .await
        .unwrap();
    assert!(suffix.data == data.slice(990..), "suffix range");
    assert_eq!(suffix.range, 990..1000, "suffix range reported");
    assert_eq!(suffix.meta.size, 1000, "ranged get reports the total size");
    for off in [1000, 5000] {
        match s.get_range(&uri, off, Some(1)).await {
            Err(Error::InvalidRange { offset, size, .. }) => assert_eq!((offset, size), (off, 1000)),
            other => panic!("get_range {uri} at {off}: expected InvalidRange, got {other:?}"),
        }
    }
    let empty = put(fx, "empty", Bytes::new()).await;
    assert!(
        s.get_range(&empty, 0, None).await.unwrap().is_empty(),
        "range of an empty object"
    );
}

pub async fn get_ranges_order_and_coalescing(fx: &Fixture) {
    let data = pattern(100 << 10, 3);
    let uri = put(fx, "multi-range", data.clone()).await;
    let ranges: Vec<Range<u64>> = vec![
        50_000..50_100,
        10..20,
        0..5,
        15..30,
        99_000..102_400,
        10..20,
        7..7,
    ];
    let expected: Vec<Bytes> = ranges
        .iter()
        .map(|r| data.slice(r.start as usize..(r.end as usize).min(data.len())))
        .collect();
    let counting = FaultyStore::new(fx.store.clone());
    for (gap, requests) in [(0u64, ranges.len()), (64, 3), (1 << 20, 1)] {
        counting.reset_gets();
        let opts = RangesOptions::default()
            .with_coalesce_gap(gap)
            .with_max_concurrency(4);
        let got = counting
            .get_ranges(&uri, &ranges, opts)
            .await
            .unwrap_or_else(|e| panic!("get_ranges {uri} gap {gap}: {e}"));
        assert_eq!(got.len(), ranges.len());
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(
                g == e,
                "get_ranges {uri} gap {gap}: range {:?} (#{i}) differs",
                ranges[i]
            );
        }
        assert_eq!(counting.gets(), requests, "gap {gap}: requests sent");
    }
    let past = fx
        .store
        .get_ranges(&uri, &[0..1, 200_000..200_010], RangesOptions::default())
        .await;
    assert!(
        matches!(past, Err(Error::InvalidRange { .. })),
        "range past the end: {past:?}"
    );
}

pub async fn put_is_atomic(fx: &Fixture) {
    let a = Bytes::from(vec![0xAA; 4 << 20]);
    let b = Bytes::from(vec![0xBB; 3 << 20]);
    let uri = put(fx, "atomic", a.clone()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, uri, stop) = (fx.store.clone(), uri.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0;
                while !stop.load(Ordering::SeqCst) || reads == 0 {
                    // A read the read path splits into chunks may see the object change
                    // between them: that is a clear version error, never a mixed object.
                    let got = match store.get(&uri).await {
                        Ok(got) => got,
                        Err(Error::Precondition { .. }) if store.capabilities().chunked_reads => continue,
                        Err(e) => panic!("get {uri} during puts: {e}"),
                    };
                    let whole_a = got.len() == 4 << 20 && got.iter().all(|&x| x == 0xAA);
                    let whole_b = got.len() == 3 << 20 && got.iter().all(|&x| x == 0xBB);
                    assert!(
                        whole_a || whole_b,
                        "get {uri}: saw a partial or mixed object of {} bytes",
                        got.len()
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 0..20 {
        let data = if i % 2 == 0 { b.clone() } else { a.clone() };
        fx.store.put(&uri, data).await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        assert!(r.await.unwrap() > 0);
    }
}

pub async fn writer_streams_and_finalizes(fx: &Fixture) {
    let uri = fx.uri("streamed");
    // 5 MiB is the smallest part S3 accepts; 12 MiB makes three parts, the last short.
    let opts = WriterOptions::default()
        .with_part_size(MIN_PART)
        .with_buffer_size(64 << 10);
    let mut w = fx.store.get_writer(&uri, opts).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..12 {
        let chunk = pattern(1 << 20, i);
        expected.extend_from_slice(&chunk);
        w.write(chunk)
            .await
            .unwrap_or_else(|e| panic!("write {uri}: {e}"));
    }
    assert_eq!(w.bytes_written(), expected.len() as u64);
    assert!(
        !fx.store.exists(&uri).await.unwrap(),
        "{uri} is visible before finalize"
    );
    let summary = w
        .finalize()
        .await
        .unwrap_or_else(|e| panic!("finalize {uri}: {e}"));
    assert_eq!(summary.bytes_written, expected.len() as u64);
    assert_eq!(summary.size, expected.len() as u64);
    assert!(
        fx.store.get(&uri).await.unwrap() == expected,
        "{uri}: content differs"
    );
}

pub async fn writer_cancel_leaves_nothing(fx: &Fixture) {
    let opts = WriterOptions::default()
        .with_part_size(MIN_PART)
        .with_buffer_size(32 << 10);
    let cancelled = fx.uri("cancelled");
    let mut w = fx.store.get_writer(&cancelled, opts.clone()).await.unwrap();
    // More than one part, so multipart backends have an upload in progress to abort.
    for i in 0..4 {
        w.write(pattern(2 << 20, i)).await.unwrap();
    }
    w.cancel()
        .await
        .unwrap_or_else(|e| panic!("cancel {cancelled}: {e}"));

    let dropped = fx.uri("dropped");
    let mut w = fx.store.get_writer(&dropped, opts).await.unwrap();
    w.write(pattern(6 << 20, 9)).await.unwrap();
    drop(w);

    for uri in [&cancelled, &dropped] {
        assert!(
            !fx.store.exists(uri).await.unwrap(),
            "{uri} exists after cancel/drop"
        );
    }
    // Aborts that run in the background (drop) get a moment to finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sorted_list(fx, &fx.base, true).await,
        Vec::<String>::new(),
        "listing after cancel"
    );
}

/// A backend with [`Capabilities::resumable_uploads`](crate::Capabilities) resumes a
/// dropped journaled upload, sending only what it lacks; any other refuses a journal
/// with `NotSupported` rather than ignore it.
pub async fn journaled_writer_resumes_or_is_refused(fx: &Fixture) {
    let uri = fx.uri("journaled");
    let dir = std::env::temp_dir().join(format!("s3dlio-journal-{:016x}", rand::random::<u64>()));
    let journal = dir.join("upload.journal");
    let opts = WriterOptions::default()
        .with_part_size(MIN_PART)
        .with_max_in_flight(1)
        .with_journal(&journal);
    if !fx.store.capabilities().resumable_uploads {
        let err = fx.store.get_writer(&uri, opts).await.unwrap_err();
        assert!(matches!(err, crate::Error::NotSupported { .. }), "{uri}: {err}");
        return;
    }
    let data = pattern(3 * MIN_PART + 100, 4);
    let mut w = fx.store.get_writer(&uri, opts.clone()).await.unwrap();
    // One part in flight: the first is stored before the second starts.
    w.write(data.slice(..2 * MIN_PART)).await.unwrap();
    drop(w);
    assert!(
        !fx.store.exists(&uri).await.unwrap(),
        "{uri}: visible before finalize"
    );
    let mut w = fx.store.get_writer(&uri, opts).await.unwrap();
    w.write(data.clone()).await.unwrap();
    let reused = w.reused_bytes();
    w.finalize()
        .await
        .unwrap_or_else(|e| panic!("finalize {uri}: {e}"));
    assert!(
        reused >= MIN_PART as u64,
        "{uri}: resumed, yet reused {reused} bytes"
    );
    assert!(
        fx.store.get(&uri).await.unwrap() == data,
        "{uri}: content differs"
    );
    assert!(!journal.exists(), "{uri}: the journal outlived the upload");
    let _ = std::fs::remove_dir_all(&dir);
}

pub async fn writer_zstd_round_trip(fx: &Fixture) {
    let uri = fx.uri("compressed.zst");
    let text: Vec<u8> = b"s3dlio compresses repetitive training data well. "
        .iter()
        .copied()
        .cycle()
        .take(3 << 20)
        .collect();
    let opts = WriterOptions::default()
        .with_zstd_level(3)
        .with_buffer_size(256 << 10);
    let mut w = fx.store.get_writer(&uri, opts).await.unwrap();
    for chunk in text.chunks(1 << 20) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    let stored_so_far = w.stored_bytes();
    let summary = w.finalize().await.unwrap();
    assert_eq!(summary.bytes_written, text.len() as u64);
    let stored = fx.store.get(&uri).await.unwrap();
    assert_eq!(summary.size, stored.len() as u64);
    assert!(
        stored_so_far <= summary.size,
        "stored_bytes {stored_so_far} before finalize counts more than the {} bytes stored",
        summary.size
    );
    assert!(
        stored.len() < text.len() / 10,
        "zstd output is {} bytes",
        stored.len()
    );
    assert_eq!(
        zstd::decode_all(&stored[..]).unwrap(),
        text,
        "{uri}: decompressed content differs"
    );
}

pub async fn put_multipart_round_trip(fx: &Fixture) {
    let uri = fx.uri("multipart");
    let data = pattern((11 << 20) + 7, 11);
    let opts = WriterOptions::default().with_part_size(MIN_PART);
    let summary = fx.store.put_multipart(&uri, data.clone(), opts).await.unwrap();
    assert_eq!(summary.size, data.len() as u64);
    assert!(
        fx.store.get(&uri).await.unwrap() == data,
        "{uri}: content differs"
    );
}

pub async fn list_recursive_and_delimited(fx: &Fixture) {
    for k in ["a/1", "a/2", "a/b/3", "c", "cat", "d/e/f"] {
        put(fx, k, pattern(10, 0)).await;
    }
    assert_eq!(
        sorted_list(fx, &fx.base, true).await,
        uris(fx, &["a/1", "a/2", "a/b/3", "c", "cat", "d/e/f"]),
        "recursive listing"
    );
    assert_eq!(
        sorted_list(fx, &fx.base, false).await,
        uris(fx, &["a/", "c", "cat", "d/"]),
        "non-recursive listing"
    );
    assert_eq!(
        sorted_list(fx, &fx.uri("a/"), false).await,
        uris(fx, &["a/1", "a/2", "a/b/"]),
        "non-recursive listing of a sub-prefix"
    );
    assert_eq!(
        sorted_list(fx, &fx.uri("c"), true).await,
        uris(fx, &["c", "cat"]),
        "name prefix"
    );
    assert_eq!(
        sorted_list(fx, &fx.uri("zzz"), true).await,
        Vec::<String>::new(),
        "no match"
    );
    let metas: Vec<ListEntry> = fx
        .store
        .list_stream(&fx.uri("a/"), true)
        .try_collect()
        .await
        .unwrap();
    for m in metas {
        match m {
            ListEntry::Object(meta) => assert_eq!(meta.size, 10, "listing size of {}", meta.uri),
            ListEntry::Prefix(p) => panic!("recursive listing yielded a prefix {p}"),
        }
    }
}

pub async fn list_paginates_past_1000(fx: &Fixture) {
    let n = 1100;
    stream::iter(0..n)
        .map(|i| async move { put(fx, &format!("many/{i:05}"), Bytes::from(format!("{i}"))).await })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let listed = sorted_list(fx, &fx.uri("many/"), true).await;
    let expected: Vec<String> = (0..n).map(|i| fx.uri(&format!("many/{i:05}"))).collect();
    assert_eq!(listed.len(), n, "entries listed");
    assert_eq!(listed, expected);
}

pub async fn special_character_keys(fx: &Fixture) {
    let keys = [
        "with space.bin",
        "plus+sign",
        "percent%20literal",
        "pct%2Fslash",
        "données/ключ ☃.bin",
        "semi;colon,comma=eq&amp",
        "tilde~(paren)!'quote'",
        "hash#frag?query=1",
        "brack[1]*star@at$dollar:colon\"dq",
    ];
    for (i, k) in keys.iter().enumerate() {
        let uri = put(fx, k, pattern(33, i as u64)).await;
        assert!(
            fx.store.get(&uri).await.unwrap() == pattern(33, i as u64),
            "get {uri}"
        );
        assert_eq!(fx.store.stat(&uri).await.unwrap().uri, uri, "stat uri of {k:?}");
    }
    let expected = uris(fx, &keys);
    assert_eq!(
        sorted_list(fx, &fx.base, true).await,
        expected,
        "listing returns keys verbatim"
    );
    for uri in &expected {
        fx.store.delete(uri).await.unwrap();
        assert!(!fx.store.exists(uri).await.unwrap(), "{uri} after delete");
    }
}

pub async fn stat_fields(fx: &Fixture) {
    let before = SystemTime::now() - Duration::from_secs(120);
    let uri = put(fx, "stat-me", pattern(12345, 5)).await;
    let m = fx.store.stat(&uri).await.unwrap();
    assert_eq!(m.uri, uri);
    assert_eq!(m.size, 12345);
    let lm = m.last_modified.expect("last_modified");
    assert!(
        lm >= before && lm <= SystemTime::now() + Duration::from_secs(120),
        "last_modified {lm:?}"
    );
    let tag = m.e_tag.clone().expect("e_tag");
    assert!(!tag.is_empty());
    put(fx, "stat-me", pattern(12345, 6)).await;
    let m2 = fx.store.stat(&uri).await.unwrap();
    assert_ne!(m2.e_tag, Some(tag), "e_tag must change when the content changes");
    // A listing's e_tag (where the server lists one) is the tag stat and reads report,
    // so it can pin a read: the CLI and loaders pin reads to what they listed.
    let listed: Vec<ListEntry> = fx.store.list_stream(&fx.base, true).try_collect().await.unwrap();
    let listed_tag = listed.into_iter().find_map(|e| match e {
        ListEntry::Object(m) if m.uri == uri => m.e_tag,
        _ => None,
    });
    if let Some(listed_tag) = listed_tag {
        assert_eq!(
            Some(&listed_tag),
            m2.e_tag.as_ref(),
            "listed e_tag differs from stat's"
        );
        let pinned = GetOptions::default().with_if_match(listed_tag);
        assert_eq!(fx.store.get_opts(&uri, pinned).await.unwrap().data.len(), 12345);
    }
}

pub async fn user_metadata(fx: &Fixture) {
    let uri = fx.uri("with-meta");
    let opts = PutOptions::default()
        .with_content_type("application/x-test")
        .with_metadata("epoch", "7");
    let res = fx.store.put_opts(&uri, pattern(10, 0), opts).await;
    if fx.caps().user_metadata {
        res.unwrap();
        let m = fx.store.stat(&uri).await.unwrap();
        assert_eq!(m.content_type.as_deref(), Some("application/x-test"));
        assert_eq!(m.metadata.get("epoch").map(String::as_str), Some("7"));
    } else {
        // A backend that cannot keep metadata must say so, not drop it silently.
        assert!(
            matches!(res, Err(Error::NotSupported { .. })),
            "put with metadata: {res:?}"
        );
        assert!(
            !fx.store.exists(&uri).await.unwrap(),
            "{uri} stored without its metadata"
        );
    }
}

pub async fn exists_reports_presence(fx: &Fixture) {
    let uri = put(fx, "here", pattern(1, 0)).await;
    assert!(fx.store.exists(&uri).await.unwrap());
    assert!(!fx.store.exists(&fx.uri("not-here")).await.unwrap());
    assert!(
        fx.store.exists("nope://x/y").await.is_err(),
        "a bad URI is an error, not false"
    );
}

pub async fn delete_removes(fx: &Fixture) {
    let uri = put(fx, "doomed", pattern(10, 0)).await;
    fx.store.delete(&uri).await.unwrap();
    assert!(!fx.store.exists(&uri).await.unwrap());
    assert!(fx.store.get(&uri).await.unwrap_err().is_not_found());
}

pub async fn delete_missing_key_succeeds(fx: &Fixture) {
    fx.store
        .delete(&fx.uri("never-existed"))
        .await
        .expect("deleting a missing key succeeds (deletes are idempotent)");
}

pub async fn delete_batch_deletes_listed_keys(fx: &Fixture) {
    let all: Vec<String> = stream::iter(0..10)
        .then(|i| async move { put(fx, &format!("batch/{i}"), pattern(10, i)).await })
        .collect()
        .await;
    let mut doomed: Vec<String> = all[..5].to_vec();
    doomed.push(fx.uri("batch/missing"));
    fx.store.delete_batch(&doomed).await.unwrap();
    assert_eq!(sorted_list(fx, &fx.uri("batch/"), true).await, all[5..].to_vec());
}

pub async fn delete_prefix_spans_pages(fx: &Fixture) {
    let n = 1500u64;
    stream::iter(0..n)
        .map(|i| async move { put(fx, &format!("pfx/{}/{i}", i % 3), Bytes::new()).await })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let keep = put(fx, "pfx-keep", pattern(3, 0)).await;
    let deleted = fx.store.delete_prefix(&fx.uri("pfx/")).await.unwrap();
    assert_eq!(deleted, n);
    assert!(sorted_list(fx, &fx.uri("pfx/"), true).await.is_empty());
    assert!(
        fx.store.exists(&keep).await.unwrap(),
        "delete_prefix went past its prefix"
    );
}

pub async fn copy_duplicates(fx: &Fixture) {
    let data = pattern(70_000, 4);
    let src = put(fx, "copy-src", data.clone()).await;
    let dst = fx.uri("copy/dst");
    fx.store.copy(&src, &dst).await.unwrap();
    assert!(fx.store.get(&src).await.unwrap() == data);
    assert!(fx.store.get(&dst).await.unwrap() == data);
    let missing = fx.store.copy(&fx.uri("nothing"), &fx.uri("copy/x")).await;
    assert!(missing.unwrap_err().is_not_found());
}

pub async fn rename_moves(fx: &Fixture) {
    let data = pattern(70_000, 8);
    let src = put(fx, "mv-src", data.clone()).await;
    let dst = fx.uri("mv/dst");
    fx.store.rename(&src, &dst).await.unwrap();
    assert!(
        !fx.store.exists(&src).await.unwrap(),
        "{src} still exists after rename"
    );
    assert!(fx.store.get(&dst).await.unwrap() == data);
    let missing = fx.store.rename(&fx.uri("nothing"), &fx.uri("mv/x")).await;
    assert!(missing.unwrap_err().is_not_found());
}

pub async fn checksum_validation(fx: &Fixture) {
    let data = pattern(4096, 2);
    let uri = put(fx, "crc", data.clone()).await;
    let good = crc32c(&data);
    assert!(fx.store.get_with_validation(&uri, good).await.unwrap() == data);
    match fx.store.get_with_validation(&uri, good ^ 1).await {
        Err(Error::ChecksumMismatch { expected, actual, .. }) => {
            assert_eq!((expected, actual), (good ^ 1, good))
        }
        other => panic!("get_with_validation with a wrong CRC32C: {other:?}"),
    }
    let part = crc32c(&data[100..200]);
    assert!(
        fx.store
            .get_range_with_validation(&uri, 100, Some(100), part)
            .await
            .unwrap()
            == data.slice(100..200)
    );
    assert!(matches!(
        fx.store
            .get_range_with_validation(&uri, 100, Some(100), part ^ 1)
            .await,
        Err(Error::ChecksumMismatch { .. })
    ));
}

pub async fn not_found_on_every_read(fx: &Fixture) {
    let u = fx.uri("missing/object");
    let s = &fx.store;
    let results: Vec<(&str, Result<()>)> = vec![
        ("get", s.get(&u).await.map(drop)),
        ("get_range", s.get_range(&u, 0, Some(1)).await.map(drop)),
        (
            "get_ranges",
            s.get_ranges(&u, &[0..1, 5..6], RangesOptions::default())
                .await
                .map(drop),
        ),
        (
            "get_with_validation",
            s.get_with_validation(&u, 0).await.map(drop),
        ),
        (
            "get_range_with_validation",
            s.get_range_with_validation(&u, 0, None, 0).await.map(drop),
        ),
        (
            "get_stream",
            s.get_stream(&u, ReadOptions::default())
                .try_collect::<Vec<_>>()
                .await
                .map(drop),
        ),
        (
            "read",
            s.read(&u, ReadOptions::default().with_range(0, Some(1)))
                .await
                .map(drop),
        ),
        ("stat", s.stat(&u).await.map(drop)),
    ];
    for (op, r) in results {
        match r {
            Err(e) if e.is_not_found() => {
                assert!(e.to_string().contains(&u), "{op}: message lacks the URI: {e}")
            }
            other => panic!("{op} {u}: expected NotFound, got {other:?}"),
        }
    }
}

/// Whole, ranged and streamed reads of the read path agree with the bytes written:
/// multi-MiB objects fan out where the store reads in chunks (the backends' tests give
/// the read path small chunks), and a hinted read pinned to a version that is gone fails.
pub async fn streamed_reads_match_plain_reads(fx: &Fixture) {
    for (i, len) in [0usize, 1, (5 << 20) + 3].into_iter().enumerate() {
        let data = pattern(len, 20 + i as u64);
        let uri = put(fx, &format!("opt-{len}"), data.clone()).await;
        assert!(fx.store.get(&uri).await.unwrap() == data, "get {uri}");
        let streamed: Vec<Bytes> = fx
            .store
            .get_stream(&uri, ReadOptions::default())
            .try_collect()
            .await
            .unwrap();
        assert!(streamed.concat() == data, "get_stream {uri}");
        assert!(
            streamed.iter().all(|c| !c.is_empty()),
            "get_stream yields no empty chunks"
        );
        if len > 10 {
            let want = data.slice(7..len - 2);
            let got = fx.store.get_range(&uri, 7, Some(len as u64 - 9)).await.unwrap();
            assert!(got == want, "get_range {uri}");
            let read = fx
                .store
                .read(&uri, ReadOptions::default().with_range(7, Some(len as u64 - 9)))
                .await
                .unwrap();
            assert!(read == want, "read {uri}");
            let tail = fx.store.get_range(&uri, len as u64 - 5, Some(100)).await.unwrap();
            assert!(
                tail == data.slice(len - 5..),
                "get_range clamps at the end of {uri}"
            );
            let past = fx.store.get_range(&uri, len as u64 + 1, None).await;
            assert!(
                matches!(past, Err(Error::InvalidRange { .. })),
                "get_range past the end of {uri}: {past:?}"
            );
            let meta = fx.store.stat(&uri).await.unwrap();
            let hint = ObjectHint {
                size: meta.size,
                version: meta.e_tag.clone(),
            };
            let hinted = fx
                .store
                .read(&uri, ReadOptions::default().with_hint(Some(hint.clone())))
                .await
                .unwrap();
            assert!(hinted == data, "hinted read {uri}");
            put(fx, &format!("opt-{len}"), pattern(len, 99)).await;
            if hint.version.is_some() {
                let stale = fx
                    .store
                    .read(&uri, ReadOptions::default().with_hint(Some(hint)))
                    .await;
                assert!(
                    matches!(stale, Err(Error::Precondition { .. })),
                    "a read pinned to a replaced version fails, never mixes: {stale:?}"
                );
            }
        }
    }
}

pub async fn read_into_fills_caller_memory(fx: &Fixture) {
    for (i, len) in [0usize, 1, (5 << 20) + 3].into_iter().enumerate() {
        let data = pattern(len, 40 + i as u64);
        let uri = put(fx, &format!("into-{len}"), data.clone()).await;
        for (offset, length) in [(0, None), (len.min(7) as u64, Some(len.saturating_sub(9) as u64))] {
            let want =
                data.slice(offset as usize..offset as usize + length.unwrap_or(len as u64 - offset) as usize);
            let out = OutputBuffer::from_vec(vec![0xEE; want.len() + 3]);
            let opts = ReadOptions::default().with_range(offset, length);
            let n = fx
                .store
                .read_into(&uri, opts, out.clone())
                .await
                .unwrap_or_else(|e| panic!("read_into {uri} at {offset}: {e}"));
            assert_eq!(n, want.len() as u64, "read_into {uri} at {offset}");
            let v = out.into_vec().unwrap();
            assert!(v[..want.len()] == want[..], "read_into {uri} at {offset}: bytes");
            assert!(
                v[want.len()..] == [0xEE; 3],
                "read_into {uri} wrote past the read"
            );
        }
        if len > 0 {
            let out = OutputBuffer::from_vec(vec![0xEE; len - 1]);
            let short = fx
                .store
                .read_into(&uri, ReadOptions::default(), out.clone())
                .await;
            assert!(
                matches!(short, Err(Error::InvalidArgument { .. })),
                "read_into a short buffer {uri}: {short:?}"
            );
            assert!(
                out.into_vec().unwrap().iter().all(|&b| b == 0xEE),
                "a refused buffer was written to ({uri})"
            );
        }
    }
}

pub async fn if_match_pins_version(fx: &Fixture) {
    let uri = put(fx, "pinned", pattern(100, 1)).await;
    let tag = fx.store.stat(&uri).await.unwrap().e_tag.expect("e_tag");
    let ok = fx
        .store
        .get_opts(&uri, GetOptions::default().with_if_match(tag.clone()))
        .await
        .unwrap();
    assert!(ok.data == pattern(100, 1));
    put(fx, "pinned", pattern(100, 2)).await;
    let changed = fx
        .store
        .get_opts(
            &uri,
            GetOptions::default()
                .with_range(GetRange::Bounded(0..10))
                .with_if_match(tag),
        )
        .await;
    assert!(
        matches!(changed, Err(Error::Precondition { .. })),
        "read pinned to an old version: {changed:?}"
    );
}

pub async fn container_lifecycle(fx: &Fixture) {
    let c = fx.fresh_container.trim_end_matches('/').to_string();
    let obj = format!("{c}/k");
    let strict = fx.caps().explicit_containers && !fx.server_lacks(GAP_PUT_NEEDS_CONTAINER);
    if strict {
        assert!(
            fx.store.put(&obj, pattern(1, 0)).await.is_err(),
            "put into a missing container must fail"
        );
    }
    // The service root the container lives under: `s3://`, `memory://`, `file:///dir/`.
    let root = &c[..=c.rfind('/').expect("a container URI has a scheme")];
    let listed = format!("{c}/");
    fx.store.create_container(&c).await.unwrap();
    fx.store
        .create_container(&c)
        .await
        .expect("creating an existing container succeeds");
    let containers = fx.store.list_containers(root).await.unwrap();
    assert!(
        containers.contains(&listed),
        "{listed} missing from {containers:?}"
    );
    assert!(containers.is_sorted(), "containers not sorted: {containers:?}");
    fx.store.put(&obj, pattern(1, 0)).await.unwrap();
    if !fx.server_lacks(GAP_DELETE_NEEDS_EMPTY_CONTAINER) {
        assert!(
            fx.store.delete_container(&c).await.is_err(),
            "deleting a non-empty container must fail"
        );
        assert!(
            fx.store.exists(&obj).await.unwrap(),
            "a refused container delete lost data"
        );
    }
    fx.store.delete(&obj).await.unwrap();
    fx.store.delete_container(&c).await.unwrap();
    let containers = fx.store.list_containers(root).await.unwrap();
    assert!(
        !containers.contains(&listed),
        "{listed} still listed after delete"
    );
    if strict {
        assert!(
            fx.store.put(&obj, pattern(1, 0)).await.is_err(),
            "container still usable after delete"
        );
    }
}
