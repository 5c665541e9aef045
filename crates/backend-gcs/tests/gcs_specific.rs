//! GCS behaviours beyond the shared suite: resumable chunks, cancel and drop, both URI
//! schemes, user metadata through a resumable upload, and an endpoint that is not there.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use s3dlio_backend_gcs::{CHUNK_UNIT, GcsConfig, GcsStore};
use s3dlio_core::testkit::{Unconnectable, pattern};
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt, PutOptions, WriterOptions};

async fn setup(test: &str) -> Option<(GcsStore, GcsConfig, String)> {
    let config = common::config(test)?;
    let store = GcsStore::new(config.clone());
    let bucket = common::bucket_uri();
    store.create_container(&bucket).await.unwrap();
    Some((store, config, format!("{bucket}/{}/", common::unique(test))))
}

#[tokio::test]
async fn a_resumable_upload_takes_many_chunks_and_keeps_its_attributes() {
    let Some((store, _, base)) = setup("resumable").await else {
        return;
    };
    // Large reads as every front end makes them: through the read path.
    let reader = s3dlio_range_engine::doubles::conformance_stack(std::sync::Arc::new(store));
    let store = &reader;
    let uri = format!("{base}chunks");
    let data = pattern(12 * CHUNK_UNIT + 11, 1);
    let put = PutOptions::default()
        .with_content_type("application/x-chunks")
        .with_metadata("shard", "3");
    // 100 000 is no multiple of 256 KiB: chunks are cut to whole units anyway.
    let opts = WriterOptions::default()
        .with_part_size(100_000)
        .with_put_options(put);
    let mut w = store.get_writer(&uri, opts).await.unwrap();
    for piece in data.chunks(70_000) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        assert!(
            !store.exists(&uri).await.unwrap(),
            "nothing is visible before the last chunk"
        );
    }
    let summary = w.finalize().await.unwrap();
    assert_eq!(summary.size, data.len() as u64);
    let m = store.stat(&uri).await.unwrap();
    assert_eq!(summary.e_tag, m.e_tag, "finalize reports the stored generation");
    assert_eq!(m.content_type.as_deref(), Some("application/x-chunks"));
    assert_eq!(m.metadata.get("shard").map(String::as_str), Some("3"));
    assert!(store.get(&uri).await.unwrap() == data);
    assert!(store.get(&uri).await.unwrap() == data);
}

#[tokio::test]
async fn an_upload_of_whole_chunks_ends_with_an_empty_last_chunk() {
    let Some((store, _, base)) = setup("whole_chunks").await else {
        return;
    };
    let uri = format!("{base}exact");
    let data = pattern(2 * CHUNK_UNIT, 2);
    let opts = WriterOptions::default().with_part_size(CHUNK_UNIT);
    let mut w = store.get_writer(&uri, opts).await.unwrap();
    w.write(data.clone()).await.unwrap();
    assert_eq!(w.finalize().await.unwrap().size, data.len() as u64);
    assert!(store.get(&uri).await.unwrap() == data);
}

#[tokio::test]
async fn cancelled_and_dropped_uploads_leave_no_object() {
    let Some((store, _, base)) = setup("cancel").await else {
        return;
    };
    let opts = WriterOptions::default().with_part_size(CHUNK_UNIT);
    let mut w = store
        .get_writer(&format!("{base}cancelled"), opts.clone())
        .await
        .unwrap();
    w.write(pattern(4 * CHUNK_UNIT, 3)).await.unwrap();
    w.cancel().await.unwrap();
    let mut w = store.get_writer(&format!("{base}dropped"), opts).await.unwrap();
    w.write(pattern(3 * CHUNK_UNIT, 4)).await.unwrap();
    drop(w);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.list(&base, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn gs_and_gcs_name_the_same_objects_and_listings_keep_the_form() {
    let Some((store, _, base)) = setup("schemes").await else {
        return;
    };
    let uri = format!("{base}dir/x.bin");
    store.put(&uri, Bytes::from_static(b"either")).await.unwrap();
    let gcs = uri.replacen("gs://", "gcs://", 1);
    assert_eq!(store.get(&gcs).await.unwrap(), "either");
    let gcs_base = base.replacen("gs://", "gcs://", 1);
    assert_eq!(
        store.list(&gcs_base, false).await.unwrap(),
        vec![format!("{gcs_base}dir/")]
    );
    assert_eq!(store.list(&gcs_base, true).await.unwrap(), vec![gcs]);
}

#[tokio::test]
async fn suffix_and_open_ranges_are_one_request_each() {
    let Some((store, _, base)) = setup("ranges").await else {
        return;
    };
    let uri = format!("{base}r");
    let data = pattern(1000, 5);
    store.put(&uri, data.clone()).await.unwrap();
    let tail = store
        .get_opts(
            &uri,
            s3dlio_core::GetOptions::default().with_range(s3dlio_core::GetRange::Suffix(10)),
        )
        .await
        .unwrap();
    assert!(tail.data == data.slice(990..));
    assert_eq!((tail.range, tail.meta.size), (990..1000, 1000));
    assert_eq!(tail.meta.e_tag, store.stat(&uri).await.unwrap().e_tag);
}

#[tokio::test]
async fn a_missing_bucket_is_not_found_for_reads_and_deletes() {
    let Some((store, _, _)) = setup("missing_bucket").await else {
        return;
    };
    let uri = format!("gs://{}/k", common::unique("s3dlio-absent"));
    assert!(store.get(&uri).await.unwrap_err().is_not_found());
    let err = store.delete(&uri).await.unwrap_err();
    assert!(err.is_not_found(), "deleting from a missing bucket: {err:?}");
}

#[tokio::test]
async fn a_batch_delete_deletes_what_it_can_and_reports_each_failure() {
    let Some((store, _, base)) = setup("batch_partial").await else {
        return;
    };
    let mut uris: Vec<String> = (0..5).map(|i| format!("{base}k{i}")).collect();
    for u in &uris {
        store.put(u, Bytes::from_static(b"x")).await.unwrap();
    }
    let absent = format!("gs://{}/k", common::unique("s3dlio-absent"));
    uris.insert(2, absent.clone());
    let err = store.delete_batch(&uris).await.unwrap_err();
    let Error::Batch {
        succeeded, failures, ..
    } = &err
    else {
        panic!("expected a batch error, got {err:?}");
    };
    assert_eq!(*succeeded, 5, "{err}");
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].uri, absent);
    assert!(failures[0].error.is_not_found(), "{err}");
    assert!(store.list(&base, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_fast_and_says_where_to_look() {
    let Some(config) = common::config("unreachable") else {
        return;
    };
    // A port nobody listens on: connection refused, retried, then a clear error.
    let store = GcsStore::new(config.with_endpoint("http://127.0.0.1:1"));
    let started = Instant::now();
    let err = store.get("gs://b/k").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let msg = err.to_string();
    assert!(
        msg.contains("gs://b/k") && msg.contains("STORAGE_EMULATOR_HOST"),
        "{msg}"
    );
    assert!(!matches!(err, Error::NotFound { .. }));
}

/// `S3DLIO_GCS_CONNECT_TIMEOUT_MS` ends a connect that gets no answer.
#[tokio::test]
async fn the_connect_timeout_ends_a_connect_nobody_answers() {
    Unconnectable::new()
        .connect_timeout_ends_the_wait("gs://b/k", |limit, endpoint| {
            GcsStore::new(GcsConfig {
                connect_timeout: limit,
                ..GcsConfig::default().with_anonymous(true).with_endpoint(endpoint)
            })
        })
        .await;
}
