"""The original s3dlio 0.10.0's core I/O names (issue 20, first group), on every backend:
put_many, get_many_stats, stat_many_async, head_async, get_into_async(expected_len=),
object_capabilities, parse_s3_uri_full, list_containers, list_keys, list_full_uris,
get_object, stat_object, configure_s3, configure_tokio_threads, the error names,
s3dlio._pymod and __version__."""

import asyncio
import importlib
import os
import subprocess
import sys
import textwrap
import time

import pytest

import s3dlio
from conftest import pattern


def run(awaitable):
    """Awaits one of s3dlio's awaitables (not a coroutine) on a fresh loop."""

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def test_put_many_stores_every_item_and_get_many_stats_counts_them(prefix):
    items = [(f"{prefix}obj{i:02}", pattern(1000 + i, seed=i)) for i in range(12)]
    assert s3dlio.put_many(items, max_in_flight=4) is None
    for uri, data in items:
        assert bytes(s3dlio.get(uri)) == data
    uris = [u for u, _ in items]
    assert s3dlio.get_many_stats(uris, max_in_flight=3) == (12, sum(1000 + i for i in range(12)))
    assert run(s3dlio.get_many_stats_async(uris)) == (12, sum(1000 + i for i in range(12)))
    # The async form copies on request, so the caller may reuse its buffer at once.
    buf = bytearray(b"first")
    run(s3dlio.put_many_async([(f"{prefix}copied", buf)], borrow=False))
    buf[:] = b"later"
    assert bytes(s3dlio.get(f"{prefix}copied")) == b"first"


def test_put_many_checks_every_payload_before_any_io_and_reports_a_failure(prefix):
    with pytest.raises(TypeError):
        s3dlio.put_many([(f"{prefix}a", b"ok"), (f"{prefix}b", 123)])
    assert not s3dlio.exists(f"{prefix}a"), "nothing was stored"
    with pytest.raises(ValueError, match="max_in_flight"):
        s3dlio.put_many([(f"{prefix}a", b"ok")], max_in_flight=0)
    with pytest.raises(s3dlio.NotFoundError, match="missing"):
        s3dlio.get_many_stats([f"{prefix}missing"])


def test_head_stat_many_and_object_helpers(prefix):
    s3dlio.put_bytes(f"{prefix}k", b"12345")

    async def work():
        head = await s3dlio.head_async(f"{prefix}k")
        assert isinstance(head, s3dlio.ObjectMetadata) and head.size == 5
        assert head.etag == s3dlio.stat(f"{prefix}k")["etag"]
        assert await s3dlio.head_async(f"{prefix}absent") is None
        stats = await s3dlio.stat_many_async([f"{prefix}k", f"{prefix}k"], max_in_flight=1)
        assert [s["size"] for s in stats] == [5, 5]

    asyncio.run(work())
    assert bytes(s3dlio.get_object(f"{prefix}k")) == b"12345"
    assert s3dlio.stat_object(f"{prefix}k")["size"] == 5


def test_get_into_async_checks_the_expected_length(prefix):
    s3dlio.put_bytes(f"{prefix}k", b"x" * 100)
    buf = bytearray(100)
    assert asyncio.run(s3dlio.get_into_async(f"{prefix}k", buf, expected_len=100)) == 100
    assert bytes(buf) == b"x" * 100
    with pytest.raises(s3dlio.LengthMismatchError) as small:
        asyncio.run(s3dlio.get_into_async(f"{prefix}k", bytearray(200), expected_len=200))
    assert (small.value.expected, small.value.actual) == (200, 100)
    assert isinstance(small.value, ValueError)
    # An object larger than the buffer: refused before a byte is written, with its size.
    with pytest.raises(s3dlio.LengthMismatchError) as large:
        asyncio.run(s3dlio.get_into_async(f"{prefix}k", bytearray(50), expected_len=50))
    assert (large.value.expected, large.value.actual) == (50, 100)
    with pytest.raises(s3dlio.ObjectNotFoundError):
        asyncio.run(s3dlio.get_into_async(f"{prefix}gone", buf, expected_len=100))


def test_listing_helpers_are_one_level(prefix):
    for key in ["a", "b", "d/c"]:
        s3dlio.put_bytes(f"{prefix}{key}", b"1")
    assert s3dlio.list_full_uris(prefix) == [f"{prefix}a", f"{prefix}b", f"{prefix}d/"]
    assert s3dlio.list_keys(prefix.rstrip("/")) == ["a", "b", "d/"]


def test_list_containers_names_the_bucket(prefix):
    s3dlio.put_bytes(f"{prefix}x", b"1")
    if prefix.startswith("https://"):
        pytest.skip("the Azure portal form lists through az://")
    scheme, rest = prefix.split("://", 1)
    if scheme == "file":
        # A directory's "containers" are its subdirectories: the prefix's own.
        root, container = prefix.rstrip("/").rsplit("/", 1)[0] + "/", prefix
    elif scheme == "az":
        account, name = rest.split("/")[:2]
        root, container = f"az://{account}/", f"az://{account}/{name}/"
    else:
        root, container = f"{scheme}://", f"{scheme}://{rest.split('/')[0]}/"
    assert container in s3dlio.list_containers(root), (root, container)
    assert container in run(s3dlio.list_containers_async(root))


def test_object_capabilities_and_parse_s3_uri_full():
    for uri, provider in [("s3://b/k", "s3"), ("az://a/c/k", "az"), ("gs://b/k", "gs"),
                          ("file:///tmp/x", "file"), ("direct:///tmp/x", "direct")]:
        assert s3dlio.object_capabilities(uri) == {"provider": provider, "get_into": True, "head": True}
    with pytest.raises(s3dlio.InvalidInputError, match="unknown scheme"):
        s3dlio.object_capabilities("ftp://x/y")
    assert s3dlio.parse_s3_uri_full("s3://bucket/a/b.bin") == {"bucket": "bucket", "key": "a/b.bin"}
    assert s3dlio.parse_s3_uri_full("s3://10.0.0.1:9000/bucket/k") == {
        "endpoint": "10.0.0.1:9000", "bucket": "bucket", "key": "k"}
    with pytest.raises(ValueError, match="not an s3:// URI"):
        s3dlio.parse_s3_uri_full("gs://bucket/k")


def _runtime_threads(want):
    """The s3dlio-rt threads, once `want` are named: a new thread names itself when first
    scheduled, and the old runtime's end as it shuts down (up to 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        names = []
        for t in os.listdir("/proc/self/task"):
            try:
                names.append(open(f"/proc/self/task/{t}/comm").read().strip())
            except FileNotFoundError:  # a thread that just ended
                pass
        if names.count("s3dlio-rt") == want or time.monotonic() > deadline:
            return names.count("s3dlio-rt")
        time.sleep(0.01)


def test_configure_tokio_threads_and_configure_s3_take_effect(memory_bucket):
    # memory:// needs no blocking-pool thread, so every s3dlio-rt thread is a worker.
    uri = f"memory://{memory_bucket}/threads"
    try:
        s3dlio.configure_tokio_threads(3)
        s3dlio.put_bytes(uri, b"1")
        assert _runtime_threads(3) == 3
        s3dlio.configure_tokio_threads(1)
        s3dlio.get(uri)
        assert _runtime_threads(1) == 1
        s3dlio.configure_s3(endpoint_url="http://127.0.0.1:1", region="eu-west-1")
        assert s3dlio.configure()["endpoint_url"] == "http://127.0.0.1:1"
        assert s3dlio.configure()["region"] == "eu-west-1"
        with pytest.raises(ValueError):
            s3dlio.configure_tokio_threads(-1)
    finally:
        s3dlio.configure(runtime_threads=None, endpoint_url=None, region=None)


def test_the_originals_runtime_threads_variable_is_read_when_ours_is_unset():
    """DLIO's object-store storage sets the original's S3DLIO_RT_THREADS before its first call."""
    code = textwrap.dedent(
        """
        import os, sys, time, s3dlio
        s3dlio.create_bucket("memory://t")
        s3dlio.put_bytes("memory://t/x", b"1")
        # A worker names itself when first scheduled: wait (up to 5 s) for the count asked.
        deadline = time.monotonic() + 5
        while True:
            names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
            if names.count("s3dlio-rt") >= int(sys.argv[1]) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        print(names.count("s3dlio-rt"))
        """
    )

    def workers(want=0, **env):
        clean = {k: v for k, v in os.environ.items() if k not in ("S3DLIO_RUNTIME_THREADS", "S3DLIO_RT_THREADS")}
        p = subprocess.run([sys.executable, "-c", code, str(want)], capture_output=True, text=True, env={**clean, **env}, timeout=60)
        return p.stdout.strip() or p.stderr.strip().splitlines()[-1]

    # Counts the default (one per core) cannot give.
    n = os.cpu_count() + 1
    assert workers(n, S3DLIO_RT_THREADS=str(n)) == str(n)
    assert workers(n + 1, S3DLIO_RT_THREADS=str(n), S3DLIO_RUNTIME_THREADS=str(n + 1)) == str(n + 1), "ours wins"
    assert "S3DLIO_RT_THREADS" in workers(S3DLIO_RT_THREADS="many"), "a malformed value names the variable"


def test_original_module_names():
    pymod = importlib.import_module("s3dlio._pymod")
    assert pymod.get is s3dlio.get and s3dlio._core is pymod
    assert s3dlio.__version__ == importlib.metadata.version("s3dlio")
    assert s3dlio.ObjectNotFoundError is s3dlio.NotFoundError
    assert issubclass(s3dlio.ObjectNotFoundError, FileNotFoundError)
    assert issubclass(s3dlio.UnsupportedOperationError, NotImplementedError)
    assert issubclass(s3dlio.LengthMismatchError, ValueError)
    for name in s3dlio.__all__:
        assert hasattr(s3dlio, name), name


def test_mp_get_reads_every_object_in_several_processes(local):
    s3dlio.put_many([(f"{local}object_{i}.dat", b"x" * (100 + i)) for i in range(20)])
    stats = s3dlio.mp_get(local, procs=2, jobs=4, num=20)
    assert stats["total_objects"] == 20 and stats["total_bytes"] == sum(100 + i for i in range(20))
    assert len(stats["workers"]) == 2 and sum(w["objects"] for w in stats["workers"]) == 20
    assert stats["duration_seconds"] > 0 and stats["ops_per_sec"] > 0
    with pytest.raises(s3dlio.NotFoundError, match="object_20.dat"):
        s3dlio.mp_get(local, procs=2, jobs=4, num=21)
    with pytest.raises(ValueError, match="procs"):
        s3dlio.mp_get(local, procs=0)


def test_key_helpers_and_the_export_error_name(s3_bucket):
    bucket = s3_bucket.removeprefix("s3://").rstrip("/")
    s3dlio.put_bytes(f"s3://{bucket}/keyed", b"by key")
    with pytest.deprecated_call():
        assert bytes(s3dlio.get_by_key(bucket, "keyed")) == b"by key"
    with pytest.deprecated_call():
        assert s3dlio.stat_key(bucket, "keyed")["size"] == 6
    assert issubclass(s3dlio.ExportStillReferencedError, (s3dlio.S3dlioError, RuntimeError))


# The original's public names (../shared/notes/original-python-api.md).
ORIGINAL = """
get get_async get_range get_range_async get_many get_many_async get_many_stats get_many_stats_async
get_into_async head_async put_bytes put_bytes_async put_many put_many_async put put_async stat
stat_async stat_many_async exists exists_async delete mkdir mkdir_async upload download
create_bucket delete_bucket mp_get object_capabilities parse_s3_uri_full get_object stat_object
list_keys list_full_uris get_by_key stat_key list list_containers create_s3_writer
create_azure_writer create_filesystem_writer create_direct_filesystem_writer PyObjectWriter
PyWriterOptions MultipartUploadWriter create_multi_endpoint_store
create_multi_endpoint_store_from_template create_multi_endpoint_store_from_file
create_multi_endpoint_store_from_env MultiEndpointStore create_dataset create_async_loader PyDataset
PyBytesAsyncDataLoader PyVecDataset PyAsyncDataLoader PyS3Dataset PyS3DatasetCompat
PyS3AsyncDataLoader PyS3AsyncDataLoaderCompat PyLoaderOptions create_tfrecord_index
index_tfrecord_bytes get_tfrecord_index_entries read_tfrecord_index read_npz generate_npz_bytes
ObjectStoreIterableDataset ObjectStoreMapDataset S3IterableDataset S3MapDataset save_checkpoint
load_checkpoint load_checkpoint_with_validation load_checkpoint_with_validation_view
save_distributed_shard finalize_distributed_checkpoint PyCheckpointStore PyCheckpointWriter
PyCheckpointReader PyCheckpointInfo init_op_log is_op_log_active finalize_op_log op_log_stats
generate_data generate_data_with_threads generate_into_buffer Generator py_total_cpus
py_default_data_gen_threads configure_s3 configure_tokio_threads init_logging BytesView
ObjectNotFoundError LengthMismatchError UnsupportedOperationError ExportStillReferencedError
ObjectMetadata generate_parquet_bytes generate_parquet_bytes_schema generate_and_write_parquet
generate_and_write_parquet_schema generate_and_write_parquet_schema_streaming parquet_get_rg
parquet_rg_row_offsets parquet_cache_len parquet_cache_clear parquet_cache_invalidate PyParquetIndex
PyParquetStreamLoader ParquetStreamIter PyParquetItem gcs_get_channel_count gcs_set_channel_count
gcs_get_rapid_mode gcs_set_rapid_mode gcs_query_rapid_bucket
""".split()


def test_the_original_surface_is_here():
    missing = [n for n in ORIGINAL if not hasattr(s3dlio, n)]
    assert missing == []
    public = {n for n in dir(s3dlio) if not n.startswith("_")}
    assert set(s3dlio.__all__) <= public
