//! The clients one store shares: one HTTP connection pool with our timeouts and
//! retries, one token source, and the `gcloud-storage` JSON API client on top of both.
//!
//! They are built on first use, not in `GcsStore::new`: finding Application Default
//! Credentials may probe the metadata server, and constructing a store must not block.

use std::sync::Arc;

use gcloud_storage::client::google_cloud_auth::project::Config as AuthConfig;
use gcloud_storage::client::google_cloud_auth::token::DefaultTokenSourceProvider;
use gcloud_storage::client::{Client, ClientConfig};
use gcloud_storage::http::storage_client::SCOPES;
use reqwest_middleware::ClientWithMiddleware;
use s3dlio_core::{Error, Operation, Result};
use token_source::{TokenSource, TokenSourceProvider};
use tokio::sync::OnceCell;

use crate::config::GcsConfig;
use crate::error::CREDENTIALS_HINT;

/// What every request of one store goes through.
pub(crate) struct Shared {
    /// The JSON API client (metadata, listing, uploads, deletes, buckets).
    pub api: Client,
    /// The same pool and retries, for the media reads `gcloud-storage` returns without
    /// headers (the total size and the generation are in them).
    pub http: ClientWithMiddleware,
    /// `None`: requests carry no credentials (emulator, public buckets).
    pub token: Option<Arc<dyn TokenSource>>,
    /// `…/storage/v1`
    pub v1: String,
    pub project: Option<String>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("v1", &self.v1)
            .field("anonymous", &self.token.is_none())
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The `Authorization` value of the next request, if any.
    pub async fn authorization(&self, op: Operation, uri: &str) -> Result<Option<String>> {
        let Some(ts) = &self.token else { return Ok(None) };
        ts.token().await.map(Some).map_err(|e| Error::Unauthenticated {
            op,
            uri: uri.to_string(),
            hint: format!("could not get a token: {CREDENTIALS_HINT}"),
            source: Some(e),
        })
    }
}

/// Lends `gcloud-storage` the token source we also use for reads, so both share one
/// cached token.
#[derive(Debug)]
struct Lent(Arc<dyn TokenSource>);

impl TokenSourceProvider for Lent {
    fn token_source(&self) -> Arc<dyn TokenSource> {
        self.0.clone()
    }
}

#[derive(Debug)]
pub(crate) struct Clients {
    config: GcsConfig,
    shared: OnceCell<Arc<Shared>>,
}

impl Clients {
    pub fn new(config: GcsConfig) -> Self {
        Clients {
            config,
            shared: OnceCell::new(),
        }
    }

    pub fn config(&self) -> &GcsConfig {
        &self.config
    }

    pub async fn get(&self, op: Operation, uri: &str) -> Result<Arc<Shared>> {
        self.shared
            .get_or_try_init(|| build(&self.config, op, uri))
            .await
            .cloned()
    }
}

async fn build(c: &GcsConfig, op: Operation, uri: &str) -> Result<Arc<Shared>> {
    // GCS never redirects API calls, and a resumable upload's "308 Resume Incomplete"
    // must reach the uploader rather than be followed.
    let mut b = reqwest::Client::builder()
        .connect_timeout(c.connect_timeout)
        .read_timeout(c.idle_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(t) = c.request_timeout {
        b = b.timeout(t);
    }
    let http = b.build().map_err(|e| Error::Backend {
        op,
        uri: uri.to_string(),
        message: "could not build the HTTP client".into(),
        source: Some(Box::new(e)),
    })?;
    // No retry middleware: the store's retry layer is the one retry owner.
    let http = reqwest_middleware::ClientBuilder::new(http).build();
    let (token, project) = if c.anonymous {
        (None, c.project.clone())
    } else {
        let provider = credentials(c, op, uri).await?;
        let project = c.project.clone().or(provider.project_id.clone());
        (Some(provider.token_source()), project)
    };
    let api = Client::new(ClientConfig {
        http: Some(http.clone()),
        storage_endpoint: c.endpoint.clone(),
        token_source_provider: token
            .clone()
            .map(|t| Box::new(Lent(t)) as Box<dyn TokenSourceProvider>),
        project_id: project.clone(),
        ..ClientConfig::default()
    });
    Ok(Arc::new(Shared {
        api,
        http,
        token,
        v1: format!("{}/storage/v1", c.endpoint),
        project,
    }))
}

/// Application Default Credentials, within `credentials_timeout`.
async fn credentials(c: &GcsConfig, op: Operation, uri: &str) -> Result<DefaultTokenSourceProvider> {
    let found = tokio::time::timeout(
        c.credentials_timeout,
        DefaultTokenSourceProvider::new(AuthConfig::default().with_scopes(&SCOPES)),
    )
    .await;
    let unauthenticated = |why: String, source: Option<s3dlio_core::BoxError>| Error::Unauthenticated {
        op,
        uri: uri.to_string(),
        hint: format!("{why}: {CREDENTIALS_HINT}"),
        source,
    };
    match found {
        Ok(Ok(provider)) => Ok(provider),
        Ok(Err(e)) => Err(unauthenticated(
            "no usable Application Default Credentials".into(),
            Some(Box::new(e)),
        )),
        Err(_) => Err(unauthenticated(
            format!(
                "finding credentials took longer than {:?} (S3DLIO_GCS_CREDENTIALS_TIMEOUT_MS)",
                c.credentials_timeout
            ),
            None,
        )),
    }
}
