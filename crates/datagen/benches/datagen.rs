//! Generation speed, one thread and all cores: `cargo bench -p s3dlio-datagen`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::RngCore;
use s3dlio_datagen::{DataSpec, Generator};

const SIZE: u64 = 64 * 1024 * 1024;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("datagen");
    group.throughput(Throughput::Bytes(SIZE)).sample_size(10);
    for (label, spec) in [
        ("unique", DataSpec::default()),
        (
            "dedup4_compress4",
            DataSpec::default().with_dedup(4).with_compress(4),
        ),
    ] {
        let generator = Generator::new(SIZE, spec);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        group.bench_function(format!("{label}/1-thread"), |b| {
            b.iter(|| one.install(|| generator.generate()))
        });
        group.bench_function(format!("{label}/all-cores"), |b| b.iter(|| generator.generate()));
    }
    // Reference in the same run: the rand crate's default generator filling a buffer of
    // the same size on one thread (no dedup or compress structure).
    group.bench_function("reference/rand-thread_rng-fill/1-thread", |b| {
        b.iter(|| {
            let mut buf = vec![0u8; SIZE as usize];
            rand::rng().fill_bytes(&mut buf);
            buf
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
