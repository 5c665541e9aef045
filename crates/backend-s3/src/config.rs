//! Settings of the S3 backend, and the one place their variables are read.
//!
//! Standard AWS variables (credentials, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL[_S3]`, web identity, container/IMDS) are honoured through
//! `aws-config`; the `S3DLIO_*` knobs below are ours.

use std::time::Duration;

pub use aws_credential_types::Credentials;

use s3dlio_core::env::EnvReader;
use s3dlio_core::{ENV_PART_SIZE, ENV_PARTS_IN_FLIGHT, Error, Operation, Result};

/// Settings of [`S3Store`](crate::S3Store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint for `s3://bucket/key` URIs (`AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`);
    /// `None` is AWS itself. `s3://host:port/bucket/key` URIs name their own endpoint.
    pub endpoint: Option<String>,
    /// Scheme for `s3://host:port/...` URIs.
    pub explicit_endpoint_scheme: String,
    /// The region; `None` = the AWS chain (`AWS_REGION`, the profile), then us-east-1.
    pub region: Option<String>,
    /// Path-style addressing; `None` = on for custom endpoints, off for AWS.
    pub force_path_style: Option<bool>,
    pub connect_timeout: Duration,
    /// Whole-call timeout; `None` = no limit. (The SDK makes one attempt per call: the
    /// retry layer owns retries, decision 010.)
    pub operation_timeout: Option<Duration>,
    /// Per-attempt timeout; `None` = no limit.
    pub attempt_timeout: Option<Duration>,
    /// The longest wait for a response to start or for its next bytes: a server that
    /// accepts and never answers, or stops mid-body, fails the try after this long even
    /// when no operation timeout is set.
    pub idle_timeout: Duration,
    /// Limit on resolving credentials through the whole chain (IMDS included).
    pub credentials_timeout: Duration,
    /// Part size of writers whose `WriterOptions::part_size` is `None`.
    pub part_size: Option<usize>,
    /// Parts in flight of writers whose `WriterOptions::max_in_flight` is `None`.
    pub parts_in_flight: Option<usize>,
    /// After a multipart upload completes, HEAD the object and check its size.
    pub put_verify: bool,
    /// DeleteObjects requests in flight at once in `delete_batch`.
    pub delete_concurrency: usize,
    /// PEM certificates trusted besides the system roots (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<Vec<u8>>,
    /// Idle connections kept per host; `None` = the HTTP client's default (no limit).
    pub pool_max_idle_per_host: Option<usize>,
    /// How GET, PUT and UploadPart are sent; everything else goes through the SDK.
    pub data_path: DataPath,
    /// Whether PUT and UploadPart bodies are hashed into their signature.
    pub payload_signing: PayloadSigning,
    /// The checksum each PUT and UploadPart body carries for the service to check.
    pub checksum: UploadChecksum,
    /// Fixed keys for this store; `None` = the AWS chain (`AWS_ACCESS_KEY_ID`, profiles,
    /// web identity, container, IMDS). Its `Debug` hides the secret.
    pub credentials: Option<Credentials>,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: None,
            explicit_endpoint_scheme: "http".into(),
            region: None,
            force_path_style: None,
            connect_timeout: Duration::from_secs(3),
            operation_timeout: None,
            attempt_timeout: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            credentials_timeout: Duration::from_secs(2),
            part_size: None,
            parts_in_flight: None,
            put_verify: false,
            delete_concurrency: 8,
            ca_bundle: None,
            pool_max_idle_per_host: None,
            data_path: DataPath::Direct,
            payload_signing: PayloadSigning::Auto,
            checksum: UploadChecksum::Crc32c,
            credentials: None,
        }
    }
}

/// The client that sends the data requests (GET, ranged GET, PUT, UploadPart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataPath {
    /// hyper with `aws-sigv4` signing, the SDK's credential chain and endpoint rules
    /// (decision 012): the same requests without the SDK's per-request machinery, and
    /// GET bodies read off the socket straight into place (decision 028).
    /// An endpoint whose rules ask for another signing scheme (S3 Express) uses the SDK.
    #[default]
    Direct,
    /// aws-sdk-s3 for every request (`S3DLIO_S3_DATA_PATH=sdk`).
    Sdk,
}

/// Whether an upload's body is hashed (SHA-256) into its SigV4 signature, or sent as
/// `UNSIGNED-PAYLOAD`. Hashing costs about 0.5 CPU s per GiB (SHA-NI) on the client and
/// as much again on a server that checks it (decisions 025, 027).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadSigning {
    /// Hashed only over http without an upload checksum: TLS protects the bytes over
    /// https, and the CRC32C the service checks catches corruption over http.
    #[default]
    Auto,
    On,
    Off,
}

impl PayloadSigning {
    /// Whether a body sent to `url` with `checksum` is hashed.
    pub fn signs(self, url: &str, checksum: UploadChecksum) -> bool {
        match self {
            PayloadSigning::Auto => checksum == UploadChecksum::Off && !url.starts_with("https://"),
            PayloadSigning::On => true,
            PayloadSigning::Off => false,
        }
    }
}

/// The checksum header (`x-amz-checksum-crc32c`) each PUT and UploadPart carries, which
/// the service checks against the bytes it received and refuses (`BadDigest`) when they
/// differ; multipart uploads declare it when created and list each part's at completion
/// (decision 027). About a tenth of SHA-256's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadChecksum {
    #[default]
    Crc32c,
    /// No checksum header, for a server that refuses them.
    Off,
}

pub const ENV_ENDPOINT_SCHEME: &str = "S3DLIO_S3_ENDPOINT_SCHEME";
pub const ENV_FORCE_PATH_STYLE: &str = "S3DLIO_S3_FORCE_PATH_STYLE";
pub const ENV_CONNECT_TIMEOUT_MS: &str = "S3DLIO_S3_CONNECT_TIMEOUT_MS";
pub const ENV_OPERATION_TIMEOUT_MS: &str = "S3DLIO_S3_OPERATION_TIMEOUT_MS";
pub const ENV_ATTEMPT_TIMEOUT_MS: &str = "S3DLIO_S3_ATTEMPT_TIMEOUT_MS";
pub const ENV_CREDENTIALS_TIMEOUT_MS: &str = "S3DLIO_S3_CREDENTIALS_TIMEOUT_MS";
pub const ENV_IDLE_TIMEOUT_MS: &str = "S3DLIO_S3_IDLE_TIMEOUT_MS";
/// [`S3Config::idle_timeout`] unless set: boto3's read timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const ENV_PUT_VERIFY: &str = "S3DLIO_PUT_VERIFY";
pub const ENV_DELETE_CONCURRENCY: &str = "S3DLIO_S3_DELETE_CONCURRENCY";
pub const ENV_POOL_MAX_IDLE: &str = "S3DLIO_S3_POOL_MAX_IDLE_PER_HOST";
/// `direct` (the default) or `sdk`: see [`DataPath`].
pub const ENV_DATA_PATH: &str = "S3DLIO_S3_DATA_PATH";
/// `auto` (the default), `on` or `off`: see [`PayloadSigning`].
pub const ENV_PAYLOAD_SIGNING: &str = "S3DLIO_S3_PAYLOAD_SIGNING";
/// `crc32c` (the default) or `off`: see [`UploadChecksum`].
pub const ENV_CHECKSUM: &str = "S3DLIO_S3_CHECKSUM";
/// The AWS CLI's variable for extra trusted CA certificates (a PEM file).
pub const ENV_CA_BUNDLE: &str = "AWS_CA_BUNDLE";

impl S3Config {
    /// Defaults overridden by the environment; a malformed value, or an `AWS_CA_BUNDLE`
    /// that cannot be read, is an error that names the variable. (The bundle is read here,
    /// once, when the store is made.)
    pub fn from_env() -> Result<Self> {
        Self::from_reader(&EnvReader::process())
    }

    /// Defaults overridden by what `env` holds (the CA bundle it names is read here).
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let mut c = Self::settings(env)?;
        if let Some(path) = env.raw(ENV_CA_BUNDLE).filter(|p| !p.is_empty()) {
            c.ca_bundle = Some(read_ca_bundle(std::path::Path::new(&path))?);
        }
        Ok(c)
    }

    fn settings<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let num = |var: &str| env.positive(var);
        let ms = |var: &str| num(var).map(|n| n.map(Duration::from_millis));
        let d = S3Config::default();
        Ok(S3Config {
            endpoint: env
                .raw("AWS_ENDPOINT_URL_S3")
                .or_else(|| env.raw("AWS_ENDPOINT_URL"))
                .filter(|s| !s.is_empty()),
            explicit_endpoint_scheme: env
                .parse(ENV_ENDPOINT_SCHEME, "http or https", |s| {
                    matches!(s, "http" | "https").then(|| s.to_string())
                })?
                .unwrap_or(d.explicit_endpoint_scheme),
            // Unset: the SDK's chain (AWS_DEFAULT_REGION, the profile) decides.
            region: env.raw("AWS_REGION").filter(|r| !r.is_empty()),
            force_path_style: env.flag(ENV_FORCE_PATH_STYLE)?,
            connect_timeout: ms(ENV_CONNECT_TIMEOUT_MS)?.unwrap_or(d.connect_timeout),
            operation_timeout: ms(ENV_OPERATION_TIMEOUT_MS)?,
            attempt_timeout: ms(ENV_ATTEMPT_TIMEOUT_MS)?,
            idle_timeout: ms(ENV_IDLE_TIMEOUT_MS)?.unwrap_or(d.idle_timeout),
            credentials_timeout: ms(ENV_CREDENTIALS_TIMEOUT_MS)?.unwrap_or(d.credentials_timeout),
            part_size: num(ENV_PART_SIZE)?.map(|n| n as usize),
            parts_in_flight: num(ENV_PARTS_IN_FLIGHT)?.map(|n| n as usize),
            put_verify: env.flag(ENV_PUT_VERIFY)?.unwrap_or(false),
            delete_concurrency: num(ENV_DELETE_CONCURRENCY)?.map_or(d.delete_concurrency, |n| n as usize),
            ca_bundle: None,
            pool_max_idle_per_host: num(ENV_POOL_MAX_IDLE)?.map(|n| n as usize),
            data_path: env
                .parse(ENV_DATA_PATH, "direct or sdk", |s| match s {
                    "direct" => Some(DataPath::Direct),
                    "sdk" => Some(DataPath::Sdk),
                    _ => None,
                })?
                .unwrap_or_default(),
            payload_signing: env
                .parse(ENV_PAYLOAD_SIGNING, "auto, on or off", |s| match s {
                    "auto" => Some(PayloadSigning::Auto),
                    "on" => Some(PayloadSigning::On),
                    "off" => Some(PayloadSigning::Off),
                    _ => None,
                })?
                .unwrap_or_default(),
            checksum: env
                .parse(ENV_CHECKSUM, "crc32c or off", |s| match s {
                    "crc32c" => Some(UploadChecksum::Crc32c),
                    "off" => Some(UploadChecksum::Off),
                    _ => None,
                })?
                .unwrap_or_default(),
            credentials: keys(env),
        })
    }

    /// The tighter of the operation and attempt timeouts: the store makes one attempt
    /// per call (the retry layer owns retries), so either bounds a whole exchange.
    pub(crate) fn call_timeout(&self) -> Option<Duration> {
        match (self.operation_timeout, self.attempt_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Signs with this key pair instead of the AWS credential chain.
    pub fn with_credentials(mut self, access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(
            access_key.into(),
            secret_key.into(),
            None,
            None,
            "s3dlio S3Config",
        ));
        self
    }

    pub fn with_data_path(mut self, path: DataPath) -> Self {
        self.data_path = path;
        self
    }

    /// Trusts the PEM certificates in `path` besides the system roots (as
    /// `AWS_CA_BUNDLE` does); an unreadable or malformed file is an error naming it.
    pub fn with_ca_bundle_file(mut self, path: &std::path::Path) -> Result<Self> {
        self.ca_bundle = Some(read_ca_bundle(path)?);
        Ok(self)
    }
}

/// Reads and checks a PEM bundle with the parser the SDK's TLS layer uses (which panics
/// on a malformed bundle, so it must be rejected here); no certificate is an error too.
pub fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<u8>> {
    let bad = |message: String| Error::InvalidArgument {
        op: Operation::Open,
        uri: format!("env:{ENV_CA_BUNDLE}"),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{} is not a valid PEM bundle: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(bad(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(pem)
}

/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN` if set) as
/// fixed keys. In the process environment they are the AWS chain's first source anyway;
/// given to `s3dlio.configure` they sign without being written into `os.environ`.
fn keys<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Option<Credentials> {
    let set = |var: &str| env.raw(var).filter(|v| !v.is_empty());
    Some(Credentials::new(
        set("AWS_ACCESS_KEY_ID")?,
        set("AWS_SECRET_ACCESS_KEY")?,
        set("AWS_SESSION_TOKEN"),
        None,
        "s3dlio configuration",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_read_and_checked() {
        let c = S3Config::settings(&EnvReader::new(|k: &str| match k {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000".into()),
            ENV_PART_SIZE => Some("8388608".into()),
            ENV_PUT_VERIFY => Some("1".into()),
            ENV_DATA_PATH => Some("sdk".into()),
            ENV_CHECKSUM => Some("off".into()),
            _ => None,
        }))
        .unwrap();
        assert_eq!(c.checksum, UploadChecksum::Off);
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!((c.part_size, c.put_verify), (Some(8 << 20), true));
        assert_eq!(c.data_path, DataPath::Sdk);
        assert!(c.credentials.is_none(), "no keys given: the AWS chain");
        let keyed = S3Config::settings(&EnvReader::new(|k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".into()),
            _ => None,
        }))
        .unwrap();
        let keys = keyed.credentials.expect("both keys given: fixed credentials");
        assert_eq!(
            (keys.access_key_id(), keys.secret_access_key()),
            ("AKID", "secret")
        );
        assert_eq!(keys.session_token(), None);
        let half = S3Config::settings(&EnvReader::new(|k: &str| {
            (k == "AWS_ACCESS_KEY_ID").then(|| "AKID".into())
        }))
        .unwrap();
        assert!(half.credentials.is_none(), "one key alone: the AWS chain decides");
        let e = S3Config::settings(&EnvReader::new(|k: &str| {
            (k == ENV_DELETE_CONCURRENCY).then(|| "lots".into())
        }))
        .unwrap_err();
        assert!(e.to_string().contains(ENV_DELETE_CONCURRENCY), "{e}");
        // Debian's system bundle: many valid certificates.
        let system = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
        assert!(
            read_ca_bundle(system).is_ok(),
            "{} should parse",
            system.display()
        );
        let e = read_ca_bundle(std::path::Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            e.to_string().contains(ENV_CA_BUNDLE) && e.to_string().contains("cannot read"),
            "{e}"
        );
        let not_pem = std::env::temp_dir().join(format!("s3dlio-not-pem-{}", std::process::id()));
        std::fs::write(&not_pem, b"hello").unwrap();
        let e = read_ca_bundle(&not_pem).unwrap_err();
        std::fs::remove_file(&not_pem).unwrap();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = S3Config::settings(&EnvReader::new(|k: &str| {
            (k == ENV_ENDPOINT_SCHEME).then(|| "ftp".into())
        }))
        .unwrap_err();
        assert!(e.to_string().contains("http or https"), "{e}");
    }
}
