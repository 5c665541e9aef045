"""boto3 on the same workloads as crates/backend-s3/benches/s3.rs (run by `cargo xtask bench s3`).

Same server, same concurrency (a thread pool of 64), one line per workload.
"""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

CONCURRENCY = 64
BUCKET = "s3dlio-bench-boto3"


def report(name, objects, nbytes, secs):
    print(f"boto3  {name:<28} {nbytes / secs / 1e6:>9.1f} MB/s {objects / secs:>9.0f} objects/s {secs:>8.3f} s", flush=True)


def many(s3, prefix, n, size):
    data = b"\x5a" * size
    keys = [f"{prefix}{i:06}" for i in range(n)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=data), keys))
        report(f"upload-{size >> 10}KiBx{n}", n, n * size, time.perf_counter() - t)
        t = time.perf_counter()
        got = sum(pool.map(lambda k: len(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()), keys))
        assert got == n * size
        report(f"download-{size >> 10}KiBx{n}", n, got, time.perf_counter() - t)


class Sink:
    """A write-only file object that counts bytes (download_fileobj target)."""

    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)
        return len(b)


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["S3DLIO_TEST_S3_ENDPOINT"],
        config=Config(max_pool_connections=CONCURRENCY, s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=BUCKET)
    big = b"\xa5" * (1 << 30)
    cfg = TransferConfig(multipart_chunksize=16 << 20, max_concurrency=4)
    t = time.perf_counter()
    s3.upload_fileobj(__import__("io").BytesIO(big), BUCKET, "big-1GiB", Config=cfg)
    report("upload-1GiB", 1, 1 << 30, time.perf_counter() - t)
    del big
    t = time.perf_counter()
    n = len(s3.get_object(Bucket=BUCKET, Key="big-1GiB")["Body"].read())
    report("download-1GiB single GET", 1, n, time.perf_counter() - t)
    sink = Sink()
    t = time.perf_counter()
    s3.download_fileobj(BUCKET, "big-1GiB", sink, Config=TransferConfig(multipart_chunksize=8 << 20, max_concurrency=16))
    report("download-1GiB ranged (16)", 1, sink.n, time.perf_counter() - t)
    many(s3, "small/", 1000, 64 << 10)
    many(s3, "medium/", 10_000, 256 << 10)


if __name__ == "__main__":
    main()
