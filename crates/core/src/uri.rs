//! Object URIs for every scheme s3dlio knows.
//!
//! Keys are taken literally: everything after `bucket/` is the key, byte for byte, with no
//! percent-decoding, so a key may hold spaces, `+`, `%` or any Unicode. Parsing and
//! display round-trip (`parse(display(u)) == u`), which the property tests below check.
//!
//! | form | meaning |
//! |---|---|
//! | `s3://bucket/key` | S3 with the configured endpoint |
//! | `s3://host:port/bucket/key` | S3 at an explicit endpoint (an authority with a `:`) |
//! | `az://account/container/key` | Azure Blob |
//! | `https://account.blob.core.windows.net/container/key` | Azure Blob, portal form |
//! | `gs://bucket/key`, `gcs://bucket/key` | Google Cloud Storage |
//! | `file:///abs/path` | local file, buffered |
//! | `direct:///abs/path` | local file, O_DIRECT |
//! | `memory://bucket/key` | the in-process store |

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Operation, Result};

/// The schemes s3dlio parses. Which of them a build can *serve* depends on its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    S3,
    /// `az://account/container/key`
    Az,
    /// `https://account.blob.core.windows.net/container/key`
    AzureHttps,
    Gs,
    Gcs,
    File,
    Direct,
    Memory,
}

/// The storage service behind a scheme (`gs` and `gcs` are one service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    S3,
    Azure,
    Gcs,
    File,
    Direct,
    Memory,
}

const AZURE_BLOB_SUFFIX: &str = ".blob.core.windows.net";

/// Every scheme prefix, as error messages list them.
pub const ALL_SCHEMES: &[&str] = &[
    "s3://",
    "az://",
    "https://<account>.blob.core.windows.net/",
    "gs://",
    "gcs://",
    "file://",
    "direct://",
    "memory://",
];

impl Scheme {
    /// The service this scheme addresses.
    pub fn service(self) -> Service {
        match self {
            Scheme::S3 => Service::S3,
            Scheme::Az | Scheme::AzureHttps => Service::Azure,
            Scheme::Gs | Scheme::Gcs => Service::Gcs,
            Scheme::File => Service::File,
            Scheme::Direct => Service::Direct,
            Scheme::Memory => Service::Memory,
        }
    }

    /// The scheme a URI starts with, without checking the rest: service roots such as
    /// `s3://` or `memory://` (which name no bucket) have one too.
    pub fn of(uri: &str) -> Option<Scheme> {
        split_scheme(uri).map(|(scheme, _)| scheme)
    }

    fn prefix(self) -> &'static str {
        match self {
            Scheme::S3 => "s3://",
            Scheme::Az => "az://",
            Scheme::AzureHttps => "https://",
            Scheme::Gs => "gs://",
            Scheme::Gcs => "gcs://",
            Scheme::File => "file://",
            Scheme::Direct => "direct://",
            Scheme::Memory => "memory://",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::S3 => "s3",
            Service::Azure => "azure",
            Service::Gcs => "gcs",
            Service::File => "file",
            Service::Direct => "direct",
            Service::Memory => "memory",
        })
    }
}

/// The longest object name S3 and GCS (1024 bytes of UTF-8) and Azure Blob (1024
/// characters) accept.
pub const MAX_KEY_LENGTH: usize = 1024;

/// A parsed object (or prefix) URI.
///
/// For `file://` and `direct://` the bucket is empty and the key is the absolute path
/// without its leading `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectUri {
    scheme: Scheme,
    /// S3: an explicit `host:port` endpoint. Azure: the storage account.
    authority: Option<String>,
    bucket: String,
    key: String,
}

impl ObjectUri {
    /// Parses a URI; the error says what is wrong and what form was expected.
    pub fn parse(uri: &str) -> Result<Self> {
        let parsed = Self::parse_form(uri)?;
        // The services refuse longer names, and emulators do not: refuse them here, the
        // same on every server, before any byte moves.
        let (length, unit) = match parsed.service() {
            Service::S3 | Service::Gcs => (parsed.key.len(), "bytes"),
            Service::Azure => (parsed.key.chars().count(), "characters"),
            Service::File | Service::Direct | Service::Memory => (0, ""),
        };
        if length > MAX_KEY_LENGTH {
            return Err(Error::InvalidUri {
                uri: uri.to_string(),
                reason: format!(
                    "the key is {length} {unit}; {} allows at most {MAX_KEY_LENGTH}: shorten it",
                    parsed.service()
                ),
            });
        }
        Ok(parsed)
    }

    fn parse_form(uri: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidUri {
            uri: uri.to_string(),
            reason,
        };
        let (scheme, rest) = split_scheme(uri).ok_or_else(|| {
            bad(format!(
                "unknown or missing scheme; expected one of {}",
                ALL_SCHEMES.join(", ")
            ))
        })?;
        if rest.contains('\0') {
            return Err(bad("a URI may not contain a NUL byte".into()));
        }
        match scheme {
            Scheme::File | Scheme::Direct => {
                let Some(path) = rest.strip_prefix('/') else {
                    return Err(bad(format!(
                        "{} URIs need an absolute path, e.g. {}/data/file.bin (note the third slash)",
                        scheme.prefix(),
                        scheme.prefix()
                    )));
                };
                Ok(ObjectUri {
                    scheme,
                    authority: None,
                    bucket: String::new(),
                    key: path.to_string(),
                })
            }
            Scheme::Az | Scheme::AzureHttps => {
                let account_and_path = if scheme == Scheme::Az {
                    rest.split_once('/')
                        .ok_or_else(|| bad("expected az://account/container/key".to_string()))?
                } else {
                    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                    let account = host.strip_suffix(AZURE_BLOB_SUFFIX).ok_or_else(|| {
                        bad(format!(
                            "https URIs are read as Azure Blob URLs and need a host ending in {AZURE_BLOB_SUFFIX}"
                        ))
                    })?;
                    (account, path)
                };
                let (account, path) = account_and_path;
                check_azure_account(account).map_err(bad)?;
                let (container, key) = split_bucket(path);
                check_bucket(container, "container").map_err(bad)?;
                Ok(ObjectUri {
                    scheme,
                    authority: Some(account.to_string()),
                    bucket: container.to_string(),
                    key: key.to_string(),
                })
            }
            Scheme::S3 => {
                let (first, after) = split_bucket(rest);
                let (authority, bucket, key) = if first.contains(':') {
                    check_endpoint(first).map_err(bad)?;
                    let (bucket, key) = split_bucket(after);
                    (Some(first.to_string()), bucket, key)
                } else {
                    (None, first, after)
                };
                check_bucket(bucket, "bucket").map_err(|r| {
                    bad(format!(
                        "{r}; expected s3://bucket/key or s3://host:port/bucket/key"
                    ))
                })?;
                Ok(ObjectUri {
                    scheme,
                    authority,
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
            Scheme::Gs | Scheme::Gcs | Scheme::Memory => {
                let (bucket, key) = split_bucket(rest);
                check_bucket(bucket, "bucket")
                    .map_err(|r| bad(format!("{r}; expected {}bucket/key", scheme.prefix())))?;
                Ok(ObjectUri {
                    scheme,
                    authority: None,
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn service(&self) -> Service {
        self.scheme.service()
    }

    /// S3: the explicit `host:port` endpoint, if the URI names one.
    pub fn endpoint(&self) -> Option<&str> {
        match self.scheme {
            Scheme::S3 => self.authority.as_deref(),
            _ => None,
        }
    }

    /// Azure: the storage account.
    pub fn account(&self) -> Option<&str> {
        match self.scheme.service() {
            Service::Azure => self.authority.as_deref(),
            _ => None,
        }
    }

    /// Bucket or container; empty for `file://` and `direct://`.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key (for local schemes: the absolute path without its leading `/`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// For `file://` and `direct://`: the absolute path.
    pub fn local_path(&self) -> Option<std::path::PathBuf> {
        match self.scheme {
            Scheme::File | Scheme::Direct => Some(std::path::PathBuf::from(format!("/{}", self.key))),
            _ => None,
        }
    }

    /// The same location with another key.
    pub fn with_key(&self, key: impl Into<String>) -> Self {
        ObjectUri {
            key: key.into(),
            ..self.clone()
        }
    }
}

/// `uri` as a prefix: with one trailing `/`.
pub fn as_prefix(uri: &str) -> String {
    if uri.ends_with('/') {
        uri.to_string()
    } else {
        format!("{uri}/")
    }
}

/// The URIs one backend serves, for its parsing: `SERVES.uri(uri)` and
/// `SERVES.object(op, uri)` instead of a pair of helpers in every backend.
#[derive(Debug, Clone, Copy)]
pub struct Serves {
    /// The backend's name in errors ("the s3 store serves s3:// URIs only").
    pub backend: &'static str,
    pub services: &'static [Service],
}

impl Serves {
    /// [`parse_for`] this backend.
    pub fn uri(&self, uri: &str) -> Result<ObjectUri> {
        parse_for(uri, self.backend, self.services)
    }

    /// [`parse_object`] for this backend.
    pub fn object(&self, op: Operation, uri: &str) -> Result<ObjectUri> {
        parse_object(op, uri, self.backend, self.services)
    }
}

/// [`parse_for`] for an operation on one object: the URI must name a key.
pub fn parse_object(op: Operation, uri: &str, backend: &str, services: &[Service]) -> Result<ObjectUri> {
    let parsed = parse_for(uri, backend, services)?;
    if parsed.key().is_empty() {
        return Err(Error::invalid_argument(
            op,
            uri,
            "an object URI needs a key after the bucket or container",
        ));
    }
    Ok(parsed)
}

/// Parses `uri` for a backend that serves `services`; any other scheme gets an error that
/// names the backend and the schemes it serves.
pub fn parse_for(uri: &str, backend: &str, services: &[Service]) -> Result<ObjectUri> {
    let parsed = ObjectUri::parse(uri)?;
    if services.contains(&parsed.service()) {
        return Ok(parsed);
    }
    let served: Vec<String> = services.iter().map(|s| format!("{s}://")).collect();
    Err(Error::InvalidUri {
        uri: uri.to_string(),
        reason: format!(
            "the {backend} store serves {} URIs only; use s3dlio::store_for_uri to pick the store for any scheme",
            served.join(" and ")
        ),
    })
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Scheme::File | Scheme::Direct => write!(f, "{}/{}", self.scheme.prefix(), self.key),
            Scheme::AzureHttps => write!(
                f,
                "https://{}{AZURE_BLOB_SUFFIX}/{}/{}",
                self.authority.as_deref().unwrap_or_default(),
                self.bucket,
                self.key
            ),
            _ => {
                f.write_str(self.scheme.prefix())?;
                if let Some(a) = &self.authority {
                    write!(f, "{a}/")?;
                }
                write!(f, "{}/{}", self.bucket, self.key)
            }
        }
    }
}

impl FromStr for ObjectUri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ObjectUri::parse(s)
    }
}

fn split_scheme(uri: &str) -> Option<(Scheme, &str)> {
    const TABLE: &[(&str, Scheme)] = &[
        ("s3://", Scheme::S3),
        ("az://", Scheme::Az),
        ("https://", Scheme::AzureHttps),
        ("gs://", Scheme::Gs),
        ("gcs://", Scheme::Gcs),
        ("file://", Scheme::File),
        ("direct://", Scheme::Direct),
        ("memory://", Scheme::Memory),
    ];
    TABLE
        .iter()
        .find_map(|(p, s)| uri.strip_prefix(p).map(|rest| (*s, rest)))
}

fn split_bucket(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or((path, ""))
}

fn check_bucket(name: &str, what: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err(format!("missing {what} name"));
    }
    if name.len() > 255 {
        return Err(format!("{what} name is longer than 255 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "{what} name {name:?} contains {c:?}; use letters, digits, '.', '-' or '_'"
        ));
    }
    Ok(())
}

fn check_endpoint(host_port: &str) -> std::result::Result<(), String> {
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint {host_port:?} needs host:port"))?;
    if host.is_empty() {
        return Err(format!("endpoint {host_port:?} has no host"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("endpoint {host_port:?} has an invalid port {port:?}"))?;
    Ok(())
}

fn check_azure_account(account: &str) -> std::result::Result<(), String> {
    let ok = (3..=24).contains(&account.len())
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Azure storage account {account:?} must be 3-24 lowercase letters or digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_longer_than_the_services_allow_are_refused_naming_the_limit() {
        let long = "k".repeat(MAX_KEY_LENGTH + 1);
        for base in ["s3://b/", "gs://b/", "az://acct/cont/"] {
            assert!(
                ObjectUri::parse(&format!("{base}{}", &long[1..])).is_ok(),
                "{base}"
            );
            let err = ObjectUri::parse(&format!("{base}{long}")).unwrap_err();
            assert!(matches!(err, Error::InvalidUri { .. }), "{base}: {err:?}");
            assert!(err.to_string().contains("at most 1024"), "{base}: {err}");
        }
        // Azure counts characters: 1024 two-byte characters fit.
        assert!(ObjectUri::parse(&format!("az://acct/cont/{}", "é".repeat(1024))).is_ok());
        assert!(ObjectUri::parse(&format!("gs://b/{}", "é".repeat(1024))).is_err());
        // Local paths and memory keys have no such limit here (the file system decides).
        assert!(ObjectUri::parse(&format!("memory://b/{long}")).is_ok());
        assert!(ObjectUri::parse(&format!("file:///tmp/{long}")).is_ok());
    }

    #[test]
    fn parses_every_scheme() {
        let u = ObjectUri::parse("s3://bucket/a/b c+%.bin").unwrap();
        assert_eq!(
            (u.service(), u.bucket(), u.key()),
            (Service::S3, "bucket", "a/b c+%.bin")
        );
        assert_eq!(u.endpoint(), None);

        let u = ObjectUri::parse("s3://127.0.0.1:9000/bkt/k").unwrap();
        assert_eq!(
            (u.endpoint(), u.bucket(), u.key()),
            (Some("127.0.0.1:9000"), "bkt", "k")
        );

        let u = ObjectUri::parse("az://acct1/cont/dir/x").unwrap();
        assert_eq!(
            (u.account(), u.bucket(), u.key()),
            (Some("acct1"), "cont", "dir/x")
        );

        let u = ObjectUri::parse("https://acct1.blob.core.windows.net/cont/x").unwrap();
        assert_eq!(
            (u.service(), u.account(), u.bucket()),
            (Service::Azure, Some("acct1"), "cont")
        );

        assert_eq!(ObjectUri::parse("gs://b/k").unwrap().service(), Service::Gcs);
        assert_eq!(ObjectUri::parse("gcs://b/k").unwrap().service(), Service::Gcs);

        let u = ObjectUri::parse("file:///tmp/x y").unwrap();
        assert_eq!(u.local_path().unwrap(), std::path::PathBuf::from("/tmp/x y"));
        assert_eq!(
            ObjectUri::parse("direct:///a").unwrap().service(),
            Service::Direct
        );

        let u = ObjectUri::parse("memory://b").unwrap();
        assert_eq!((u.bucket(), u.key()), ("b", ""));
        assert_eq!(u.to_string(), "memory://b/");
    }

    #[test]
    fn rejects_bad_uris_with_reasons() {
        let cases = [
            ("ftp://x/y", "unknown or missing scheme"),
            ("bucket/key", "s3://"),
            ("s3://", "missing bucket"),
            ("s3:///key", "missing bucket"),
            ("s3://host:99999/b/k", "invalid port"),
            ("s3://bu cket/k", "contains ' '"),
            ("file://relative/path", "absolute path"),
            ("direct://x", "absolute path"),
            ("az://UPPER/c/k", "3-24 lowercase"),
            ("az://acct", "az://account/container/key"),
            ("https://example.com/c/k", ".blob.core.windows.net"),
            ("memory:///k", "missing bucket"),
            ("s3://b/k\0", "NUL"),
        ];
        for (uri, want) in cases {
            let err = ObjectUri::parse(uri).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::InvalidUri { .. }), "{uri}: {msg}");
            assert!(msg.contains(want), "{uri}: {msg:?} should mention {want:?}");
            assert!(msg.contains(&format!("{uri:?}")), "{msg} should quote the URI");
        }
    }

    fn bucket() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9._-]{1,30}[a-z0-9]"
    }

    fn key() -> impl Strategy<Value = String> {
        // Any Unicode but NUL, including '/', ' ', '+', '%' and empty keys.
        proptest::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..40)
            .prop_map(|cs| cs.into_iter().collect())
    }

    fn uri() -> impl Strategy<Value = String> {
        prop_oneof![
            (bucket(), key()).prop_map(|(b, k)| format!("s3://{b}/{k}")),
            ("[a-z0-9.-]{1,20}", any::<u16>(), bucket(), key())
                .prop_map(|(h, p, b, k)| format!("s3://{h}:{p}/{b}/{k}")),
            ("[a-z0-9]{3,24}", bucket(), key()).prop_map(|(a, b, k)| format!("az://{a}/{b}/{k}")),
            ("[a-z0-9]{3,24}", bucket(), key())
                .prop_map(|(a, b, k)| format!("https://{a}.blob.core.windows.net/{b}/{k}")),
            (bucket(), key()).prop_map(|(b, k)| format!("gs://{b}/{k}")),
            (bucket(), key()).prop_map(|(b, k)| format!("gcs://{b}/{k}")),
            (bucket(), key()).prop_map(|(b, k)| format!("memory://{b}/{k}")),
            key().prop_map(|k| format!("file:///{k}")),
            key().prop_map(|k| format!("direct:///{k}")),
        ]
    }

    proptest! {
        #[test]
        fn parse_display_round_trips(s in uri()) {
            let u = ObjectUri::parse(&s).unwrap();
            prop_assert_eq!(u.to_string(), s.clone());
            prop_assert_eq!(ObjectUri::parse(&u.to_string()).unwrap(), u);
        }

        #[test]
        fn bad_bucket_characters_are_rejected(b in "[a-z]{2}[ #?*\\\\]{1}[a-z]{2}", k in key()) {
            let s = format!("s3://{b}/{k}");
            let err = ObjectUri::parse(&s).unwrap_err();
            prop_assert!(err.to_string().contains("use letters, digits"), "{}", err);
        }

        #[test]
        fn garbage_never_panics(s in ".{0,60}") {
            let _ = ObjectUri::parse(&s);
        }
    }
}
