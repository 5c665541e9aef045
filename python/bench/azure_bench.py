"""azure-storage-blob (Microsoft's Python SDK) on the same workloads as
crates/s3dlio/benches/remote.rs, run by `cargo xtask bench azure` against the same Azurite.

Same server, same concurrency (a thread pool of 64), one line per workload.
"""
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from azure.storage.blob import BlobServiceClient

CONCURRENCY = 64
CONTAINER = "s3dlio-bench-pysdk"


def report(name, objects, nbytes, secs):
    print(f"azsdk  {name:<28} {nbytes / secs / 1e6:>9.1f} MB/s {objects / secs:>9.0f} objects/s {secs:>8.3f} s", flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def many(container, prefix, n, size):
    data = b"\x5a" * size
    keys = [f"{prefix}{i:06}" for i in range(n)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: container.upload_blob(k, data, overwrite=True), keys))
        report(f"upload-{size >> 10}KiBx{n}", n, n * size, time.perf_counter() - t)
        t = time.perf_counter()
        got = sum(pool.map(lambda k: len(container.download_blob(k, max_concurrency=1).readall()), keys))
        assert got == n * size
        report(f"download-{size >> 10}KiBx{n}", n, got, time.perf_counter() - t)


def pieces():
    piece = b"\xa5" * (8 << 20)
    for _ in range(128):
        yield piece


def main():
    account = os.environ["AZURE_STORAGE_ACCOUNT"]
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={os.environ['AZURE_STORAGE_KEY']};"
        f"BlobEndpoint={os.environ['AZURE_STORAGE_ENDPOINT']};"
    )
    service = BlobServiceClient.from_connection_string(
        conn,
        max_single_get_size=8 << 20,
        max_chunk_get_size=8 << 20,
        max_block_size=16 << 20,
        max_single_put_size=16 << 20,
    )
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    rss_before = peak_rss_mib()
    t = time.perf_counter()
    # A stream of 8 MiB pieces, staged as 16 MiB blocks, 4 at once: the streaming upload.
    container.upload_blob("big-1GiB", pieces(), length=1 << 30, overwrite=True, max_concurrency=4)
    report("upload-1GiB", 1, 1 << 30, time.perf_counter() - t)
    print(f"azsdk  upload-1GiB peak RSS {peak_rss_mib():.0f} MiB (before: {rss_before:.0f} MiB)", flush=True)
    t = time.perf_counter()
    n = len(container.download_blob("big-1GiB", max_concurrency=1).readall())
    report("download-1GiB one stream", 1, n, time.perf_counter() - t)
    t = time.perf_counter()
    n = len(container.download_blob("big-1GiB", max_concurrency=16).readall())
    report("download-1GiB ranged (16)", 1, n, time.perf_counter() - t)
    many(container, "small/", 1000, 64 << 10)
    many(container, "medium/", 10_000, 256 << 10)
    container.delete_container()  # with its blobs: cleanup is not part of the measurement


if __name__ == "__main__":
    main()
