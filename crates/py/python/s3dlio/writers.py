"""The original s3dlio 0.10.0's streaming writers, over ``s3dlio.open_writer``.

``create_s3_writer`` and its siblings return a ``PyObjectWriter`` (``write_chunk``,
``finalize``, ``checksum`` as a real CRC32C of the bytes written); ``MultipartUploadWriter``
adds ``reserve``/``commit``: Python fills Rust memory that goes to the upload without a
copy. Every writer shows nothing under its URI before it finishes and leaves nothing when
it fails, is aborted, or is dropped unfinished.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from . import _s3dlio
from .errors import InvalidInputError

# zstd's own default level, used when with_compression("zstd") names none.
_ZSTD_DEFAULT_LEVEL = 3


class PyWriterOptions:
    """Options of a ``create_*_writer`` writer. The setters change this object and return
    it, so they chain (the original's returned None, and calling them unchained works)."""

    def __init__(self) -> None:
        self.buffer_size: int | None = None
        self.zstd_level: int | None = None

    def with_compression(self, compression_type: str, level: int | None = None) -> PyWriterOptions:
        """``"zstd"`` (``level`` 1..22, default 3) compresses the stream; ``"none"`` stores
        it as written."""
        kind = compression_type.lower()
        if kind == "zstd":
            self.zstd_level = _ZSTD_DEFAULT_LEVEL if level is None else level
        elif kind == "none":
            self.zstd_level = None
        else:
            raise InvalidInputError(
                f"with_compression({compression_type!r}): s3dlio compresses with 'zstd' or not at all ('none')"
            )
        return self

    def with_buffer_size(self, size: int) -> PyWriterOptions:
        """Bytes gathered before they are written on: the pieces of a compressed stream and
        of a file."""
        self.buffer_size = size
        return self


class PyObjectWriter:
    """A streaming upload from ``create_s3_writer`` and its siblings: ``write_chunk`` any
    buffers, then ``finalize`` makes the object visible. Also a context manager (finalizes
    on success, aborts when the block raises)."""

    def __init__(self, writer: _s3dlio.ObjectWriter) -> None:
        self._writer = writer
        self._finalized: tuple[int, int] | None = None

    def write_chunk(self, data: Any) -> None:
        """Appends ``data`` (any buffer). ``bytes`` and ``BytesView`` are shared; other
        buffers are copied, so the caller may reuse them at once."""
        self._writer.write(data)

    def write_owned_bytes(self, data: Any, *, copy: bool = False) -> None:
        """Appends ``data`` as ``write_chunk`` does; ``copy=True`` copies it even when it
        could be shared."""
        self._writer.write(data, copy=copy)

    def finalize(self) -> tuple[int, int]:
        """Makes the object visible; returns ``(bytes_written, compressed_bytes)``, the
        second the stored size. Raises the upload's error."""
        if self._finalized is not None:
            raise RuntimeError("PyObjectWriter: already finalized")
        self._writer.close()
        self._finalized = (self._writer.bytes_written, self._writer.stored_bytes)
        return self._finalized

    def abort(self) -> None:
        """Discards the upload; nothing is left under the URI."""
        self._writer.abort()

    def bytes_written(self) -> int:
        """Bytes accepted so far (before compression)."""
        return self._writer.bytes_written

    def compressed_bytes(self) -> int:
        """Bytes stored: equal to ``bytes_written`` without compression; with it, the
        compressed bytes so far, and after ``finalize`` the stored object's size."""
        return self._writer.stored_bytes

    def checksum(self) -> str:
        """``"crc32c:<8 hex digits>"``: the CRC32C of every byte written so far (before
        compression), also after ``finalize``."""
        return f"crc32c:{self._writer.crc32c:08x}"

    def __enter__(self) -> PyObjectWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is not None:
            self.abort()
        elif self._finalized is None:
            self.finalize()
        return False


def _writer(uri: str, options: PyWriterOptions | None) -> PyObjectWriter:
    options = options or PyWriterOptions()
    writer = _s3dlio.open_writer(
        uri, zstd_level=options.zstd_level, buffer_size=options.buffer_size, checksum=True
    )
    return PyObjectWriter(writer)


def _require_scheme(function: str, uri: str, scheme: str) -> None:
    if not uri.startswith(f"{scheme}://"):
        raise InvalidInputError(
            f"{function}({uri!r}): takes a {scheme}:// URI; open_writer(uri) writes to any scheme"
        )


def _local_uri(function: str, uri: str, scheme: str) -> str:
    """A path (relative or absolute) or a ``scheme://`` URI as a ``scheme://`` URI."""
    if "://" not in uri:
        return f"{scheme}://{os.path.abspath(uri)}"
    _require_scheme(function, uri, scheme)
    return uri


def create_s3_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer to an ``s3://`` URI."""
    _require_scheme("create_s3_writer", uri, "s3")
    return _writer(uri, options)


def create_azure_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer to an ``az://`` URI."""
    _require_scheme("create_azure_writer", uri, "az")
    return _writer(uri, options)


def create_gcs_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer to a ``gs://`` URI (not in the original)."""
    _require_scheme("create_gcs_writer", uri, "gs")
    return _writer(uri, options)


def create_filesystem_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer to a ``file://`` URI or a local path."""
    return _writer(_local_uri("create_filesystem_writer", uri, "file"), options)


def create_direct_filesystem_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer with O_DIRECT to a ``direct://`` URI or a local path."""
    return _writer(_local_uri("create_direct_filesystem_writer", uri, "direct"), options)


class MultipartUploadWriter:
    """A streaming upload in parts of ``part_size`` bytes, ``max_in_flight`` at a time
    (memory stays within their product), with ``reserve``/``commit`` to fill Rust memory
    from Python. ``MultipartUploadWriter(bucket, key)`` writes ``s3://bucket/key``;
    ``from_uri`` takes any scheme. An unfinished writer that is dropped aborts its upload
    (``abort_on_drop=False`` is refused: keep an upload for a resume with
    ``open_writer(uri, journal=...)``)."""

    def __init__(
        self,
        bucket: str,
        key: str,
        part_size: int | None = None,
        max_in_flight: int | None = None,
        content_type: str | None = None,
        abort_on_drop: bool | None = None,
    ) -> None:
        self._open(f"s3://{bucket}/{key}", part_size, max_in_flight, content_type, abort_on_drop)

    @staticmethod
    def from_uri(
        uri: str,
        part_size: int | None = None,
        max_in_flight: int | None = None,
        content_type: str | None = None,
        abort_on_drop: bool | None = None,
    ) -> MultipartUploadWriter:
        """A writer to ``uri`` on any scheme."""
        writer = MultipartUploadWriter.__new__(MultipartUploadWriter)
        writer._open(uri, part_size, max_in_flight, content_type, abort_on_drop)
        return writer

    def _open(
        self,
        uri: str,
        part_size: int | None,
        max_in_flight: int | None,
        content_type: str | None,
        abort_on_drop: bool | None,
    ) -> None:
        if abort_on_drop is False:
            raise InvalidInputError(
                f"MultipartUploadWriter({uri!r}, abort_on_drop=False): s3dlio never leaves an "
                "unfinished upload behind unasked; to keep one for a later resume, use "
                "open_writer(uri, journal=path)"
            )
        self.uri = uri
        self._writer = _s3dlio.open_writer(
            uri, part_size=part_size, max_in_flight=max_in_flight, content_type=content_type
        )
        self._part_size = self._writer.part_size
        self._started_at = time.time()

    def write(self, data: Any, /, *, copy: bool = False) -> int:
        """Appends ``data`` (any buffer) and returns its length; ``bytes`` and
        ``BytesView`` are shared unless ``copy=True``, other buffers copied."""
        return self._writer.write(data, copy=copy)

    def reserve(self, size: int, /) -> memoryview:
        """A writable memoryview of ``size`` bytes of Rust memory; fill it, then
        ``commit``."""
        return self._writer.reserve(size)

    def commit(self, nbytes: int, /) -> None:
        """Appends the first ``nbytes`` of the reserved memory (without a copy unless a
        view of it besides the one ``reserve`` returned is alive; that one is released)."""
        self._writer.commit(nbytes)

    def flush(self) -> None:
        """Does nothing: parts upload as they fill, and S3 takes no short part but the last."""
        self._writer.flush()

    def close(self) -> dict[str, Any]:
        """Completes the upload; returns ``etag``, ``total_bytes``, ``parts``, ``uri``,
        ``started_at`` and ``completed_at`` (Unix seconds). Raises the upload's error."""
        summary = self._writer.close()
        size = summary["size"]
        parts = max(1, math.ceil(size / self._part_size)) if self._part_size else 1
        return {
            "uri": summary["uri"],
            "etag": summary["etag"],
            "total_bytes": summary["bytes_written"],
            "parts": parts,
            "started_at": self._started_at,
            "completed_at": time.time(),
        }

    def abort(self) -> None:
        """Discards the upload; nothing is left under the URI."""
        self._writer.abort()

    @property
    def bytes_written(self) -> int:
        return self._writer.bytes_written

    def __enter__(self) -> MultipartUploadWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is not None:
            self.abort()
        elif not self._writer.closed:
            self.close()
        return False


__all__ = [
    "MultipartUploadWriter",
    "PyObjectWriter",
    "PyWriterOptions",
    "create_azure_writer",
    "create_direct_filesystem_writer",
    "create_filesystem_writer",
    "create_gcs_writer",
    "create_s3_writer",
]
