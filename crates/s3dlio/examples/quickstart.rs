//! Writes a generated dataset, reads it back (validating CRC32C), prints throughput, and
//! deletes it.
//!
//! ```text
//! cargo run --release -p s3dlio --example quickstart -- [PREFIX_URI] [OBJECTS] [OBJECT_SIZE_BYTES]
//! ```
//! PREFIX_URI defaults to a fresh `file://` directory under the system temp directory.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt, stream};
use s3dlio::{ObjectStoreExt, crc32c, store_for_uri};

const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = args.first().cloned().unwrap_or_else(|| {
        let dir = std::env::temp_dir().join(format!("s3dlio-quickstart-{}", std::process::id()));
        format!("file://{}/", dir.display())
    });
    let count: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(256);
    let size: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(4 << 20);
    let prefix = if prefix.ends_with('/') {
        prefix
    } else {
        format!("{prefix}/")
    };

    let store = store_for_uri(&prefix)?;
    store.create_container(&prefix).await?;
    let objects: Vec<(String, bytes::Bytes, u32)> = (0..count)
        .map(|i| {
            let data = s3dlio::datagen::generate(size as u64, 1, 1, i as u64);
            let crc = crc32c(&data);
            (format!("{prefix}obj_{i:05}.bin"), data, crc)
        })
        .collect();
    let total = (count * size) as f64;
    println!(
        "s3dlio quickstart: {count} objects x {size} bytes under {prefix} ({} backend)",
        store.name()
    );

    let t = Instant::now();
    stream::iter(&objects)
        .map(|(uri, data, _)| store.put(uri, data.clone()))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    report("put", total, t);

    let t = Instant::now();
    stream::iter(&objects)
        .map(|(uri, _, crc)| store.get_with_validation(uri, *crc))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    report("get (CRC32C checked)", total, t);

    let listed = store.list(&prefix, true).await?.len();
    let deleted = store.delete_prefix(&prefix).await?;
    println!("listed {listed} objects, deleted {deleted}");
    if let Some(dir) = prefix.strip_prefix("file://") {
        std::fs::remove_dir_all(dir).ok();
    }
    Ok(())
}

fn report(what: &str, bytes: f64, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!("{what:>22}: {:8.1} MB/s  ({secs:.3} s)", bytes / secs / 1e6);
}
