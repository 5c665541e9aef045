//! The store stack every front end gets (`layered`: read path → retry layer → limit),
//! proven with a fault-injecting double over an in-memory store: one read path for the
//! Rust API, `transfer` (the CLI's and the wheel's copies) and the loader; one retry
//! owner with one budget; a request limit.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use s3dlio::loader::{Dataset, ObjectDataset, ReadMode};
use s3dlio::testkit::{FaultyStore, StoreFault, pattern};
use s3dlio::transfer::{Plan, copy_object};
use s3dlio::{
    Error, MemoryStore, ObjectHint, ObjectStore, ObjectStoreExt, RangeEngineConfig, ReadOptions, RetryPolicy,
    StoreOptions, layered,
};

const CHUNK: u64 = 4096;
const CHUNKS: usize = 10;
const URI: &str = "memory://b/object";

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(2))
}

fn options(retry: RetryPolicy) -> StoreOptions {
    let read = RangeEngineConfig::default()
        .with_chunk_size(CHUNK)
        .with_threshold(CHUNK)
        .with_max_concurrency(1);
    StoreOptions::default().with_read(read).with_retry(retry)
}

/// A memory store holding `URI` (10 chunks), under `faults`, behind the layers.
async fn stack(
    faults: &[(usize, StoreFault)],
    retry: RetryPolicy,
) -> (Arc<FaultyStore>, Arc<dyn ObjectStore>, Bytes) {
    let memory = Arc::new(MemoryStore::new());
    memory.create_container("memory://b").await.unwrap();
    let data = pattern(CHUNKS * CHUNK as usize, 1);
    memory.put(URI, data.clone()).await.unwrap();
    let faulty = faults
        .iter()
        .cloned()
        .fold(FaultyStore::new(memory).chunked(), |f, (n, fault)| f.at(n, fault));
    let faulty = Arc::new(faulty);
    (faulty.clone(), layered(faulty, &options(retry)), data)
}

fn replaced() -> Vec<(usize, StoreFault)> {
    vec![(2, StoreFault::Replace(pattern(CHUNKS * CHUNK as usize, 2)))]
}

fn is_version_error(e: &Error) -> bool {
    matches!(e, Error::Precondition { .. }) && e.to_string().contains("changed")
}

/// An object replaced after its first chunk was read: every front end gets a clear
/// version error, and nothing is written (the issue's one scenario, per front end).
#[tokio::test]
async fn a_replaced_object_is_a_version_error_on_every_front_end() {
    // Rust API: a whole read and a streamed read.
    let (_, store, _) = stack(&replaced(), quick_retries()).await;
    let err = store.get(URI).await.unwrap_err();
    assert!(is_version_error(&err), "get: {err:?}");
    let (_, store, _) = stack(&replaced(), quick_retries()).await;
    let err = store
        .get_stream(URI, ReadOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(is_version_error(&err), "get_stream: {err:?}");

    // transfer::copy_object, as `s3-cli get/download/cp` and the wheel's copies run it:
    // without a hint, and with a listing's hint that carries no ETag (s3s-fs).
    for hint in [
        None,
        Some(ObjectHint {
            size: CHUNKS as u64 * CHUNK,
            version: None,
        }),
    ] {
        let (_, store, _) = stack(&replaced(), quick_retries()).await;
        let dir = tempfile::tempdir().unwrap();
        let dst = format!("file://{}/copy", dir.path().display());
        let dst_store = s3dlio::store_for_uri(&dst).unwrap();
        let err = copy_object(
            &*store,
            URI,
            &*dst_store,
            &dst,
            None,
            hint.clone(),
            &Plan::for_jobs(4),
            &|_| {},
        )
        .await
        .unwrap_err();
        assert!(is_version_error(&err), "copy with hint {hint:?}: {err:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            left.is_empty(),
            "nothing written, not even a temporary file ({hint:?}): {left:?}"
        );
    }

    // The loader's ranged reads.
    let (_, store, _) = stack(&replaced(), quick_retries()).await;
    let dataset = ObjectDataset::from_uris(store, vec![URI.into()]).with_read_mode(ReadMode::Ranged {
        part_size: CHUNK,
        parts_in_flight: 2,
    });
    let err = dataset.get(0).await.unwrap_err();
    assert!(is_version_error(&err), "loader: {err:?}");
}

#[tokio::test]
async fn transient_faults_and_short_bodies_are_retried_by_the_one_owner() {
    let faults = [(3, StoreFault::Transient), (5, StoreFault::Truncate)];
    let (faulty, store, data) = stack(&faults, quick_retries()).await;
    assert!(store.get(URI).await.unwrap() == data);
    assert_eq!(
        faulty.gets(),
        CHUNKS + 2,
        "only the two failed chunks were sent again"
    );
}

#[tokio::test]
async fn a_spent_budget_says_how_many_tries_and_the_kind_stays() {
    let faults = [
        (2, StoreFault::Transient),
        (3, StoreFault::Transient),
        (4, StoreFault::Transient),
    ];
    let (faulty, store, _) = stack(&faults, quick_retries().with_max_attempts(3)).await;
    let err = store.get(URI).await.unwrap_err();
    assert_eq!(
        faulty.gets(),
        4,
        "one probe, then three tries of the second chunk"
    );
    let Error::RangeFailed { start, source, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*start, CHUNK);
    assert!(
        matches!(**source, Error::Retried { attempts: 3, .. }),
        "{source:?}"
    );
    assert!(err.causes().unwrap_or_default().contains("3 tries"), "{err}");

    let (faulty, store, _) = stack(&[(2, StoreFault::Permanent)], quick_retries()).await;
    let err = store.get(URI).await.unwrap_err();
    assert_eq!(faulty.gets(), 2, "a permanent failure is not retried: {err}");
}

/// The retry knob is real: with one attempt, one fault fails the read.
#[tokio::test]
async fn one_attempt_means_no_retry() {
    let (faulty, store, _) = stack(&[(3, StoreFault::Transient)], RetryPolicy::none()).await;
    let err = store.get(URI).await.unwrap_err();
    assert!(err.causes().unwrap_or_default().contains("injected"), "{err}");
    assert_eq!(faulty.gets(), 3);
}

#[tokio::test]
async fn a_listing_resumes_after_a_failure_without_repeats_or_gaps() {
    let memory = Arc::new(MemoryStore::new());
    memory.create_container("memory://l").await.unwrap();
    for i in 0..2500 {
        memory
            .put(&format!("memory://l/k{i:05}"), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    let store = layered(faulty.clone(), &options(quick_retries()));
    let want = memory.list("memory://l/", true).await.unwrap();
    faulty.fail_listing_after(1200);
    assert_eq!(store.list("memory://l/", true).await.unwrap(), want);

    let store = layered(faulty.clone(), &options(RetryPolicy::none()));
    faulty.fail_listing_after(1200);
    let err = store.list("memory://l/", true).await.unwrap_err();
    assert!(err.to_string().contains("memory://l/"), "{err}");
}

#[tokio::test]
async fn the_request_limit_holds_requests_in_flight() {
    let memory = Arc::new(MemoryStore::new());
    memory.create_container("memory://r").await.unwrap();
    memory
        .put("memory://r/k", Bytes::from_static(b"x"))
        .await
        .unwrap();
    for (limit, peak) in [(Some(3), 3), (None, 20)] {
        let faulty = Arc::new(FaultyStore::new(memory.clone()).with_latency(Duration::from_millis(30)));
        let mut opts = options(quick_retries());
        opts.max_requests = limit;
        let store = layered(faulty.clone(), &opts);
        let reads = (0..20).map(|_| store.get("memory://r/k"));
        for r in futures::future::join_all(reads).await {
            assert_eq!(r.unwrap(), "x");
        }
        assert_eq!(faulty.peak_in_flight(), peak, "limit {limit:?}");
    }
}

/// A stream is chunked on stores without `chunked_reads` too (memory://, file://), so a
/// copy of a large local file holds the chunks in flight, never the file.
#[tokio::test]
async fn a_stream_holds_its_chunks_in_flight_not_the_object_on_every_store() {
    let memory = Arc::new(MemoryStore::new());
    memory.create_container("memory://b").await.unwrap();
    let data = pattern(CHUNKS * CHUNK as usize + 3, 3);
    memory.put(URI, data.clone()).await.unwrap();
    assert!(!memory.capabilities().chunked_reads);
    let store = layered(memory.clone(), &options(RetryPolicy::none()));
    let chunks: Vec<Bytes> = store
        .get_stream(URI, ReadOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(chunks.len(), CHUNKS + 1, "memory://: one chunk per {CHUNK} bytes");
    assert!(chunks.concat() == data);
    // A read into one buffer stays one request there: the store's own buffer, no copy.
    let whole = store.read(URI, ReadOptions::default()).await.unwrap();
    assert_eq!(
        whole.as_ptr(),
        memory.get(URI).await.unwrap().as_ptr(),
        "memory:// read is its buffer"
    );
    // Unless the read asks for its own chunking (the loader's ranged mode): then it is
    // fetched as asked.
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    let store = layered(faulty.clone(), &options(RetryPolicy::none()));
    let opts = ReadOptions::default().with_chunking(2 * CHUNK, 2);
    assert!(store.read(URI, opts).await.unwrap() == data);
    assert_eq!(
        faulty.gets(),
        CHUNKS / 2 + 1,
        "one request per chunk the read asked for"
    );

    const MIB: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let uri = format!("file://{}", path.display());
    let read = RangeEngineConfig::default()
        .with_chunk_size(MIB as u64)
        .with_threshold(MIB as u64)
        .with_max_concurrency(2);
    let store = s3dlio::store_for_uri_with(&uri, &StoreOptions::default().with_read(read)).unwrap();
    store.put(&uri, pattern(16 * MIB, 4)).await.unwrap();
    let mut stream = store.get_stream(&uri, ReadOptions::default());
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(
        first.len(),
        MIB,
        "file://: the first chunk is one chunk, not the file"
    );
    // Cut the file in place: every chunk not read yet now fails, so what still arrives
    // is what was read ahead while the consumer held the first chunk.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let mut ahead = 0;
    let err = loop {
        match stream.try_next().await {
            Ok(Some(chunk)) => ahead += chunk.len(),
            Ok(None) => panic!("the stream ended after {ahead} more bytes of a file cut to nothing"),
            Err(e) => break e,
        }
    };
    assert!(
        ahead <= 2 * MIB,
        "{ahead} bytes read ahead of the consumer (two chunks allowed)"
    );
    assert!(is_version_error(&err) && err.to_string().contains(&uri), "{err}");
}
