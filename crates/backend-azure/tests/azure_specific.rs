//! Azure behaviours beyond the shared suite: credentials and their errors, blocks,
//! portal-form URIs, and an endpoint that is not there.

mod common;

use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use bytes::Bytes;
use s3dlio_backend_azure::{AzureConfig, AzureStore, Credentials};
use s3dlio_core::testkit::{Unconnectable, pattern};
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt, WriterOptions};

async fn setup(test: &str) -> Option<(AzureStore, AzureConfig, String)> {
    let config = common::config(test)?;
    let store = AzureStore::new(config.clone());
    let container = common::container_uri();
    store.create_container(&container).await.unwrap();
    Some((store, config, format!("{container}/{}/", common::unique(test))))
}

#[tokio::test]
async fn many_small_blocks_commit_once_in_order() {
    let Some((store, _, base)) = setup("many_blocks").await else {
        return;
    };
    // Large reads as every front end makes them: through the read path.
    let reader = s3dlio_range_engine::doubles::conformance_stack(std::sync::Arc::new(store));
    let store = &reader;
    let uri = format!("{base}blocks");
    let data = pattern((3 << 20) + 11, 1);
    let opts = WriterOptions::default()
        .with_part_size(256 << 10)
        .with_max_in_flight(3);
    let mut w = store.get_writer(&uri, opts).await.unwrap();
    for piece in data.chunks(100_000) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        assert!(
            !store.exists(&uri).await.unwrap(),
            "nothing is visible before the commit"
        );
    }
    let summary = w.finalize().await.unwrap();
    assert_eq!(summary.size, data.len() as u64);
    assert!(summary.e_tag.is_some());
    assert!(store.get(&uri).await.unwrap() == data);
    assert!(store.get(&uri).await.unwrap() == data);
    let part = store.get_range(&uri, 1 << 20, Some(3 << 20)).await.unwrap();
    assert!(part == data.slice(1 << 20..data.len()), "clamped to the end");
}

#[tokio::test]
async fn a_cancelled_block_upload_leaves_no_blob() {
    let Some((store, _, base)) = setup("cancel_blocks").await else {
        return;
    };
    let uri = format!("{base}cancelled");
    let opts = WriterOptions::default().with_part_size(64 << 10);
    let mut w = store.get_writer(&uri, opts).await.unwrap();
    w.write(pattern(1 << 20, 2)).await.unwrap();
    w.cancel().await.unwrap();
    assert!(!store.exists(&uri).await.unwrap());
    assert!(store.list(&base, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn portal_form_uris_name_the_same_blobs() {
    let Some((store, _, base)) = setup("portal_form").await else {
        return;
    };
    let uri = format!("{base}x.bin");
    store.put(&uri, Bytes::from_static(b"portal")).await.unwrap();
    let https = uri.replacen(
        &format!("az://{}/", common::account()),
        &format!("https://{}.blob.core.windows.net/", common::account()),
        1,
    );
    // The configured endpoint serves the account whatever form the URI takes.
    assert_eq!(store.get(&https).await.unwrap(), "portal");
    let listed = store.list(&https.replace("x.bin", ""), true).await.unwrap();
    assert_eq!(listed, vec![https.clone()], "listings keep the URI's form");
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_with_a_hint() {
    let Some((_, config, base)) = setup("wrong_key").await else {
        return;
    };
    let store = AzureStore::new(config.with_credentials(Credentials::SharedKey {
        account: None,
        key: Secret::new("d3Jvbmcga2V5"),
    }));
    let err = store.get(&format!("{base}any")).await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(err.to_string().contains("AZURE_STORAGE_KEY"), "{err}");
}

#[tokio::test]
async fn a_key_of_another_account_is_refused_before_any_request() {
    let Some((_, config, _)) = setup("other_account").await else {
        return;
    };
    let store = AzureStore::new(config.with_credentials(Credentials::SharedKey {
        account: Some("someoneelse".into()),
        key: Secret::new("a2V5"),
    }));
    let err = store
        .stat(&format!("{}/k", common::container_uri()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("belongs to account \"someoneelse\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_container_says_so() {
    let Some((store, _, _)) = setup("missing_container").await else {
        return;
    };
    let uri = format!("az://{}/{}/k", common::account(), common::unique("nope"));
    let err = store.put(&uri, Bytes::from_static(b"x")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let chain = format!(
        "{err} {:?}",
        std::error::Error::source(&err).map(|s| s.to_string())
    );
    assert!(chain.contains("create_container"), "{chain}");
}

#[tokio::test]
async fn entra_id_over_http_is_refused_with_a_hint() {
    let store = AzureStore::new(
        AzureConfig::default()
            .with_credentials(Credentials::EntraId)
            .with_endpoint("http://127.0.0.1:9"),
    );
    let err = store.get("az://acct1/c/k").await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(err.to_string().contains("https only"), "{err}");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_fast_with_a_hint() {
    // Nothing listens on port 9 of loopback: the connection is refused at once.
    let store = AzureStore::new(AzureConfig {
        connect_timeout: Duration::from_secs(2),
        ..AzureConfig::default()
            .with_credentials(Credentials::SharedKey {
                account: None,
                key: Secret::new("a2V5"),
            })
            .with_endpoint("http://127.0.0.1:9")
    });
    let t = Instant::now();
    let err = store.get("az://acct1/c/k").await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    let msg = err.to_string();
    assert!(
        msg.contains("az://acct1/c/k") && msg.contains("could not reach"),
        "{msg}"
    );
}

/// `S3DLIO_AZURE_CONNECT_TIMEOUT_MS` ends a connect that gets no answer.
#[tokio::test]
async fn the_connect_timeout_ends_a_connect_nobody_answers() {
    Unconnectable::new()
        .connect_timeout_ends_the_wait("az://acct1/c/k", |limit, endpoint| {
            AzureStore::new(AzureConfig {
                connect_timeout: limit,
                ..AzureConfig::default()
                    .with_credentials(Credentials::SharedKey {
                        account: None,
                        key: Secret::new("a2V5"),
                    })
                    .with_endpoint(endpoint)
            })
        })
        .await;
}

#[tokio::test]
async fn batch_deletes_report_each_refused_blob() {
    let Some((store, _, base)) = setup("batch_deletes").await else {
        return;
    };
    // 600 blobs: three Blob Batch requests (256 + 256 + 88), with missing blobs among them.
    let mut uris: Vec<String> = (0..590).map(|i| format!("{base}b/{i:04}")).collect();
    futures::future::try_join_all(uris.iter().map(|u| store.put(u, Bytes::from_static(b"x"))))
        .await
        .unwrap();
    uris.extend((0..9).map(|i| format!("{base}never-{i}")));
    let lost = format!("az://{}/{}/k", common::account(), common::unique("nope"));
    uris.push(lost.clone());
    match store.delete_batch(&uris).await {
        Err(Error::Batch {
            succeeded, failures, ..
        }) => {
            assert_eq!(succeeded, 599, "missing blobs count as deleted");
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].uri, lost);
            assert!(
                matches!(failures[0].error, Error::NotFound { .. }),
                "{:?}",
                failures[0].error
            );
        }
        other => panic!("expected one refused blob, got {other:?}"),
    }
    assert!(store.list(&base, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    // Accepts connections (the kernel's backlog) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = AzureStore::new(AzureConfig {
        request_timeout: Some(Duration::from_millis(300)),
        ..AzureConfig::default()
            .with_credentials(Credentials::SharedKey {
                account: None,
                key: Secret::new("a2V5"),
            })
            .with_endpoint(format!("http://127.0.0.1:{port}"))
    });
    let t = Instant::now();
    let err = store.get("az://acct1/c/k").await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        err.is_retryable() && err.to_string().contains("timed out"),
        "{err}"
    );
    drop(listener);
}
