"""s3dlio: fast object-storage I/O for AI/ML jobs.

Reads return read-only ``memoryview`` objects over the Rust buffer (no copy); the
``*_bytes`` variants return ``bytes`` (one copy). Every I/O function has an ``_async``
twin that returns an awaitable. URIs: ``s3://bucket/key``, ``file:///path``,
``direct:///path`` (O_DIRECT), ``memory://bucket/key``.
"""

from __future__ import annotations

import atexit as _atexit
import importlib.metadata as _metadata
import os as _os
import sys as _sys

from . import _s3dlio
from ._s3dlio import (
    BytesView,
    Loader,
    MultiEndpointStore,
    ObjectReader,
    ObjectWriter,
    ReservedBuffer,
    copy,
    copy_async,
    create_async_loader,
    create_bucket,
    create_bucket_async,
    create_dataset,
    create_loader,
    create_multi_endpoint_store,
    create_multi_endpoint_store_from_env,
    create_multi_endpoint_store_from_file,
    create_multi_endpoint_store_from_template,
    delete,
    delete_async,
    delete_bucket,
    delete_bucket_async,
    download,
    download_async,
    exists,
    exists_async,
    finalize_op_log,
    Generator,
    generate_data,
    generate_data_with_threads,
    generate_into_buffer,
    generate_npz_bytes,
    get,
    get_async,
    get_bytes,
    get_bytes_async,
    get_into,
    get_many,
    get_many_async,
    get_many_stats,
    get_many_stats_async,
    get_ranges,
    get_ranges_async,
    get_range,
    get_range_async,
    get_range_bytes,
    get_range_bytes_async,
    init_logging,
    init_op_log,
    is_op_log_active,
    abort_uploads,
    abort_uploads_async,
    list,
    list_async,
    list_stat,
    list_stat_async,
    list_containers,
    list_containers_async,
    list_uploads,
    list_uploads_async,
    mkdir,
    mkdir_async,
    op_log_stats,
    open_reader,
    open_writer,
    parse_s3_uri_full,
    py_default_data_gen_threads,
    py_total_cpus,
    put,
    put_async,
    put_many,
    put_many_async,
    put_bytes,
    put_bytes_async,
    stat,
    stat_async,
    upload,
    upload_async,
)
from .checkpoint import (
    PyCheckpointInfo,
    PyCheckpointReader,
    PyCheckpointStore,
    PyCheckpointWriter,
    finalize_distributed_checkpoint,
    load_checkpoint,
    load_checkpoint_with_validation,
    load_checkpoint_with_validation_view,
    save_checkpoint,
    save_distributed_shard,
)
from .errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ChecksumMismatchError,
    InvalidInputError,
    NotFoundError,
    NotSupportedError,
    OperationTimeoutError,
    S3dlioError,
)

from .parity import (
    ExportStillReferencedError,
    LengthMismatchError,
    ObjectMetadata,
    ObjectNotFoundError,
    UnsupportedOperationError,
    configure_s3,
    configure_tokio_threads,
    gcs_get_channel_count,
    gcs_get_rapid_mode,
    gcs_query_rapid_bucket,
    gcs_set_channel_count,
    gcs_set_rapid_mode,
    get_by_key,
    get_into_async,
    get_object,
    head_async,
    list_full_uris,
    list_keys,
    mp_get,
    object_capabilities,
    stat_key,
    stat_many_async,
    stat_object,
)
from ._s3dlio import (
    ParquetStreamIter,
    PyParquetIndex,
    PyParquetItem,
    PyParquetStreamLoader,
    gcs_bucket_storage_class,
    generate_and_write_parquet,
    generate_and_write_parquet_schema,
    generate_parquet_bytes,
    generate_parquet_bytes_schema,
    parquet_cache_clear,
    parquet_cache_invalidate,
    parquet_cache_len,
    parquet_get_rg,
    parquet_get_rg_async,
    parquet_rg_row_offsets,
)

# The original's S3 streaming variant: every Parquet write here streams a row group at a
# time, on every scheme.
generate_and_write_parquet_schema_streaming = generate_and_write_parquet_schema

from .formats import (
    create_tfrecord_index,
    get_tfrecord_index_entries,
    index_tfrecord_bytes,
    read_npz,
    read_tfrecord_index,
)
from .loaders import (
    PyAsyncDataLoader,
    PyBytesAsyncDataLoader,
    PyDataset,
    PyLoaderOptions,
    PyObjectDataLoaderSyncIter,
    PyObjectItem,
    PyS3AsyncDataLoader,
    PyS3AsyncDataLoaderCompat,
    PyS3Dataset,
    PyS3DatasetCompat,
    PyVecDataset,
)
from .writers import (
    MultipartUploadWriter,
    PyObjectWriter,
    PyWriterOptions,
    create_azure_writer,
    create_direct_filesystem_writer,
    create_filesystem_writer,
    create_gcs_writer,
    create_s3_writer,
)

# Ours before the original's name.
Dataset = PyDataset

# The original's PyTorch datasets at top level: None without torch. Resolved on first use,
# so `import s3dlio` does not import torch.
_TORCH_NAMES = ("ObjectStoreIterableDataset", "ObjectStoreMapDataset", "S3IterableDataset", "S3MapDataset")


def __getattr__(name: str) -> object:
    if name not in _TORCH_NAMES:
        raise AttributeError(f"module 's3dlio' has no attribute {name!r}")
    try:
        from . import torch as _torch
    except ImportError:
        value = None
    else:
        value = getattr(_torch, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TORCH_NAMES))


# The original's native module name: scripts import `s3dlio._pymod` directly.
_pymod = _core = _s3dlio
_sys.modules[__name__ + "._pymod"] = _s3dlio

try:
    __version__: str = _metadata.version("s3dlio")
except _metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = _s3dlio.__version__

# An idle runtime is stopped before fork() so the child inherits no thread mid-lock
# (see crates/py/src/runtime.rs, before_fork); the next call starts a new one.
_os.register_at_fork(before=_s3dlio._before_fork)
# And stopped at exit, while the interpreter is whole (runtime.rs, at_exit).
_atexit.register(_s3dlio._at_exit)

# Each knob of configure() and the variable it stands for (docs/configuration.md).
KNOBS: dict[str, str] = {
    "range_chunk_size": "S3DLIO_RANGE_CHUNK_SIZE",
    "range_concurrency": "S3DLIO_RANGE_CONCURRENCY",
    "range_max_bytes_in_flight": "S3DLIO_RANGE_MAX_BYTES_IN_FLIGHT",
    "range_threshold": "S3DLIO_RANGE_THRESHOLD",
    "retry_max_attempts": "S3DLIO_RETRY_MAX_ATTEMPTS",
    "retry_initial_backoff_ms": "S3DLIO_RETRY_INITIAL_BACKOFF_MS",
    "retry_max_backoff_ms": "S3DLIO_RETRY_MAX_BACKOFF_MS",
    "retry_max_elapsed_ms": "S3DLIO_RETRY_MAX_ELAPSED_MS",
    "max_requests": "S3DLIO_MAX_REQUESTS",
    "multipart_part_size": "S3DLIO_MULTIPART_PART_SIZE",
    "multipart_in_flight": "S3DLIO_MULTIPART_IN_FLIGHT",
    "put_verify": "S3DLIO_PUT_VERIFY",
    "s3_connect_timeout_ms": "S3DLIO_S3_CONNECT_TIMEOUT_MS",
    "s3_operation_timeout_ms": "S3DLIO_S3_OPERATION_TIMEOUT_MS",
    "s3_attempt_timeout_ms": "S3DLIO_S3_ATTEMPT_TIMEOUT_MS",
    "s3_idle_timeout_ms": "S3DLIO_S3_IDLE_TIMEOUT_MS",
    "s3_credentials_timeout_ms": "S3DLIO_S3_CREDENTIALS_TIMEOUT_MS",
    "s3_force_path_style": "S3DLIO_S3_FORCE_PATH_STYLE",
    "s3_endpoint_scheme": "S3DLIO_S3_ENDPOINT_SCHEME",
    "s3_delete_concurrency": "S3DLIO_S3_DELETE_CONCURRENCY",
    "s3_pool_max_idle_per_host": "S3DLIO_S3_POOL_MAX_IDLE_PER_HOST",
    "s3_data_path": "S3DLIO_S3_DATA_PATH",
    "s3_payload_signing": "S3DLIO_S3_PAYLOAD_SIGNING",
    "s3_checksum": "S3DLIO_S3_CHECKSUM",
    "azure_connect_timeout_ms": "S3DLIO_AZURE_CONNECT_TIMEOUT_MS",
    "azure_request_timeout_ms": "S3DLIO_AZURE_REQUEST_TIMEOUT_MS",
    "azure_idle_timeout_ms": "S3DLIO_AZURE_IDLE_TIMEOUT_MS",
    "azure_delete_concurrency": "S3DLIO_AZURE_DELETE_CONCURRENCY",
    "azure_credentials_timeout_ms": "S3DLIO_AZURE_CREDENTIALS_TIMEOUT_MS",
    "azure_storage_endpoint": "AZURE_STORAGE_ENDPOINT",
    "gcs_connect_timeout_ms": "S3DLIO_GCS_CONNECT_TIMEOUT_MS",
    "gcs_request_timeout_ms": "S3DLIO_GCS_REQUEST_TIMEOUT_MS",
    "gcs_idle_timeout_ms": "S3DLIO_GCS_IDLE_TIMEOUT_MS",
    "gcs_credentials_timeout_ms": "S3DLIO_GCS_CREDENTIALS_TIMEOUT_MS",
    "gcs_delete_concurrency": "S3DLIO_GCS_DELETE_CONCURRENCY",
    "gcs_endpoint": "S3DLIO_GCS_ENDPOINT",
    "gcs_anonymous": "S3DLIO_GCS_ANONYMOUS",
    "storage_emulator_host": "STORAGE_EMULATOR_HOST",
    "google_cloud_project": "GOOGLE_CLOUD_PROJECT",
    "page_cache": "S3DLIO_PAGE_CACHE",
    "file_fsync": "S3DLIO_FILE_FSYNC",
    "direct_alignment": "S3DLIO_DIRECT_ALIGNMENT",
    "runtime_threads": "S3DLIO_RUNTIME_THREADS",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "region": "AWS_REGION",
    "ca_bundle": "AWS_CA_BUNDLE",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
}


# The knobs configure() has set, by name, as strings.
_configured: dict[str, str] = {}


def configure(**knobs: object) -> dict[str, str]:
    """Sets s3dlio's knobs for this process and rebuilds its clients.

    Each keyword is a key of ``KNOBS``; its value stands in front of the environment
    variable the key names (the variables the Rust library and ``s3-cli`` read), without
    changing ``os.environ``. ``None`` drops the setting, so the variable (or the default)
    applies again. Every call also reads the environment again. Call it before starting
    I/O: calls already running finish with the old settings. A read, retry or limit knob
    the library cannot use raises ``InvalidInputError`` (naming the variable) here, and
    nothing changes; a backend's knob raises on the first call that uses that backend.
    A key pair (``access_key_id`` and ``secret_access_key``) given without
    ``session_token`` signs without one: an ``AWS_SESSION_TOKEN`` in the environment
    belongs to other keys. Returns every knob now set.
    """
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown s3dlio knob(s) {unknown}; known: {sorted(KNOBS)}")
    if knobs.get("access_key_id") is not None and "session_token" not in knobs:
        knobs["session_token"] = ""
    wanted = dict(_configured)
    for name, value in knobs.items():
        if value is None:
            wanted.pop(name, None)
        else:
            wanted[name] = _knob_value(value)
    _s3dlio._configure({KNOBS[name]: value for name, value in wanted.items()})
    _configured.clear()
    _configured.update(wanted)
    return dict(_configured)


def _knob_value(value: object) -> str:
    """A knob's value as ``configure`` keeps it (and hands it to the library)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _configure_changed(**knobs: object) -> None:
    """``configure(**knobs)`` where one of them differs from what is set (adapters that are
    made many times in a process, or again in each worker, rebuild the clients once)."""
    if any(_configured.get(k) != (None if v is None else _knob_value(v)) for k, v in knobs.items()):
        configure(**knobs)


__all__ = [
    "ParquetStreamIter",
    "PyParquetIndex",
    "PyParquetItem",
    "PyParquetStreamLoader",
    "gcs_bucket_storage_class",
    "generate_and_write_parquet",
    "generate_and_write_parquet_schema",
    "generate_and_write_parquet_schema_streaming",
    "generate_parquet_bytes",
    "generate_parquet_bytes_schema",
    "parquet_cache_clear",
    "parquet_cache_invalidate",
    "parquet_cache_len",
    "parquet_get_rg",
    "parquet_get_rg_async",
    "parquet_rg_row_offsets",
    "gcs_get_channel_count",
    "gcs_get_rapid_mode",
    "gcs_query_rapid_bucket",
    "gcs_set_channel_count",
    "gcs_set_rapid_mode",
    "AccessDeniedError",
    "AlreadyExistsError",
    "BytesView",
    "ChecksumMismatchError",
    "Dataset",
    "ExportStillReferencedError",
    "Generator",
    "InvalidInputError",
    "KNOBS",
    "LengthMismatchError",
    "MultiEndpointStore",
    "MultipartUploadWriter",
    "NotFoundError",
    "NotSupportedError",
    "ObjectMetadata",
    "ObjectNotFoundError",
    "ObjectStoreIterableDataset",
    "ObjectStoreMapDataset",
    "ObjectWriter",
    "OperationTimeoutError",
    "PyAsyncDataLoader",
    "PyBytesAsyncDataLoader",
    "PyDataset",
    "PyLoaderOptions",
    "PyObjectDataLoaderSyncIter",
    "PyObjectItem",
    "PyObjectWriter",
    "PyS3AsyncDataLoader",
    "PyS3AsyncDataLoaderCompat",
    "PyS3Dataset",
    "PyS3DatasetCompat",
    "PyVecDataset",
    "PyWriterOptions",
    "ReservedBuffer",
    "S3IterableDataset",
    "S3MapDataset",
    "S3dlioError",
    "UnsupportedOperationError",
    "abort_uploads",
    "abort_uploads_async",
    "configure",
    "configure_s3",
    "configure_tokio_threads",
    "copy",
    "copy_async",
    "create_azure_writer",
    "create_bucket",
    "create_bucket_async",
    "create_direct_filesystem_writer",
    "create_filesystem_writer",
    "create_gcs_writer",
    "create_multi_endpoint_store",
    "create_multi_endpoint_store_from_env",
    "create_multi_endpoint_store_from_file",
    "create_multi_endpoint_store_from_template",
    "create_s3_writer",
    "create_tfrecord_index",
    "delete",
    "delete_async",
    "delete_bucket",
    "delete_bucket_async",
    "download",
    "download_async",
    "exists",
    "exists_async",
    "finalize_op_log",
    "generate_data",
    "generate_data_with_threads",
    "generate_into_buffer",
    "generate_npz_bytes",
    "get",
    "get_async",
    "get_by_key",
    "get_bytes",
    "get_bytes_async",
    "get_into",
    "get_into_async",
    "get_many",
    "get_many_async",
    "get_many_stats",
    "get_many_stats_async",
    "get_object",
    "get_range",
    "get_range_async",
    "get_range_bytes",
    "get_range_bytes_async",
    "get_ranges",
    "get_ranges_async",
    "get_tfrecord_index_entries",
    "head_async",
    "index_tfrecord_bytes",
    "init_logging",
    "init_op_log",
    "is_op_log_active",
    "list",
    "list_async",
    "list_stat",
    "list_stat_async",
    "list_containers",
    "list_containers_async",
    "list_full_uris",
    "list_keys",
    "list_uploads",
    "list_uploads_async",
    "mkdir",
    "mkdir_async",
    "mp_get",
    "object_capabilities",
    "op_log_stats",
    "open_writer",
    "parse_s3_uri_full",
    "put",
    "put_async",
    "put_bytes",
    "put_bytes_async",
    "put_many",
    "put_many_async",
    "py_default_data_gen_threads",
    "py_total_cpus",
    "read_npz",
    "read_tfrecord_index",
    "stat",
    "stat_async",
    "stat_key",
    "stat_many_async",
    "stat_object",
    "upload",
    "upload_async",
]
