//! One set of clients per storage account: the SDK's service client (container and blob
//! clients derive from it and share its connection pool) and a bare pipeline with the
//! same policies for the one request the SDK does not model (listing with a delimiter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{ClientOptions, Pipeline, RetryOptions, Transport, Url};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobServiceClient, BlobServiceClientOptions};
use s3dlio_core::{Error, ObjectUri, Operation, Result};

use crate::auth::{SharedKeyPolicy, entra_credential};
use crate::config::{AzureConfig, Credentials};

/// The clients of one account.
pub(crate) struct Account {
    pub(crate) service: BlobServiceClient,
    /// The SDK's policies around our own requests.
    pub(crate) pipeline: Pipeline,
    /// The service API version the SDK speaks (`x-ms-version`).
    pub(crate) version: String,
    /// How sub-requests of a batch are authorized; `None` where they cannot be (Entra
    /// ID tokens are added by the pipeline to the outer request only).
    pub(crate) batch_auth: Option<BatchAuth>,
}

/// Authorization of a batch's sub-requests.
#[derive(Debug, Clone)]
pub(crate) enum BatchAuth {
    /// Each sub-request signed with the account key.
    SharedKey(Arc<SharedKeyPolicy>),
    /// The SAS is in every blob URL already.
    Sas,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("url", &self.service.url().as_str().split('?').next())
            .finish_non_exhaustive()
    }
}

impl Account {
    pub(crate) fn container(&self, u: &ObjectUri) -> BlobContainerClient {
        self.service.blob_container_client(u.bucket())
    }

    pub(crate) fn blob(&self, u: &ObjectUri) -> BlobClient {
        self.service.blob_client(u.bucket(), u.key())
    }
}

/// Accounts' clients, made on first use and kept for the store's life.
#[derive(Debug)]
pub(crate) struct Clients {
    config: AzureConfig,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
}

impl Clients {
    pub(crate) fn new(config: AzureConfig) -> Self {
        Clients {
            config,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn config(&self) -> &AzureConfig {
        &self.config
    }

    /// The clients for the account `u` names (`uri` is for errors).
    pub(crate) fn get(&self, op: Operation, uri: &str, u: &ObjectUri) -> Result<Arc<Account>> {
        let account = u.account().unwrap_or_default();
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = accounts.get(account) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.connect(op, uri, account)?);
        accounts.insert(account.to_string(), a.clone());
        Ok(a)
    }

    fn connect(&self, op: Operation, uri: &str, account: &str) -> Result<Account> {
        let c = &self.config;
        let endpoint = c.service_url(account);
        let mut url = endpoint.clone();
        let mut batch_auth = None;
        let auth: Option<Arc<dyn Policy>> = match &c.credentials {
            Credentials::SharedKey {
                account: Some(owner), ..
            } if owner != account => {
                return Err(Error::Unauthenticated {
                    op,
                    uri: uri.to_string(),
                    hint: format!(
                        "the configured account key belongs to account {owner:?}, not {account:?}; \
                         use a URI in {owner:?} or set the key of {account:?}"
                    ),
                    source: None,
                });
            }
            Credentials::SharedKey { key, .. } => {
                let signer = Arc::new(SharedKeyPolicy::new(account, key.clone()));
                batch_auth = Some(BatchAuth::SharedKey(signer.clone()));
                Some(signer)
            }
            Credentials::Sas(token) => {
                url = format!("{url}?{token}");
                batch_auth = Some(BatchAuth::Sas);
                None
            }
            Credentials::EntraId => {
                if !url.starts_with("https://") {
                    return Err(Error::Unauthenticated {
                        op,
                        uri: uri.to_string(),
                        hint: format!(
                            "Entra ID tokens are sent over https only, and the endpoint is {url}; \
                             for an emulator set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY"
                        ),
                        source: None,
                    });
                }
                let credential = entra_credential(c.credentials_timeout).map_err(|e| Error::Unauthenticated {
                    op,
                    uri: uri.to_string(),
                    hint: "the Entra ID credential settings are incomplete (AZURE_TENANT_ID, AZURE_CLIENT_ID)".into(),
                    source: Some(Box::new(e)),
                })?;
                Some(Arc::new(BearerTokenAuthorizationPolicy::new(
                    credential,
                    ["https://storage.azure.com/.default"],
                )))
            }
        };
        let service_url = Url::parse(&url).map_err(|e| Error::InvalidUri {
            uri: uri.to_string(),
            reason: format!("the blob endpoint {endpoint} is not a URL ({e}); check AZURE_STORAGE_ENDPOINT"),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(c.connect_timeout)
            .read_timeout(c.idle_timeout)
            // Never follow a redirect: it could downgrade to http or carry the signature elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            // Ranged reads must see the stored bytes, not a decoded stream.
            .gzip(false)
            .deflate(false);
        let http = match c.request_timeout {
            Some(t) => http.timeout(t),
            None => http,
        }
        .build()
        .map_err(|e| Error::Backend {
            op,
            uri: uri.to_string(),
            message: "could not build the HTTP client".into(),
            source: Some(Box::new(e)),
        })?;
        let client_options = ClientOptions {
            per_try_policies: auth.into_iter().collect(),
            // One try per request: the store's retry layer is the one retry owner.
            retry: RetryOptions::none(),
            transport: Some(Transport::new(Arc::new(http))),
            ..Default::default()
        };
        let options = BlobServiceClientOptions {
            client_options: client_options.clone(),
            ..Default::default()
        };
        let version = options.version.clone();
        let service =
            BlobServiceClient::new(service_url, None, Some(options)).map_err(|e| Error::Backend {
                op,
                uri: uri.to_string(),
                message: format!("could not create the blob client for {endpoint}"),
                source: Some(Box::new(e)),
            })?;
        let pipeline = Pipeline::new(
            Some("s3dlio-backend-azure"),
            Some(env!("CARGO_PKG_VERSION")),
            client_options,
            Vec::new(),
            Vec::new(),
            None,
        );
        Ok(Account {
            service,
            pipeline,
            version,
            batch_auth,
        })
    }
}
