"""Ray Data reading through `s3dlio.fsspec` beside Ray Data through pyarrow's own
`S3FileSystem`, on the same memory S3 server and data in one run (`cargo xtask bench ray`).

Workloads: `read_parquet` of 16 Parquet files of 512 Ki rows (an int64 and a float64
column, 8 MiB each) and `read_binary_files` of 2000 objects of 64 KiB (S3DLIO_BENCH_SCALE
scales the counts). Each (client, workload) runs in a fresh driver process with a local
Ray cluster of 4 CPUs (`ray.init` is not timed); the clock covers `materialize()` (every
block read into Ray's object store) and the result is checked (row count / bytes).
CPU seconds and peak RSS are the driver's (Ray's workers are the raylet's children, not
its). Writes target/bench/ray.json and target/bench/ray.md.
"""

import io
import json
import os
import sys
import time

from worker_proc import run_worker

SCALE = float(os.environ.get("S3DLIO_BENCH_SCALE", "1"))
FILES, ROWS = max(int(16 * SCALE), 2), 512 << 10
BLOBS, BLOB = max(int(2000 * SCALE), 8), 64 << 10
BUCKET = "ray-bench"
CLIENTS = ["s3dlio.fsspec", "pyarrow S3FileSystem"]


def filesystem(client):
    from pyarrow import fs as pafs

    if client == "s3dlio.fsspec":
        from s3dlio.fsspec import S3dlioFileSystem

        return pafs.PyFileSystem(pafs.FSSpecHandler(S3dlioFileSystem(scheme="s3")))
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    return pafs.S3FileSystem(
        endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
        access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )  # fmt: skip


def worker(client, workload):
    import ray

    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    fs = filesystem(client)
    t = time.perf_counter()
    if workload == "parquet":
        ds = ray.data.read_parquet(f"{BUCKET}/parquet", filesystem=fs).materialize()
        n, nbytes = ds.count(), FILES * ROWS * 16
        assert n == FILES * ROWS, (client, n)
    else:
        ds = ray.data.read_binary_files(f"{BUCKET}/binary", filesystem=fs).materialize()
        n, nbytes = ds.count(), BLOBS * BLOB
        assert n == BLOBS, (client, n)
    secs = time.perf_counter() - t
    ray.shutdown()
    print(json.dumps({"seconds": secs, "items": n, "bytes": nbytes}))


def write_data():
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import s3dlio

    s3dlio.create_bucket(BUCKET)
    for f in range(FILES):
        table = pa.table({"id": np.arange(f * ROWS, (f + 1) * ROWS, dtype=np.int64), "x": np.random.rand(ROWS)})
        out = io.BytesIO()
        pq.write_table(table, out, compression="none")
        s3dlio.put_bytes(f"s3://{BUCKET}/parquet/part-{f:03}.parquet", out.getbuffer())
    s3dlio.put(f"s3://{BUCKET}/binary/", num=BLOBS, template="blob-{}", size=BLOB, max_in_flight=32)


def main():
    import pyarrow
    import ray

    import s3dlio

    write_data()
    rows = []
    for workload in ["parquet", "binary"]:
        for client in CLIENTS:
            got, cpu_s, rss = run_worker([sys.executable, __file__, "--worker", client, workload], f"{client} {workload}")
            row = {
                "workload": workload, "client": client, "seconds": got["seconds"],
                "items_per_s": got["items"] / got["seconds"], "mb_per_s": got["bytes"] / got["seconds"] / 1e6,
                "driver_cpu_s": cpu_s, "driver_peak_rss_mib": rss,
            }  # fmt: skip
            print(f"{workload:<8} {client:<22} {row['seconds']:>7.2f} s {row['mb_per_s']:>8.1f} MB/s "
                  f"{row['items_per_s']:>10.0f} items/s", flush=True)  # fmt: skip
            rows.append(row)
    s3dlio.delete(f"s3://{BUCKET}/", recursive=True)
    s3dlio.delete_bucket(BUCKET)
    lines = [
        "| workload | client | seconds | MB/s | items/s | speed × pyarrow S3FileSystem | driver CPU s | driver peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        peer = next(x for x in rows if x["workload"] == r["workload"] and x["client"] == "pyarrow S3FileSystem")
        lines.append(
            f"| {r['workload']} | {r['client']} | {r['seconds']:.2f} | {r['mb_per_s']:.0f} | {r['items_per_s']:.0f} | "
            f"{peer['seconds'] / r['seconds']:.2f} | {r['driver_cpu_s']:.1f} | {r['driver_peak_rss_mib']:.0f} |"
        )
    versions = f"ray {ray.__version__}, pyarrow {pyarrow.__version__}"
    os.makedirs("target/bench", exist_ok=True)
    with open("target/bench/ray.json", "w") as f:
        json.dump({"versions": versions, "rows": rows}, f, indent=1)
    with open("target/bench/ray.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines) + "\n" + versions, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
