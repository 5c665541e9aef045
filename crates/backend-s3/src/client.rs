//! SDK clients: one shared `SdkConfig` (credentials, region, timeouts, retries), and one
//! client per endpoint so that `s3://host:port/bucket/key` URIs reach their own server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::identity::IdentityCache;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use s3dlio_core::ObjectUri;
use tokio::sync::OnceCell;

use crate::config::{DataPath, S3Config};
use crate::direct::{Direct, Target};

/// Region used when neither `AWS_REGION`, `AWS_DEFAULT_REGION` nor a profile names one.
pub const FALLBACK_REGION: &str = "us-east-1";

#[derive(Debug)]
pub(crate) struct Clients {
    config: S3Config,
    base: OnceCell<SdkConfig>,
    direct: OnceCell<Option<Arc<Direct>>>,
    by_endpoint: Mutex<HashMap<Option<String>, Client>>,
}

impl Clients {
    pub(crate) fn new(config: S3Config) -> Self {
        Clients {
            config,
            base: OnceCell::new(),
            direct: OnceCell::new(),
            by_endpoint: Mutex::default(),
        }
    }

    pub(crate) fn config(&self) -> &S3Config {
        &self.config
    }

    /// The direct data path and `u`'s target on it, or `None` where the SDK sends
    /// (`DataPath::Sdk`, or an endpoint that needs another signing scheme).
    pub(crate) async fn direct(&self, u: &ObjectUri) -> Option<(Arc<Direct>, Target)> {
        if self.config.data_path != DataPath::Direct {
            return None;
        }
        let direct = self
            .direct
            .get_or_init(|| async {
                let base = self.base.get_or_init(|| load_sdk_config(&self.config)).await;
                Direct::new(&self.config, base).map(Arc::new)
            })
            .await
            .clone()?;
        let target = direct.target(u).await?;
        Some((direct, target))
    }

    /// The client for a URI's explicit `host:port` endpoint, or for the configured one.
    pub(crate) async fn get(&self, explicit: Option<&str>) -> Client {
        let base = self.base.get_or_init(|| load_sdk_config(&self.config)).await;
        let mut map = self.by_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(explicit.map(str::to_string))
            .or_insert_with(|| build_client(&self.config, base, explicit))
            .clone()
    }
}

async fn load_sdk_config(cfg: &S3Config) -> SdkConfig {
    let explicit = cfg.region.clone().map(Region::new);
    let region = || {
        RegionProviderChain::first_try(explicit.clone())
            .or_default_provider()
            .or_else(Region::new(FALLBACK_REGION))
    };
    // Every credential lookup is bounded: IMDS gets one short attempt, and the whole
    // chain (env, profile, web identity, container, IMDS) a load timeout, so a machine
    // without IMDS never hangs on it.
    let imds = aws_config::imds::Client::builder()
        .connect_timeout(cfg.credentials_timeout)
        .read_timeout(cfg.credentials_timeout)
        .max_attempts(1)
        .build();
    let credentials = match &cfg.credentials {
        Some(fixed) => SharedCredentialsProvider::new(fixed.clone()),
        None => SharedCredentialsProvider::new(Bounded {
            chain: DefaultCredentialsChain::builder()
                .region(region())
                .imds_client(imds)
                .build()
                .await,
            limit: cfg.credentials_timeout,
        }),
    };
    // The read timeout bounds the wait for a response to start; the store bounds its
    // body's stalls itself (`idle_bounded`), the same on both data paths.
    let mut timeouts = TimeoutConfig::builder()
        .connect_timeout(cfg.connect_timeout)
        .read_timeout(cfg.idle_timeout);
    if let Some(t) = cfg.operation_timeout {
        timeouts = timeouts.operation_timeout(t);
    }
    if let Some(t) = cfg.attempt_timeout {
        timeouts = timeouts.operation_attempt_timeout(t);
    }
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client(cfg))
        .region(region())
        .credentials_provider(credentials)
        // `Bounded` ends a lookup first, with an error that names the knob; the cache's
        // own timeout (its error reads as a failed dispatch) only backs it up.
        .identity_cache(
            IdentityCache::lazy()
                .load_timeout(cfg.credentials_timeout + Duration::from_secs(1))
                .build(),
        )
        .timeout_config(timeouts.build())
        // One attempt per call: the store's retry layer is the one retry owner.
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

/// The credential chain within a time limit: a lookup that hangs ends as
/// `ProviderTimedOut`, for both data paths.
#[derive(Debug)]
struct Bounded {
    chain: DefaultCredentialsChain,
    limit: Duration,
}

impl ProvideCredentials for Bounded {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            tokio::time::timeout(self.limit, self.chain.provide_credentials())
                .await
                .unwrap_or(Err(CredentialsError::provider_timed_out(self.limit)))
        })
    }
}

/// The SDK's own HTTP client (rustls), trusting the system roots plus `AWS_CA_BUNDLE`,
/// with the idle-pool cap if one is set.
fn http_client(cfg: &S3Config) -> SharedHttpClient {
    let mut trust = TrustStore::default();
    if let Some(pem) = &cfg.ca_bundle {
        trust = trust.with_pem_certificate(pem.clone());
    }
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("building a TLS context from a trust store cannot fail");
    let mut b = aws_smithy_http_client::Builder::new();
    b.set_pool_max_idle_per_host(cfg.pool_max_idle_per_host);
    b.tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

/// Sends every request of an SDK client with `UNSIGNED-PAYLOAD` (what the SDK's
/// per-operation `disable_payload_signing` does, for the whole client).
#[derive(Debug)]
struct UnsignedPayload;

impl Intercept for UnsignedPayload {
    fn name(&self) -> &'static str {
        "s3dlio::UnsignedPayload"
    }

    fn modify_before_signing(
        &self,
        _: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(PayloadSigningOverride::unsigned_payload());
        Ok(())
    }
}

fn build_client(cfg: &S3Config, base: &SdkConfig, explicit: Option<&str>) -> Client {
    let url = explicit
        .map(|host_port| format!("{}://{host_port}", cfg.explicit_endpoint_scheme))
        .or_else(|| cfg.endpoint.clone());
    // Checksums only where the API requires them: many S3-compatible servers reject the
    // SDK's default trailing-checksum uploads; integrity checks are ours (CRC32C).
    let mut b = aws_sdk_s3::config::Builder::from(base)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .force_path_style(cfg.force_path_style.unwrap_or(url.is_some()));
    // AWS itself is https.
    if !cfg
        .payload_signing
        .signs(url.as_deref().unwrap_or("https://"), cfg.checksum)
    {
        b = b.interceptor(UnsignedPayload);
    }
    if let Some(url) = url {
        b = b.endpoint_url(url);
    }
    Client::from_conf(b.build())
}
