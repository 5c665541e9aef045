//! Checkpoints on an in-memory store: every rank's bytes come back as written, under
//! every layout, compressed or not, one PUT or multipart; `latest` only ever names a
//! complete checkpoint; validation finds a corrupted shard; deletes keep `latest` valid.
//! (`crates/py/tests/test_checkpoint.py` runs the same save and load on every backend.)

use std::sync::Arc;

use bytes::Bytes;
use s3dlio_checkpoint::{CheckpointConfig, CheckpointStore, LATEST, Layout, Manifest};
use s3dlio_core::testkit::pattern;
use s3dlio_core::{Error, MemoryStore, ObjectStore, ObjectStoreExt, WriterOptions};
use serde_json::{Map, Value, json};

const BASE: &str = "memory://ckpt/run";

async fn store() -> Arc<dyn ObjectStore> {
    let m = MemoryStore::new();
    m.create_container("memory://ckpt").await.unwrap();
    Arc::new(m)
}

fn ckpt(store: &Arc<dyn ObjectStore>, config: CheckpointConfig) -> CheckpointStore {
    CheckpointStore::new(store.clone(), BASE, config).unwrap()
}

/// Every rank of `world` stores `len` bytes of its own for `step`; rank 0 finalizes.
async fn save(c: &CheckpointStore, world: u32, step: u64, len: usize) -> (Manifest, Vec<Bytes>) {
    let data: Vec<Bytes> = (0..world).map(|r| pattern(len, step * 100 + r as u64)).collect();
    let mut shards = Vec::new();
    for r in (0..world).rev() {
        shards.push(
            c.writer(world, r)
                .unwrap()
                .save_shard(step, data[r as usize].clone())
                .await
                .unwrap(),
        );
    }
    let meta: Map<String, Value> = json!({"lr": 0.1}).as_object().unwrap().clone();
    let m = c
        .writer(world, 0)
        .unwrap()
        .finalize(step, step / 10, "torch", shards, meta)
        .await
        .unwrap();
    (m, data)
}

#[tokio::test]
async fn every_layout_and_path_round_trips() {
    let configs = [
        CheckpointConfig::default(),
        CheckpointConfig::default().with_layout(Layout::RoundRobin { prefixes: 3 }),
        CheckpointConfig::default()
            .with_layout(Layout::Binary { levels: 2 })
            .with_zstd_level(3),
        // Multipart shards: 5 parts of 64 KiB and a tail.
        CheckpointConfig::default()
            .with_multipart_threshold(1)
            .with_writer(WriterOptions::default().with_part_size(64 << 10)),
    ];
    for config in configs {
        let s = store().await;
        let c = ckpt(&s, config.clone());
        let (m, data) = save(&c, 4, 100, (5 << 16) + 123).await;
        assert_eq!(
            (m.world_size, m.step, m.epoch, m.framework.as_str()),
            (4, 100, 10, "torch")
        );
        assert_eq!(m.layout, config.layout.to_string());
        assert_eq!(m.total_size, 4 * ((5 << 16) + 123));
        assert_eq!(m.user_meta["lr"], json!(0.1));
        let keys: Vec<&str> = m.shards.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        for (r, key) in keys.iter().enumerate() {
            assert_eq!(
                *key,
                config
                    .layout
                    .shard_key(100, r as u32, config.writer.zstd_level.is_some())
            );
        }
        let (latest, shards) = c.load_latest(true).await.unwrap().expect("a checkpoint");
        assert_eq!(latest, m);
        assert_eq!(shards, data, "{config:?}");
        if config.writer.zstd_level.is_some() {
            assert!(
                m.shards
                    .iter()
                    .all(|s| s.is_compressed() && s.key.ends_with(".zst"))
            );
        }
        c.reader().validate(&m).await.unwrap();
    }
}

#[tokio::test]
async fn a_save_cut_short_leaves_latest_on_the_last_good_step() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default());
    let (good, _) = save(&c, 2, 10, 1000).await;
    // Step 20: rank 1 dies before storing; rank 0 is handed a meta for a shard that is not there.
    let w0 = c.writer(2, 0).unwrap();
    let mine = w0.save_shard(20, pattern(1000, 1)).await.unwrap();
    let mut ghost = mine.clone();
    ghost.rank = 1;
    ghost.key = Layout::Flat.shard_key(20, 1, false);
    let err = w0
        .finalize(20, 2, "torch", vec![mine.clone(), ghost], Map::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("rank-000001"), "{err}");
    // Only one shard: refused before anything is read.
    let err = w0
        .finalize(20, 2, "torch", vec![mine], Map::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("got ranks [0]"), "{err}");
    let latest = c.reader().latest_manifest().await.unwrap().unwrap();
    assert_eq!(latest, good);
    assert_eq!(
        c.list().await.unwrap().len(),
        1,
        "no manifest was written for step 20"
    );
}

#[tokio::test]
async fn a_shard_of_the_wrong_size_is_refused_at_finalize() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default());
    let w = c.writer(1, 0).unwrap();
    let shard = w.save_shard(1, pattern(100, 1)).await.unwrap();
    s.put(&c.uri(&shard.key), pattern(99, 1)).await.unwrap();
    let err = w
        .finalize(1, 0, "jax", vec![shard], Map::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Precondition { .. }), "{err:?}");
    assert!(err.to_string().contains("99 bytes"), "{err}");
    assert!(c.reader().latest_pointer().await.unwrap().is_none());
}

#[tokio::test]
async fn validation_catches_a_corrupted_shard() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default());
    let (m, _) = save(&c, 3, 5, 4096).await;
    let victim = c.uri(&m.shards[2].key);
    let mut bad = s.get(&victim).await.unwrap().to_vec();
    bad[100] ^= 0xff;
    s.put(&victim, Bytes::from(bad)).await.unwrap();
    let err = c.reader().validate(&m).await.unwrap_err();
    assert!(
        matches!(err, Error::ChecksumMismatch { ref uri, .. } if *uri == victim),
        "{err:?}"
    );
    // Unvalidated reads check only the size; the other ranks still validate.
    assert_eq!(c.reader().read_shard(&m, 2, false).await.unwrap().len(), 4096);
    c.reader().read_shard(&m, 1, true).await.unwrap();
    assert!(
        c.reader()
            .read_shard(&m, 7, false)
            .await
            .unwrap_err()
            .to_string()
            .contains("no rank 7")
    );
    // A shorter shard fails even unvalidated.
    s.put(&victim, pattern(10, 0)).await.unwrap();
    let err = c.reader().read_shard(&m, 2, false).await.unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[tokio::test]
async fn latest_never_moves_back_and_deletes_keep_it_valid() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default());
    let (m6, _) = save(&c, 1, 6, 10).await;
    let (m5, _) = save(&c, 1, 5, 10).await;
    let listed = c.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|i| (i.step, i.is_latest)).collect::<Vec<_>>(),
        [(5, false), (6, true)]
    );
    assert_eq!(c.reader().manifest_for_step(5).await.unwrap(), Some(m5.clone()));
    assert_eq!(c.reader().manifest_for_step(4).await.unwrap(), None);
    // Deleting the latest step moves `latest` back to step 5 before anything goes.
    assert_eq!(c.delete(6).await.unwrap(), 2, "a manifest and a shard");
    assert_eq!(c.reader().latest_manifest().await.unwrap(), Some(m5));
    assert!(!s.exists(&c.uri(&m6.shards[0].key)).await.unwrap());
    assert_eq!(c.delete(5).await.unwrap(), 2);
    assert!(
        !s.exists(&c.uri(LATEST)).await.unwrap(),
        "no checkpoint left, no pointer"
    );
    assert!(c.load_latest(true).await.unwrap().is_none());
    assert!(c.delete(5).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_streamed_shard_is_invisible_until_finished_and_gone_when_aborted() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default().with_zstd_level(1));
    let w = c.writer(1, 0).unwrap();
    let mut stream = w.shard_stream(3).await.unwrap();
    stream.write(pattern(5000, 3)).await.unwrap();
    assert!(!s.exists(stream.uri()).await.unwrap());
    let uri = stream.uri().to_string();
    stream.abort().await.unwrap();
    assert!(!s.exists(&uri).await.unwrap());
    let mut stream = w.shard_stream(3).await.unwrap();
    for piece in 0..4u64 {
        stream.write(pattern(2 << 20, piece)).await.unwrap();
    }
    let shard = stream.finish().await.unwrap();
    assert_eq!(shard.size, 8 << 20);
    let m = w.finalize(3, 0, "torch", vec![shard], Map::new()).await.unwrap();
    let back = c.reader().read_shard(&m, 0, true).await.unwrap();
    let expected: Vec<u8> = (0..4u64).flat_map(|p| pattern(2 << 20, p).to_vec()).collect();
    assert_eq!(back, expected);
}

#[tokio::test]
async fn bad_ranks_and_levels_are_refused_with_advice() {
    let s = store().await;
    let c = ckpt(&s, CheckpointConfig::default());
    assert!(
        c.writer(2, 2)
            .unwrap_err()
            .to_string()
            .contains("ranks run 0..world_size")
    );
    assert!(c.writer(0, 0).is_err());
    let w1 = c.writer(2, 1).unwrap();
    let shard = w1.save_shard(1, pattern(10, 0)).await.unwrap();
    let err = w1
        .finalize(1, 0, "torch", vec![shard], Map::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only rank 0"), "{err}");
    let err = CheckpointStore::new(s, BASE, CheckpointConfig::default().with_zstd_level(0)).unwrap_err();
    assert!(err.to_string().contains("zstd level 0"), "{err}");
}
