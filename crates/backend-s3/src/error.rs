//! Turning SDK errors and S3 error responses into s3dlio errors that keep the SDK's cause chain and say what to do.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use quick_xml::events::Event;
use s3dlio_core::{Error, Operation};

pub(crate) const CREDENTIALS_HINT: &str = "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
     or AWS_PROFILE (~/.aws/credentials, ~/.aws/config), or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, \
     or run where a container/instance role is available";

/// The credential chain's failure (nothing found, a provider failed or timed out): the SDK
/// reports it as a dispatch failure whose cause chain holds a `CredentialsError`.
fn credentials_failure<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a CredentialsError> {
    std::iter::successors(Some(err), |e| e.source()).find_map(|e| e.downcast_ref::<CredentialsError>())
}

/// What to do about a failed credential lookup; a lookup that ran out of time names the
/// knob that bounds it.
pub(crate) fn credentials_hint(err: &CredentialsError) -> String {
    match err {
        CredentialsError::ProviderTimedOut(t) => format!(
            "finding credentials took longer than {:?} (S3DLIO_S3_CREDENTIALS_TIMEOUT_MS); {CREDENTIALS_HINT}",
            t.timeout_duration()
        ),
        _ => CREDENTIALS_HINT.into(),
    }
}

/// Maps an SDK error, keeping it as the source.
pub(crate) fn map_sdk_error<E>(op: Operation, uri: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let uri = uri.to_string();
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string);
    // Before the dispatch arms: a chain whose last provider (IMDS) could not be reached
    // is a dispatch failure too, and the cause is the missing credentials.
    if let Some(failure) = credentials_failure(&err) {
        return Error::Unauthenticated {
            op,
            uri,
            hint: credentials_hint(failure),
            source: Some(Box::new(err)),
        };
    }
    // The SDK's own timeouts, and its HTTP client's connect and read (idle) timeouts.
    let timed_out = match &err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    if timed_out {
        return Error::Timeout {
            op,
            uri,
            after: None,
            // The limit is S3DLIO_S3_OPERATION_TIMEOUT_MS, _ATTEMPT_TIMEOUT_MS,
            // _CONNECT_TIMEOUT_MS or _IDLE_TIMEOUT_MS.
            source: Some(Box::new(err)),
        };
    }
    match &err {
        // No answer: refused, reset, or closed before the response was complete. (A
        // request the SDK could not build is a user error, not the endpoint's fault.)
        SdkError::DispatchFailure(d) if !d.is_user() => {
            return Error::Unreachable {
                op,
                uri: uri.clone(),
                hint: "could not reach the S3 endpoint (check AWS_ENDPOINT_URL or the URI's host:port, \
                       and that the server is running)"
                    .into(),
                source: Some(Box::new(err)),
            };
        }
        _ => {}
    }
    classify(op, uri, status, code, message, Box::new(err))
}

/// Maps a refusal by its S3 error code and HTTP status (the same rules for SDK errors
/// and for the direct data path's responses).
pub(crate) fn classify(
    op: Operation,
    uri: String,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    cause: s3dlio_core::BoxError,
) -> Error {
    match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => Error::NotFound {
            op,
            uri,
            source: Some("the bucket does not exist (create it with create_container / `mb`)".into()),
        },
        (Some("NoSuchKey" | "NotFound" | "NoSuchUpload"), _) | (_, Some(404)) => Error::NotFound {
            op,
            uri,
            source: Some(cause),
        },
        (Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"), _) => {
            Error::Unauthenticated {
                op,
                uri,
                hint: "the server rejected the credentials (wrong key, secret, or expired session token)"
                    .into(),
                source: Some(cause),
            }
        }
        (Some("AccessDenied" | "AllAccessDisabled"), _) | (_, Some(403)) => Error::PermissionDenied {
            op,
            uri,
            source: Some(cause),
        },
        (Some("PreconditionFailed"), _) | (_, Some(412)) => Error::Precondition {
            op,
            uri,
            message: "the object changed (If-Match did not match)".into(),
        },
        (Some("BucketNotEmpty"), _) => Error::Precondition {
            op,
            uri,
            message: "the bucket is not empty; delete its objects first (delete_prefix)".into(),
        },
        (Some("KeyTooLongError"), _) => Error::InvalidArgument {
            op,
            uri,
            message: "the key is longer than S3 allows (1024 bytes of UTF-8); shorten it".into(),
        },
        (Some("BucketAlreadyExists"), _) => Error::AlreadyExists {
            op,
            uri,
            source: Some(cause),
        },
        // A server that lacks the request fails the same way every time: not retried.
        (Some("NotImplemented"), _) | (_, Some(501)) => Error::NotSupported {
            operation: op,
            backend: "s3",
            uri,
            hint: format!(
                "the server does not implement this request ({}); check that the endpoint is an S3 service that supports it",
                message.or(code).unwrap_or_else(|| "HTTP 501".into())
            ),
        },
        // BadDigest, XAmzContentSHA256Mismatch: the body arrived corrupted (its checksum
        // or hash did not match); the same bytes sent again are expected to arrive intact.
        (
            Some(
                "SlowDown"
                | "RequestTimeout"
                | "InternalError"
                | "ServiceUnavailable"
                | "BadDigest"
                | "XAmzContentSHA256Mismatch",
            ),
            _,
        ) => Error::Transient {
            op,
            uri,
            source: cause,
        },
        (_, Some(s)) if s >= 500 => Error::Transient {
            op,
            uri,
            source: cause,
        },
        _ => Error::Backend {
            op,
            uri,
            message: match (code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c,
                (None, Some(m)) => m,
                (None, None) => "request failed".into(),
            },
            source: Some(cause),
        },
    }
}

/// An S3 error response as the direct data path received it: the status and the
/// `<Code>` and `<Message>` of its XML body (a HEAD-like answer has none).
#[derive(Debug)]
pub(crate) struct ErrorResponse {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorResponse {}

impl ErrorResponse {
    pub(crate) fn parse(status: u16, body: &[u8]) -> Self {
        let (mut code, mut message) = (None, None);
        let mut reader = quick_xml::Reader::from_reader(body);
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if matches!(e.name().as_ref(), b"Code" | b"Message") => {
                    let Ok(raw) = reader.read_text(e.name()) else {
                        break;
                    };
                    let text = raw
                        .decode()
                        .ok()
                        .and_then(|t| Some(quick_xml::escape::unescape(&t).ok()?.into_owned()));
                    match e.name().as_ref() {
                        b"Code" => code = code.or(text),
                        _ => message = message.or(text),
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => {}
            }
        }
        ErrorResponse {
            status,
            code,
            message,
        }
    }

    pub(crate) fn into_error(self, op: Operation, uri: &str) -> Error {
        let (status, code, message) = (Some(self.status), self.code.clone(), self.message.clone());
        classify(op, uri.to_string(), status, code, message, Box::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    fn dispatch(cause: s3dlio_core::BoxError) -> SdkError<GetObjectError, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::other(cause, None))
    }

    #[test]
    fn an_error_body_gives_its_code_and_message() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The key &amp; more does not exist</Message><Key>k</Key></Error>"#;
        let r = ErrorResponse::parse(404, body);
        assert_eq!(r.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(r.message.as_deref(), Some("The key & more does not exist"));
        assert!(matches!(
            r.into_error(Operation::Get, "s3://b/k"),
            Error::NotFound { .. }
        ));
        // A server without the request: the same answer on every try.
        let r = ErrorResponse::parse(
            501,
            br#"<Error><Code>NotImplemented</Code><Message>no auth</Message></Error>"#,
        );
        let e = r.into_error(Operation::Get, "s3://b/k");
        assert!(
            matches!(e, Error::NotSupported { .. }) && !e.is_retryable(),
            "{e:?}"
        );
        assert!(e.to_string().contains("no auth"), "{e}");
        let r = ErrorResponse::parse(503, b"");
        assert_eq!((r.code.as_deref(), r.to_string().as_str()), (None, "HTTP 503"));
        assert!(r.into_error(Operation::Get, "s3://b/k").is_retryable());
    }

    #[test]
    fn a_failed_credential_chain_is_unauthenticated_by_its_type() {
        let missing = dispatch(Box::new(CredentialsError::not_loaded("no providers in chain")));
        let e = map_sdk_error(Operation::Get, "s3://b/k", missing);
        assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
        // The words alone, in an error of another type, are not a credentials failure.
        let other = dispatch("CredentialsNotLoaded: no credentials".into());
        let e = map_sdk_error(Operation::Get, "s3://b/k", other);
        assert!(!matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    }
}
