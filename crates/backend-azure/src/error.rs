//! Turning SDK errors into s3dlio errors that keep the SDK's cause chain and say what to do.

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;
use s3dlio_core::{Error, Operation};

const CREDENTIALS_HINT: &str = "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with \
     AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN, or an Entra ID identity (AZURE_CLIENT_ID, \
     AZURE_TENANT_ID, AZURE_CLIENT_SECRET; workload or managed identity; `az login`)";

/// The service's error code (`x-ms-error-code`), where the error is an HTTP response.
pub(crate) fn error_code(err: &azure_core::Error) -> Option<&str> {
    match err.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

/// Whether a connect or request timeout of the HTTP client ended the call (the SDK wraps
/// the client's error a few levels down).
fn timed_out(err: &azure_core::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        {
            return true;
        }
        // `io::Error::source` skips the error it wraps (a body's read timeout arrives
        // as an io::Error around reqwest's): step into the wrapped one instead.
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => return true,
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// Maps a failure of a response body mid-way: the read timeout, or a cut worth another try.
pub(crate) fn body_error(op: Operation, uri: &str, err: azure_core::Error) -> Error {
    if timed_out(&err) {
        return Error::Timeout {
            op,
            uri: uri.to_string(),
            after: None,
            source: Some(Box::new(err)),
        };
    }
    Error::Transient {
        op,
        uri: uri.to_string(),
        source: Box::new(err),
    }
}

/// Maps an SDK error, keeping it as the source.
pub(crate) fn map_error(op: Operation, uri: &str, err: azure_core::Error) -> Error {
    let uri = uri.to_string();
    let status = err.http_status();
    let code = error_code(&err).map(str::to_string);
    // Azure says AuthenticationFailed for a bad signature; Azurite says AuthorizationFailure
    // with Azure's own "failed to authenticate" message. Both are a credentials problem.
    let unauthenticated = matches!(
        code.as_deref(),
        Some("AuthenticationFailed" | "InvalidAuthenticationInfo" | "NoAuthenticationInformation")
    ) || status == Some(StatusCode::Unauthorized)
        || status == Some(StatusCode::Forbidden) && err.to_string().contains("failed to authenticate");
    match err.kind() {
        ErrorKind::Credential => {
            return Error::Unauthenticated {
                op,
                uri,
                hint: format!("no usable Azure credentials ({err}): {CREDENTIALS_HINT}"),
                source: Some(Box::new(err)),
            };
        }
        ErrorKind::Connection | ErrorKind::Io if status.is_none() => {
            if timed_out(&err) {
                return Error::Timeout {
                    op,
                    uri,
                    after: None,
                    // The limit is S3DLIO_AZURE_REQUEST_TIMEOUT_MS or _CONNECT_TIMEOUT_MS.
                    source: Some(Box::new(err)),
                };
            }
            return Error::Unreachable {
                op,
                uri,
                hint: "could not reach the Azure Blob endpoint (check AZURE_STORAGE_ENDPOINT or the \
                       account name, and that the server is running)"
                    .into(),
                source: Some(Box::new(err)),
            };
        }
        _ => {}
    }
    let cause: s3dlio_core::BoxError = Box::new(err);
    if unauthenticated {
        return Error::Unauthenticated {
            op,
            uri,
            hint: format!(
                "the service rejected the credentials (wrong key, expired SAS or token); {CREDENTIALS_HINT}"
            ),
            source: Some(cause),
        };
    }
    match (code.as_deref(), status) {
        (Some("ContainerNotFound"), _) => Error::NotFound {
            op,
            uri,
            source: Some("the container does not exist (create it with create_container / `mb`)".into()),
        },
        (_, Some(StatusCode::NotFound)) => Error::NotFound {
            op,
            uri,
            source: Some(cause),
        },
        (_, Some(StatusCode::Forbidden)) => Error::PermissionDenied {
            op,
            uri,
            source: Some(cause),
        },
        (_, Some(StatusCode::PreconditionFailed)) | (Some("ConditionNotMet"), _) => Error::Precondition {
            op,
            uri,
            message: "the blob changed (If-Match did not match)".into(),
        },
        (Some("ContainerAlreadyExists" | "BlobAlreadyExists"), _) => Error::AlreadyExists {
            op,
            uri,
            source: Some(cause),
        },
        // A server that lacks the request fails the same way every time: not retried.
        (_, Some(StatusCode::NotImplemented)) => Error::NotSupported {
            operation: op,
            backend: "azure",
            uri,
            hint: format!(
                "the server does not implement this request ({}); check that the endpoint is an Azure Blob service that supports it",
                code.unwrap_or_else(|| "HTTP 501".into())
            ),
        },
        (Some("ServerBusy" | "OperationTimedOut" | "InternalError"), _) => Error::Transient {
            op,
            uri,
            source: cause,
        },
        (_, Some(s)) if u16::from(s) >= 500 || s == StatusCode::TooManyRequests => Error::Transient {
            op,
            uri,
            source: cause,
        },
        _ => Error::Backend {
            op,
            uri,
            message: match (code, status) {
                (Some(c), _) => c,
                (None, Some(s)) => format!("HTTP {}", u16::from(s)),
                (None, None) => "request failed".into(),
            },
            source: Some(cause),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: StatusCode, code: &str) -> azure_core::Error {
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status,
                error_code: Some(code.into()),
                raw_response: None,
            },
            "the service said no",
        )
    }

    #[test]
    fn a_missing_feature_is_not_retried_and_a_busy_server_is() {
        let e = map_error(
            Operation::Get,
            "az://a/c/b",
            answer(StatusCode::NotImplemented, "NotImplemented"),
        );
        assert!(
            matches!(e, Error::NotSupported { .. }) && !e.is_retryable(),
            "{e:?}"
        );
        assert!(e.to_string().contains("NotImplemented"), "{e}");
        let e = map_error(
            Operation::Get,
            "az://a/c/b",
            answer(StatusCode::ServiceUnavailable, "ServerBusy"),
        );
        assert!(e.is_retryable(), "{e:?}");
    }
}
