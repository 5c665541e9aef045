//! Remote-store workloads under the container URI in `S3DLIO_BENCH_BASE` (`s3://bucket`,
//! `az://account/container`, `gs://bucket`), through `store_for_uri` and the environment's
//! settings. `cargo xtask bench s3|azure|gcs` start the local server and run the service's
//! reference client (boto3, azure-storage-blob, google-cloud-storage) on the same workloads in the
//! same run. Prints one line per workload; not a criterion bench, since each workload
//! moves GiBs through a server.
//!
//! Workloads (names from the AWS CRT benchmark suite, scaled to a 2-core machine):
//! - `upload-1GiB`: a 1 GiB object streamed through the multipart writer from a generator
//!   (16 MiB parts, 4 in flight), with the process's peak RSS;
//! - `download-1GiB` with one GET, and with the read path (range engine);
//! - `upload/download-64KiBx1000` and `-256KiBx10000` at concurrency 64.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use s3dlio::{ObjectStore, ObjectStoreExt, ReadOptions, WriterOptions, store_for_uri};

const CONCURRENCY: usize = 64;

fn report(name: &str, objects: usize, bytes: u64, secs: f64) {
    println!(
        "s3dlio {name:<28} {:>9.1} MB/s {:>9.0} objects/s {secs:>8.3} s",
        bytes as f64 / secs / 1e6,
        objects as f64 / secs
    );
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn many(store: &Arc<dyn ObjectStore>, prefix: &str, n: usize, size: usize) {
    let data = Bytes::from(vec![0x5a; size]);
    let uris: Vec<String> = (0..n).map(|i| format!("{prefix}{i:06}")).collect();
    let t = Instant::now();
    stream::iter(&uris)
        .map(|u| store.put(u, data.clone()))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let label = format!("{}KiBx{n}", size >> 10);
    report(
        &format!("upload-{label}"),
        n,
        (n * size) as u64,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let got: usize = stream::iter(&uris)
        .map(|u| store.get(u))
        .buffer_unordered(CONCURRENCY)
        .try_fold(0, |sum, b| async move { Ok(sum + b.len()) })
        .await
        .unwrap();
    assert_eq!(got, n * size);
    report(
        &format!("download-{label}"),
        n,
        got as u64,
        t.elapsed().as_secs_f64(),
    );
}

#[tokio::main]
async fn main() {
    let Ok(base) = std::env::var("S3DLIO_BENCH_BASE") else {
        eprintln!("S3DLIO_BENCH_BASE is not set: run `cargo xtask bench s3`, `azure` or `gcs`");
        return;
    };
    let base = base.trim_end_matches('/').to_string();
    let store = store_for_uri(&base).unwrap();
    store.create_container(&base).await.unwrap();

    let big = format!("{base}/big-1GiB");
    let rss_before = peak_rss_mib();
    let t = Instant::now();
    let mut w = store
        .get_writer(
            &big,
            WriterOptions::default()
                .with_part_size(16 << 20)
                .with_max_in_flight(4),
        )
        .await
        .unwrap();
    let piece = Bytes::from(vec![0xa5; 8 << 20]);
    for _ in 0..128 {
        w.write(piece.clone()).await.unwrap();
    }
    w.finalize().await.unwrap();
    report("upload-1GiB", 1, 1 << 30, t.elapsed().as_secs_f64());
    println!(
        "s3dlio upload-1GiB peak RSS {:.0} MiB (before: {rss_before:.0} MiB; bound: 4 parts x 16 MiB + one part buffer, GCS: 2 chunks x 16 MiB)",
        peak_rss_mib()
    );

    let t = Instant::now();
    let one_request = ReadOptions::default().with_chunking(1 << 40, 1);
    assert_eq!(store.read(&big, one_request).await.unwrap().len(), 1 << 30);
    report("download-1GiB single GET", 1, 1 << 30, t.elapsed().as_secs_f64());
    let t = Instant::now();
    assert_eq!(store.get(&big).await.unwrap().len(), 1 << 30);
    report(
        "download-1GiB range engine",
        1,
        1 << 30,
        t.elapsed().as_secs_f64(),
    );

    many(&store, &format!("{base}/small/"), 1000, 64 << 10).await;
    many(&store, &format!("{base}/medium/"), 10_000, 256 << 10).await;
    // Deleting is measured too (DeleteObjects / Blob Batch through `delete_prefix`), but a
    // failure here only leaves objects in the scratch container.
    let t = Instant::now();
    match store.delete_prefix(&format!("{base}/")).await {
        Ok(n) => report(
            &format!("delete-prefix-{n}"),
            n as usize,
            0,
            t.elapsed().as_secs_f64(),
        ),
        Err(e) => println!(
            "s3dlio delete-prefix failed after {:.1} s: {e}",
            t.elapsed().as_secs_f64()
        ),
    }
}
