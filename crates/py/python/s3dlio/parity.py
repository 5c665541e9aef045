"""The original s3dlio 0.10.0's helper functions and names, over ours.

Scripts written for the original (DLIO and MLPerf Storage integrations among them) call
these; each does what its name says on every scheme. Where the original's behaviour was a
defect, the name is kept and the behaviour is ours: ``crates/py/README.md`` lists the
differences.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
import warnings
from typing import Any, NamedTuple

from . import _s3dlio
from . import errors
from .errors import InvalidInputError, NotFoundError, NotSupportedError, S3dlioError


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


# The original's GCS backend spoke gRPC, with subchannels and Google's Rapid Storage
# (zonal, appendable objects) path; ours speaks the JSON API over HTTP, so neither exists
# here. The getters say so, the setters refuse what they cannot do, and the bucket query
# is real.


def gcs_get_channel_count() -> int:
    """0: no gRPC subchannels are configured (this build's GCS backend uses the JSON API;
    concurrency is ``max_in_flight`` / ``-j``)."""
    return 0


def gcs_set_channel_count(n: int) -> None:
    """Only 0 (automatic) is accepted: there are no gRPC subchannels to size."""
    if n != 0:
        raise NotSupportedError(
            f"gcs_set_channel_count({n}): s3dlio's GCS backend uses the JSON API over HTTP, "
            "with no gRPC subchannels; raise max_in_flight (or -j) for more concurrent streams"
        )


def gcs_get_rapid_mode() -> bool:
    """False: reads and writes never take Rapid Storage's gRPC path."""
    return False


def gcs_set_rapid_mode(force: bool | None = None) -> None:
    """``False`` or ``None`` keep what this build does (the JSON API for every bucket);
    ``True`` raises: Rapid Storage's appendable-object path needs gRPC."""
    if force:
        raise NotSupportedError(
            "gcs_set_rapid_mode(True): s3dlio's GCS backend uses the JSON API; Rapid Storage's "
            "gRPC path is not built in (gcs_query_rapid_bucket tells a Rapid bucket apart)"
        )


def gcs_query_rapid_bucket(bucket_or_uri: str) -> bool:
    """Whether the bucket (a name or a ``gs://`` URI) is a Rapid Storage bucket: its
    storage class is ``RAPID``. Errors raise (the original returned False on any)."""
    uri = bucket_or_uri if "://" in bucket_or_uri else f"gs://{bucket_or_uri}/"
    return _s3dlio.gcs_bucket_storage_class(uri).upper() == "RAPID"


def get_by_key(bucket: str, key: str) -> memoryview:
    """Deprecated: ``get(f"s3://{bucket}/{key}")``."""
    warnings.warn("get_by_key is deprecated: use get('s3://bucket/key')", DeprecationWarning, stacklevel=2)
    return _s3dlio.get(f"s3://{bucket}/{key}")


def stat_key(bucket: str, key: str) -> dict[str, Any]:
    """Deprecated: ``stat(f"s3://{bucket}/{key}")``."""
    warnings.warn("stat_key is deprecated: use stat('s3://bucket/key')", DeprecationWarning, stacklevel=2)
    return _s3dlio.stat(f"s3://{bucket}/{key}")


class ExportStillReferencedError(S3dlioError, RuntimeError):
    """The original's error for a borrowed buffer still referenced when a put ended. s3dlio
    never raises it: a put holds the caller's buffer exported until the last byte is
    sent, so there is nothing to wait for. Kept so ``except`` clauses naming it work."""


def _mp_get_worker(uris: list[str], jobs: int, knobs: dict[str, str], barrier: Any, out: Any) -> None:
    """One ``mp_get`` process: its share of the objects, ``jobs`` in flight."""
    try:
        import s3dlio

        if knobs:
            s3dlio.configure(**knobs)
        barrier.wait()
        start = time.time()
        count, total = _s3dlio.get_many_stats(uris, max_in_flight=jobs)
        out.put(("ok", {"objects": count, "bytes": total, "start": start, "end": time.time()}))
    except BaseException as e:  # reported to the parent, which raises it
        barrier.abort()
        out.put((type(e).__name__, str(e)))


def mp_get(uri: str, procs: int = 4, jobs: int = 64, num: int = 1000, template: str = "object_{}.dat") -> dict[str, Any]:
    """Reads ``num`` objects named ``uri + template`` (``{}``: the index; without it the
    index is appended) in ``procs`` processes, ``jobs`` in flight each, and returns
    ``total_objects``, ``total_bytes``, ``duration_seconds`` (first start to last end of
    the reads, process start-up excluded), ``throughput_mb_s`` (10^6 bytes),
    ``ops_per_sec`` and per-process ``workers``. Processes are spawned; knobs set with
    ``configure`` go with them. The first failure is raised (as its s3dlio error class)."""
    if procs < 1 or jobs < 1 or num < 0:
        raise ValueError("procs and jobs must be at least 1 and num at least 0")
    from . import _configured

    names = [template.replace("{}", str(i)) if "{}" in template else f"{template}{i}" for i in range(num)]
    shards = [s for s in ([f"{uri}{n}" for n in names[w::procs]] for w in range(procs)) if s]
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(shards)), ctx.Queue()
    workers = [ctx.Process(target=_mp_get_worker, args=(s, jobs, dict(_configured), barrier, out)) for s in shards]
    for w in workers:
        w.start()
    results = []
    try:
        while len(results) < len(workers):
            try:
                results.append(out.get(timeout=1))
            except queue.Empty:
                dead = [w for w in workers if w.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"mp_get {uri}: a worker process died (exit code {dead[0].exitcode})") from None
    finally:
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.kill()
    failures = [(kind, message) for kind, message in results if kind != "ok" and kind != "BrokenBarrierError"]
    if failures:
        kind, message = failures[0]
        cls = getattr(errors, kind, None)
        if not (isinstance(cls, type) and issubclass(cls, S3dlioError)):
            cls = RuntimeError
        raise cls(f"mp_get: {message}")
    stats = [r for _, r in results]
    duration = max(r["end"] for r in stats) - min(r["start"] for r in stats) if stats else 0.0
    total_objects = sum(r["objects"] for r in stats)
    total_bytes = sum(r["bytes"] for r in stats)
    per_second = (lambda n: n / duration) if duration > 0 else (lambda n: 0.0)
    return {
        "total_objects": total_objects,
        "total_bytes": total_bytes,
        "duration_seconds": duration,
        "throughput_mb_s": per_second(total_bytes) / 1e6,
        "ops_per_sec": per_second(total_objects),
        "workers": [{"objects": r["objects"], "bytes": r["bytes"], "seconds": r["end"] - r["start"]} for r in stats],
    }


# The original's names for our error classes (the same classes).
ObjectNotFoundError = NotFoundError
UnsupportedOperationError = NotSupportedError

__all__ = [
    "ExportStillReferencedError",
    "LengthMismatchError",
    "ObjectMetadata",
    "ObjectNotFoundError",
    "UnsupportedOperationError",
    "configure_s3",
    "configure_tokio_threads",
    "get_by_key",
    "get_into_async",
    "get_object",
    "head_async",
    "list_full_uris",
    "list_keys",
    "mp_get",
    "object_capabilities",
    "stat_key",
    "stat_many_async",
    "stat_object",
]
