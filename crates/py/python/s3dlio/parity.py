"""The original s3dlio 0.10.0's helper functions and names, over ours.

Scripts written for the original (DLIO and MLPerf Storage integrations among them) call
these; each does what its name says on every scheme. Where the original's behaviour was a
defect, the name is kept and the behaviour is ours: ``crates/py/README.md`` lists the
differences.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from . import _s3dlio
from .errors import InvalidInputError, NotFoundError, NotSupportedError


class LengthMismatchError(InvalidInputError):
    """``get_into_async(..., expected_len=n)`` found an object of another size."""

    def __init__(self, uri: str, expected: int, actual: int) -> None:
        super().__init__(f"get_into {uri}: expected {expected} bytes, the object has {actual}")
        self.expected = expected
        self.actual = actual


class ObjectMetadata(NamedTuple):
    """What ``head_async`` returns for an object that exists."""

    size: int
    etag: str | None
    version_id: str | None


async def head_async(uri: str) -> ObjectMetadata | None:
    """The object's size, ETag and version, or ``None`` when it does not exist."""
    try:
        meta = await _s3dlio.stat_async(uri)
    except NotFoundError:
        return None
    return ObjectMetadata(meta["size"], meta["etag"], meta["version_id"])


async def stat_many_async(uris: list[str], max_in_flight: int = 64) -> list[dict[str, Any]]:
    """``stat`` of every URI, ``max_in_flight`` at a time, in input order."""
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    limit = asyncio.Semaphore(max_in_flight)

    async def one(uri: str) -> dict[str, Any]:
        async with limit:
            return await _s3dlio.stat_async(uri)

    return list(await asyncio.gather(*(one(u) for u in uris)))


async def get_into_async(
    uri: str,
    buffer: Any,
    offset: int = 0,
    length: int | None = None,
    *,
    expected_len: int | None = None,
) -> int:
    """Reads ``uri`` (or ``length`` bytes from ``offset``) into the writable ``buffer``;
    returns the bytes read. With ``expected_len``, an object of another size raises
    ``LengthMismatchError`` (``.expected``, ``.actual``)."""
    if expected_len is None:
        return await _s3dlio.get_into_async(uri, buffer, offset, length)
    try:
        n = await _s3dlio.get_into_async(uri, buffer, offset, length)
    except InvalidInputError:
        # The object is larger than the buffer: the read refused before writing a byte.
        actual = (await _s3dlio.stat_async(uri))["size"] - offset
        if actual != expected_len:
            raise LengthMismatchError(uri, expected_len, actual) from None
        raise
    if n != expected_len:
        raise LengthMismatchError(uri, expected_len, n)
    return n


_PROVIDERS = {
    "s3://": "s3",
    "az://": "az",
    "gs://": "gs",
    "gcs://": "gs",
    "file://": "file",
    "direct://": "direct",
    "memory://": "memory",
}


def object_capabilities(uri: str) -> dict[str, Any]:
    """``{"provider", "get_into", "head"}`` for ``uri``'s backend: every backend reads into
    caller memory and answers ``head_async`` here (the original said False for file://,
    direct:// and gs://)."""
    provider = next((p for prefix, p in _PROVIDERS.items() if uri.startswith(prefix)), None)
    if provider is None and uri.startswith("https://") and ".blob.core.windows.net" in uri:
        provider = "az"
    if provider is None:
        raise InvalidInputError(
            f"object_capabilities {uri}: unknown scheme; use one of {', '.join(_PROVIDERS)}"
        )
    return {"provider": provider, "get_into": True, "head": True}


def get_object(uri: str) -> memoryview:
    """``get(uri)``: the whole object as a read-only memoryview."""
    return _s3dlio.get(uri)


def stat_object(uri: str) -> dict[str, Any]:
    """``stat(uri)``."""
    return _s3dlio.stat(uri)


def _as_prefix(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def list_full_uris(uri: str) -> list[str]:
    """The full URIs one level under ``uri`` (sub-prefixes end in ``/``)."""
    return _s3dlio.list(_as_prefix(uri), recursive=False)


def list_keys(uri: str) -> list[str]:
    """The names one level under ``uri``, relative to it."""
    prefix = _as_prefix(uri)
    return [u[len(prefix) :] for u in _s3dlio.list(prefix, recursive=False)]


def configure_s3(
    endpoint_url: str | None = None, region: str | None = None, ca_bundle: str | None = None
) -> None:
    """Sets the S3 endpoint, region and CA bundle for every store made after it (the ones
    given; ``configure(endpoint_url=..., region=..., ca_bundle=...)``)."""
    from . import configure

    given = {"endpoint_url": endpoint_url, "region": region, "ca_bundle": ca_bundle}
    configure(**{k: v for k, v in given.items() if v is not None})


def configure_tokio_threads(n: int = 0) -> None:
    """Runs s3dlio's runtime on ``n`` worker threads from the next call on (0: one per
    core; ``configure(runtime_threads=n)``)."""
    from . import configure

    if n < 0:
        raise ValueError("n must be 0 (one thread per core) or more")
    configure(runtime_threads=n if n > 0 else None)


# The original's names for our error classes (the same classes).
ObjectNotFoundError = NotFoundError
UnsupportedOperationError = NotSupportedError

__all__ = [
    "LengthMismatchError",
    "ObjectMetadata",
    "ObjectNotFoundError",
    "UnsupportedOperationError",
    "configure_s3",
    "configure_tokio_threads",
    "get_into_async",
    "get_object",
    "head_async",
    "list_full_uris",
    "list_keys",
    "object_capabilities",
    "stat_many_async",
    "stat_object",
]
