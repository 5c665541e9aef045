//! The one error type every backend returns.
//!
//! Every variant carries the [`Operation`] and the URI it concerns, keeps its `source`
//! chain, and says what the caller can do about it. `is_retryable()` is what retry loops
//! (the range engine, the multipart writers) consult; nothing else decides retryability.

use std::fmt;
use std::time::Duration;

/// A boxed error cause, kept so that `source()` chains reach the SDK's own errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the caller was doing when the error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    Get,
    GetRange,
    Put,
    Write,
    Finalize,
    Stat,
    List,
    Delete,
    Copy,
    Rename,
    CreateContainer,
    DeleteContainer,
    ListContainers,
    ParseUri,
    Open,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Get => "get",
            Operation::GetRange => "get_range",
            Operation::Put => "put",
            Operation::Write => "write",
            Operation::Finalize => "finalize",
            Operation::Stat => "stat",
            Operation::List => "list",
            Operation::Delete => "delete",
            Operation::Copy => "copy",
            Operation::Rename => "rename",
            Operation::CreateContainer => "create_container",
            Operation::DeleteContainer => "delete_container",
            Operation::ListContainers => "list_containers",
            Operation::ParseUri => "parse_uri",
            Operation::Open => "open",
        })
    }
}

/// One failed key of a batch operation.
#[derive(Debug)]
pub struct BatchFailure {
    pub uri: String,
    pub error: Error,
}

/// Every error s3dlio returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "{op} {uri}: not found (check the bucket/container and key; `list` the prefix to see what exists)"
    )]
    NotFound {
        op: Operation,
        uri: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{op} {uri}: permission denied (the credentials in use lack access to this object or path)")]
    PermissionDenied {
        op: Operation,
        uri: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{op} {uri}: not authenticated: {hint}")]
    Unauthenticated {
        op: Operation,
        uri: String,
        hint: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },

    #[error(
        "{op} {uri}: invalid range: offset {offset} is past the end of a {size}-byte object (valid offsets are 0..{size})"
    )]
    InvalidRange {
        op: Operation,
        uri: String,
        offset: u64,
        size: u64,
    },

    #[error("{op} {uri}: already exists")]
    AlreadyExists {
        op: Operation,
        uri: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{op} {uri}: precondition failed: {message}")]
    Precondition {
        op: Operation,
        uri: String,
        message: String,
    },

    #[error(
        "{op} {uri}: CRC32C mismatch: expected {expected:#010x}, got {actual:#010x} (the data was corrupted or the object changed; re-read it)"
    )]
    ChecksumMismatch {
        op: Operation,
        uri: String,
        expected: u32,
        actual: u32,
    },

    #[error("{operation} is not supported by the {backend} backend ({uri}): {hint}")]
    NotSupported {
        operation: Operation,
        backend: &'static str,
        uri: String,
        hint: String,
    },

    #[error("{op} {uri}: timed out{} (raise the timeout knob or check the endpoint)", after.map(|d| format!(" after {d:?}")).unwrap_or_default())]
    Timeout {
        op: Operation,
        uri: String,
        /// The limit that ran out, where the backend knows it.
        after: Option<Duration>,
        #[source]
        source: Option<BoxError>,
    },

    /// No answer came: the connection was refused, reset or closed before a response.
    /// Retryable; `hint` names the settings that choose the endpoint.
    #[error("{op} {uri}: {hint}")]
    Unreachable {
        op: Operation,
        uri: String,
        hint: String,
        #[source]
        source: Option<BoxError>,
    },

    #[error("{op} {uri}: transient failure, safe to retry")]
    Transient {
        op: Operation,
        uri: String,
        #[source]
        source: BoxError,
    },

    #[error("{op} {uri}: I/O error")]
    Io {
        op: Operation,
        uri: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{op} {uri}: invalid argument: {message}")]
    InvalidArgument {
        op: Operation,
        uri: String,
        message: String,
    },

    #[error("{op} {uri}: {} of {} keys failed (first: {})", failures.len(), failures.len() + succeeded, failures.first().map(|f| f.error.to_string()).unwrap_or_default())]
    Batch {
        op: Operation,
        uri: String,
        succeeded: usize,
        failures: Vec<BatchFailure>,
    },

    /// A chunk of a ranged read failed; the cause says why (and, through
    /// [`Error::Retried`], how often it was tried).
    #[error("{op} {uri}: bytes {start}..{end} failed")]
    RangeFailed {
        op: Operation,
        uri: String,
        start: u64,
        end: u64,
        #[source]
        source: Box<Error>,
    },

    /// The retry layer spent its budget; `source` is the last try's error, and decides
    /// the kind (exit code, exception class) as it would have alone.
    #[error(
        "{op} {uri}: gave up after {attempts} tries over {elapsed:.1?} (raise S3DLIO_RETRY_MAX_ATTEMPTS or S3DLIO_RETRY_MAX_ELAPSED_MS, or check the endpoint)"
    )]
    Retried {
        op: Operation,
        uri: String,
        attempts: u32,
        elapsed: Duration,
        #[source]
        source: Box<Error>,
    },

    #[error("{op} {uri}: {message}")]
    Backend {
        op: Operation,
        uri: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// The `uri` field of every variant, borrowed as the error is.
macro_rules! uri_of {
    ($e:expr) => {
        match $e {
            Error::NotFound { uri, .. }
            | Error::PermissionDenied { uri, .. }
            | Error::Unauthenticated { uri, .. }
            | Error::InvalidUri { uri, .. }
            | Error::InvalidRange { uri, .. }
            | Error::AlreadyExists { uri, .. }
            | Error::Precondition { uri, .. }
            | Error::ChecksumMismatch { uri, .. }
            | Error::NotSupported { uri, .. }
            | Error::Timeout { uri, .. }
            | Error::Transient { uri, .. }
            | Error::Unreachable { uri, .. }
            | Error::Io { uri, .. }
            | Error::InvalidArgument { uri, .. }
            | Error::Batch { uri, .. }
            | Error::RangeFailed { uri, .. }
            | Error::Retried { uri, .. }
            | Error::Backend { uri, .. } => uri,
        }
    };
}

impl Error {
    /// Maps an `std::io::Error` to the matching kind, keeping it as the source.
    pub fn from_io(op: Operation, uri: impl Into<String>, err: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let uri = uri.into();
        match err.kind() {
            K::NotFound => Error::NotFound {
                op,
                uri,
                source: Some(Box::new(err)),
            },
            K::PermissionDenied => Error::PermissionDenied {
                op,
                uri,
                source: Some(Box::new(err)),
            },
            K::AlreadyExists => Error::AlreadyExists {
                op,
                uri,
                source: Some(Box::new(err)),
            },
            // ENAMETOOLONG and names the file system refuses: bad input, not an I/O fault.
            K::InvalidFilename => Error::InvalidArgument {
                op,
                uri,
                message: format!("the file system refuses this name ({err}); shorten or rename it"),
            },
            K::TimedOut => Error::Transient {
                op,
                uri,
                source: Box::new(err),
            },
            _ => Error::Io { op, uri, source: err },
        }
    }

    /// A not-found error without a lower-level cause.
    pub fn not_found(op: Operation, uri: impl Into<String>) -> Self {
        Error::NotFound {
            op,
            uri: uri.into(),
            source: None,
        }
    }

    /// An argument the caller can fix.
    pub fn invalid_argument(op: Operation, uri: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            uri: uri.into(),
            message: message.into(),
        }
    }

    /// Whether repeating the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            // The budget is spent: a second loop around this one would multiply it.
            Error::Retried { .. } => false,
            Error::Timeout { .. } | Error::Transient { .. } | Error::Unreachable { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                K::Interrupted
                    | K::TimedOut
                    | K::WouldBlock
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof
            ),
            _ => false,
        }
    }

    /// The `source()` chain below this error joined on one line, without repeats (SDK
    /// errors often repeat their inner message); `None` when there is no cause.
    pub fn causes(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            next = cause.source();
        }
        (!parts.is_empty()).then(|| parts.join(": "))
    }

    /// True for [`Error::NotFound`], also when it is the cause of a failed range.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound { .. } => true,
            Error::RangeFailed { source, .. } | Error::Retried { source, .. } => source.is_not_found(),
            _ => false,
        }
    }

    /// The URI the error concerns.
    pub fn uri(&self) -> &str {
        uri_of!(self)
    }

    /// The URI the error concerns, to rewrite: a wrapper store that moved a request's
    /// URI (the multi-endpoint layer) names the caller's URI in its errors.
    pub fn uri_mut(&mut self) -> &mut String {
        uri_of!(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_map_to_kinds_and_keep_source() {
        let e = Error::from_io(
            Operation::Get,
            "file:///x",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert!(e.is_not_found());
        assert_eq!(e.source().unwrap().to_string(), "gone");
        assert!(e.to_string().contains("get file:///x"));

        let e = Error::from_io(Operation::Get, "u", std::io::ErrorKind::ConnectionReset.into());
        assert!(e.is_retryable());
        let e = Error::from_io(Operation::Get, "u", std::io::ErrorKind::InvalidData.into());
        assert!(!e.is_retryable());
    }

    #[test]
    fn messages_name_operation_uri_and_remedy() {
        let e = Error::InvalidRange {
            op: Operation::GetRange,
            uri: "memory://b/k".into(),
            offset: 10,
            size: 5,
        };
        let s = e.to_string();
        assert!(s.contains("get_range memory://b/k"), "{s}");
        assert!(s.contains("offset 10") && s.contains("5-byte"), "{s}");
        assert!(!e.is_retryable());
        assert_eq!(e.uri(), "memory://b/k");
    }

    #[test]
    fn batch_error_counts_failures() {
        let e = Error::Batch {
            op: Operation::Delete,
            uri: "memory://b/p/".into(),
            succeeded: 3,
            failures: vec![BatchFailure {
                uri: "memory://b/p/x".into(),
                error: Error::not_found(Operation::Delete, "memory://b/p/x"),
            }],
        };
        assert!(e.to_string().contains("1 of 4 keys failed"), "{e}");
    }
}
