"""One peer, one workload, in a fresh process (run by `peers.py`): prints one JSON line with
the timed phase's wall and CPU seconds (every thread) and per-request latencies. The driver
reads the process's peak RSS from the OS, so nothing else runs in it.

usage: peers_worker.py PEER WORKLOAD OP BUCKET COUNT SIZE CONCURRENCY
PEER: s3dlio | original | obstore | boto3; OP: get | put | into | ranges. The objects are
`WORKLOAD/<i>` for i in range(COUNT); a get reads what the driver wrote, a put writes them.
`ranges` reads COUNT ranges of SIZE bytes at random aligned offsets of `WORKLOAD/0` (which
the get before it read): each peer's own many-ranges call where it has one (ours
`get_ranges`, obstore `get_ranges`), else one ranged GET per range, CONCURRENCY at once.
`into` reads one object into a buffer the caller allocated and touched once, with each
peer's read-into call where it has one (ours `get_into`, the original's `get_into_async`).
A get, into or ranges row is timed on its second pass (the first, untimed, warms the
process's memory, or for `into` the buffer).
The endpoint and keys come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

import asyncio
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor


CPU = [0.0]


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return r.ru_utime + r.ru_stime


def timed(fn, *args):
    """Wall seconds of `fn`; its CPU seconds (all threads) go to CPU[0]."""
    c, t = cpu_now(), time.perf_counter()
    out = fn(*args)
    secs = time.perf_counter() - t
    CPU[0] += cpu_now() - c
    return out, secs


def s3dlio_peer(op, uris, payload, conc):
    """Ours and the original share these names: `get_many` for many objects, `get` and
    `put_bytes` for one, `put_bytes_async` under a semaphore for many puts."""
    import s3dlio

    lat = []
    if len(uris) == 1:
        if op == "get":
            got, secs = timed(s3dlio.get, uris[0])
            return len(got), secs, lat
        _, secs = timed(s3dlio.put_bytes, uris[0], payload)
        return len(payload), secs, lat
    if op == "get":
        got, secs = timed(s3dlio.get_many, uris, conc)
        return sum(len(v) for _, v in got), secs, lat

    async def main():
        sem = asyncio.Semaphore(conc)

        async def one(u):
            async with sem:
                t = time.perf_counter()
                await s3dlio.put_bytes_async(u, payload)
                lat.append(time.perf_counter() - t)

        await asyncio.gather(*(one(u) for u in uris))

    _, secs = timed(asyncio.run, main())
    return len(payload) * len(uris), secs, lat


def obstore_store(bucket):
    """obstore's S3 store on the server the environment names."""
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
        client_options={"allow_http": True},
    )


def obstore_peer(op, keys, payload, conc, bucket):
    import obstore

    store = obstore_store(bucket)
    lat = []
    kept = []  # every body is held to the end, as get_many's result holds ours

    async def main():
        sem = asyncio.Semaphore(conc)
        total = 0

        async def one(k):
            nonlocal total
            async with sem:
                t = time.perf_counter()
                if op == "get":
                    r = await obstore.get_async(store, k)
                    data = await r.bytes_async()
                    kept.append(data)
                    total += len(data)
                else:
                    await obstore.put_async(store, k, payload)
                    total += len(payload)
                lat.append(time.perf_counter() - t)

        await asyncio.gather(*(one(k) for k in keys))
        return total

    n, secs = timed(asyncio.run, main())
    return n, secs, lat


def boto3_peer(op, keys, payload, conc, bucket):
    import io

    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    client = boto3.client("s3", config=Config(max_pool_connections=conc))
    lat = []
    if len(keys) == 1:
        # One large object: boto3's transfer manager (ranged GETs / multipart, `conc` threads).
        cfg = TransferConfig(max_concurrency=conc, multipart_chunksize=8 << 20)
        if op == "get":
            buf = io.BytesIO()
            _, secs = timed(client.download_fileobj, bucket, keys[0], buf, None, None, cfg)
            return buf.getbuffer().nbytes, secs, lat
        _, secs = timed(client.upload_fileobj, io.BytesIO(payload), bucket, keys[0], None, None, cfg)
        return len(payload), secs, lat

    kept = []  # every body is held to the end, as get_many's result holds ours

    def one(k):
        t = time.perf_counter()
        if op == "get":
            data = client.get_object(Bucket=bucket, Key=k)["Body"].read()
            kept.append(data)
            n = len(data)
        else:
            client.put_object(Bucket=bucket, Key=k, Body=payload)
            n = len(payload)
        lat.append(time.perf_counter() - t)
        return n

    with ThreadPoolExecutor(conc) as pool:
        n, secs = timed(lambda: sum(pool.map(one, keys)))
    return n, secs, lat


def into_peer(peer, uri, size):
    """One object into a reused, pre-touched buffer; returns (bytes, seconds, [])."""
    import s3dlio

    buf = bytearray(size)
    memoryview(buf)[::4096] = b"\x01" * len(range(0, size, 4096))
    if peer == "s3dlio":
        read = lambda: s3dlio.get_into(uri, buf)
    elif peer == "original":
        async def one():
            return await s3dlio.get_into_async(uri, buf, expected_len=size)

        read = lambda: asyncio.run(one())
    else:
        raise SystemExit(f"{peer} has no read-into call")
    read()  # untimed, as a one-object get
    CPU[0] = 0.0
    n, secs = timed(read)
    return n, secs, []


def range_offsets(count, size, total):
    """The same COUNT aligned offsets for every peer."""
    import random

    rng = random.Random(16)
    return [rng.randrange(0, total // size) * size for _ in range(count)]


def ranges_peer(peer, uri, bucket, key, offsets, size, conc):
    """COUNT ranges of one object; returns (bytes, seconds, [])."""
    if peer == "s3dlio":
        import s3dlio

        got, secs = timed(s3dlio.get_ranges, uri, [(o, size) for o in offsets])
    elif peer == "obstore":
        import obstore

        store = obstore_store(bucket)
        got, secs = timed(lambda: obstore.get_ranges(store, key, starts=offsets, lengths=[size] * len(offsets)))
    elif peer == "original":
        import s3dlio

        with ThreadPoolExecutor(conc) as pool:
            got, secs = timed(lambda: list(pool.map(lambda o: s3dlio.get_range(uri, o, size), offsets)))
    else:
        import boto3
        from botocore.config import Config

        client = boto3.client("s3", config=Config(max_pool_connections=conc))

        def one(o):
            r = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={o}-{o + size - 1}")
            return r["Body"].read()

        with ThreadPoolExecutor(conc) as pool:
            got, secs = timed(lambda: list(pool.map(one, offsets)))
    return sum(len(memoryview(g)) for g in got), secs, []


def main():
    peer, workload, op, bucket, count, size, conc = sys.argv[1:8]
    count, size, conc = int(count), int(size), int(conc)
    keys = [f"{workload}/{i}" for i in range(count)]
    uris = [f"s3://{bucket}/{k}" for k in keys]
    payload = os.urandom(size) if op == "put" else b""
    def run():
        if op == "ranges":
            offsets = range_offsets(count, size, int(os.environ["S3DLIO_BENCH_RANGES_OF"]))
            key = f"{workload}/0"
            return ranges_peer(peer, f"s3://{bucket}/{key}", bucket, key, offsets, size, conc)
        if op == "into":
            return into_peer(peer, uris[0], size)
        if peer in ("s3dlio", "original"):
            return s3dlio_peer(op, uris, payload, conc)
        if peer == "obstore":
            return obstore_peer(op, keys, payload, conc, bucket)
        if peer == "boto3":
            return boto3_peer(op, keys, payload, conc, bucket)
        raise SystemExit(f"unknown peer {peer}")

    if op in ("get", "ranges"):
        # One untimed pass first: the timed one then writes into memory this process has
        # just freed, as a job that reads batch after batch does; the first touch of memory
        # new to the process swung 3-10x on the development VM, whose balloon hands free
        # memory back to the host (decision 029).
        run()
        CPU[0] = 0.0
    n, secs, lat = run()
    if n != count * size:
        raise SystemExit(f"{peer} {op} moved {n} bytes, expected {count * size}")
    lat.sort()
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3) if lat else (lambda q: None)
    print(json.dumps({"seconds": secs, "cpu_s": CPU[0], "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))


if __name__ == "__main__":
    main()
