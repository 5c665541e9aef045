//! `S3DLIO_S3_CREDENTIALS_TIMEOUT_MS` ends a credential lookup that hangs. Its own test
//! binary: it changes the process environment.

mod aws_env;

use std::net::TcpListener;

use s3dlio_backend_s3::{S3Config, S3Store};
use s3dlio_core::testkit::timeout_ends_the_wait;
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt};

#[test]
fn the_credentials_timeout_ends_a_lookup_that_hangs() {
    // A container credentials endpoint that takes the request and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let creds = format!("http://{}/credentials", silent.local_addr().unwrap());
    // SAFETY: this binary holds this one test, and it changes the environment before
    // starting any thread.
    unsafe { aws_env::without_aws_credentials(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &creds)]) };
    let store = |limit| {
        S3Store::new(
            S3Config {
                credentials_timeout: limit,
                ..S3Config::default()
            }
            .with_endpoint("http://127.0.0.1:9"),
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // GET signs on the direct data path, HEAD on the SDK.
    let mut errors = rt.block_on(timeout_ends_the_wait("credentials_timeout (GET)", |t| {
        let store = store(t);
        async move { store.get("s3://bucket/key").await.unwrap_err() }
    }));
    errors.extend(
        rt.block_on(timeout_ends_the_wait("credentials_timeout (HEAD)", |t| {
            let store = store(t);
            async move { store.stat("s3://bucket/key").await.unwrap_err() }
        })),
    );
    for err in errors {
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        assert!(
            err.to_string().contains("S3DLIO_S3_CREDENTIALS_TIMEOUT_MS"),
            "{err}"
        );
    }
}
