//! Range engine behaviour, proven with the test doubles: exact bytes, real concurrency,
//! memory caps, checked responses, version pinning and cancellation. (Retries are the
//! store's retry layer's: `crates/s3dlio/tests/read_path.rs` proves them through it.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::{Error, RangeGetClient, RangesOptions, ReadOptions};
use s3dlio_range_engine::doubles::{Fault, Faulty, InMemoryClient, Throttled};
use s3dlio_range_engine::{ObjectHint, RangeEngine, RangeEngineConfig};

const CHUNK: u64 = 4096;
const URI: &str = "mem://object";

fn data(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>())
}

fn config() -> RangeEngineConfig {
    RangeEngineConfig::default()
        .with_chunk_size(CHUNK)
        .with_threshold(CHUNK)
        .with_max_concurrency(4)
}

fn engine_with(len: usize) -> (Arc<InMemoryClient>, RangeEngine<InMemoryClient>, Bytes) {
    let client = Arc::new(InMemoryClient::new());
    let d = data(len);
    client.put(URI, d.clone());
    (client.clone(), RangeEngine::new(client, config()), d)
}

#[tokio::test]
async fn bytes_are_exact_around_every_boundary() {
    let c = CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 2 * c, 7 * c + 3] {
        let (client, engine, d) = engine_with(len);
        assert!(engine.get(URI).await.unwrap() == d, "get of {len} bytes");
        let chunks: Vec<Bytes> = engine
            .stream(URI, ReadOptions::default())
            .try_collect()
            .await
            .unwrap();
        assert!(chunks.concat() == d, "stream of {len} bytes");
        assert!(
            chunks.iter().all(|b| !b.is_empty() && b.len() <= c),
            "chunk sizes {len}"
        );
        let hint = ObjectHint {
            size: len as u64,
            version: Some("1".into()),
        };
        let before = client.requests();
        let hinted = ReadOptions::default().with_hint(Some(hint));
        assert!(engine.read(URI, &hinted).await.unwrap() == d);
        assert_eq!(
            client.requests() - before,
            (len as u64).div_ceil(CHUNK),
            "a hinted read of {len} bytes sends one request per chunk, no probe"
        );
        for (off, l) in [
            (1u64, Some(c as u64)),
            (c as u64 - 1, Some(2)),
            (3, None),
            (0, Some(len as u64 + 99)),
        ] {
            if off >= len as u64 {
                continue;
            }
            let end = l.map_or(len, |l| (off + l).min(len as u64) as usize);
            let got = engine.get_range(URI, off, l).await.unwrap();
            assert!(got == d.slice(off as usize..end), "range {off}+{l:?} of {len}");
        }
    }
}

#[tokio::test]
async fn read_into_fills_the_callers_memory_and_nothing_past_it() {
    let c = CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 7 * c + 3] {
        let (_, engine, d) = engine_with(len);
        for (off, l) in [(0u64, None), (1, Some(c as u64)), (3, None)] {
            if off > len as u64 || (off == len as u64 && len > 0) {
                continue;
            }
            let end = l.map_or(len, |l| (off + l).min(len as u64) as usize);
            let want = d.slice(off as usize..end);
            let out = OutputBuffer::from_vec(vec![0xEE; want.len() + 5]);
            let opts = ReadOptions::default().with_range(off, l);
            let n = engine.read_into(URI, &opts, &out).await.unwrap();
            assert_eq!(n, want.len() as u64, "{off}+{l:?} of {len}");
            let v = out.into_vec().unwrap();
            assert!(v[..want.len()] == want[..], "bytes of {off}+{l:?} of {len}");
            assert!(
                v[want.len()..].iter().all(|&b| b == 0xEE),
                "past the read, {off}+{l:?} of {len}"
            );
        }
    }
}

#[tokio::test]
async fn read_into_refuses_a_short_buffer_before_writing_and_never_mixes_versions() {
    let (client, engine, _) = engine_with(10 * CHUNK as usize);
    let out = OutputBuffer::from_vec(vec![0xEE; 10 * CHUNK as usize - 1]);
    let err = engine
        .read_into(URI, &ReadOptions::default(), &out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(
        err.to_string().contains("too small") && err.to_string().contains(URI),
        "{err}"
    );
    assert_eq!(client.requests(), 1, "refused after the first response");
    assert!(
        out.into_vec().unwrap().iter().all(|&b| b == 0xEE),
        "a refused buffer was written to"
    );

    let (client, _) = faulty((10 * CHUNK) as usize, &[(3, Fault::ChangeVersion)]);
    let engine = RangeEngine::new(client, config());
    let out = OutputBuffer::from_vec(vec![0; 10 * CHUNK as usize]);
    let err = engine
        .read_into(URI, &ReadOptions::default(), &out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Precondition { .. }), "{err:?}");
}

#[tokio::test]
async fn small_reads_take_one_request_and_no_copy() {
    let (client, engine, d) = engine_with(CHUNK as usize);
    let got = engine.get(URI).await.unwrap();
    assert_eq!(client.requests(), 1);
    assert!(got == d);
}

#[tokio::test]
async fn offset_past_end_and_missing_object_are_reported() {
    let (_, engine, _) = engine_with(100);
    assert!(matches!(
        engine.get_range(URI, 100, None).await,
        Err(Error::InvalidRange { .. })
    ));
    let err = engine.get("mem://missing").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrency_reaches_the_configured_level() {
    let inner = InMemoryClient::new();
    inner.put(URI, data(32 * CHUNK as usize));
    let client = Arc::new(Throttled::new(inner, Duration::from_millis(20), 1e9));
    for conc in [1usize, 3, 8] {
        let client = Arc::new(Throttled::new(
            InMemoryClient::new(),
            Duration::from_millis(20),
            1e9,
        ));
        client.inner().put(URI, data(32 * CHUNK as usize));
        let engine = RangeEngine::new(client.clone(), config().with_max_concurrency(conc));
        engine.get(URI).await.unwrap();
        assert_eq!(client.peak_in_progress(), conc, "configured concurrency {conc}");
    }
    // The memory cap lowers concurrency: 16 allowed, but only 3 chunks fit, one of them
    // kept for the response being copied.
    let cfg = config()
        .with_max_concurrency(16)
        .with_max_bytes_in_flight(3 * CHUNK);
    RangeEngine::new(client.clone(), cfg).get(URI).await.unwrap();
    assert_eq!(client.peak_in_progress(), 2);
}

#[tokio::test]
async fn bytes_in_flight_never_exceed_the_cap() {
    let cap = 3 * CHUNK;
    let d = data(50 * CHUNK as usize + 17);
    // Latency keeps responses alive while others are requested, so they overlap.
    let throttled = |d: &Bytes| {
        let c = Arc::new(Throttled::new(
            InMemoryClient::new(),
            Duration::from_millis(5),
            1e9,
        ));
        c.inner().put(URI, d.clone());
        c
    };

    let client = throttled(&d);
    let cfg = config().with_max_concurrency(16).with_max_bytes_in_flight(cap);
    let got = RangeEngine::new(client.clone(), cfg.clone())
        .get(URI)
        .await
        .unwrap();
    assert!(got == d);
    let peak = client.inner().peak_live_bytes();
    assert!(peak <= cap, "contiguous read held {peak} bytes");
    assert!(
        peak >= 2 * CHUNK,
        "the double saw no overlap: it measures nothing"
    );

    // A stream's in-flight chunks plus the one the consumer holds stay within the cap.
    let client = throttled(&d);
    let engine = RangeEngine::new(client.clone(), cfg);
    let mut s = engine.stream(URI, ReadOptions::default());
    let mut total = 0;
    while let Some(chunk) = s.try_next().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!(total, d.len());
    let peak = client.inner().peak_live_bytes();
    assert!(peak <= cap, "stream held {peak} bytes");
}

fn faulty(len: usize, faults: &[(u64, Fault)]) -> (Arc<Faulty>, Bytes) {
    let inner = Arc::new(InMemoryClient::new());
    let d = data(len);
    inner.put(URI, d.clone());
    let f = faults
        .iter()
        .fold(Faulty::new(inner), |f, &(n, fault)| f.at(n, fault));
    (Arc::new(f), d)
}

#[tokio::test]
async fn transient_failures_and_short_reads_fail_the_chunk_for_the_retry_layer() {
    for fault in [Fault::Transient, Fault::Truncate] {
        let (client, _) = faulty((10 * CHUNK) as usize, &[(4, fault)]);
        let engine = RangeEngine::new(client.clone(), config().with_max_concurrency(1));
        match engine.get(URI).await {
            Err(Error::RangeFailed {
                start, end, source, ..
            }) => {
                // Sequential: request 4 is the fourth chunk, bytes 3*CHUNK..4*CHUNK.
                assert_eq!((start, end), (3 * CHUNK, 4 * CHUNK), "{fault:?}");
                assert!(
                    source.is_retryable(),
                    "{fault:?}: the retry layer may try again: {source:?}"
                );
            }
            other => panic!("{fault:?}: expected RangeFailed, got {other:?}"),
        }
        assert_eq!(
            client.requests(),
            4,
            "{fault:?}: the engine itself sends no retry"
        );
    }
}

#[tokio::test]
async fn a_permanent_failure_names_the_chunk() {
    let (client, _) = faulty((10 * CHUNK) as usize, &[(4, Fault::Permanent)]);
    let engine = RangeEngine::new(client, config().with_max_concurrency(1));
    let err = engine.get(URI).await.unwrap_err();
    match &err {
        Error::RangeFailed {
            start, end, source, ..
        } => {
            assert_eq!((*start, *end), (3 * CHUNK, 4 * CHUNK));
            assert!(!source.is_retryable());
        }
        other => panic!("expected RangeFailed, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("bytes {}..{}", 3 * CHUNK, 4 * CHUNK)),
        "{err}"
    );
}

/// A listing without ETags (s3s-fs) gives a size and no version: the first response's
/// version pins the rest, so a replaced object fails the read instead of mixing.
#[tokio::test]
async fn a_hint_without_a_version_still_pins_every_chunk() {
    let engine = |conc: usize, pins_honoured: bool| {
        let inner = Arc::new(InMemoryClient::new());
        inner.put(URI, data(10 * CHUNK as usize));
        let f = Faulty::new(inner).at(3, Fault::ChangeVersion);
        let client = Arc::new(if pins_honoured { f } else { f.ignoring_pins() });
        RangeEngine::new(client, config().with_max_concurrency(conc))
    };
    let hint = ObjectHint {
        size: 10 * CHUNK,
        version: None,
    };
    let opts = ReadOptions::default().with_hint(Some(hint));
    for conc in [1, 4] {
        for pins_honoured in [true, false] {
            let read = engine(conc, pins_honoured)
                .read(URI, &opts)
                .await
                .map(|b| b.len());
            assert!(
                matches!(read, Err(Error::Precondition { .. })),
                "read, concurrency {conc}, pins honoured {pins_honoured}: {read:?}"
            );
            let e = engine(conc, pins_honoured);
            let streamed: Result<Vec<Bytes>, _> = e.stream(URI, opts.clone()).try_collect().await;
            let streamed = streamed.map(|v| v.len());
            assert!(
                matches!(streamed, Err(Error::Precondition { .. })),
                "stream, concurrency {conc}, pins honoured {pins_honoured}: {streamed:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_version_change_mid_read_fails_the_read() {
    for conc in [1, 4] {
        let (client, _) = faulty((10 * CHUNK) as usize, &[(3, Fault::ChangeVersion)]);
        let engine = RangeEngine::new(client, config().with_max_concurrency(conc));
        let err = engine.get(URI).await.unwrap_err();
        assert!(
            matches!(err, Error::Precondition { .. }),
            "concurrency {conc}: {err:?}"
        );
        let (client, _) = faulty((10 * CHUNK) as usize, &[(3, Fault::ChangeVersion)]);
        let engine = RangeEngine::new(client, config().with_max_concurrency(conc));
        let streamed: Result<Vec<Bytes>, _> = engine.stream(URI, ReadOptions::default()).try_collect().await;
        assert!(
            matches!(streamed, Err(Error::Precondition { .. })),
            "stream: {streamed:?}"
        );
    }
}

#[tokio::test]
async fn a_server_ignoring_if_match_still_cannot_mix_versions() {
    let inner = Arc::new(InMemoryClient::new());
    inner.put(URI, data(10 * CHUNK as usize));
    let client = Arc::new(Faulty::new(inner).ignoring_pins().at(3, Fault::ChangeVersion));
    let engine = RangeEngine::new(client, config().with_max_concurrency(1));
    let err = engine.get(URI).await.unwrap_err();
    assert!(matches!(err, Error::Precondition { .. }), "{err:?}");
    assert!(err.to_string().contains("changed during a ranged read"), "{err}");
}

#[tokio::test]
async fn dropping_the_read_cancels_every_request() {
    let client = Arc::new(Throttled::new(
        InMemoryClient::new(),
        Duration::from_secs(30),
        1e9,
    ));
    client.inner().put(URI, data(40 * CHUNK as usize));
    let engine = Arc::new(RangeEngine::new(client.clone(), config().with_threshold(1)));
    let task = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.get(URI).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(client.in_progress(), 1, "the probe is in flight");
    task.abort();
    let _ = task.await;
    assert_eq!(
        client.in_progress(),
        0,
        "requests still running after the read was dropped"
    );
}

#[tokio::test]
async fn get_ranges_coalesces_pins_and_keeps_order() {
    let (client, engine, d) = engine_with(100_000);
    let ranges = vec![90_000..90_010, 5..10, 0..3, 50_000..50_001];
    let got = engine
        .get_ranges(URI, &ranges, RangesOptions::default().with_coalesce_gap(0))
        .await
        .unwrap();
    for (g, r) in got.iter().zip(&ranges) {
        assert!(*g == d.slice(r.start as usize..r.end as usize));
    }
    assert_eq!(client.requests(), 4);
    let before = client.requests();
    engine
        .get_ranges(URI, &ranges, RangesOptions::default().with_coalesce_gap(100))
        .await
        .unwrap();
    assert_eq!(client.requests() - before, 3, "5..10 and 0..3 share a request");

    let (f, _) = faulty(100_000, &[(2, Fault::ChangeVersion)]);
    let engine = RangeEngine::new(f, config());
    let res = engine
        .get_ranges(URI, &ranges, RangesOptions::default().with_coalesce_gap(0))
        .await;
    assert!(matches!(res, Err(Error::Precondition { .. })), "{res:?}");
}

#[tokio::test]
async fn works_through_a_trait_object() {
    let inner = Arc::new(InMemoryClient::new());
    inner.put(URI, data(10 * CHUNK as usize));
    let client: Arc<dyn RangeGetClient> = inner;
    let engine = RangeEngine::new(client, config());
    assert_eq!(engine.get(URI).await.unwrap().len(), 10 * CHUNK as usize);
}
