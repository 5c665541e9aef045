"""Exceptions raised by s3dlio.

Every error is an ``S3dlioError``; each kind also subclasses the built-in exception
that Python code already catches, so ``except FileNotFoundError`` works on a missing
object. Messages name the operation, the URI and the underlying causes.
"""


class S3dlioError(Exception):
    """Base class of every error s3dlio raises for a storage operation."""


class NotFoundError(S3dlioError, FileNotFoundError):
    """The object, bucket or path does not exist."""


class AccessDeniedError(S3dlioError, PermissionError):
    """Credentials are missing or rejected, or lack permission."""


class InvalidInputError(S3dlioError, ValueError):
    """A malformed URI, a range past the end, or another argument the caller can fix."""


class AlreadyExistsError(S3dlioError, FileExistsError):
    """The object or bucket already exists."""


class OperationTimeoutError(S3dlioError, TimeoutError):
    """An operation ran past its configured timeout."""


class NotSupportedError(S3dlioError, NotImplementedError):
    """The backend cannot do this operation."""


class ChecksumMismatchError(S3dlioError):
    """The data read does not match its expected checksum."""


__all__ = [
    "S3dlioError",
    "NotFoundError",
    "AccessDeniedError",
    "InvalidInputError",
    "AlreadyExistsError",
    "OperationTimeoutError",
    "NotSupportedError",
    "ChecksumMismatchError",
]
