//! The local Azure server the tests use: `cargo xtask emulators up` starts Azurite and
//! exports `S3DLIO_TEST_AZURE_ENDPOINT` with the account and key variables. Point the same
//! tests at a real account by setting that variable (`https://ACCOUNT.blob.core.windows.net`),
//! the credentials (`AZURE_STORAGE_KEY` or the Entra ID variables),
//! `S3DLIO_TEST_AZURE_ACCOUNT` and optionally `S3DLIO_TEST_AZURE_CONTAINER`.
#![allow(dead_code)] // each test file uses its own share of these helpers

use s3dlio_backend_azure::{AzureConfig, AzureStore, DEV_ACCOUNT};

pub const ENV_ENDPOINT: &str = "S3DLIO_TEST_AZURE_ENDPOINT";

/// The config under test, or `None` (after a loud message) when no server is configured.
pub fn config(test: &str) -> Option<AzureConfig> {
    let Ok(endpoint) = std::env::var(ENV_ENDPOINT) else {
        s3dlio_core::testkit::server_missing(test, &format!("Azure Blob server ({ENV_ENDPOINT})"));
        return None;
    };
    Some(
        AzureConfig::from_env()
            .expect("the Azure variables")
            .with_endpoint(endpoint),
    )
}

pub fn store(test: &str) -> Option<AzureStore> {
    config(test).map(AzureStore::new)
}

pub fn account() -> String {
    std::env::var("S3DLIO_TEST_AZURE_ACCOUNT").unwrap_or_else(|_| DEV_ACCOUNT.into())
}

pub fn container_uri() -> String {
    let c = std::env::var("S3DLIO_TEST_AZURE_CONTAINER").unwrap_or_else(|_| "s3dlio-tests".into());
    format!("az://{}/{c}", account())
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}
