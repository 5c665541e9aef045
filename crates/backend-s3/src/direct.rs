//! The direct data path (decision 012): GET, ranged GET, PUT and UploadPart sent on
//! hyper and signed with `aws-sigv4`. The SDK's endpoint rules choose each bucket's URL
//! and its credential chain supplies the keys, so the requests are the ones the SDK
//! would send, without its per-request interceptors, retry state machine and body
//! wrappers (a third of the CPU of a small PUT, `cargo xtask bench peers`). GET bodies
//! are read off the socket into place ([`crate::conn`], decision 028).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use aws_smithy_types::Document;
use bytes::Bytes;
use http::header::{
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_MATCH, LAST_MODIFIED,
    RANGE, TRANSFER_ENCODING,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3dlio_core::wire::{check_pin, parse_content_range, range_header};
use s3dlio_core::{
    Error, GetOptions, GetResult, ObjectMeta, ObjectUri, Operation, PutOptions, PutResult, Result,
};

use crate::checksum;
use crate::client::FALLBACK_REGION;
use crate::config::{S3Config, UploadChecksum};
use crate::conn::{BoxError, Connections, Sink};
use crate::error::ErrorResponse;
use crate::https::{HttpClient, connector, http_client};
use crate::signer::Signer;

/// Characters escaped in a key's path (everything but unreserved and `/`), as the SDK
/// and `x-amz-copy-source` escape them.
pub(crate) const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The most of an error response's body that is read for its code and message.
const ERROR_BODY_LIMIT: usize = 64 << 10;
const META_PREFIX: &str = "x-amz-meta-";

/// Where one object's requests go: its URL and the region they are signed for.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    url: String,
    region: Arc<str>,
}

/// A bucket on an explicit `host:port` endpoint, or (`None`) on the configured one.
type BucketAt = (Option<String>, String);

/// A bucket's base URL and signing region, by the SDK's endpoint rules.
#[derive(Debug, Clone)]
struct Route {
    base: Arc<str>,
    region: Arc<str>,
}

#[derive(Debug)]
pub(crate) struct Direct {
    http: HttpClient,
    gets: Connections,
    signer: Signer,
    resolver: DefaultResolver,
    config: S3Config,
    region: String,
    use_fips: bool,
    use_dual_stack: bool,
    /// `None`: the rules ask for a scheme other than SigV4 (S3 Express); the SDK sends.
    routes: Mutex<HashMap<BucketAt, Option<Route>>>,
}

impl Direct {
    /// `None` when the SDK config has no credentials provider (the SDK then reports it).
    pub(crate) fn new(config: &S3Config, base: &SdkConfig) -> Option<Self> {
        let provider = base.credentials_provider()?;
        let connector = connector(config);
        Some(Direct {
            http: http_client(config, connector.clone()),
            gets: Connections::new(connector, config.pool_max_idle_per_host),
            signer: Signer::new(provider),
            resolver: DefaultResolver::new(),
            config: config.clone(),
            region: base
                .region()
                .map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string()),
            use_fips: base.use_fips().unwrap_or(false),
            use_dual_stack: base.use_dual_stack().unwrap_or(false),
            routes: Mutex::default(),
        })
    }

    /// Where `u`'s requests go, or `None` when this path cannot sign for its endpoint.
    pub(crate) async fn target(&self, u: &ObjectUri) -> Option<Target> {
        let key = (u.endpoint().map(str::to_string), u.bucket().to_string());
        let cached = self
            .routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let route = match cached {
            Some(route) => route,
            None => {
                let route = self.resolve(u).await;
                self.routes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, route.clone());
                route
            }
        }?;
        Some(Target {
            url: format!("{}/{}", route.base, utf8_percent_encode(u.key(), KEY_PATH)),
            region: route.region,
        })
    }

    async fn resolve(&self, u: &ObjectUri) -> Option<Route> {
        let endpoint = u
            .endpoint()
            .map(|host_port| format!("{}://{host_port}", self.config.explicit_endpoint_scheme))
            .or_else(|| self.config.endpoint.clone());
        let params = Params::builder()
            .bucket(u.bucket())
            .region(self.region.clone())
            .use_fips(self.use_fips)
            .use_dual_stack(self.use_dual_stack)
            .set_force_path_style(Some(self.config.force_path_style.unwrap_or(endpoint.is_some())))
            .set_endpoint(endpoint)
            .build()
            .ok()?;
        let resolved = self.resolver.resolve_endpoint(&params).await.ok()?;
        let scheme = match resolved.properties().get("authSchemes") {
            Some(Document::Array(schemes)) => match schemes.first() {
                Some(Document::Object(s)) => Some(s),
                _ => None,
            },
            _ => None,
        };
        let text = |name: &str| match scheme.and_then(|s| s.get(name)) {
            Some(Document::String(v)) => Some(v.as_str()),
            _ => None,
        };
        if scheme.is_some()
            && (text("name") != Some("sigv4") || text("signingName").is_some_and(|n| n != "s3"))
        {
            return None;
        }
        Some(Route {
            base: resolved.url().trim_end_matches('/').into(),
            region: text("signingRegion").unwrap_or(&self.region).into(),
        })
    }

    /// Signs `req`, whose body is `payload` carrying `checksum`.
    async fn sign(
        &self,
        op: Operation,
        uri: &str,
        target: &Target,
        req: &mut Request<Full<Bytes>>,
        (payload, checksum): (&[u8], UploadChecksum),
    ) -> Result<()> {
        let payload = self
            .config
            .payload_signing
            .signs(&target.url, checksum)
            .then_some(payload);
        self.signer.sign(op, uri, &target.region, req, payload).await
    }

    /// Signs and sends `req` (whose body is `payload`, carrying `checksum`).
    async fn send(
        &self,
        op: Operation,
        uri: &str,
        target: &Target,
        mut req: Request<Full<Bytes>>,
        sent: (&[u8], UploadChecksum),
    ) -> Result<Response<Incoming>> {
        self.sign(op, uri, target, &mut req, sent).await?;
        self.answer(op, uri, self.http.request(req)).await
    }

    /// The response `sent` waits for, within the idle timeout.
    async fn answer<T, E: Into<BoxError>>(
        &self,
        op: Operation,
        uri: &str,
        sent: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        let idle = self.config.idle_timeout;
        let answer = tokio::time::timeout(idle, sent)
            .await
            .map_err(|_| Error::Timeout {
                op,
                uri: uri.to_string(),
                after: Some(idle),
                source: Some("no answer within the idle timeout".into()),
            })?;
        answer.map_err(|e| Error::Unreachable {
            op,
            uri: uri.to_string(),
            hint: "could not reach the S3 endpoint, or it closed the connection (check AWS_ENDPOINT_URL \
                   or the URI's host:port, and that the server is running)"
                .into(),
            source: Some(e.into()),
        })
    }

    /// Reads an error response's body (bounded) into the error it stands for.
    async fn refusal(op: Operation, uri: &str, resp: Response<Incoming>) -> Error {
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), ERROR_BODY_LIMIT)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        ErrorResponse::parse(status, &body).into_error(op, uri)
    }

    /// `fut` under the configured timeout, body included.
    async fn bounded<T>(&self, op: Operation, uri: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        bounded(self.config.call_timeout(), op, uri, fut).await
    }

    /// A GET; `Ok(None)` when S3 answered 416 (the caller answers from the object's size).
    pub(crate) async fn get(
        &self,
        op: Operation,
        uri: &str,
        target: &Target,
        opts: &GetOptions,
    ) -> Result<Option<GetResult>> {
        self.bounded(op, uri, async {
            let mut req = Request::get(&target.url);
            if let Some(r) = &opts.range {
                req = req.header(RANGE, range_header(r));
            }
            if let Some(tag) = &opts.if_match {
                req = req.header(IF_MATCH, header_value(op, uri, tag)?);
            }
            let mut req = req.body(Full::default()).map_err(|e| bad_request(op, uri, e))?;
            Connections::set_host(&mut req).map_err(|e| bad_request(op, uri, e))?;
            self.sign(op, uri, target, &mut req, (&[], UploadChecksum::Off))
                .await?;
            let exchange = self.answer(op, uri, self.gets.send(req)).await?;
            let resp = exchange.head();
            match resp.status() {
                StatusCode::OK | StatusCode::PARTIAL_CONTENT => {}
                StatusCode::RANGE_NOT_SATISFIABLE => return Ok(None),
                _ => return Err(Self::refusal(op, uri, exchange.into_response()).await),
            }
            let headers = resp.headers();
            check_pin(op, uri, opts.if_match.as_deref(), text(headers, &ETAG))?;
            let len = text(headers, &CONTENT_LENGTH)
                .and_then(|l| l.parse::<u64>().ok())
                .ok_or_else(|| protocol(op, uri, "the response has no Content-Length"))?;
            let (range, total) = text(headers, &CONTENT_RANGE)
                .and_then(parse_content_range)
                .unwrap_or((0..len, len));
            let meta = meta(uri, total, headers);
            let len = (range.end - range.start) as usize;
            if headers.contains_key(TRANSFER_ENCODING) {
                // The body is read as its announced bytes, so a coding would be read as data.
                return Err(protocol(
                    op,
                    uri,
                    "the response has a Transfer-Encoding (S3 sends none)",
                ));
            }
            let sink = match &opts.place {
                Some(place) => Sink::Place(place),
                None => Sink::New,
            };
            let limits = (self.config.idle_timeout, op, uri);
            let data = exchange.read(&self.gets, len, sink, limits).await?;
            Ok(Some(GetResult { data, range, meta }))
        })
        .await
    }

    /// A PUT of the whole object.
    pub(crate) async fn put(
        &self,
        op: Operation,
        uri: &str,
        target: &Target,
        data: Bytes,
        opts: &PutOptions,
    ) -> Result<PutResult> {
        self.bounded(op, uri, async {
            let checksum = self.config.checksum;
            let mut req = Request::put(&target.url).header(CONTENT_LENGTH, data.len());
            if let Some(sum) = checksum.of(op, uri, &data).await? {
                req = req.header(checksum::HEADER, sum);
            }
            if let Some(t) = &opts.content_type {
                req = req.header(CONTENT_TYPE, header_value(op, uri, t)?);
            }
            for (k, v) in &opts.metadata {
                let name = HeaderName::try_from(format!("{META_PREFIX}{k}"))
                    .map_err(|e| Error::invalid_argument(op, uri, format!("metadata key {k:?}: {e}")))?;
                req = req.header(name, header_value(op, uri, v)?);
            }
            let req = req
                .body(Full::new(data.clone()))
                .map_err(|e| bad_request(op, uri, e))?;
            let resp = self.send(op, uri, target, req, (&data, checksum)).await?;
            if !resp.status().is_success() {
                return Err(Self::refusal(op, uri, resp).await);
            }
            Ok(PutResult {
                e_tag: text(resp.headers(), &ETAG).map(str::to_string),
                version: text(resp.headers(), "x-amz-version-id").map(str::to_string),
            })
        })
        .await
    }

    /// One UploadPart carrying `sum` (the value of the upload's checksum header, if it
    /// declared one); returns the part's ETag.
    pub(crate) async fn upload_part(
        &self,
        uri: &str,
        target: &Target,
        (upload_id, part_number): (&str, i32),
        data: Bytes,
        sum: Option<&str>,
    ) -> Result<Option<String>> {
        let op = Operation::Write;
        self.bounded(op, uri, async {
            let url = format!(
                "{}?partNumber={part_number}&uploadId={}",
                target.url,
                utf8_percent_encode(upload_id, NON_ALPHANUMERIC)
            );
            let mut req = Request::put(url).header(CONTENT_LENGTH, data.len());
            if let Some(sum) = sum {
                req = req.header(checksum::HEADER, sum);
            }
            let req = req
                .body(Full::new(data.clone()))
                .map_err(|e| bad_request(op, uri, e))?;
            let checksum = match sum {
                Some(_) => UploadChecksum::Crc32c,
                None => UploadChecksum::Off,
            };
            let resp = self.send(op, uri, target, req, (&data, checksum)).await?;
            if !resp.status().is_success() {
                return Err(Self::refusal(op, uri, resp).await);
            }
            Ok(text(resp.headers(), &ETAG).map(str::to_string))
        })
        .await
    }
}

/// `fut` under `limit` (none: unbounded), as [`Error::Timeout`] when it runs out.
pub(crate) async fn bounded<T>(
    limit: Option<Duration>,
    op: Operation,
    uri: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(limit) = limit else {
        return fut.await;
    };
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(Error::Timeout {
            op,
            uri: uri.to_string(),
            after: Some(limit),
            source: None,
        })
    })
}

fn text(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_value(op: Operation, uri: &str, v: &str) -> Result<HeaderValue> {
    HeaderValue::try_from(v)
        .map_err(|e| Error::invalid_argument(op, uri, format!("{v:?} cannot be sent as an HTTP header: {e}")))
}

fn bad_request(op: Operation, uri: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid_argument(op, uri, format!("cannot build the request: {e}"))
}

fn protocol(op: Operation, uri: &str, message: &str) -> Error {
    Error::Backend {
        op,
        uri: uri.to_string(),
        message: message.into(),
        source: None,
    }
}

/// An object's metadata from GET response headers (the fields HEAD would give).
fn meta(uri: &str, size: u64, h: &HeaderMap) -> ObjectMeta {
    ObjectMeta {
        uri: uri.to_string(),
        size,
        last_modified: text(h, &LAST_MODIFIED)
            .and_then(|t| DateTime::from_str(t, DateTimeFormat::HttpDate).ok())
            .and_then(|t| SystemTime::try_from(t).ok()),
        e_tag: text(h, &ETAG).map(str::to_string),
        content_type: text(h, &CONTENT_TYPE).map(str::to_string),
        storage_class: text(h, "x-amz-storage-class").map(str::to_string),
        version: text(h, "x-amz-version-id").map(str::to_string),
        metadata: h
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str().strip_prefix(META_PREFIX)?;
                Some((key.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use aws_config::Region;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    use super::*;

    /// The URL a request of `uri` goes to under `config` (the SDK's clients get the same
    /// two settings, `client::build_client`).
    async fn url(config: S3Config, uri: &str) -> String {
        let base = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .region(Region::new("us-east-1"))
            .build();
        let direct = Direct::new(&config, &base).unwrap();
        direct.target(&ObjectUri::parse(uri).unwrap()).await.unwrap().url
    }

    /// `S3DLIO_S3_FORCE_PATH_STYLE` overrides the addressing style either way, and
    /// `S3DLIO_S3_ENDPOINT_SCHEME` is the scheme of an `s3://host:port/...` URI's server.
    #[tokio::test]
    async fn request_urls_follow_the_addressing_knobs() {
        let custom = || S3Config::default().with_endpoint("http://s3.example.test:9000");
        let force = |c: S3Config, on| S3Config {
            force_path_style: Some(on),
            ..c
        };
        let cases = [
            (custom(), "http://s3.example.test:9000/bkt/k"),
            (force(custom(), false), "http://bkt.s3.example.test:9000/k"),
            (S3Config::default(), "https://bkt.s3.us-east-1.amazonaws.com/k"),
            (
                force(S3Config::default(), true),
                "https://s3.us-east-1.amazonaws.com/bkt/k",
            ),
        ];
        // (Virtual-hosted style needs a bucket name of 3 characters or more.)
        for (config, expected) in cases {
            assert_eq!(url(config, "s3://bkt/k").await, expected);
        }
        for scheme in ["http", "https"] {
            let config = S3Config {
                explicit_endpoint_scheme: scheme.into(),
                ..S3Config::default()
            };
            assert_eq!(
                url(config, "s3://other.test:9100/bkt/k").await,
                format!("{scheme}://other.test:9100/bkt/k")
            );
        }
    }
}
