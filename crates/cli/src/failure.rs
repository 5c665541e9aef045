//! How a run ends: exit codes, and errors printed as the URI, the operation and the cause
//! chain in one or two lines.

use std::process::ExitCode;

use s3dlio::Error;

/// Exit codes (`s3-cli --help` lists them).
pub mod code {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const PARTIAL: u8 = 5;
}

/// Why a command stopped.
#[derive(Debug)]
pub enum Failure {
    /// A storage error.
    Store(Error),
    /// Arguments that make no sense together, caught before any I/O.
    Usage(String),
    /// A local problem outside the stores (stdout, a keylist file).
    Local(String, std::io::Error),
    /// A listing, a wildcard or a pattern selected no object (exit 1, as s5cmd and
    /// aws-cli): the command and what it looked under.
    NothingMatched(String),
    /// stdout was closed (`| head`): stop quietly.
    BrokenPipe,
}

pub type CliResult<T = ()> = Result<T, Failure>;

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Store(e)
    }
}

impl Failure {
    /// An error writing to stdout: a closed pipe is a quiet stop, anything else a failure.
    pub fn output(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Local("writing to stdout".into(), e)
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Store(e) => store_code(e),
            Failure::Usage(_) => code::USAGE,
            Failure::Local(..) | Failure::NothingMatched(_) => code::FAILED,
            Failure::BrokenPipe => code::OK,
        }
    }

    /// Prints the failure on stderr and gives the process's exit code.
    pub fn report(self) -> ExitCode {
        let exit = self.exit_code();
        match &self {
            Failure::Store(e) => {
                eprintln!("s3-cli: {e}");
                if let Some(causes) = e.causes() {
                    eprintln!("  caused by: {causes}");
                }
                if let Error::Batch { failures, .. } = e {
                    for f in failures.iter().take(MAX_LISTED) {
                        eprintln!("  failed: {}", f.error);
                    }
                    if failures.len() > MAX_LISTED {
                        eprintln!("  ... and {} more", failures.len() - MAX_LISTED);
                    }
                }
            }
            Failure::Usage(message) => eprintln!("s3-cli: {message}\n(see s3-cli --help)"),
            Failure::Local(what, e) => eprintln!("s3-cli: {what}: {e}"),
            Failure::NothingMatched(what) => {
                eprintln!(
                    "s3-cli: {what}: nothing matched (check the prefix, the wildcard or --pattern; `ls` shows what exists)"
                )
            }
            Failure::BrokenPipe => {}
        }
        ExitCode::from(exit)
    }
}

/// Failed keys printed under a partial failure; the count of the rest follows.
const MAX_LISTED: usize = 20;

fn store_code(e: &Error) -> u8 {
    match e {
        Error::NotFound { .. } => code::NOT_FOUND,
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => code::AUTH,
        Error::InvalidUri { .. } | Error::InvalidArgument { .. } | Error::InvalidRange { .. } => code::USAGE,
        // Nothing done, all for one cause (one file that could not be uploaded, a wrong
        // secret for every object): that cause's code, as for a single object.
        Error::Batch {
            succeeded: 0,
            failures,
            ..
        } if failures.split_first().is_some_and(|(first, rest)| {
            rest.iter()
                .all(|f| store_code(&f.error) == store_code(&first.error))
        }) =>
        {
            store_code(&failures[0].error)
        }
        Error::Batch { .. } => code::PARTIAL,
        Error::RangeFailed { source, .. } => store_code(source),
        _ => code::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3dlio::{BatchFailure, Operation};

    #[test]
    fn codes_follow_the_error_kind() {
        let nf = Error::not_found(Operation::Get, "memory://b/k");
        assert_eq!(Failure::Store(nf).exit_code(), code::NOT_FOUND);
        let batch = Error::Batch {
            op: Operation::Get,
            uri: "memory://b/".into(),
            succeeded: 3,
            failures: vec![BatchFailure {
                uri: "memory://b/x".into(),
                error: Error::not_found(Operation::Get, "memory://b/x"),
            }],
        };
        assert_eq!(Failure::Store(batch).exit_code(), code::PARTIAL);
        let one_cause = Error::Batch {
            op: Operation::Put,
            uri: "memory://b/".into(),
            succeeded: 0,
            failures: vec![BatchFailure {
                uri: "memory://b/x".into(),
                error: Error::not_found(Operation::Put, "memory://b/x"),
            }],
        };
        assert_eq!(Failure::Store(one_cause).exit_code(), code::NOT_FOUND);
        let bad = Error::InvalidUri {
            uri: "x".into(),
            reason: "r".into(),
        };
        assert_eq!(Failure::Store(bad).exit_code(), code::USAGE);
        assert_eq!(Failure::Usage("u".into()).exit_code(), code::USAGE);
        assert_eq!(
            Failure::NothingMatched("ls memory://b/".into()).exit_code(),
            code::FAILED
        );
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(Failure::output(pipe).exit_code(), code::OK);
    }
}
