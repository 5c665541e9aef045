//! The GCE metadata-server client that `gcloud-auth` and `gcloud-storage` call, written for
//! s3dlio so that Tokio is built without its `parking_lot` feature (see README.md): a
//! process may then fork while its runtime runs and the child still starts one.
//!
//! ```no_run
//! # async fn f() -> Result<(), gcloud_metadata::Error> {
//! let account = gcloud_metadata::email("default").await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use tokio::sync::OnceCell;

// The README's Rust block compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

/// The metadata server's link-local address.
pub const METADATA_IP: &str = "169.254.169.254";
/// Names the metadata server (`host:port`); when set, the process is taken to be on GCE.
pub const METADATA_HOST_ENV: &str = "GCE_METADATA_HOST";
/// The metadata server's DNS name.
pub const METADATA_GOOGLE_HOST: &str = "metadata.google.internal:80";
/// The header every metadata request and answer carries.
pub const METADATA_FLAVOR_KEY: &str = "Metadata-Flavor";
/// That header's value.
pub const METADATA_GOOGLE: &str = "Google";

/// How long one metadata request may take: off GCE nothing answers.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a metadata lookup failed.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    #[error("invalid response code: {0}")]
    InvalidResponse(u16),
    #[error(transparent)]
    FromUTF8Error(#[from] std::string::FromUtf8Error),
    #[error(transparent)]
    HttpError(#[from] reqwest::Error),
}

/// Whether this process runs on Google Compute Engine (asked once per process).
pub async fn on_gce() -> bool {
    static ON_GCE: OnceCell<bool> = OnceCell::const_new();
    *ON_GCE.get_or_init(probe).await
}

/// The project this machine belongs to; empty when there is no metadata server (asked once
/// per process).
pub async fn project_id() -> String {
    static PROJECT_ID: OnceCell<String> = OnceCell::const_new();
    PROJECT_ID
        .get_or_try_init(|| value("project/project-id"))
        .await
        .cloned()
        .unwrap_or_default()
}

/// The e-mail address of one of this machine's service accounts (`"default"` for its own).
pub async fn email(service_account: &str) -> Result<String, Error> {
    value(&format!("instance/service-accounts/{service_account}/email")).await
}

fn client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder().timeout(TIMEOUT).build()?)
}

/// A metadata server answers its address with the flavor header, or its DNS name resolves
/// to that address; `GCE_METADATA_HOST` settles it without asking.
async fn probe() -> bool {
    if std::env::var_os(METADATA_HOST_ENV).is_some() {
        return true;
    }
    if let Ok(client) = client()
        && let Ok(answer) = client.get(format!("http://{METADATA_IP}")).send().await
        && answer.status().is_success()
        && answer
            .headers()
            .get(METADATA_FLAVOR_KEY)
            .is_some_and(|v| v == METADATA_GOOGLE)
    {
        return true;
    }
    match tokio::net::lookup_host(METADATA_GOOGLE_HOST).await {
        Ok(mut addresses) => addresses.any(|a| a.ip().to_string() == METADATA_IP),
        Err(_) => false,
    }
}

/// The trimmed text of `computeMetadata/v1/{path}`.
async fn value(path: &str) -> Result<String, Error> {
    let host = std::env::var(METADATA_HOST_ENV).unwrap_or_else(|_| METADATA_GOOGLE_HOST.into());
    let answer = client()?
        .get(format!("http://{host}/computeMetadata/v1/{path}"))
        .header(METADATA_FLAVOR_KEY, METADATA_GOOGLE)
        .header(reqwest::header::USER_AGENT, "s3dlio")
        .send()
        .await?;
    if !answer.status().is_success() {
        return Err(Error::InvalidResponse(answer.status().as_u16()));
    }
    Ok(String::from_utf8(answer.bytes().await?.to_vec())?
        .trim()
        .to_owned())
}
