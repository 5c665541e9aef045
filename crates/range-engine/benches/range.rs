//! The range engine against its test doubles (`cargo xtask bench range`).
//!
//! - `throttled`: every request costs 20 ms plus 100 MB/s of transfer, like one
//!   connection to a remote store. One request of one 8 MiB chunk is the baseline; a
//!   1 GiB read at concurrency 16 should approach 16× its throughput. The stream output
//!   (no copies) shows the request pipeline alone; the contiguous output adds copying
//!   1 GiB into a fresh buffer. Each with the size probed by the first GET (8 MiB default,
//!   or 1 MiB) and known in advance (no probe).
//! - `in_memory`: the engine over the instant in-memory client versus one `memcpy` of
//!   the same 1 GiB: the engine's own overhead.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use s3dlio_core::{RangeGetClient, ReadOptions};
use s3dlio_range_engine::doubles::{InMemoryClient, Throttled};
use s3dlio_range_engine::{ObjectHint, RangeEngine, RangeEngineConfig};

const URI: &str = "mem://bench/object";
const GIB: usize = 1 << 30;
const CHUNK: u64 = 8 << 20;

fn throttled(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let inner = InMemoryClient::new();
    inner.put(URI, Bytes::from(vec![5u8; GIB]));
    let client = Arc::new(Throttled::new(inner, Duration::from_millis(20), 100e6));
    let mut g = c.benchmark_group("throttled_20ms_100MBps");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));

    g.throughput(Throughput::Bytes(CHUNK));
    g.bench_function("one_request_8MiB", |b| {
        b.iter(|| {
            rt.block_on(client.get_range_chunk(URI, 0..CHUNK, None, None))
                .unwrap()
        })
    });

    g.throughput(Throughput::Bytes(GIB as u64));
    g.measurement_time(Duration::from_secs(12));
    let cfg = RangeEngineConfig::default().with_max_concurrency(16);
    let engine = RangeEngine::new(client.clone(), cfg.clone());
    let small_probe = RangeEngine::new(client.clone(), cfg.with_threshold(1 << 20));
    let hint = ObjectHint {
        size: GIB as u64,
        version: Some("1".into()),
    };
    let drain = |e: &RangeEngine<_>, hint: Option<ObjectHint>| {
        rt.block_on(
            e.stream(URI, ReadOptions::default().with_hint(hint))
                .try_fold(0usize, |n, b| async move { Ok(n + b.len()) }),
        )
        .unwrap()
    };
    g.bench_function("stream_1GiB_c16_probe_8MiB", |b| b.iter(|| drain(&engine, None)));
    g.bench_function("stream_1GiB_c16_probe_1MiB", |b| {
        b.iter(|| drain(&small_probe, None))
    });
    g.bench_function("stream_1GiB_c16_size_known", |b| {
        b.iter(|| drain(&engine, Some(hint.clone())))
    });
    g.bench_function("contiguous_1GiB_c16_probe_8MiB", |b| {
        b.iter(|| rt.block_on(engine.get(URI)).unwrap())
    });
    g.bench_function("contiguous_1GiB_c16_size_known", |b| {
        b.iter(|| {
            rt.block_on(engine.read(URI, &ReadOptions::default().with_hint(Some(hint.clone()))))
                .unwrap()
        })
    });
    g.finish();
}

fn in_memory(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = Bytes::from(vec![9u8; GIB]);
    let client = Arc::new(InMemoryClient::new());
    client.put(URI, data.clone());
    let engine = RangeEngine::new(client, RangeEngineConfig::default());
    let mut g = c.benchmark_group("in_memory_1GiB");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Bytes(GIB as u64));
    g.bench_function("memcpy", |b| b.iter(|| data.to_vec()));
    g.bench_function("engine_get", |b| b.iter(|| rt.block_on(engine.get(URI)).unwrap()));
    g.finish();
}

criterion_group!(benches, throttled, in_memory);
criterion_main!(benches);
