//! The Rust row of `cargo xtask bench peers`: the same arguments and the same JSON line as
//! `python/bench/peers_worker.py`, through `store_for_uri` (the one read path), on a
//! multi-threaded Tokio runtime.
//!
//! usage: peers_worker WORKLOAD OP BUCKET COUNT SIZE CONCURRENCY (OP: get | put | into |
//! ranges; `into` reads one object into a reused buffer through `read_into`; `ranges`
//! reads COUNT × SIZE at random aligned offsets of `WORKLOAD/0`, whose size is
//! `S3DLIO_BENCH_RANGES_OF`). A get, into or ranges row is timed on its second pass.
//! Endpoint and keys come from the AWS variables.

use std::time::{Duration, Instant};

use bytes::Bytes;
use s3dlio::buffer::OutputBuffer;
use s3dlio::{ObjectStoreExt, RangesOptions, ReadOptions, get_many, store_for_uri, try_join_ordered};
use s3dlio_memserver::cpu_seconds;

/// The Python worker's offsets need not be reproduced: each peer reads its own COUNT
/// random aligned ranges (a splitmix sequence here).
fn offsets(count: usize, size: u64, total: u64) -> Vec<u64> {
    let mut x = 16u64;
    (0..count)
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % (total / size) * size
        })
        .collect()
}

#[tokio::main]
async fn main() -> s3dlio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, op, bucket, count, size, conc] = &args[..] else {
        panic!("usage: peers_worker WORKLOAD OP BUCKET COUNT SIZE CONCURRENCY");
    };
    let (count, size, conc): (usize, u64, usize) = (
        count.parse().unwrap(),
        size.parse().unwrap(),
        conc.parse().unwrap(),
    );
    let uris: Vec<String> = (0..count)
        .map(|i| format!("s3://{bucket}/{workload}/{i}"))
        .collect();
    let store = store_for_uri(&uris[0])?;
    let payload = Bytes::from(if op == "put" {
        vec![7u8; size as usize]
    } else {
        Vec::new()
    });
    // `into`'s buffer: allocated and touched once, before the clock starts.
    let mut reused = Some(if op == "into" {
        vec![1u8; size as usize]
    } else {
        Vec::new()
    });
    let read_into = async |reused: &mut Option<Vec<u8>>| -> s3dlio::Result<u64> {
        let out = OutputBuffer::from_vec(reused.take().expect("the buffer is back"));
        let n = store
            .read_into(&uris[0], ReadOptions::default(), out.clone())
            .await?;
        *reused = out.into_vec();
        Ok(n)
    };
    let get_all = async || get_many(uris.iter().map(|u| (store.clone(), u.clone())), conc).await;
    let get_ranges = async || {
        let total = std::env::var("S3DLIO_BENCH_RANGES_OF").unwrap().parse().unwrap();
        let ranges: Vec<_> = offsets(count, size, total)
            .into_iter()
            .map(|o| o..o + size)
            .collect();
        let uri = format!("s3://{bucket}/{workload}/0");
        store.get_ranges(&uri, &ranges, RangesOptions::default()).await
    };
    // As `peers_worker.py`: one untimed pass first, so the timed one writes into memory
    // already mapped (`into`: the reused buffer; the others: what the first pass freed).
    match op.as_str() {
        "into" => {
            read_into(&mut reused).await?;
        }
        "get" => {
            get_all().await?;
        }
        "ranges" => {
            get_ranges().await?;
        }
        _ => {}
    }
    let mut latencies: Vec<Duration> = Vec::new();
    // What was read stays alive until the clock stops, as in the Python worker: freeing
    // 1 GiB of results (munmap) is not the read's work.
    let mut kept: Vec<Bytes> = Vec::new();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let moved: u64 = match op.as_str() {
        "ranges" => {
            kept = get_ranges().await?;
            kept.iter().map(|b| b.len() as u64).sum()
        }
        "into" => read_into(&mut reused).await?,
        "get" => {
            // As Python's `get_many`: each read a task of its own.
            kept = get_all().await?.into_iter().map(|(_, b)| b).collect();
            kept.iter().map(|b| b.len() as u64).sum()
        }
        "put" => {
            let puts = uris.iter().map(|u| {
                let (store, data) = (store.clone(), payload.clone());
                async move {
                    let t = Instant::now();
                    store.put(u, data).await?;
                    Ok(t.elapsed())
                }
            });
            latencies = try_join_ordered(puts, conc).await?;
            count as u64 * size
        }
        other => panic!("unknown op {other}"),
    };
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(kept);
    assert_eq!(moved, count as u64 * size, "bytes moved");
    latencies.sort();
    let pct = |q: f64| {
        latencies
            .get(((q * latencies.len() as f64) as usize).min(latencies.len().saturating_sub(1)))
            .map_or("null".to_string(), |d| format!("{}", d.as_secs_f64() * 1e3))
    };
    println!(
        r#"{{"seconds": {secs}, "cpu_s": {cpu}, "p50_ms": {}, "p99_ms": {}}}"#,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
