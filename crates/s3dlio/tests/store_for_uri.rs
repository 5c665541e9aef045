//! Dispatch by scheme through the umbrella crate.

use bytes::Bytes;
use s3dlio::{Error, ObjectStoreExt, store_for_uri};

#[tokio::test]
async fn dispatches_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    for scheme in ["file", "direct"] {
        let uri = format!("{scheme}://{}/{scheme}.bin", dir.path().display());
        let store = store_for_uri(&uri).unwrap();
        assert_eq!(store.name(), scheme);
        store.put(&uri, Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(store.get(&uri).await.unwrap(), "abc");
    }
}

#[tokio::test]
async fn memory_store_is_shared_across_calls() {
    let a = store_for_uri("memory://shared/x").unwrap();
    a.create_container("memory://shared").await.unwrap();
    a.put("memory://shared/x", Bytes::from_static(b"1"))
        .await
        .unwrap();
    let b = store_for_uri("memory://shared/x").unwrap();
    assert_eq!(b.get("memory://shared/x").await.unwrap(), "1");
}

#[test]
fn unserved_schemes_say_what_this_build_supports() {
    assert_eq!(store_for_uri("s3://bucket/key").unwrap().name(), "s3");
    assert_eq!(store_for_uri("az://acct/cont/key").unwrap().name(), "azure");
    assert_eq!(
        store_for_uri("https://acct.blob.core.windows.net/cont/key")
            .unwrap()
            .name(),
        "azure"
    );
    assert_eq!(store_for_uri("gs://bucket/key").unwrap().name(), "gcs");
    assert_eq!(store_for_uri("gcs://bucket/key").unwrap().name(), "gcs");
    let err = store_for_uri("ftp://x/y").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidUri { .. }), "{msg}");
    for scheme in ["s3://", "direct://", "file://", "az://", "gs://"] {
        assert!(msg.contains(scheme), "{msg}");
    }
}
