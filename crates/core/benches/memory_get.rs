//! memory:// reads: `get` and `get_range` hand out slices of the stored `Bytes`, so
//! their cost is independent of size. Compared with a `memcpy` of the same bytes, which
//! is what a copying read would cost at least.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};

fn memory_get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = MemoryStore::new();
    let mut g = c.benchmark_group("memory");
    g.sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    for size in [1usize << 20, 64 << 20] {
        let data = Bytes::from(vec![1u8; size]);
        let uri = format!("memory://bench/obj-{size}");
        rt.block_on(async {
            store.create_container("memory://bench").await.unwrap();
            store.put(&uri, data.clone()).await.unwrap();
        });
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("get", size), &uri, |b, uri| {
            b.iter(|| rt.block_on(store.get(uri)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("get_range_half", size), &uri, |b, uri| {
            b.iter(|| {
                rt.block_on(store.get_range(uri, size as u64 / 4, Some(size as u64 / 2)))
                    .unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("memcpy", size), &data, |b, data| {
            b.iter(|| data.to_vec())
        });
    }
    g.finish();
}

criterion_group!(benches, memory_get);
criterion_main!(benches);
