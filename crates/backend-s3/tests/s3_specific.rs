//! S3 behaviours beyond the shared suite: multipart limits, explicit-endpoint URIs,
//! batch deletes across pages, and errors that say what to do.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use s3dlio_backend_s3::{S3Config, S3Store};
use s3dlio_core::testkit::{Unconnectable, pattern};
use s3dlio_core::{Error, ObjectStoreExt, WriterOptions};

async fn setup(test: &str) -> Option<(S3Store, String)> {
    let store = common::store(test)?;
    let bucket = common::ensure_bucket(&store).await;
    Some((store, format!("s3://{bucket}/{}/", common::unique(test))))
}

#[tokio::test]
async fn parts_below_5_mib_are_refused_up_front() {
    let Some((store, base)) = setup("parts_below_5_mib").await else {
        return;
    };
    let err = store
        .get_writer(
            &format!("{base}x"),
            WriterOptions::default().with_part_size(1 << 20),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("at least 5 MiB"), "{err}");
}

#[tokio::test]
async fn explicit_endpoint_uris_reach_their_server() {
    let Some((store, base)) = setup("explicit_endpoint").await else {
        return;
    };
    let endpoint = std::env::var(common::ENV_ENDPOINT).unwrap();
    let host_port = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let uri = format!("{base}via-config");
    store.put(&uri, Bytes::from_static(b"hello")).await.unwrap();
    let explicit = uri.replacen("s3://", &format!("s3://{host_port}/"), 1);
    // A store with no configured endpoint still reaches the server named in the URI.
    let plain = S3Store::new(S3Config::default());
    assert_eq!(plain.get(&explicit).await.unwrap(), "hello");
    let listed = plain
        .list(&explicit.replace("via-config", ""), true)
        .await
        .unwrap();
    assert_eq!(
        listed,
        vec![explicit.clone()],
        "listings keep the explicit endpoint"
    );
}

#[tokio::test]
async fn delete_prefix_batches_past_one_request() {
    let Some((store, base)) = setup("delete_batches").await else {
        return;
    };
    let uris: Vec<String> = (0..2100).map(|i| format!("{base}k/{i:05}")).collect();
    futures::future::try_join_all(uris.iter().take(2100).map(|u| store.put(u, Bytes::new())))
        .await
        .unwrap();
    // 2100 keys: three DeleteObjects requests of at most 1000.
    assert_eq!(store.delete_prefix(&format!("{base}k/")).await.unwrap(), 2100);
    assert!(store.list(&base, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn large_reads_through_the_range_engine_are_exact() {
    let Some((store, base)) = setup("range_engine").await else {
        return;
    };
    // Large reads as every front end makes them: through the read path.
    let reader = s3dlio_range_engine::doubles::conformance_stack(std::sync::Arc::new(store));
    let store = &reader;
    let uri = format!("{base}big");
    let data = pattern((12 << 20) + 5, 4);
    store
        .put_multipart(
            &uri,
            data.clone(),
            WriterOptions::default().with_part_size(5 << 20),
        )
        .await
        .unwrap();
    assert!(store.get(&uri).await.unwrap() == data);
    let part = store.get_range(&uri, 3 << 20, Some(5 << 20)).await.unwrap();
    assert!(part == data.slice(3 << 20..8 << 20));
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_fast_with_a_hint() {
    // Nothing listens on port 9 of loopback: the connection is refused at once.
    let store = S3Store::new(
        S3Config {
            connect_timeout: Duration::from_secs(2),
            ..S3Config::default()
        }
        .with_endpoint("http://127.0.0.1:9")
        .with_credentials("key", "secret"),
    );
    let t = Instant::now();
    let err = store.get("s3://bucket/key").await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    let msg = err.to_string();
    assert!(
        msg.contains("s3://bucket/key") && msg.contains("could not reach"),
        "{msg}"
    );
}

/// `S3DLIO_S3_CONNECT_TIMEOUT_MS` ends a connect that gets no answer, on both clients:
/// GET runs on the direct data path, HEAD on the SDK.
#[tokio::test]
async fn the_connect_timeout_ends_a_connect_nobody_answers() {
    Unconnectable::new()
        .connect_timeout_ends_the_wait("s3://bucket/key", |limit, endpoint| {
            S3Store::new(
                S3Config {
                    connect_timeout: limit,
                    ..S3Config::default()
                }
                .with_endpoint(endpoint)
                .with_credentials("key", "secret"),
            )
        })
        .await;
}

#[tokio::test]
async fn put_verify_checks_a_completed_upload() {
    let Some((_, base)) = setup("put_verify").await else {
        return;
    };
    let endpoint = std::env::var(common::ENV_ENDPOINT).unwrap();
    let store = S3Store::new(
        S3Config {
            put_verify: true,
            ..S3Config::default()
        }
        .with_endpoint(endpoint),
    );
    let uri = format!("{base}verified");
    let data = pattern((10 << 20) + 1, 8);
    let summary = store
        .put_multipart(
            &uri,
            data.clone(),
            WriterOptions::default().with_part_size(5 << 20),
        )
        .await
        .unwrap();
    assert_eq!(summary.size, data.len() as u64);
    assert!(store.get(&uri).await.unwrap() == data);
}
