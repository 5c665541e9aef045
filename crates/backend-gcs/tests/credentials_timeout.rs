//! `S3DLIO_GCS_CREDENTIALS_TIMEOUT_MS` ends a credential lookup that hangs. Its own test
//! binary: it changes the process environment.

use std::net::TcpListener;

use s3dlio_backend_gcs::{GcsConfig, GcsStore};
use s3dlio_core::testkit::{replace_env, timeout_ends_the_wait};
use s3dlio_core::{Error, ObjectStoreExt};

#[test]
fn the_credentials_timeout_ends_a_lookup_that_hangs() {
    // A metadata server that takes the request and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let home = tempfile::tempdir().unwrap();
    let metadata = silent.local_addr().unwrap().to_string();
    // SAFETY: this binary holds this one test, and it changes the environment before
    // starting any thread. No gcloud well-known credentials file in an empty home.
    unsafe {
        replace_env(
            &[
                "GOOGLE_APPLICATION_CREDENTIALS",
                "STORAGE_EMULATOR_HOST",
                "CLOUDSDK_CONFIG",
            ],
            &[
                ("HOME", home.path().to_str().unwrap()),
                ("GCE_METADATA_HOST", &metadata),
            ],
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let errors = rt.block_on(timeout_ends_the_wait("credentials_timeout", |limit| {
        let store = GcsStore::new(GcsConfig {
            credentials_timeout: limit,
            ..GcsConfig::default().with_endpoint("http://127.0.0.1:9")
        });
        async move { store.get("gs://bucket/key").await.unwrap_err() }
    }));
    for err in errors {
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        assert!(
            err.to_string().contains("S3DLIO_GCS_CREDENTIALS_TIMEOUT_MS"),
            "{err}"
        );
    }
}
