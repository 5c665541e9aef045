//! SigV4 signing for the direct data path: `aws-sigv4` with S3's settings, and the
//! credentials of the SDK's chain cached until shortly before they expire.

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use s3dlio_core::{Error, Operation, Result};

use crate::error::credentials_hint;

/// Credentials this close to expiry are fetched again before the next request.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub(crate) struct Signer {
    provider: SharedCredentialsProvider,
    cached: RwLock<Option<Credentials>>,
    /// One refresh at a time; the others wait for its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl Signer {
    pub(crate) fn new(provider: SharedCredentialsProvider) -> Self {
        Signer {
            provider,
            cached: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Credentials> {
        let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|c| {
                c.expiry()
                    .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
            })
            .cloned()
    }

    async fn credentials(&self, op: Operation, uri: &str) -> Result<Credentials> {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _one = self.refreshing.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        // The provider bounds its own lookup (`client::Bounded`).
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Unauthenticated {
                op,
                uri: uri.to_string(),
                hint: credentials_hint(&e),
                source: Some(Box::new(e)),
            })?;
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    /// Adds the SigV4 headers (`authorization`, `x-amz-date`, `x-amz-content-sha256`, the
    /// session token) to `req`, whose body is `payload`: hashed into the signature, or
    /// (`None`) sent as `UNSIGNED-PAYLOAD`.
    pub(crate) async fn sign<B>(
        &self,
        op: Operation,
        uri: &str,
        region: &str,
        req: &mut http::Request<B>,
        payload: Option<&[u8]>,
    ) -> Result<()> {
        let identity: Identity = self.credentials(op, uri).await?.into();
        let mut settings = SigningSettings::default();
        // S3's rules: keys are signed as sent (no second encoding, no `.`/`//` folding),
        // and the payload hash travels in x-amz-content-sha256.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let bad = |e: &dyn std::fmt::Display| {
            Error::invalid_argument(op, uri, format!("cannot sign the request: {e}"))
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| bad(&e))?
            .into();
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| Ok((k.as_str(), v.to_str().map_err(|e| bad(&e))?)))
            .collect::<Result<Vec<_>>>()?;
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.uri().to_string(),
            headers.into_iter(),
            payload.map_or(SignableBody::UnsignedPayload, SignableBody::Bytes),
        )
        .map_err(|e| bad(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| bad(&e))?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(())
    }
}
