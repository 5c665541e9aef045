//! file://'s own `get_ranges` (one open, batched positional reads) gives what the
//! default per-range path gives, on many ranges and on the edges.

use std::ops::Range;

use bytes::Bytes;
use s3dlio_backend_file::{FileConfig, FileStore};
use s3dlio_core::{ObjectStore, ObjectStoreExt, RangesOptions, fetch_ranges};

fn both() -> [(&'static str, RangesOptions); 2] {
    [
        ("merged", RangesOptions::default()),
        (
            "one read each",
            RangesOptions {
                coalesce_gap: 0,
                ..RangesOptions::default()
            },
        ),
    ]
}

#[tokio::test]
async fn many_ranges_match_the_default_path_and_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data: Bytes = (0..3_000_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    for (scheme, store) in [
        ("file", FileStore::new(FileConfig::default())),
        ("direct", FileStore::direct(FileConfig::default())),
    ] {
        let uri = format!("{scheme}://{}/obj", dir.path().display());
        store.put(&uri, data.clone()).await.unwrap();
        assert!(store.capabilities().batched_ranges);
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        // More than one batch (256 reads), overlapping, empty and repeated ranges.
        let mut ranges: Vec<Range<u64>> = (0..700)
            .map(|_| {
                let start = next(data.len() as u64);
                start..(start + next(9000)).min(data.len() as u64)
            })
            .collect();
        ranges.extend([0..0, 5..5, 0..data.len() as u64, 10..20, 10..20]);
        for (what, opts) in both() {
            let got = store.get_ranges_opts(&uri, &ranges, opts).await.unwrap();
            for (r, b) in ranges.iter().zip(&got) {
                assert!(
                    *b == data.slice(r.start as usize..r.end as usize),
                    "{scheme} {what} {r:?}"
                );
            }
            let default = fetch_ranges(&store, &uri, &ranges, opts).await.unwrap();
            assert_eq!(got, default, "{what}");
        }
    }
}

#[tokio::test]
async fn edges_fail_or_clip_as_the_default_path_does() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file://{}/obj", dir.path().display());
    let store = FileStore::new(FileConfig::default());
    store.put(&uri, Bytes::from_static(b"0123456789")).await.unwrap();
    let cases: [&[Range<u64>]; 4] = [
        &[0..2, 8..20],
        &[0..2, 10..12],
        &[0..2, 30..40],
        &[0..2, Range { start: 3, end: 1 }],
    ];
    for ranges in cases {
        for (what, opts) in both() {
            let ours = store.get_ranges_opts(&uri, ranges, opts).await;
            let default = fetch_ranges(&store, &uri, ranges, opts).await;
            match (&ours, &default) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{what} {ranges:?}"),
                (Err(a), Err(b)) => assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "{what} {ranges:?}: {a} / {b}"
                ),
                _ => panic!("{what} {ranges:?}: ours {ours:?}, default {default:?}"),
            }
        }
    }
    let missing = format!("file://{}/missing", dir.path().display());
    let e = store
        .get_ranges(&missing, &[0..1, 2..3], RangesOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, s3dlio_core::Error::NotFound { .. }), "{e:?}");
}
