//! The local S3 server the tests use: `cargo xtask emulators up` starts it and exports
//! `S3DLIO_TEST_S3_ENDPOINT` with the credentials. Point the same tests at MinIO or AWS by
//! setting that variable, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_REGION`),
//! and optionally `S3DLIO_TEST_S3_BUCKET`.

use s3dlio_backend_s3::{S3Config, S3Store};

pub const ENV_ENDPOINT: &str = "S3DLIO_TEST_S3_ENDPOINT";
pub const ENV_BUCKET: &str = "S3DLIO_TEST_S3_BUCKET";

/// The store under test, or `None` (after a loud message) when no server is configured.
pub fn store(test: &str) -> Option<S3Store> {
    let Ok(endpoint) = std::env::var(ENV_ENDPOINT) else {
        s3dlio_core::testkit::server_missing(test, &format!("S3 server ({ENV_ENDPOINT})"));
        return None;
    };
    Some(S3Store::new(S3Config::default().with_endpoint(endpoint)))
}

pub fn bucket() -> String {
    std::env::var(ENV_BUCKET).unwrap_or_else(|_| "s3dlio-tests".into())
}

/// Creates the shared test bucket if it is missing and returns its name. Every test
/// process does this at once under nextest, and s3s-fs answers 500 to a create that
/// loses its mkdir race with another (seen on a fresh CI run); the create is idempotent,
/// so a transient answer is tried again, five times at most.
pub async fn ensure_bucket(store: &S3Store) -> String {
    use s3dlio_core::ObjectStore;
    let bucket = bucket();
    let uri = format!("s3://{bucket}");
    for attempt in 1.. {
        match store.create_container(&uri).await {
            Ok(()) => break,
            Err(e) if e.is_retryable() && attempt < 5 => {
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await
            }
            Err(e) => panic!("create the test bucket: {e}"),
        }
    }
    bucket
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}
