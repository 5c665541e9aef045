//! `S3DLIO_AZURE_CREDENTIALS_TIMEOUT_MS` ends an Entra ID token request that hangs. Its own
//! test binary: it changes the process environment.

use std::net::TcpListener;

use s3dlio_backend_azure::{AzureConfig, AzureStore, Credentials};
use s3dlio_core::testkit::{replace_env, timeout_ends_the_wait};
use s3dlio_core::{Error, ObjectStoreExt};

#[test]
fn the_credentials_timeout_ends_a_token_request_that_hangs() {
    // A managed-identity endpoint (App Service's) that takes the request and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/msi/token", silent.local_addr().unwrap());
    // SAFETY: this binary holds this one test, and it changes the environment before
    // starting any thread.
    unsafe {
        replace_env(
            &[
                "AZURE_CLIENT_SECRET",
                "AZURE_FEDERATED_TOKEN_FILE",
                "AZURE_CLIENT_ID",
            ],
            &[("IDENTITY_ENDPOINT", &endpoint), ("IDENTITY_HEADER", "secret")],
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let errors = rt.block_on(timeout_ends_the_wait("credentials_timeout", |limit| {
        let store = AzureStore::new(AzureConfig {
            credentials_timeout: limit,
            ..AzureConfig::default()
                .with_credentials(Credentials::EntraId)
                .with_endpoint("https://127.0.0.1:9")
        });
        async move { store.get("az://acct1/c/k").await.unwrap_err() }
    }));
    for err in errors {
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        assert!(
            err.to_string().contains("S3DLIO_AZURE_CREDENTIALS_TIMEOUT_MS"),
            "{err}"
        );
    }
}
