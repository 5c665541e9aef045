//! Settings of the Azure backend, and the one place their variables are read.
//!
//! Credentials, in this order: `AZURE_STORAGE_CONNECTION_STRING`; `AZURE_STORAGE_KEY`
//! (with `AZURE_STORAGE_ACCOUNT`); `AZURE_STORAGE_SAS_TOKEN`; otherwise the Entra ID chain
//! (`AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/`AZURE_CLIENT_SECRET`, workload identity, managed
//! identity, then the Azure CLI). The endpoint is `https://ACCOUNT.blob.core.windows.net`
//! unless `AZURE_STORAGE_ENDPOINT` or the connection string's `BlobEndpoint` names one.

use std::time::Duration;

use azure_core::credentials::Secret;
use s3dlio_core::env::EnvReader;
use s3dlio_core::{ENV_PART_SIZE, ENV_PARTS_IN_FLIGHT, Error, Operation, Result};

pub const ENV_CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
pub const ENV_ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
pub const ENV_KEY: &str = "AZURE_STORAGE_KEY";
pub const ENV_SAS: &str = "AZURE_STORAGE_SAS_TOKEN";
pub const ENV_ENDPOINT: &str = "AZURE_STORAGE_ENDPOINT";
pub const ENV_CONNECT_TIMEOUT_MS: &str = "S3DLIO_AZURE_CONNECT_TIMEOUT_MS";
pub const ENV_REQUEST_TIMEOUT_MS: &str = "S3DLIO_AZURE_REQUEST_TIMEOUT_MS";
pub const ENV_IDLE_TIMEOUT_MS: &str = "S3DLIO_AZURE_IDLE_TIMEOUT_MS";
/// [`AzureConfig::idle_timeout`] unless set.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const ENV_CREDENTIALS_TIMEOUT_MS: &str = "S3DLIO_AZURE_CREDENTIALS_TIMEOUT_MS";
pub const ENV_DELETE_CONCURRENCY: &str = "S3DLIO_AZURE_DELETE_CONCURRENCY";
/// Azurite's published development account (its README and Microsoft's docs print the
/// key); `UseDevelopmentStorage=true` means this account on the default local port.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// How requests are authorized.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Shared Key signing with an account key. `account` is the account the key belongs
    /// to, when known; a URI that names another account is refused up front.
    SharedKey { account: Option<String>, key: Secret },
    /// A SAS token (the query string, without `?`), appended to every request.
    Sas(String),
    /// Entra ID tokens from the credential chain (https endpoints only).
    EntraId,
}

impl std::fmt::Debug for Credentials {
    // Never print a key or a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::SharedKey { account, .. } => write!(f, "SharedKey({account:?})"),
            Credentials::Sas(_) => f.write_str("Sas(..)"),
            Credentials::EntraId => f.write_str("EntraId"),
        }
    }
}

/// Settings of [`AzureStore`](crate::AzureStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The blob service endpoint (`http://127.0.0.1:10000/devstoreaccount1` for Azurite);
    /// `None` is `https://ACCOUNT.blob.core.windows.net`.
    pub endpoint: Option<String>,
    pub credentials: Credentials,
    pub connect_timeout: Duration,
    /// Limit on one try of a request (headers and body); `None` = no limit.
    pub request_timeout: Option<Duration>,
    /// The longest wait for a response to start or for its next bytes: a server that
    /// accepts and never answers, or stops mid-body, fails the try after this long even
    /// when no request timeout is set.
    pub idle_timeout: Duration,
    /// Limit on getting an Entra ID token (managed identity probes included).
    pub credentials_timeout: Duration,
    /// Block size of writers whose `WriterOptions::part_size` is `None`.
    pub block_size: Option<usize>,
    /// Blocks staging at once for writers whose `WriterOptions::max_in_flight` is `None`.
    pub blocks_in_flight: Option<usize>,
    /// Blob Batch requests (≤ 256 deletes each) in flight in `delete_batch`. Where
    /// batches cannot be authorized (Entra ID), single deletes run
    /// `DEFAULT_DELETE_CONCURRENCY` at once instead.
    pub delete_concurrency: usize,
}

impl Default for AzureConfig {
    fn default() -> Self {
        AzureConfig {
            endpoint: None,
            credentials: Credentials::EntraId,
            connect_timeout: Duration::from_secs(3),
            request_timeout: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            credentials_timeout: Duration::from_secs(5),
            block_size: None,
            blocks_in_flight: None,
            delete_concurrency: 4,
        }
    }
}

impl AzureConfig {
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
        let set = |var: &str| env.raw(var).filter(|v| !v.is_empty());
        let d = AzureConfig::default();
        let (mut endpoint, credentials) = if let Some(cs) = set(ENV_CONNECTION_STRING) {
            parse_connection_string(&cs)?
        } else if let Some(key) = set(ENV_KEY) {
            let account = set(ENV_ACCOUNT);
            (
                None,
                Credentials::SharedKey {
                    account,
                    key: Secret::new(key),
                },
            )
        } else if let Some(sas) = set(ENV_SAS) {
            (None, Credentials::Sas(sas.trim_start_matches('?').to_string()))
        } else {
            (None, Credentials::EntraId)
        };
        if let Some(e) = set(ENV_ENDPOINT) {
            endpoint = Some(e);
        }
        Ok(AzureConfig {
            endpoint,
            credentials,
            connect_timeout: ms(ENV_CONNECT_TIMEOUT_MS)?.unwrap_or(d.connect_timeout),
            request_timeout: ms(ENV_REQUEST_TIMEOUT_MS)?,
            idle_timeout: ms(ENV_IDLE_TIMEOUT_MS)?.unwrap_or(d.idle_timeout),
            credentials_timeout: ms(ENV_CREDENTIALS_TIMEOUT_MS)?.unwrap_or(d.credentials_timeout),
            block_size: num(ENV_PART_SIZE)?.map(|n| n as usize),
            blocks_in_flight: num(ENV_PARTS_IN_FLIGHT)?.map(|n| n as usize),
            delete_concurrency: num(ENV_DELETE_CONCURRENCY)?.map_or(d.delete_concurrency, |n| n as usize),
        })
    }

    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The blob service URL of `account`: the configured endpoint (path-style, with the
    /// account appended unless the endpoint already names it), or Azure's own.
    pub fn service_url(&self, account: &str) -> String {
        let Some(endpoint) = &self.endpoint else {
            return format!("https://{account}.blob.core.windows.net");
        };
        let base = endpoint.trim_end_matches('/');
        let host = base.split_once("://").map_or(base, |(_, rest)| rest);
        let names_account = host.starts_with(&format!("{account}."))
            || base.rsplit('/').next() == Some(account) && host.contains('/');
        if names_account {
            base.to_string()
        } else {
            format!("{base}/{account}")
        }
    }
}

/// `AccountName=..;AccountKey=..;BlobEndpoint=..;SharedAccessSignature=..` (or
/// `UseDevelopmentStorage=true`) → endpoint and credentials.
fn parse_connection_string(cs: &str) -> Result<(Option<String>, Credentials)> {
    let bad = |message: String| Error::InvalidArgument {
        op: Operation::Open,
        uri: format!("env:{ENV_CONNECTION_STRING}"),
        message,
    };
    let mut fields = std::collections::HashMap::new();
    for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{part:?} is not Name=value")))?;
        fields.insert(k.to_ascii_lowercase(), v.to_string());
    }
    if fields
        .get("usedevelopmentstorage")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        let credentials = Credentials::SharedKey {
            account: Some(DEV_ACCOUNT.into()),
            key: Secret::new(DEV_KEY),
        };
        return Ok((Some(DEV_ENDPOINT.into()), credentials));
    }
    let account = fields.get("accountname").cloned();
    let endpoint = fields.get("blobendpoint").cloned().or_else(|| {
        let account = account.as_ref()?;
        let protocol = fields
            .get("defaultendpointsprotocol")
            .map_or("https", String::as_str);
        let suffix = fields
            .get("endpointsuffix")
            .map_or("core.windows.net", String::as_str);
        Some(format!("{protocol}://{account}.blob.{suffix}"))
    });
    let credentials = if let Some(key) = fields.get("accountkey") {
        Credentials::SharedKey {
            account,
            key: Secret::new(key.clone()),
        }
    } else if let Some(sas) = fields.get("sharedaccesssignature") {
        Credentials::Sas(sas.trim_start_matches('?').to_string())
    } else {
        return Err(bad(
            "the connection string has neither AccountKey nor SharedAccessSignature".into(),
        ));
    };
    Ok((endpoint, credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<AzureConfig> {
        AzureConfig::from_reader(&EnvReader::from_pairs(vars))
    }

    #[test]
    fn credentials_in_order_and_endpoints() {
        let c = from(&[
            (ENV_CONNECTION_STRING, "UseDevelopmentStorage=true"),
            (ENV_SAS, "sv=x"),
        ])
        .unwrap();
        assert_eq!(c.service_url(DEV_ACCOUNT), DEV_ENDPOINT);
        assert!(
            matches!(c.credentials, Credentials::SharedKey { account: Some(ref a), .. } if a == DEV_ACCOUNT)
        );

        let c = from(&[
            (ENV_CONNECTION_STRING, "DefaultEndpointsProtocol=http;AccountName=acct1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/acct1;"),
        ])
        .unwrap();
        assert_eq!(c.service_url("acct1"), "http://127.0.0.1:9/acct1");
        let c = from(&[(
            ENV_CONNECTION_STRING,
            "AccountName=acct1;SharedAccessSignature=?sv=1&sig=2",
        )])
        .unwrap();
        assert_eq!(c.credentials, Credentials::Sas("sv=1&sig=2".into()));
        assert_eq!(c.service_url("acct1"), "https://acct1.blob.core.windows.net");

        let c = from(&[
            (ENV_KEY, "a2V5"),
            (ENV_ACCOUNT, "acct1"),
            (ENV_ENDPOINT, "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert_eq!(
            c.service_url("acct1"),
            "http://127.0.0.1:9/acct1",
            "path-style adds the account"
        );
        let c = c.with_endpoint("https://acct1.example.net");
        assert_eq!(
            c.service_url("acct1"),
            "https://acct1.example.net",
            "host-style is kept"
        );
        assert_eq!(from(&[]).unwrap().credentials, Credentials::EntraId);

        let e = from(&[(ENV_CONNECTION_STRING, "AccountName=a")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(ENV_CONNECTION_STRING) && e.contains("AccountKey"),
            "{e}"
        );
        let e = from(&[(ENV_DELETE_CONCURRENCY, "many")]).unwrap_err().to_string();
        assert!(e.contains(ENV_DELETE_CONCURRENCY), "{e}");
        assert!(!format!("{:?}", from(&[(ENV_KEY, "c2VjcmV0")]).unwrap()).contains("c2VjcmV0"));
    }
}
