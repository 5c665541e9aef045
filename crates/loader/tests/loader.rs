//! The DataLoader's promises: every sample once per epoch across all shards, seeded
//! orders, ranged = whole reads, bounded memory, errors that name the URI, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt, Result};
use s3dlio_loader::{
    Batch, DataLoader, Dataset, LoaderOptions, ObjectDataset, OnError, ReadMode, Shard, stream_prefix,
};

/// `n` objects of `size` bytes under `memory://loader/`; sample i is filled with i % 251.
async fn objects(n: usize, size: usize) -> (Arc<dyn ObjectStore>, String) {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    store.create_container("memory://loader").await.unwrap();
    for i in 0..n {
        let uri = format!("memory://loader/s/{i:05}.bin");
        store
            .put(&uri, Bytes::from(vec![(i % 251) as u8; size]))
            .await
            .unwrap();
    }
    (store, "memory://loader/s/".into())
}

async fn epoch(loader: &DataLoader, e: u64) -> Vec<Batch> {
    loader.epoch(e).try_collect().await.unwrap()
}

#[tokio::test]
async fn every_sample_once_per_epoch_across_ranks_and_workers() {
    let (store, prefix) = objects(103, 8).await;
    let dataset: Arc<dyn Dataset> = Arc::new(ObjectDataset::from_prefix(store, &prefix).await.unwrap());
    for (world, workers) in [(1, 1), (2, 1), (3, 2), (4, 3)] {
        for drop_last in [false, true] {
            for ordered in [true, false] {
                let mut seen = vec![0u32; 103];
                let mut dropped = 0;
                for rank in 0..world {
                    for worker_id in 0..workers {
                        let shard = Shard {
                            rank,
                            world_size: world,
                            worker_id,
                            num_workers: workers,
                        };
                        let opts = LoaderOptions::default()
                            .with_batch_size(4)
                            .with_drop_last(drop_last)
                            .with_ordered(ordered)
                            .with_shuffle(true, 9)
                            .with_shard(shard);
                        let loader = DataLoader::new(dataset.clone(), opts).unwrap();
                        let batches = epoch(&loader, 1).await;
                        assert_eq!(batches.len(), loader.batches_per_epoch());
                        for b in &batches {
                            assert!(b.len() == 4 || !drop_last, "drop_last leaves only full batches");
                            for (i, item) in b.indices.iter().zip(&b.items) {
                                assert_eq!(
                                    item[..],
                                    [(*i % 251) as u8; 8],
                                    "sample {i} carries its own bytes"
                                );
                                seen[*i] += 1;
                            }
                        }
                        dropped += loader.samples_per_epoch() - batches.iter().map(Batch::len).sum::<usize>();
                    }
                }
                let what =
                    format!("world {world} × workers {workers}, drop_last {drop_last}, ordered {ordered}");
                assert!(seen.iter().all(|&n| n <= 1), "{what}: a sample came twice");
                assert_eq!(seen.iter().filter(|&&n| n == 0).count(), dropped, "{what}");
                if !drop_last {
                    assert_eq!(dropped, 0, "{what}: every sample once");
                } else {
                    assert!(
                        dropped < 4 * world * workers,
                        "{what}: only last partial batches are dropped"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_iterable_form_reads_every_object_in_listing_order() {
    let (store, prefix) = objects(1203, 3).await;
    let got: Vec<(String, Bytes)> = stream_prefix(&*store, &prefix, 16).try_collect().await.unwrap();
    assert_eq!(got.len(), 1203, "past one listing page");
    for (i, (uri, data)) in got.iter().enumerate() {
        assert_eq!(uri, &format!("{prefix}{i:05}.bin"));
        assert_eq!(data[..], [(i % 251) as u8; 3]);
    }
}

#[tokio::test]
async fn the_seed_fixes_the_order_and_each_epoch_has_its_own() {
    let (store, prefix) = objects(64, 1).await;
    let dataset: Arc<dyn Dataset> = Arc::new(ObjectDataset::from_prefix(store, &prefix).await.unwrap());
    let order = |batches: Vec<Batch>| batches.into_iter().flat_map(|b| b.indices).collect::<Vec<_>>();
    let loader = DataLoader::new(dataset.clone(), LoaderOptions::default().with_shuffle(true, 5)).unwrap();
    let again = DataLoader::new(dataset.clone(), LoaderOptions::default().with_shuffle(true, 5)).unwrap();
    let e0 = order(epoch(&loader, 0).await);
    assert_eq!(e0, order(epoch(&again, 0).await), "same seed, same order");
    assert_ne!(e0, order(epoch(&loader, 1).await), "another epoch, another order");
    assert_ne!(e0, (0..64).collect::<Vec<_>>(), "shuffled");
    let plain = DataLoader::new(dataset, LoaderOptions::default()).unwrap();
    assert_eq!(
        order(epoch(&plain, 3).await),
        (0..64).collect::<Vec<_>>(),
        "unshuffled keeps listing order"
    );
}

#[tokio::test]
async fn ranged_and_whole_reads_are_byte_identical() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    store.create_container("memory://ranged").await.unwrap();
    let mut uris = Vec::new();
    for i in 0..6u64 {
        let uri = format!("memory://ranged/{i}");
        let data: Vec<u8> = (0..(10_000 + i * 777)).map(|b| (b * 31 + i) as u8).collect();
        store.put(&uri, Bytes::from(data)).await.unwrap();
        uris.push(uri);
    }
    let whole = ObjectDataset::from_uris(store.clone(), uris.clone());
    let ranged = ObjectDataset::from_uris(store, uris).with_read_mode(ReadMode::Ranged {
        part_size: 1000,
        parts_in_flight: 4,
    });
    for i in 0..6 {
        assert_eq!(whole.get(i).await.unwrap(), ranged.get(i).await.unwrap());
    }
}

/// Samples of `SIZE` bytes whose live bytes are counted, from creation until the last
/// handle (in a batch, a channel, a read in flight) is dropped.
#[derive(Debug, Default)]
struct Counted {
    live: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    reads: AtomicUsize,
}

const SIZE: usize = 1 << 16;

struct Owner(Vec<u8>, Arc<AtomicUsize>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.1.fetch_sub(self.0.len(), Ordering::SeqCst);
    }
}

#[async_trait]
impl Dataset for Counted {
    fn len(&self) -> usize {
        400
    }

    async fn get(&self, _index: usize) -> Result<Bytes> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let now = self.live.fetch_add(SIZE, Ordering::SeqCst) + SIZE;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_micros(200)).await;
        Ok(Bytes::from_owner(Owner(vec![1; SIZE], self.live.clone())))
    }

    fn name(&self, index: usize) -> String {
        format!("counted://{index}")
    }
}

#[tokio::test]
async fn prefetch_memory_stays_under_its_bound() {
    let counted = Arc::new(Counted::default());
    let (batch, prefetch, in_flight) = (8, 2, 6);
    let opts = LoaderOptions::default()
        .with_batch_size(batch)
        .with_prefetch(prefetch)
        .with_max_in_flight(in_flight);
    let loader = DataLoader::new(counted.clone(), opts).unwrap();
    let mut e = loader.epoch(0);
    let mut n = 0;
    // A slow consumer: the loader runs ahead as far as the bound lets it.
    while let Some(b) = e.next_batch().await {
        n += b.unwrap().len();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(n, 400);
    // Waiting batches + the one being filled + the consumer's + reads in flight.
    let bound = ((prefetch + 2) * batch + in_flight) * SIZE;
    let peak = counted.peak.load(Ordering::SeqCst);
    assert!(peak <= bound, "peak {peak} bytes over the bound {bound}");
    assert!(
        peak >= (prefetch * batch) * SIZE,
        "the loader did read ahead ({peak} bytes)"
    );
    assert_eq!(
        counted.live.load(Ordering::SeqCst),
        0,
        "nothing held after the epoch"
    );
}

#[tokio::test]
async fn dropping_an_epoch_stops_its_reads() {
    let counted = Arc::new(Counted::default());
    let opts = LoaderOptions::default()
        .with_batch_size(4)
        .with_prefetch(1)
        .with_max_in_flight(2);
    let loader = DataLoader::new(counted.clone(), opts).unwrap();
    let mut e = loader.epoch(0);
    e.next_batch().await.unwrap().unwrap();
    drop(e);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reads = counted.reads.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        reads,
        "reads went on after the drop"
    );
    assert!(reads < 400, "the whole epoch was read ({reads})");
}

#[tokio::test]
async fn a_failed_sample_ends_the_epoch_or_is_skipped_and_reported() {
    let (store, prefix) = objects(20, 4).await;
    let mut uris: Vec<String> = ObjectDataset::from_prefix(store.clone(), &prefix)
        .await
        .unwrap()
        .uris()
        .to_vec();
    uris.insert(7, "memory://loader/s/missing.bin".into());
    let dataset: Arc<dyn Dataset> = Arc::new(ObjectDataset::from_uris(store, uris));

    let loader = DataLoader::new(dataset.clone(), LoaderOptions::default().with_batch_size(5)).unwrap();
    let err = loader.epoch(0).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(
        err.is_not_found() && err.to_string().contains("missing.bin"),
        "{err}"
    );

    let skip = LoaderOptions::default()
        .with_batch_size(5)
        .with_on_error(OnError::Skip);
    let loader = DataLoader::new(dataset, skip).unwrap();
    let mut e = loader.epoch(0);
    let mut got = 0;
    while let Some(b) = e.next_batch().await {
        got += b.unwrap().len();
    }
    assert_eq!(got, 20);
    let report = e.take_report();
    assert_eq!(report.delivered, 20);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].uri, "memory://loader/s/missing.bin");
    assert!(report.skipped[0].error.is_not_found());
}

#[test]
fn bad_options_are_refused_with_reasons() {
    let ds: Arc<dyn Dataset> = Arc::new(Counted::default());
    for (opts, says) in [
        (LoaderOptions::default().with_batch_size(0), "batch_size"),
        (LoaderOptions::default().with_prefetch(0), "prefetch"),
        (
            LoaderOptions::default().with_shard(Shard {
                rank: 2,
                world_size: 2,
                ..Shard::default()
            }),
            "rank < world_size",
        ),
    ] {
        let err = DataLoader::new(ds.clone(), opts).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}
