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

/// Each remote scheme is served when its feature is compiled in, and otherwise refused
/// with the feature to enable (`cargo xtask test` runs this file-only too).
#[test]
fn unserved_schemes_say_what_this_build_supports() {
    let remote = [
        ("s3://bucket/key", "s3", cfg!(feature = "s3")),
        ("az://acct/cont/key", "azure", cfg!(feature = "azure")),
        (
            "https://acct.blob.core.windows.net/cont/key",
            "azure",
            cfg!(feature = "azure"),
        ),
        ("gs://bucket/key", "gcs", cfg!(feature = "gcs")),
        ("gcs://bucket/key", "gcs", cfg!(feature = "gcs")),
    ];
    for (uri, name, built) in remote {
        match store_for_uri(uri) {
            Ok(store) => assert!(built && store.name() == name, "{uri}: {}", store.name()),
            Err(e) => {
                let msg = e.to_string();
                assert!(!built, "{uri}: {msg}");
                assert!(msg.contains(&format!("enable the `{name}` feature")), "{msg}");
            }
        }
    }
    let err = store_for_uri("ftp://x/y").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidUri { .. }), "{msg}");
    for scheme in s3dlio::supported_schemes() {
        assert!(msg.contains(scheme), "{msg}");
    }
    assert!(msg.contains("file://") && msg.contains("memory://"), "{msg}");
}

/// `S3DLIO_MULTIPART_PART_SIZE` sets the part size of writers that leave it out; a part
/// size the caller passes wins over it (S3 refuses parts under 5 MiB before any request,
/// so which size a writer took shows without a server).
#[cfg(feature = "s3")]
#[tokio::test]
async fn an_explicit_part_size_beats_the_environment() {
    use s3dlio::{StoreOptions, WriterOptions, store_for_uri_with};
    let vars = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        (s3dlio::ENV_PART_SIZE, "1048576"),
    ];
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let opts = StoreOptions::from_vars(vars).unwrap();
    let uri = "s3://bucket/key";
    let store = store_for_uri_with(uri, &opts).unwrap();
    let from_env = store.get_writer(uri, WriterOptions::default()).await.unwrap_err();
    assert!(
        from_env.to_string().contains("part_size is 1048576"),
        "{from_env}"
    );
    let explicit = WriterOptions::default().with_part_size(5 << 20);
    let writer = store.get_writer(uri, explicit).await.unwrap();
    writer.cancel().await.unwrap();
}
