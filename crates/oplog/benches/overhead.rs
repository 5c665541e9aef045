//! The op-log layer's cost: 1000 GETs of 64 KiB objects, 32 at a time, on memory://
//! with and without `OpLogStore` on top (lossless, default queue). memory:// answers in
//! about a microsecond, so this shows the layer's cost per operation at its most visible;
//! against a server the same cost is a far smaller share.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
use s3dlio_oplog::{OpLog, OpLogOptions, OpLogStore};

const OBJECTS: usize = 1000;

async fn gets(store: &dyn ObjectStore) {
    futures::stream::iter(0..OBJECTS)
        .for_each_concurrent(32, |i| async move {
            store.get(&format!("memory://bench/o{i}")).await.unwrap();
        })
        .await;
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = Arc::new(MemoryStore::new());
    rt.block_on(async {
        base.create_container("memory://bench").await.unwrap();
        let data = Bytes::from(vec![7u8; 64 << 10]);
        for i in 0..OBJECTS {
            base.put(&format!("memory://bench/o{i}"), data.clone())
                .await
                .unwrap();
        }
    });
    let log = OpLog::create(&dir.path().join("ops.tsv.zst"), OpLogOptions::default()).unwrap();
    let logged = OpLogStore::new(base.clone(), log.clone());
    let mut g = c.benchmark_group("oplog_1000x64KiB_get");
    g.sample_size(20).throughput(Throughput::Elements(OBJECTS as u64));
    g.bench_function("plain", |b| b.iter(|| rt.block_on(gets(&*base))));
    g.bench_function("logged", |b| b.iter(|| rt.block_on(gets(&logged))));
    g.finish();
    rt.block_on(log.finish()).unwrap();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
