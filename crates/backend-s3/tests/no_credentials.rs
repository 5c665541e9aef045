//! With no credentials anywhere, a request fails fast with an error that lists where
//! credentials are looked for. Its own test binary: it changes the process environment.

mod aws_env;

use std::time::{Duration, Instant};

use s3dlio_backend_s3::{S3Config, S3Store};
use s3dlio_core::{Error, ObjectStoreExt};

#[test]
fn missing_credentials_are_reported_with_a_hint() {
    // SAFETY: this binary holds this one test, and it changes the environment before
    // starting any thread.
    unsafe { aws_env::without_aws_credentials(&[]) };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Any endpoint: the request never leaves the client without credentials.
    let store = S3Store::new(S3Config::default().with_endpoint("http://127.0.0.1:9"));
    let t = Instant::now();
    let err = rt.block_on(store.get("s3://bucket/key")).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("AWS_ACCESS_KEY_ID") && msg.contains("AWS_PROFILE"),
        "{msg}"
    );
}
