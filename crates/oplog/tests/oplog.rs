//! The op-log on memory://: every operation of a scripted workload is one row with its
//! bytes and times; a lossless log loses nothing under 10 000 concurrent operations with
//! a queue of 4; a lossy log's counter is exact; rows can be sorted by start time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt, WriterOptions};
use s3dlio_oplog::{HEADER, OpLog, OpLogOptions, OpLogStore};

/// The rows of a finished log, split into columns (the header checked and dropped).
fn rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = String::from_utf8(zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    lines
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn logged(opts: OpLogOptions) -> (tempfile::TempDir, std::path::PathBuf, Arc<OpLog>, OpLogStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.tsv.zst");
    let log = OpLog::create(&path, opts).unwrap();
    let store = OpLogStore::new(Arc::new(MemoryStore::new()), log.clone());
    (dir, path, log, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_a_workload_is_one_row_with_its_bytes_and_times() {
    let (_dir, path, log, store) = logged(OpLogOptions {
        client_id: "client-7".into(),
        ..Default::default()
    });
    store.create_container("memory://b").await.unwrap();
    store
        .put("memory://b/a", Bytes::from(vec![1u8; 1000]))
        .await
        .unwrap();
    store
        .put("memory://b/c", Bytes::from(vec![2u8; 10]))
        .await
        .unwrap();
    assert_eq!(store.get("memory://b/a").await.unwrap().len(), 1000);
    assert_eq!(
        store
            .get_range("memory://b/a", 100, Some(50))
            .await
            .unwrap()
            .len(),
        50
    );
    store.stat("memory://b/c").await.unwrap();
    assert_eq!(store.list("memory://b/", true).await.unwrap().len(), 2);
    let mut w = store
        .get_writer("memory://b/w", WriterOptions::default())
        .await
        .unwrap();
    w.write(Bytes::from(vec![3u8; 300])).await.unwrap();
    w.write(Bytes::from(vec![4u8; 200])).await.unwrap();
    w.finalize().await.unwrap();
    let streamed: usize = store
        .get_stream("memory://b/w", Default::default())
        .map(|c| c.unwrap().len())
        .collect::<Vec<_>>()
        .await
        .iter()
        .sum();
    assert_eq!(streamed, 500);
    store.delete("memory://b/c").await.unwrap();
    assert!(store.get("memory://b/missing").await.is_err());
    let stats = log.finish().await.unwrap();
    assert_eq!(log.finish().await.unwrap(), stats, "finish is idempotent");
    store.stat("memory://b/a").await.unwrap();
    assert_eq!(log.stats(), stats, "nothing is recorded after finish");

    let rows = rows(&path);
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[4].as_str(), r[5].as_str(), r[7].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("MKBUCKET", "1", "0", "memory://b"),
            ("PUT", "1", "1000", "memory://b/a"),
            ("PUT", "1", "10", "memory://b/c"),
            ("GET", "1", "1000", "memory://b/a"),
            ("GET", "1", "50", "memory://b/a"),
            ("STAT", "1", "0", "memory://b/c"),
            ("LIST", "2", "0", "memory://b/"),
            ("PUT", "1", "500", "memory://b/w"),
            ("GET", "1", "500", "memory://b/w"),
            ("DELETE", "1", "0", "memory://b/c"),
            ("GET", "1", "0", "memory://b/missing"),
        ]
    );
    assert_eq!((stats.written, stats.errors, stats.dropped), (11, 1, 0));
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], i.to_string(), "idx in order");
        assert_eq!(r[3], "client-7");
        assert_eq!(r[6], "memory");
        assert_eq!(
            r[8].is_empty(),
            r[7] != "memory://b/missing",
            "only the missing key failed: {r:?}"
        );
        let t = |s: &str| humantime::parse_rfc3339(s).unwrap();
        let (start, first, end) = (t(&r[9]), t(&r[10]), t(&r[11]));
        assert!(start <= first && first <= end, "{r:?}");
        assert_eq!(end.duration_since(start).unwrap().as_nanos().to_string(), r[12]);
    }
}

async fn many_gets(store: &OpLogStore, n: usize) {
    store.create_container("memory://b").await.unwrap();
    store.put("memory://b/k", Bytes::from_static(b"x")).await.unwrap();
    futures::stream::iter(0..n)
        .for_each_concurrent(1000, |_| async {
            store.get("memory://b/k").await.unwrap();
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossless_log_keeps_every_row_of_10000_concurrent_operations_with_a_queue_of_4() {
    let (_dir, path, log, store) = logged(OpLogOptions {
        capacity: 4,
        ..Default::default()
    });
    many_gets(&store, 10_000).await;
    let stats = log.finish().await.unwrap();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped),
        (10_002, 10_002, 0)
    );
    assert_eq!(rows(&path).len(), 10_002);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_log_counts_exactly_what_it_drops() {
    let (_dir, path, log, store) = logged(OpLogOptions {
        capacity: 1,
        lossy: true,
        ..Default::default()
    });
    many_gets(&store, 10_000).await;
    let stats = log.finish().await.unwrap();
    assert_eq!(stats.recorded, 10_002);
    assert_eq!(stats.written + stats.dropped, stats.recorded);
    assert!(
        stats.dropped > 0,
        "a queue of 1 under 10 000 concurrent operations drops rows: {stats:?}"
    );
    assert_eq!(rows(&path).len() as u64, stats.written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_can_be_sorted_by_start_time_at_finish() {
    let (_dir, path, log, store) = logged(OpLogOptions {
        sort_by_start: true,
        ..Default::default()
    });
    many_gets(&store, 500).await;
    log.finish().await.unwrap();
    let starts: Vec<_> = rows(&path)
        .iter()
        .map(|r| humantime::parse_rfc3339(&r[9]).unwrap())
        .collect();
    assert_eq!(starts.len(), 502);
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reissues_the_logged_operations_in_order_at_their_pace() {
    use std::time::Duration;

    let (_dir, path, log, store) = logged(OpLogOptions::default());
    store.create_container("memory://src").await.unwrap();
    store
        .put("memory://src/a", Bytes::from(vec![1u8; 1000]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    store.get("memory://src/a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    store.stat("memory://src/a").await.unwrap();
    store
        .put("memory://src/b", Bytes::from(vec![2u8; 10]))
        .await
        .unwrap();
    store.delete("memory://src/b").await.unwrap();
    log.finish().await.unwrap();

    let (_dir2, path2, log2, target) = logged(OpLogOptions::default());
    target.create_container("memory://dst").await.unwrap();
    let ops = s3dlio_oplog::read_log(&path).unwrap();
    assert_eq!(ops.len(), 6);
    let opts = s3dlio_oplog::ReplayOptions {
        to: "memory://dst/".into(),
        ..Default::default()
    };
    let report = s3dlio_oplog::replay(Arc::new(target), ops.clone(), &opts)
        .await
        .unwrap();
    log2.finish().await.unwrap();

    assert_eq!(report.skipped, 1, "MKBUCKET is not replayed");
    assert_eq!(
        (report.per_op["PUT"].count, report.per_op["PUT"].bytes),
        (2, 1010)
    );
    assert_eq!(
        (report.per_op["GET"].count, report.per_op["GET"].bytes),
        (1, 1000)
    );
    // Start order per object is the recorded one (objects interleave freely).
    let mut replayed = rows(&path2);
    replayed.remove(0); // the target's MKBUCKET
    replayed.sort_by_key(|r| humantime::parse_rfc3339(&r[9]).unwrap());
    let on = |uri: &str| -> Vec<(String, String)> {
        replayed
            .iter()
            .filter(|r| r[7] == uri)
            .map(|r| (r[2].clone(), r[5].clone()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    };
    assert_eq!(
        on("memory://dst/a"),
        pairs(&[("PUT", "1000"), ("GET", "1000"), ("STAT", "0")])
    );
    assert_eq!(on("memory://dst/b"), pairs(&[("PUT", "10"), ("DELETE", "0")]));
    assert_eq!(replayed.len(), 5);
    // Each operation starts as far after the first as it did when recorded (±50 ms).
    let start = |r: &Vec<String>| humantime::parse_rfc3339(&r[9]).unwrap();
    let (t0, o0) = (start(&replayed[0]), ops[1].start);
    for r in &replayed {
        let o = ops
            .iter()
            .find(|o| o.op == r[2] && o.uri.replace("src", "dst") == r[7])
            .unwrap();
        let (was, now) = (
            o.start.duration_since(o0).unwrap(),
            start(r).duration_since(t0).unwrap(),
        );
        let gap = now.abs_diff(was);
        assert!(
            gap < Duration::from_millis(50),
            "{} recorded at +{was:?}, replayed at +{now:?}",
            o.op
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonl_log_zstd_or_plain_is_read_in_start_order_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    // Out of start order, `start` as RFC 3339 or nanoseconds, `file` or `uri`.
    let rows = [
        r#"{"op":"GET","bytes":5,"file":"s3://src/a","start":"2026-01-01T00:00:00.020000000Z"}"#,
        r#"{"op":"PUT","bytes":5,"uri":"s3://src/a","start":1767225600000000000,"extra":true}"#,
        r#"{"op":"STAT","file":"s3://src/a","start":"2026-01-01T00:00:00.040000000Z"}"#,
    ]
    .join("\n");
    let plain = dir.path().join("ops.jsonl");
    std::fs::write(&plain, &rows).unwrap();
    let packed = dir.path().join("ops.jsonl.zst");
    std::fs::write(&packed, zstd::encode_all(rows.as_bytes(), 3).unwrap()).unwrap();
    for path in [&plain, &packed] {
        let ops = s3dlio_oplog::read_log(path).unwrap();
        let seen: Vec<(&str, u64)> = ops.iter().map(|o| (o.op.as_str(), o.bytes)).collect();
        assert_eq!(seen, [("PUT", 5), ("GET", 5), ("STAT", 0)], "{}", path.display());
        let target = Arc::new(MemoryStore::new());
        target.create_container("memory://dst").await.unwrap();
        let opts = s3dlio_oplog::ReplayOptions {
            to: "memory://dst/".into(),
            ..Default::default()
        };
        let report = s3dlio_oplog::replay(target.clone(), ops, &opts).await.unwrap();
        assert_eq!(report.per_op["GET"].bytes, 5, "{report:?}");
        assert_eq!(target.stat("memory://dst/a").await.unwrap().size, 5);
        // The recorded pace: the last op 40 ms after the first.
        assert!(report.elapsed >= Duration::from_millis(40), "{report:?}");
    }
    std::fs::write(&plain, "{\"op\":\"GET\",\"file\":\"s3://x\"}\n").unwrap();
    let e = s3dlio_oplog::read_log(&plain).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("start"), "{e}");
}
