//! Turning JSON API and HTTP failures into s3dlio errors that keep the cause chain and
//! say what to do.

use gcloud_storage::http::Error as ApiError;
use s3dlio_core::{BoxError, Error, Operation};

pub(crate) const CREDENTIALS_HINT: &str = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account \
     key file, run `gcloud auth application-default login`, or run on Google Cloud (metadata server); \
     STORAGE_EMULATOR_HOST points at an emulator, S3DLIO_GCS_ANONYMOUS=1 reads public buckets";

/// The HTTP client's error somewhere in the chain (the retry middleware wraps it).
fn transport(err: &ApiError) -> Option<&reqwest::Error> {
    match err {
        ApiError::HttpClient(e) | ApiError::RawResponse(e, _) => Some(e),
        ApiError::HttpMiddleware(e) => e.chain().find_map(reqwest_error),
        _ => None,
    }
}

fn reqwest_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a reqwest::Error> {
    e.downcast_ref::<reqwest::Error>()
        .or_else(|| match e.downcast_ref() {
            Some(reqwest_middleware::Error::Reqwest(e)) => Some(e),
            _ => None,
        })
}

/// Maps a failure of a request we sent ourselves (media reads).
pub(crate) fn map_transport(op: Operation, uri: &str, err: reqwest_middleware::Error) -> Error {
    let timed_out = match &err {
        reqwest_middleware::Error::Reqwest(e) => e.is_timeout(),
        reqwest_middleware::Error::Middleware(e) => e
            .chain()
            .filter_map(reqwest_error)
            .any(reqwest::Error::is_timeout),
    };
    unreachable_server(op, uri, timed_out, Box::new(err))
}

/// Maps a failure of a response body mid-way: the read timeout, or a cut worth another try.
pub(crate) fn body_error(op: Operation, uri: &str, err: reqwest::Error) -> Error {
    if err.is_timeout() {
        return unreachable_server(op, uri, true, Box::new(err));
    }
    Error::Transient {
        op,
        uri: uri.to_string(),
        source: Box::new(err),
    }
}

/// Maps a `gcloud-storage` error, keeping it as the source.
pub(crate) fn map_api(op: Operation, uri: &str, err: ApiError) -> Error {
    let status = match &err {
        ApiError::Response(r) => Some(r.code),
        _ => transport(&err).and_then(|e| e.status()).map(|s| s.as_u16()),
    };
    if let ApiError::TokenSource(_) = err {
        return Error::Unauthenticated {
            op,
            uri: uri.to_string(),
            hint: format!("could not get a token: {CREDENTIALS_HINT}"),
            source: Some(Box::new(err)),
        };
    }
    match status {
        Some(status) => {
            let message = match &err {
                ApiError::Response(r) => r.message.clone(),
                _ => format!("HTTP {status}"),
            };
            from_status(op, uri, status, message, Box::new(err))
        }
        None => unreachable_server(
            op,
            uri,
            transport(&err).is_some_and(reqwest::Error::is_timeout),
            Box::new(err),
        ),
    }
}

/// Maps a failure that never got an answer (connect, timeout, broken body).
pub(crate) fn unreachable_server(op: Operation, uri: &str, timed_out: bool, cause: BoxError) -> Error {
    if timed_out {
        // The limit is S3DLIO_GCS_REQUEST_TIMEOUT_MS or _CONNECT_TIMEOUT_MS.
        return Error::Timeout {
            op,
            uri: uri.to_string(),
            after: None,
            source: Some(cause),
        };
    }
    Error::Unreachable {
        op,
        uri: uri.to_string(),
        hint: "could not reach the GCS endpoint (check STORAGE_EMULATOR_HOST / S3DLIO_GCS_ENDPOINT \
               and that the server is running)"
            .into(),
        source: Some(cause),
    }
}

/// Maps an HTTP error status (with the service's message) to the error kind it means.
pub(crate) fn from_status(op: Operation, uri: &str, status: u16, message: String, cause: BoxError) -> Error {
    let uri = uri.to_string();
    match status {
        401 => Error::Unauthenticated {
            op,
            uri,
            hint: format!("the service rejected the credentials ({message}); {CREDENTIALS_HINT}"),
            source: Some(cause),
        },
        403 => Error::PermissionDenied {
            op,
            uri,
            source: Some(cause),
        },
        404 => Error::NotFound {
            op,
            uri,
            source: Some(cause),
        },
        409 => Error::AlreadyExists {
            op,
            uri,
            source: Some(cause),
        },
        412 => Error::Precondition {
            op,
            uri,
            message: format!("a precondition did not hold: {message}"),
        },
        408 | 429 | 500..=599 => Error::Transient {
            op,
            uri,
            source: cause,
        },
        _ => Error::Backend {
            op,
            uri,
            message: format!("HTTP {status}: {message}"),
            source: Some(cause),
        },
    }
}
