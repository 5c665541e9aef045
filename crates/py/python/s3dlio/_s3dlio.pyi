"""Type stubs for the native module. Every function here is re-exported by ``s3dlio``.

Reads return read-only ``memoryview`` objects whose ``.obj`` is a ``BytesView`` owning
the Rust buffer (no copy); ``*_bytes`` variants return ``bytes`` (one copy). ``put_bytes``
takes any C-contiguous buffer without copying it: do not change the buffer until the
call returns. What outlives the call is copied unless it is ``bytes`` (immutable):
memory:// stores what it is given, and ``ObjectWriter`` holds parts after ``write``
returns, so a caller may reuse its buffer at once, as with a file. Each ``*_async`` function returns an awaitable that starts the operation when
awaited; cancelling it aborts the operation.

Errors: ``s3dlio.errors`` (``NotFoundError`` is a ``FileNotFoundError``,
``AccessDeniedError`` a ``PermissionError``, ``InvalidInputError`` a ``ValueError``,
``OperationTimeoutError`` a ``TimeoutError``; all are ``S3dlioError``).
"""

import os
from collections.abc import Awaitable, Sequence
from typing import Any, TypedDict

from typing_extensions import Buffer

__version__: str

class Stat(TypedDict):
    """What ``stat`` returns."""

    uri: str
    size: int
    last_modified: float | None
    etag: str | None
    content_type: str | None
    storage_class: str | None
    version_id: str | None
    metadata: dict[str, str]

class WriteSummary(TypedDict):
    """What ``ObjectWriter.close`` returns."""

    uri: str
    bytes_written: int
    size: int
    etag: str | None

class PendingUpload(TypedDict):
    """An unfinished multipart upload (``list_uploads``)."""

    uri: str
    upload_id: str
    initiated: float | None

class BytesView:
    """Read-only bytes owned by Rust, exported through the buffer protocol."""

    @property
    def address(self) -> int:
        """Address of the first byte of the Rust buffer (to check zero-copy)."""
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class ObjectWriter:
    """A streaming upload; nothing is visible until ``close``. A context manager that
    closes on success and aborts when the block raises (a journaled writer keeps its
    upload for a resume instead). A writable file to Python (``torch.save(obj, writer)``,
    ``shutil.copyfileobj``): it only appends."""

    @property
    def bytes_written(self) -> int: ...
    @property
    def reused_bytes(self) -> int:
        """Bytes a resumed upload found stored and did not send again."""
    @property
    def resumable(self) -> bool:
        """True when opened with a ``journal`` on a backend that resumes uploads."""
    @property
    def stored_bytes(self) -> int:
        """Bytes handed on to be stored: ``bytes_written`` unless compressed (then the
        compressed bytes so far; after ``close``, the stored object's size)."""
    @property
    def crc32c(self) -> int | None:
        """CRC32C of the bytes written (opened with ``checksum=True``), else None."""
    @property
    def part_size(self) -> int | None:
        """The size of the uploaded parts; None when the writer does not upload in parts."""
    def write(self, data: Buffer, /, *, copy: bool = False) -> int:
        """Appends ``data`` and returns its length; waits while the parts in flight are
        full. ``bytes`` and ``BytesView`` are shared, other buffers copied (``copy=True``
        copies every buffer). A failed write aborts (a journaled upload is kept)."""
    def reserve(self, size: int, /) -> memoryview:
        """A writable memoryview of ``size`` bytes of Rust memory (its ``.obj`` a
        ``ReservedBuffer``) to fill, then ``commit``. One reservation at a time."""
    def commit(self, nbytes: int, /) -> None:
        """Appends the first ``nbytes`` of the reserved buffer and releases the view
        ``reserve`` returned: without a copy unless another view of it is alive."""
    def flush(self) -> None:
        """Does nothing: parts upload as they fill; nothing is visible before ``close``."""
    def tell(self) -> int:
        """Bytes written so far."""
    def writable(self) -> bool: ...
    def readable(self) -> bool: ...
    def seekable(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> WriteSummary:
        """Makes the object visible; raises the upload's error. Closing again returns
        the same summary; closing an aborted or failed writer raises."""
    def abort(self) -> None:
        """Discards the upload; no object is left behind."""
    def __enter__(self) -> ObjectWriter: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class ReservedBuffer:
    """The writable Rust buffer behind ``ObjectWriter.reserve``'s memoryview."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class ObjectReader:
    """An object as a readable, seekable file (``torch.load(reader)``): reads of up to
    ``read_ahead`` bytes come from one ranged request of ``read_ahead`` bytes, larger
    ``readinto`` calls go straight into the caller's buffer; every range is pinned to
    the version seen at open (a replaced object raises instead of mixing versions).
    One thread at a time."""

    @property
    def size(self) -> int: ...
    @property
    def uri(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def readinto(self, buffer: Buffer) -> int: ...
    def read(self, size: int | None = -1) -> bytes: ...
    def readall(self) -> bytes: ...
    def readline(self, size: int | None = -1) -> bytes: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...
    def tell(self) -> int: ...
    def readable(self) -> bool: ...
    def seekable(self) -> bool: ...
    def writable(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> ObjectReader: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class PyDataset:
    """Samples by index, one object each: ``len(ds)``, ``ds[i]`` (a zero-copy memoryview).
    Options: reader_mode / part_size / max_inflight_parts (how each object is read) and
    shard_rank / shard_world_size / worker_id / worker_count (the dataset holds only that
    shard's objects: every count-th one from its offset, in order). A loader's option
    (batch_size, shuffle, ...) raises ValueError: it belongs to ``create_loader``."""

    def __init__(self, uri: str | Sequence[str], options: dict[str, Any] | None = None) -> None: ...
    @staticmethod
    def from_uris(uris: Sequence[str], options: dict[str, Any] | None = None) -> PyDataset:
        """These objects, in this order, without a listing."""
    def uris(self) -> list[str]: ...
    def keys(self) -> list[str]:
        """URIs relative to the listed prefix (whole URIs for a dataset made from a list)."""
    def get_item(self, index: int) -> Awaitable[memoryview]: ...
    def get_many(self, indices: Sequence[int], max_in_flight: int = 64) -> list[memoryview]:
        """Samples ``indices`` in that order, read ``max_in_flight`` at a time (torch's
        ``__getitems__`` batch in one call); the first failure is raised."""
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> memoryview: ...

Dataset = PyDataset

class Loader:
    """Batches (lists of zero-copy memoryviews) read ahead by Rust. Each ``iter()`` (or
    ``async for`` on an async loader) is the next epoch: a new shuffle order from
    ``seed`` and the epoch number."""

    def __iter__(self) -> Loader: ...
    def __next__(self) -> list[memoryview]: ...
    def __aiter__(self) -> Loader: ...
    def __anext__(self) -> Awaitable[list[memoryview]]: ...
    def __len__(self) -> int:
        """Batches per epoch for this shard."""
    def skipped(self) -> list[tuple[str, str]]:
        """``(uri, error)`` of samples left out so far (``on_error="skip"``)."""

# Loaders. ``source`` is a prefix URI (listed recursively, once) or a list of object URIs.
# Options (unknown keys raise ValueError): batch_size (32), drop_last (False), shuffle
# (False), seed (0), num_workers / max_in_flight (64: reads at once), prefetch (2 batches),
# reader_mode ("sequential": one GET per object, or "range": the range engine with
# part_size bytes and max_inflight_parts at once), shard_rank / shard_world_size,
# worker_id / worker_count, ordered (True), on_error ("fail" or "skip"), epoch (0: the
# epoch of the first iteration), with_uris (False: batches of (uri, memoryview) tuples).
# A loader over a PyDataset keeps the dataset's read mode and objects.
def create_dataset(source: str | Sequence[str], options: dict[str, Any] | None = None) -> PyDataset:
    """The objects of ``source`` (a prefix, one URI or a list) as a ``PyDataset``; ``options`` takes
    the dataset keys (``reader_mode``, ``part_size``, ``max_inflight_parts``, the shard keys)."""
def create_loader(source: str | Sequence[str] | PyDataset, options: dict[str, Any] | None = None) -> Loader:
    """Batches of ``source``'s objects (``batch_size``, ``shuffle``, ``seed``, ``prefetch``, shard keys, ...):
    each ``iter()`` is the next epoch."""
def create_async_loader(
    source: str | Sequence[str] | PyDataset, options: dict[str, Any] | None = None
) -> Loader | PyParquetStreamLoader:
    """``create_loader`` with async iteration; with ``{"format": "parquet", "columns",
    "footer_cap", "prefetch", "decode"}`` a ``PyParquetStreamLoader`` over the ``.parquet``
    objects of ``source`` (a file, a prefix or a list of URIs)."""

# Reads
def get(uri: str) -> memoryview:
    """The whole object, zero-copy (the range engine splits large objects into concurrent ranged GETs)."""
def get_async(uri: str) -> Awaitable[memoryview]:
    """``get`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_bytes(uri: str) -> bytes:
    """The whole object as ``bytes`` (one copy)."""
def get_bytes_async(uri: str) -> Awaitable[bytes]:
    """``get_bytes`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_range(uri: str, offset: int, length: int | None = None) -> memoryview:
    """``length`` bytes from ``offset`` (``None``: to the end); past the end is clamped,
    an offset past the end raises ``InvalidInputError``."""
def get_range_async(uri: str, offset: int, length: int | None = None) -> Awaitable[memoryview]:
    """``get_range`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_range_bytes(uri: str, offset: int, length: int | None = None) -> bytes:
    """``get_range`` as ``bytes`` (one copy)."""
def get_range_bytes_async(uri: str, offset: int, length: int | None = None) -> Awaitable[bytes]:
    """``get_range_bytes`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_many(uris: Sequence[str], max_in_flight: int = 64) -> list[tuple[str, memoryview]]:
    """Many objects (any mix of schemes), ``max_in_flight`` at a time, in input order.
    The first failure is raised."""
def get_many_async(uris: Sequence[str], max_in_flight: int = 64) -> Awaitable[list[tuple[str, memoryview]]]:
    """``get_many`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_many_stats(uris: Sequence[str], max_in_flight: int = 64) -> tuple[int, int]:
    """Reads every object, ``max_in_flight`` at a time, keeping only ``(count,
    total_bytes)``: memory holds at most ``max_in_flight`` objects."""
def get_many_stats_async(uris: Sequence[str], max_in_flight: int = 64) -> Awaitable[tuple[int, int]]:
    """``get_many_stats`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def put_many(items: Sequence[tuple[str, Buffer]], max_in_flight: int = 64, borrow: bool = True) -> None:
    """Stores every ``(uri, data)``, ``max_in_flight`` at a time; all are tried and the
    first failure in input order is raised. ``borrow=False`` copies each buffer first."""
def put_many_async(
    items: Sequence[tuple[str, Buffer]], max_in_flight: int = 64, borrow: bool = True
) -> Awaitable[None]:
    """``put_many`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_ranges(
    uri: str,
    ranges: Sequence[tuple[int, int]],
    coalesce_gap: int = 1 << 20,
    max_merged_size: int = 16 << 20,
    max_in_flight: int = 16,
) -> list[memoryview]:
    """Many ``(offset, length)`` ranges of one object as read-only memoryviews, in request
    order. Ranges at most ``coalesce_gap`` bytes apart share one request while it spans at
    most ``max_merged_size`` bytes (either 0: one request per range); each view slices its
    request's buffer (no copy), unless the ranges of a merged request hold less than half of
    it: then their bytes are copied into one buffer, so views never keep a merge's gaps in
    memory; every request reads the version the first one saw. A
    range past the end is clamped; one starting past the end raises ``InvalidInputError``."""
def get_ranges_async(
    uri: str,
    ranges: Sequence[tuple[int, int]],
    coalesce_gap: int = 1 << 20,
    max_merged_size: int = 16 << 20,
    max_in_flight: int = 16,
) -> Awaitable[list[memoryview]]:
    """``get_ranges`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def get_into(uri: str, buffer: Buffer, offset: int = 0, length: int | None = None) -> int:
    """Reads into a writable C-contiguous ``buffer`` (bytearray, numpy array, ...);
    returns the bytes read. A buffer smaller than ``length`` raises ``ValueError``
    before any I/O; without ``length``, one smaller than the object raises ``ValueError``."""
def get_into_async(uri: str, buffer: Buffer, offset: int = 0, length: int | None = None) -> Awaitable[int]:
    """``get_into`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""

# Writes
def put_bytes(uri: str, data: Buffer) -> None:
    """Stores ``data`` as ``uri``; readers see the old object or the whole new one."""
def put_bytes_async(uri: str, data: Buffer) -> Awaitable[None]:
    """``put_bytes`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def put(
    prefix: str,
    num: int,
    template: str | None = None,
    max_in_flight: int = 64,
    size: int | None = None,
    should_create_bucket: bool = False,
    object_type: str = "zeros",
    dedup_factor: int = 1,
    compress_factor: int = 1,
    data_gen_algorithm: str = "random",
    data_gen_mode: str = "streaming",
    chunk_size: int = 262144,
) -> None:
    """Writes ``num`` synthetic objects of ``size`` bytes (default 20 MiB) under ``prefix``,
    named by ``template`` (default ``object_{}_of_{}.dat``: index, count). Object ``i``
    holds zero bytes (``object_type='zeros'``, the default) or, with ``'random'``/``'raw'``,
    ``generate_data(size, dedup_factor, compress_factor, seed=i)`` (factors other than 1
    with ``'zeros'`` raise ``ValueError``; NPZ/HDF5/TFRecord raise ``NotImplementedError``).
    ``data_gen_mode='streaming'`` generates ``chunk_size`` bytes at a time into a streaming
    upload; ``'single-pass'`` generates each object whole and stores it with one put."""
def put_async(
    prefix: str,
    num: int,
    template: str | None = None,
    max_in_flight: int = 64,
    size: int | None = None,
    should_create_bucket: bool = False,
    object_type: str = "zeros",
    dedup_factor: int = 1,
    compress_factor: int = 1,
    data_gen_algorithm: str = "random",
    data_gen_mode: str = "streaming",
    chunk_size: int = 262144,
) -> Awaitable[None]:
    """``put`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def open_writer(
    uri: str,
    part_size: int | None = None,
    max_in_flight: int | None = None,
    zstd_level: int | None = None,
    journal: str | os.PathLike[str] | None = None,
    *,
    checksum: bool = False,
    content_type: str | None = None,
    buffer_size: int | None = None,
) -> ObjectWriter:
    """A streaming upload; memory stays within ``max_in_flight × part_size``. With
    ``journal`` (a local path; S3 and Azure) it is resumable: a writer given the journal
    of an unfinished upload of ``uri``, written again from its first byte, sends only the
    parts the service lacks. ``checksum=True`` keeps a CRC32C of the bytes written;
    ``content_type`` is stored with the object (object stores); ``buffer_size`` is the
    size of the pieces a compressed stream (and a file) is written in."""
def open_reader(uri: str, read_ahead: int = 8 << 20) -> ObjectReader:
    """Opens ``uri`` as a seekable file; one ``stat`` learns its size and version."""
def init_op_log(
    path: str | os.PathLike[str],
    *,
    lossy: bool = False,
    capacity: int = 8192,
    client_id: str | None = None,
    sort_by_start: bool = False,
    clock_offset_ns: int = 0,
) -> None:
    """Records every operation from now on into ``path``: MinIO warp's TSV columns,
    zstd-compressed (``zstd -dc``). Raises ``RuntimeError`` while another log is active."""
def finalize_op_log() -> None:
    """Writes what is queued and closes the op-log; does nothing when none is active."""
def is_op_log_active() -> bool:
    """Whether an op-log is recording."""
def op_log_stats() -> dict[str, object]:
    """active, path, recorded, written, dropped, errors of the current (or last) op-log."""
def generate_data(size: int, dedup: int = 1, compress: int = 1, seed: int = 0) -> memoryview:
    """``size`` synthetic bytes: 1/``dedup`` of the 64 KiB blocks unique, zstd ratio
    ``compress``, the same bytes for the same seed."""
def generate_data_with_threads(
    size: int, dedup: int = 1, compress: int = 1, threads: int | None = None, *, seed: int = 0
) -> memoryview:
    """``generate_data`` on ``threads`` threads (None: ``py_default_data_gen_threads()``)."""
def generate_into_buffer(
    buffer: Buffer, dedup: int = 1, compress: int = 1, threads: int | None = None, *, seed: int = 0
) -> int:
    """Fills the writable ``buffer`` in place (the bytes ``generate_data`` gives for its
    length); returns ``len(buffer)`` in bytes."""
def generate_npz_bytes(shape: Sequence[int], dtype: str = "<f4", num_samples: int = 1, *, seed: int = 0) -> memoryview:
    """An NPZ archive: ``x.npy`` of ``shape``/``dtype`` (generated bytes) and ``y.npy`` of
    ``num_samples`` int64 zeros."""
def py_total_cpus() -> int:
    """Logical CPUs this process may run on."""
def py_default_data_gen_threads() -> int:
    """Generator threads when ``threads`` is None: half the CPUs, at least one."""

class Generator:
    """One synthetic object streamed into buffers the caller reuses; without ``seed``, a
    random one."""

    def __init__(
        self,
        size: int,
        dedup: int = 1,
        compress: int = 1,
        threads: int | None = None,
        chunk_size: int | None = None,
        seed: int | None = None,
    ) -> None: ...
    @property
    def chunk_size(self) -> int:
        """The advised buffer size for ``fill_chunk`` (default 32 MiB)."""
    @property
    def size(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def seed(self) -> int: ...
    def fill_chunk(self, buffer: Buffer) -> int:
        """Writes the next ``min(len(buffer), remaining)`` bytes; returns the count, 0 at the end."""
    def is_complete(self) -> bool: ...
    def reset(self) -> None: ...

# Management
def list(uri: str, recursive: bool = False, pattern: str | None = None) -> list[str]:
    """URIs under the prefix ``uri``, sorted; sub-prefixes end in ``/`` unless ``recursive``;
    ``pattern`` is a regex searched in each key relative to ``uri`` (as ``s3-cli ls
    --pattern``: ``^a/`` selects keys under ``uri + "a/"``)."""
def list_async(uri: str, recursive: bool = False, pattern: str | None = None) -> Awaitable[list[str]]:
    """``list`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def list_stat(uri: str, recursive: bool = False, pattern: str | None = None) -> list[dict[str, Any]]:
    """``list`` with metadata from the listing itself (no request per object): objects as
    ``stat`` dicts with ``"type": "object"``, sub-prefixes as ``{"uri", "type":
    "prefix"}``; sorted by URI."""
def list_stat_async(uri: str, recursive: bool = False, pattern: str | None = None) -> Awaitable[list[dict[str, Any]]]:
    """``list_stat`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def list_containers(uri: str) -> list[str]:
    """Buckets, containers or directories under a service root (``s3://``,
    ``s3://host:port/``, ``az://account``, ``gs://``, ``file:///dir/``), sorted."""
def list_containers_async(uri: str) -> Awaitable[list[str]]:
    """``list_containers`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def parse_s3_uri_full(uri: str) -> dict[str, str]:
    """``{"bucket", "key"}`` of an S3 URI, with ``"endpoint"`` when it names one."""
def list_uploads(prefix: str) -> list[PendingUpload]:
    """Unfinished multipart uploads under ``prefix`` (S3 only)."""
def list_uploads_async(prefix: str) -> Awaitable[list[PendingUpload]]:
    """``list_uploads`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def abort_uploads(prefix: str, older_than: float | None = None) -> list[PendingUpload]:
    """Aborts the unfinished uploads under ``prefix`` older than ``older_than`` seconds
    (all with None); returns them."""
def abort_uploads_async(prefix: str, older_than: float | None = None) -> Awaitable[list[PendingUpload]]:
    """``abort_uploads`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def stat(uri: str) -> Stat:
    """Size, modification time, ETag and the rest of one object (one HEAD or equivalent)."""
def stat_async(uri: str) -> Awaitable[Stat]:
    """``stat`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def exists(uri: str) -> bool:
    """False only for "not found"; other errors raise."""
def exists_async(uri: str) -> Awaitable[bool]:
    """``exists`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def delete(uri: str, recursive: bool = False) -> int:
    """Deletes the object, the objects directly under a prefix ending in ``/``, or with
    ``recursive`` everything under the prefix; returns the count."""
def delete_async(uri: str, recursive: bool = False) -> Awaitable[int]:
    """``delete`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def copy(src: str, dst: str) -> int:
    """Copies one object between any two URIs (server-side within one S3 endpoint); returns bytes."""
def copy_async(src: str, dst: str) -> Awaitable[int]:
    """``copy`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def upload(src_patterns: Sequence[str], dest_prefix: str, max_in_flight: int = 32, create_bucket: bool = False) -> int:
    """Uploads the files matching the globs to ``dest_prefix`` + file name; returns the count."""
def upload_async(
    src_patterns: Sequence[str], dest_prefix: str, max_in_flight: int = 32, create_bucket: bool = False
) -> Awaitable[int]:
    """``upload`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def download(src_uri: str, dest_dir: str, max_in_flight: int = 64, recursive: bool = True) -> int:
    """Downloads an object, or a prefix ending in ``/`` keeping relative keys; returns the count."""
def download_async(src_uri: str, dest_dir: str, max_in_flight: int = 64, recursive: bool = True) -> Awaitable[int]:
    """``download`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def mkdir(uri: str) -> None:
    """A directory (file://, direct://) or a zero-byte ``prefix/`` marker object."""
def mkdir_async(uri: str) -> Awaitable[None]:
    """``mkdir`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def create_bucket(bucket_name: str) -> None:
    """A bare name is an S3 bucket; or a URI (``s3://b``, ``az://account/c``, ``gs://b``, ``memory://b``, ``file:///dir``)."""
def create_bucket_async(bucket_name: str) -> Awaitable[None]:
    """``create_bucket`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""
def delete_bucket(bucket_name: str) -> None:
    """Deletes an empty bucket, container or directory (a bare name means S3)."""
def delete_bucket_async(bucket_name: str) -> Awaitable[None]:
    """``delete_bucket`` as an awaitable: it starts when awaited; cancelling it aborts the operation."""

# Setup
def init_logging(level: str) -> None:
    """Logs to stderr at ``level`` or an ``EnvFilter`` string (``"s3dlio=debug,info"``)."""
def _configure(vars: dict[str, str]) -> None: ...

class MultiEndpointStore:
    """One store over several endpoints of one service. Methods returning awaitables
    run on s3dlio's runtime; each request goes to one endpoint (round-robin or least
    connections) and a failing endpoint is taken out for a back-off."""
    def get(self, uri: str) -> Awaitable[memoryview]: ...
    def get_range(self, uri: str, offset: int, length: int | None = None) -> Awaitable[memoryview]: ...
    def put(self, uri: str, data: Buffer, *, borrow: bool = True) -> Awaitable[None]: ...
    def delete(self, uri: str) -> Awaitable[None]: ...
    def list(self, prefix: str, recursive: bool = True) -> Awaitable[list[str]]: ...
    def get_from_endpoint(self, index: int, uri: str) -> Awaitable[memoryview]: ...
    def get_range_from_endpoint(
        self, index: int, uri: str, offset: int, length: int | None = None
    ) -> Awaitable[memoryview]: ...
    def put_to_endpoint(self, index: int, uri: str, data: Buffer, *, borrow: bool = True) -> Awaitable[None]: ...
    def list_from_endpoint(self, index: int, prefix: str, recursive: bool = True) -> Awaitable[list[str]]: ...
    def delete_from_endpoint(self, index: int, uri: str) -> Awaitable[None]: ...
    def put_all_endpoints(self, uri: str, data: Buffer, *, borrow: bool = True) -> Awaitable[None]: ...
    def list_all_endpoints(self, prefix: str, recursive: bool = True) -> Awaitable[dict[str, list[str]]]: ...
    def endpoint_count(self) -> int: ...
    def endpoints(self) -> list[str]: ...
    def strategy(self) -> str: ...
    def get_endpoint_stats(self) -> list[dict[str, object]]: ...
    def get_total_stats(self) -> dict[str, object]: ...

def create_multi_endpoint_store(uris: list[str], strategy: str | None = None) -> MultiEndpointStore:
    """One store over the endpoints ``uris`` (``round_robin`` or ``least_connections``)."""
def create_multi_endpoint_store_from_template(uri_template: str, strategy: str | None = None) -> MultiEndpointStore:
    """Endpoints from a template: ``http://10.0.0.{1...8}:9000`` (``{01...16}`` pads)."""
def create_multi_endpoint_store_from_file(
    file_path: str | os.PathLike[str], strategy: str | None = None
) -> MultiEndpointStore:
    """Endpoints from a file, one per line (``#`` comments)."""
def create_multi_endpoint_store_from_env(strategy: str | None = None) -> MultiEndpointStore:
    """Endpoints from ``S3_ENDPOINT_URIS`` (else ``S3_ENDPOINT_TEMPLATE``, else
    ``S3_ENDPOINT_FILE``); ``strategy`` beats ``S3_LOAD_BALANCE_STRATEGY``."""

# Parquet
def generate_parquet_bytes(num_cols: int, rows_per_rg: int, num_row_groups: int, *, seed: int = 0) -> memoryview:
    """A Parquet file of ``num_cols`` Float32 columns ``col0``… in ``num_row_groups`` row
    groups of ``rows_per_rg`` rows of generated data (uncompressed, no statistics)."""
def generate_parquet_bytes_schema(
    columns: Sequence[tuple[str, int]], rows_per_rg: int, num_row_groups: int, *, seed: int = 0
) -> memoryview:
    """As ``generate_parquet_bytes`` with ``(name, width)`` columns: width 1 a Float32
    column, more a FixedSizeList<Float32>[width]."""
def generate_and_write_parquet(
    uri: str, num_cols: int, rows_per_rg: int, num_row_groups: int, *, seed: int = 0
) -> None:
    """``generate_parquet_bytes``'s file streamed to ``uri`` a row group at a time."""
def generate_and_write_parquet_schema(
    uri: str, columns: Sequence[tuple[str, int]], rows_per_rg: int, num_row_groups: int, *, seed: int = 0
) -> None:
    """``generate_parquet_bytes_schema``'s file streamed to ``uri`` a row group at a time
    (also exported as ``generate_and_write_parquet_schema_streaming``)."""
def parquet_get_rg(
    uri: str, rg_idx: int, col_indices: Sequence[int] | None = None, footer_cap: int = 4194304, decode: str = "arrow"
) -> memoryview:
    """Row group ``rg_idx``, pinned to the cached footer's version: an Arrow IPC stream of
    ``col_indices`` (``decode='arrow'``) or the stored column-chunk bytes (``'raw'``)."""
def parquet_get_rg_async(
    uri: str, rg_idx: int, col_indices: Sequence[int] | None = None, footer_cap: int = 4194304, decode: str = "arrow"
) -> Awaitable[memoryview]:
    """``parquet_get_rg`` as an awaitable."""
def parquet_rg_row_offsets(uri: str) -> list[int]:
    """The first row of each row group, then the total row count."""
def parquet_cache_invalidate(uri: str) -> None:
    """Forgets the cached footer of ``uri``."""
def parquet_cache_clear() -> None:
    """Forgets every cached footer."""
def parquet_cache_len() -> int:
    """Files whose footers are cached."""
def gcs_bucket_storage_class(uri: str) -> str:
    """The storage class of the GCS bucket ``uri`` names (``RAPID`` for Rapid Storage)."""

class PyParquetIndex:
    """Row-group byte ranges of many Parquet files and per-epoch fetch marks."""

    def __init__(self, col_indices: Sequence[int] | None = None, footer_cap: int = 4194304) -> None: ...
    def ensure_indexed(self, uris: Sequence[str], epoch: int = 1, batch_size: int = 16) -> int:
        """Indexes the files not yet indexed (``batch_size`` footers at a time); returns the
        row groups of ``uris`` not yet fetched in ``epoch``."""
    def rg_for_sample(self, uri: str, sample_idx: int) -> int:
        """The row group holding row ``sample_idx``."""
    def rg_range(self, uri: str, rg_idx: int) -> tuple[int, int]:
        """``(byte_offset, byte_length)`` of a row group."""
    def rg_lookup(self, uri: str, sample_idx: int) -> tuple[int, int, int]:
        """``(rg_idx, byte_offset, byte_length)`` of the row group holding a row."""
    def was_fetched(self, uri: str, rg_idx: int, epoch: int) -> bool:
        """Whether the row group was marked fetched in ``epoch`` or later."""
    def mark_fetched(self, uri: str, rg_idx: int, epoch: int) -> None:
        """Marks the row group fetched in ``epoch``."""
    def check_and_mark(self, uri: str, rg_idx: int, epoch: int) -> bool:
        """Marks it fetched; True if it already was (skip the GET)."""
    def is_indexed(self, uri: str) -> bool:
        """Whether ``uri`` is indexed."""
    def file_rg_count(self, uri: str) -> int | None:
        """Row groups of ``uri``; None when not indexed."""
    def file_count(self) -> int:
        """Indexed files."""
    def invalidate_uri(self, uri: str) -> None:
        """Drops ``uri`` from the index."""
    def clear(self) -> None:
        """Drops every file."""
    def __len__(self) -> int: ...

class PyParquetItem:
    """One row group of a stream: ``file_uri``, ``rg_idx``, ``data`` (zero-copy), ``byte_count``."""

    file_uri: str
    rg_idx: int
    @property
    def data(self) -> memoryview: ...
    @property
    def byte_count(self) -> int: ...
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...

class ParquetStreamIter:
    """One pass of a ``PyParquetStreamLoader``, items in completion order."""

    def __iter__(self) -> ParquetStreamIter: ...
    def __next__(self) -> PyParquetItem: ...

class PyParquetStreamLoader:
    """Every row group of the files; each ``iter()`` is one pass with ``prefetch`` reads in flight."""

    def __iter__(self) -> ParquetStreamIter: ...
    def files(self) -> list[str]:
        """The files of each pass."""
