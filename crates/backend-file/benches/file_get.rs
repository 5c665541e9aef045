//! file:// reads against the standard library on the same file in the same run:
//! `get` vs `std::fs::read`, `get_range` vs `FileExt::read_exact_at`. The file is in the
//! page cache (it was just written), so this measures the store's overhead, not the disk.
//! `std_fs_read_spawn_blocking` is `std::fs::read` behind the same hop to Tokio's blocking
//! pool that every async file read takes, separating the hop's cost from the store's.
//! `store_get` of 64 MiB reads in place by concurrent positional reads (8 MiB chunks, 16
//! in flight), as every front end's read path does for file://.

use std::os::unix::fs::FileExt;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3dlio_backend_file::{FileConfig, FileStore};
use s3dlio_core::ObjectStoreExt;

fn file_get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(FileConfig::default());
    let mut g = c.benchmark_group("file");
    g.sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    for size in [1usize << 20, 64 << 20] {
        let path = dir.path().join(format!("obj-{size}"));
        std::fs::write(&path, vec![7u8; size]).unwrap();
        let uri = format!("file://{}", path.display());
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("std_fs_read", size), &path, |b, p| {
            b.iter(|| std::fs::read(p).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("std_fs_read_spawn_blocking", size),
            &path,
            |b, p| {
                b.iter(|| {
                    let p = p.clone();
                    rt.block_on(async {
                        tokio::task::spawn_blocking(move || std::fs::read(p).unwrap()).await
                    })
                    .unwrap()
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("store_get", size), &uri, |b, uri| {
            b.iter(|| rt.block_on(store.get(uri)).unwrap())
        });
        let half = size / 2;
        g.throughput(Throughput::Bytes(half as u64));
        g.bench_with_input(BenchmarkId::new("std_read_exact_at_half", size), &path, |b, p| {
            b.iter(|| {
                let f = std::fs::File::open(p).unwrap();
                let mut buf = vec![0u8; half];
                f.read_exact_at(&mut buf, (size / 4) as u64).unwrap();
                buf
            })
        });
        g.bench_with_input(BenchmarkId::new("store_get_range_half", size), &uri, |b, uri| {
            b.iter(|| {
                rt.block_on(store.get_range(uri, (size / 4) as u64, Some(half as u64)))
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, file_get);
criterion_main!(benches);
