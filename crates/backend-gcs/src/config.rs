//! Settings of the GCS backend, and the one place their variables are read.
//!
//! Credentials are Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`,
//! then gcloud's `application_default_credentials.json`, then the metadata server (on
//! Google Cloud). `STORAGE_EMULATOR_HOST` (as every Google SDK reads it) points the
//! backend at an emulator and turns credentials off; `S3DLIO_GCS_ENDPOINT` names another
//! endpoint and keeps them; `S3DLIO_GCS_ANONYMOUS=1` reads public buckets without any.

use std::time::Duration;

use s3dlio_core::env::EnvReader;
use s3dlio_core::{ENV_PART_SIZE, Result};

pub const ENV_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";
pub const ENV_ENDPOINT: &str = "S3DLIO_GCS_ENDPOINT";
pub const ENV_ANONYMOUS: &str = "S3DLIO_GCS_ANONYMOUS";
/// The project buckets are created in and listed from (as gcloud and the SDKs read it).
pub const ENV_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
pub const ENV_CONNECT_TIMEOUT_MS: &str = "S3DLIO_GCS_CONNECT_TIMEOUT_MS";
pub const ENV_REQUEST_TIMEOUT_MS: &str = "S3DLIO_GCS_REQUEST_TIMEOUT_MS";
pub const ENV_IDLE_TIMEOUT_MS: &str = "S3DLIO_GCS_IDLE_TIMEOUT_MS";
/// [`GcsConfig::idle_timeout`] unless set.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const ENV_CREDENTIALS_TIMEOUT_MS: &str = "S3DLIO_GCS_CREDENTIALS_TIMEOUT_MS";
pub const ENV_DELETE_CONCURRENCY: &str = "S3DLIO_GCS_DELETE_CONCURRENCY";
/// Google's production endpoint.
pub const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";

/// Settings of [`GcsStore`](crate::GcsStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsConfig {
    /// The JSON API endpoint (scheme, host and port; `/storage/v1` is added).
    pub endpoint: String,
    /// Send no credentials: for emulators and public buckets.
    pub anonymous: bool,
    /// The project of `create_container` and `list_containers`; `None` takes the
    /// credentials' project.
    pub project: Option<String>,
    pub connect_timeout: Duration,
    /// Limit on one try of a request (headers and body); `None` = no limit.
    pub request_timeout: Option<Duration>,
    /// The longest wait for a response to start or for its next bytes: a server that
    /// accepts and never answers, or stops mid-body, fails the try after this long even
    /// when no request timeout is set.
    pub idle_timeout: Duration,
    /// Limit on finding credentials and getting the first token (the metadata-server
    /// probe included), so a machine off Google Cloud fails fast.
    pub credentials_timeout: Duration,
    /// Deletes in flight in `delete_batch`.
    pub delete_concurrency: usize,
    /// Resumable chunk size of writers whose `WriterOptions::part_size` is `None`.
    pub chunk_size: Option<usize>,
}

impl Default for GcsConfig {
    fn default() -> Self {
        GcsConfig {
            endpoint: GOOGLE_ENDPOINT.into(),
            anonymous: false,
            project: None,
            connect_timeout: Duration::from_secs(3),
            request_timeout: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            credentials_timeout: Duration::from_secs(5),
            delete_concurrency: 32,
            chunk_size: None,
        }
    }
}

impl GcsConfig {
    /// Defaults overridden by the environment; a malformed value is an error that names
    /// the variable.
    pub fn from_env() -> Result<Self> {
        let env = EnvReader::process();
        Self::from_reader(&env)
    }

    /// Defaults overridden by what `env` holds.
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let num = |var: &str| env.positive(var);
        let ms = |var: &str| num(var).map(|n| n.map(Duration::from_millis));
        let set = |var: &str| env.raw(var).filter(|v| !v.trim().is_empty());
        let d = GcsConfig::default();
        let (endpoint, emulator) = match (set(ENV_EMULATOR_HOST), set(ENV_ENDPOINT)) {
            (Some(host), _) => (with_scheme(&host), true),
            (None, Some(url)) => (with_scheme(&url), false),
            (None, None) => (d.endpoint, false),
        };
        Ok(GcsConfig {
            endpoint,
            anonymous: emulator || env.flag(ENV_ANONYMOUS)?.unwrap_or(false),
            project: set(ENV_PROJECT),
            connect_timeout: ms(ENV_CONNECT_TIMEOUT_MS)?.unwrap_or(d.connect_timeout),
            request_timeout: ms(ENV_REQUEST_TIMEOUT_MS)?,
            idle_timeout: ms(ENV_IDLE_TIMEOUT_MS)?.unwrap_or(d.idle_timeout),
            credentials_timeout: ms(ENV_CREDENTIALS_TIMEOUT_MS)?.unwrap_or(d.credentials_timeout),
            delete_concurrency: num(ENV_DELETE_CONCURRENCY)?.map_or(d.delete_concurrency, |n| n as usize),
            chunk_size: num(ENV_PART_SIZE)?.map(|n| n as usize),
        })
    }

    /// An emulator: this endpoint, no credentials.
    pub fn emulator(endpoint: &str) -> Self {
        GcsConfig {
            endpoint: with_scheme(endpoint),
            anonymous: true,
            ..Default::default()
        }
    }

    pub fn with_endpoint(mut self, url: impl AsRef<str>) -> Self {
        self.endpoint = with_scheme(url.as_ref());
        self
    }

    pub fn with_anonymous(mut self, anonymous: bool) -> Self {
        self.anonymous = anonymous;
        self
    }

    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }
}

/// `host:port` (how `STORAGE_EMULATOR_HOST` is often written) → `http://host:port`.
fn with_scheme(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.contains("://") {
        e.to_string()
    } else {
        format!("http://{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<GcsConfig> {
        GcsConfig::from_reader(&EnvReader::from_pairs(vars))
    }

    #[test]
    fn endpoints_and_credentials() {
        let c = from(&[]).unwrap();
        assert_eq!((c.endpoint.as_str(), c.anonymous), (GOOGLE_ENDPOINT, false));

        let c = from(&[(ENV_EMULATOR_HOST, "localhost:4443"), (ENV_ENDPOINT, "https://x")]).unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.anonymous),
            ("http://localhost:4443", true),
            "the emulator wins and sends no credentials"
        );
        let c = from(&[(ENV_ENDPOINT, "https://gcs.example.net/")]).unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.anonymous),
            ("https://gcs.example.net", false)
        );
        assert!(from(&[(ENV_ANONYMOUS, "1")]).unwrap().anonymous);

        let c = from(&[(ENV_PROJECT, "p1"), (ENV_PART_SIZE, "1048576")]).unwrap();
        assert_eq!((c.project.as_deref(), c.chunk_size), (Some("p1"), Some(1 << 20)));
        let e = from(&[(ENV_DELETE_CONCURRENCY, "lots")]).unwrap_err().to_string();
        assert!(e.contains(ENV_DELETE_CONCURRENCY), "{e}");
    }
}
