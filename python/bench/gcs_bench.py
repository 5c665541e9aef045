"""google-cloud-storage (Google's Python SDK) on the same workloads as
crates/s3dlio/benches/remote.rs, run by `cargo xtask bench gcs` against the same
fake-gcs-server (the SDK reads STORAGE_EMULATOR_HOST and sends no credentials).

Same server, same concurrency (a thread pool of 64, with an HTTP pool as large), one line
per workload. The SDK's defaults are kept otherwise (it checks CRC32C on downloads).
"""
import os
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from google.cloud import storage
from google.cloud.storage import transfer_manager
from requests.adapters import HTTPAdapter

CONCURRENCY = 64
BUCKET = "s3dlio-bench-pysdk"


def report(name, objects, nbytes, secs):
    print(f"gcssdk {name:<28} {nbytes / secs / 1e6:>9.1f} MB/s {objects / secs:>9.0f} objects/s {secs:>8.3f} s", flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def many(bucket, prefix, n, size):
    data = b"\x5a" * size
    keys = [f"{prefix}{i:06}" for i in range(n)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: bucket.blob(k).upload_from_string(data), keys))
        report(f"upload-{size >> 10}KiBx{n}", n, n * size, time.perf_counter() - t)
        t = time.perf_counter()
        got = sum(pool.map(lambda k: len(bucket.blob(k).download_as_bytes()), keys))
        assert got == n * size
        report(f"download-{size >> 10}KiBx{n}", n, got, time.perf_counter() - t)


def main():
    client = storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "s3dlio-test"))
    adapter = HTTPAdapter(pool_connections=CONCURRENCY, pool_maxsize=CONCURRENCY)
    client._http.mount("http://", adapter)
    client._http.mount("https://", adapter)
    bucket = client.bucket(BUCKET)
    if not bucket.exists():
        bucket = client.create_bucket(BUCKET)
    rss_before = peak_rss_mib()
    piece = b"\xa5" * (8 << 20)
    t = time.perf_counter()
    # 8 MiB pieces through the SDK's streaming writer: a resumable upload in 16 MiB chunks.
    with bucket.blob("big-1GiB", chunk_size=16 << 20).open("wb") as w:
        for _ in range(128):
            w.write(piece)
    report("upload-1GiB", 1, 1 << 30, time.perf_counter() - t)
    print(f"gcssdk upload-1GiB peak RSS {peak_rss_mib():.0f} MiB (before: {rss_before:.0f} MiB)", flush=True)
    blob = bucket.blob("big-1GiB")
    t = time.perf_counter()
    n = len(blob.download_as_bytes())
    report("download-1GiB one stream", 1, n, time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big")
        blob.reload()
        t = time.perf_counter()
        transfer_manager.download_chunks_concurrently(
            blob, path, chunk_size=8 << 20, max_workers=16, worker_type=transfer_manager.THREAD
        )
        report("download-1GiB ranged (16, file)", 1, os.path.getsize(path), time.perf_counter() - t)
    many(bucket, "small/", 1000, 64 << 10)
    many(bucket, "medium/", 10_000, 256 << 10)
    t = time.perf_counter()
    blobs = list(client.list_blobs(BUCKET))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda b: b.delete(), blobs))
    report(f"delete-prefix-{len(blobs)}", len(blobs), 0, time.perf_counter() - t)
    bucket.delete()


if __name__ == "__main__":
    main()
