"""The wheel beside obstore and boto3 on the same objects, in one run (`cargo xtask bench py`).

1. Memory: peak RSS of `get` (zero-copy memoryview) vs `get_bytes` (bytes) for a 256 MiB
   object turned into a numpy array, each in a fresh process.
2. Throughput: 1000 x 64 KiB and 16 x 64 MiB objects read at concurrency 64 on file://
   and on the local S3 server, by s3dlio (get_many), obstore (asyncio.gather) and boto3
   (a thread pool; S3 only). One line per (backend, workload, library); ratios at the end.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import s3dlio

CONCURRENCY = 64
MEM_SIZE = 256 << 20
WORKLOADS = [("64KiBx1000", 64 << 10, 1000), ("64MiBx16", 64 << 20, 16)]
RESULTS = {}


def report(backend, workload, lib, nbytes, secs):
    rate = nbytes / secs / 1e6
    RESULTS[(backend, workload, lib)] = rate
    print(f"{backend:<5} {workload:<11} {lib:<8} {rate:>9.1f} MB/s {secs:>8.3f} s", flush=True)


def best_of(n, fn):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def memory(uri):
    code = textwrap.dedent(f"""
        import resource, numpy as np, s3dlio
        def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        base = peak()
        arr = np.frombuffer(s3dlio.{{fn}}({uri!r}), dtype=np.uint8)
        assert arr.size == {MEM_SIZE}
        print(peak() - base)
    """)
    peaks = {}
    for fn in ["get", "get_bytes"]:
        out = subprocess.run([sys.executable, "-c", code.replace("{fn}", fn)], capture_output=True, text=True, check=True)
        peaks[fn] = int(out.stdout.strip())
        print(f"memory {uri.split(':')[0]:<5} {fn:<9} peak RSS growth {peaks[fn] / 2**20:8.1f} MiB for a {MEM_SIZE >> 20} MiB object", flush=True)
    saving = 1 - peaks["get"] / peaks["get_bytes"]
    print(f"memory {uri.split(':')[0]:<5} get saves {saving:.0%} of get_bytes' peak", flush=True)


def s3dlio_reads(uris, size):
    def run():
        got = s3dlio.get_many(uris, max_in_flight=CONCURRENCY)
        assert sum(len(v) for _, v in got) == size * len(uris)

    return run


def obstore_reads(store, keys, size):
    import obstore

    async def main():
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(k):
            async with sem:
                r = await obstore.get_async(store, k)
                return len(await r.bytes_async())

        return sum(await asyncio.gather(*(one(k) for k in keys)))

    def run():
        assert asyncio.run(main()) == size * len(keys)

    return run


def boto3_reads(client, bucket, keys, size, pool):
    def run():
        got = sum(pool.map(lambda k: len(client.get_object(Bucket=bucket, Key=k)["Body"].read()), keys))
        assert got == size * len(keys)

    return run


def bench_file(root):
    from obstore.store import LocalStore

    store = LocalStore(prefix=root)
    for name, size, n in WORKLOADS:
        keys = [f"{name}/{i:05}" for i in range(n)]
        s3dlio.put(f"file://{root}/{name}/", num=n, template="{}", size=size)
        keys = [f"{name}/{i}" for i in range(n)]
        uris = [f"file://{root}/{k}" for k in keys]
        report("file", name, "s3dlio", size * n, best_of(3, s3dlio_reads(uris, size)))
        report("file", name, "obstore", size * n, best_of(3, obstore_reads(store, keys, size)))


def bench_s3(endpoint):
    import boto3
    from botocore.config import Config
    from obstore.store import S3Store

    bucket = "py-bench"
    s3dlio.create_bucket(f"s3://{bucket}")
    store = S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
        client_options={"allow_http": True},
    )
    client = boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=CONCURRENCY))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for name, size, n in WORKLOADS:
            s3dlio.put(f"s3://{bucket}/{name}/", num=n, template="{}", size=size)
            keys = [f"{name}/{i}" for i in range(n)]
            uris = [f"s3://{bucket}/{k}" for k in keys]
            report("s3", name, "s3dlio", size * n, best_of(3, s3dlio_reads(uris, size)))
            report("s3", name, "obstore", size * n, best_of(3, obstore_reads(store, keys, size)))
            report("s3", name, "boto3", size * n, best_of(3, boto3_reads(client, bucket, keys, size, pool)))
    s3dlio.delete(f"s3://{bucket}/", recursive=True)
    s3dlio.delete_bucket(f"s3://{bucket}")


def main():
    endpoint = os.environ.get("S3DLIO_TEST_S3_ENDPOINT")
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3dlio.configure()  # rebuild the clients with the endpoint
    with tempfile.TemporaryDirectory(dir=os.environ.get("S3DLIO_BENCH_DIR", "target")) as root:
        root = os.path.abspath(root)
        s3dlio.put(f"file://{root}/mem/", num=1, template="big", size=MEM_SIZE)
        memory(f"file://{root}/mem/big")
        if endpoint:
            s3dlio.create_bucket("s3://py-bench-mem")
            s3dlio.put("s3://py-bench-mem/", num=1, template="big", size=MEM_SIZE)
            memory("s3://py-bench-mem/big")
            s3dlio.delete("s3://py-bench-mem/", recursive=True)
            s3dlio.delete_bucket("s3://py-bench-mem")
        bench_file(root)
    if endpoint:
        bench_s3(endpoint)
    print("ratios (s3dlio MB/s / other MB/s):")
    for (backend, workload, lib), rate in RESULTS.items():
        if lib != "s3dlio":
            print(f"  {backend:<5} {workload:<11} vs {lib:<8} {RESULTS[(backend, workload, 's3dlio')] / rate:5.2f}x")


if __name__ == "__main__":
    main()
