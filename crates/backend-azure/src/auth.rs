//! Authorization the SDK does not do itself: Shared Key signing (the maintained SDK signs
//! only with Entra ID tokens) and the Entra ID credential chain with a time limit.
//!
//! The signing policy runs last in each try, after the SDK has set every header, so it
//! signs exactly what is sent; a retry signs again with a fresh date.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use azure_core::time::{OffsetDateTime, to_rfc7231};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential,
};

/// Signs every request with an account key (the `SharedKey` scheme).
#[derive(Debug)]
pub(crate) struct SharedKeyPolicy {
    account: String,
    key: Secret,
}

impl SharedKeyPolicy {
    pub(crate) fn new(account: &str, key: Secret) -> Self {
        SharedKeyPolicy {
            account: account.to_string(),
            key,
        }
    }

    /// Dates and signs `request` (also the sub-requests of a batch, which are signed
    /// one by one).
    pub(crate) fn sign(&self, request: &mut Request) -> azure_core::Result<()> {
        request.insert_header("x-ms-date", to_rfc7231(&OffsetDateTime::now_utc()));
        let signature = azure_core::hmac::hmac_sha256(&string_to_sign(&self.account, request), &self.key)?;
        request.insert_header("authorization", format!("SharedKey {}:{signature}", self.account));
        Ok(())
    }
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(&self, ctx: &Context, request: &mut Request, next: &[Arc<dyn Policy>]) -> PolicyResult {
        self.sign(request)?;
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// The Shared Key string to sign (Blob service, version 2015-02-21 and later).
fn string_to_sign(account: &str, request: &Request) -> String {
    let headers = request.headers();
    let h = |name: &'static str| headers.get_optional_str(&name.into()).unwrap_or_default();
    // An empty body signs as an empty Content-Length, not "0".
    let length = match request.body().len() {
        Some(0) | None => String::new(),
        Some(n) => n.to_string(),
    };
    let mut out = format!(
        "{}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
        request.method().as_ref(),
        h("content-encoding"),
        h("content-language"),
        h("content-md5"),
        h("content-type"),
        h("if-modified-since"),
        h("if-match"),
        h("if-none-match"),
        h("if-unmodified-since"),
        h("range"),
    );
    let ms: BTreeMap<String, &str> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-ms-"))
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_str().trim()))
        .collect();
    for (k, v) in ms {
        out.push_str(&format!("{k}:{v}\n"));
    }
    let url = request.url();
    out.push_str(&format!("/{account}{}", url.path()));
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        query
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.into_owned());
    }
    for (k, mut values) in query {
        values.sort();
        out.push_str(&format!("\n{k}:{}", values.join(",")));
    }
    out
}

/// The Entra ID chain: a service principal from `AZURE_CLIENT_SECRET`, workload identity
/// from `AZURE_FEDERATED_TOKEN_FILE`, else managed identity then the Azure CLI. Each
/// token request is bounded by `limit`, so a machine without a metadata service fails
/// fast instead of hanging.
pub(crate) fn entra_credential(limit: Duration) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let chain: Vec<Arc<dyn TokenCredential>> = if let Some(secret) = var("AZURE_CLIENT_SECRET") {
        let tenant = var("AZURE_TENANT_ID").unwrap_or_default();
        let client = var("AZURE_CLIENT_ID").unwrap_or_default();
        vec![ClientSecretCredential::new(
            &tenant,
            client,
            Secret::new(secret),
            None,
        )?]
    } else if var("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        vec![WorkloadIdentityCredential::new(None)?]
    } else {
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
            ..Default::default()
        };
        vec![
            ManagedIdentityCredential::new(Some(options))?,
            AzureCliCredential::new(None)?,
        ]
    };
    Ok(Arc::new(Chain { chain, limit }))
}

/// Tries each credential in turn, each within the time limit.
#[derive(Debug)]
struct Chain {
    chain: Vec<Arc<dyn TokenCredential>>,
    limit: Duration,
}

#[async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut failures = Vec::new();
        for c in &self.chain {
            match tokio::time::timeout(self.limit, c.get_token(scopes, options.clone())).await {
                Ok(Ok(token)) => return Ok(token),
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(_) => failures.push(format!(
                    "{c:?}: no token within {:?} (S3DLIO_AZURE_CREDENTIALS_TIMEOUT_MS)",
                    self.limit
                )),
            }
        }
        Err(azure_core::Error::with_message(
            ErrorKind::Credential,
            format!("no Entra ID credential produced a token: {}", failures.join("; ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{Method, Url};

    /// A credential that never answers (a metadata endpoint that swallows requests).
    #[derive(Debug)]
    struct Silent;

    #[async_trait]
    impl TokenCredential for Silent {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn the_chain_gives_up_within_its_limit_and_says_what_it_tried() {
        let limit = Duration::from_millis(100);
        let chain = Chain {
            chain: vec![Arc::new(Silent), Arc::new(Silent)],
            limit,
        };
        let started = std::time::Instant::now();
        let err = chain.get_token(&["scope"], None).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err.kind(), ErrorKind::Credential), "{err}");
        let msg = err.to_string();
        assert_eq!(msg.matches("no token within 100ms").count(), 2, "{msg}");
    }

    #[test]
    fn string_to_sign_follows_the_shared_key_rules() {
        let url =
            Url::parse("http://127.0.0.1:10000/acct/c/a%20b?restype=container&comp=list&prefix=x").unwrap();
        let mut r = Request::new(url, Method::Get);
        r.insert_header("x-ms-version", "2026-04-06");
        r.insert_header("x-ms-date", "Tue, 01 Dec 2026 00:00:00 GMT");
        r.insert_header("range", "bytes=0-9");
        let s = string_to_sign("acct", &r);
        assert_eq!(
            s,
            "GET\n\n\n\n\n\n\n\n\n\n\nbytes=0-9\nx-ms-date:Tue, 01 Dec 2026 00:00:00 GMT\nx-ms-version:2026-04-06\n\
             /acct/acct/c/a%20b\ncomp:list\nprefix:x\nrestype:container"
        );
        let mut put = Request::new(Url::parse("http://h/acct/c/k").unwrap(), Method::Put);
        put.set_body(bytes::Bytes::from_static(b"hello"));
        assert!(string_to_sign("acct", &put).starts_with("PUT\n\n\n5\n"));
    }
}
