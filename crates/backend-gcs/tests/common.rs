//! The local GCS server the tests use: `cargo xtask emulators up` starts fake-gcs-server
//! and exports `S3DLIO_TEST_GCS_ENDPOINT` (and `STORAGE_EMULATOR_HOST`). Point the same
//! tests at real GCS by setting that variable to `https://storage.googleapis.com`, with
//! credentials (`GOOGLE_APPLICATION_CREDENTIALS`), `GOOGLE_CLOUD_PROJECT` and optionally
//! `S3DLIO_TEST_GCS_BUCKET`.
#![allow(dead_code)] // each test file uses its own share of these helpers

use s3dlio_backend_gcs::{GOOGLE_ENDPOINT, GcsConfig, GcsStore};

pub const ENV_ENDPOINT: &str = "S3DLIO_TEST_GCS_ENDPOINT";

/// The config under test, or `None` (after a loud message) when no server is configured.
pub fn config(test: &str) -> Option<GcsConfig> {
    let Ok(endpoint) = std::env::var(ENV_ENDPOINT) else {
        s3dlio_core::testkit::server_missing(test, &format!("GCS server ({ENV_ENDPOINT})"));
        return None;
    };
    let config = GcsConfig::from_env().expect("the GCS variables");
    let config = if endpoint == GOOGLE_ENDPOINT {
        config.with_endpoint(endpoint)
    } else {
        // An emulator takes no credentials; any project name does.
        config
            .with_endpoint(endpoint)
            .with_anonymous(true)
            .with_project("s3dlio-test")
    };
    Some(config)
}

pub fn store(test: &str) -> Option<GcsStore> {
    config(test).map(GcsStore::new)
}

pub fn bucket_uri() -> String {
    let b = std::env::var("S3DLIO_TEST_GCS_BUCKET").unwrap_or_else(|_| "s3dlio-tests".into());
    format!("gs://{b}")
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}
