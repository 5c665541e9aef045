"""PyTorch Distributed Checkpoint save and load of one state dict, side by side in one run
(`cargo xtask bench checkpoint`): s3dlio's `s3dlio.dcp` writer and reader, and
s3torchconnector's `S3StorageWriter` / `S3StorageReader`, on the memory S3 server; torch's
own `FileSystemWriter` / `FileSystemReader` and `s3dlio.dcp` on file://.

The state dict is 16 float32 tensors, 1 GiB in all (S3DLIO_BENCH_SCALE scales it); every
writer uses 4 threads. Each (client, op) runs in a fresh process, so its CPU seconds and
peak RSS come from the OS (`wait4`); the state dict itself (built before the clock starts)
is part of that RSS. A load fills zero tensors of the same shapes and is checked against
the saved values. Every row runs S3DLIO_BENCH_ROUNDS times (3), the clients in reverse
order on odd rounds, each client's checkpoint deleted after its load so every client
writes into an empty server; the table shows each row's median round, the JSON every
round's time. Writes target/bench/checkpoint.json and target/bench/checkpoint.md.
"""

import json
import os
import sys
import tempfile
import time

from worker_proc import run_worker

SCALE = float(os.environ.get("S3DLIO_BENCH_SCALE", "1"))
TENSORS = 16
TOTAL = int((1 << 30) * SCALE)
THREADS = 4
# Rounds per row; the table shows each row's median round.
ROUNDS = int(os.environ.get("S3DLIO_BENCH_ROUNDS", "3"))
BUCKET = "ckpt-bench"
# s3dlio: the default, each body sent unsigned with a CRC32C the server checks (as the
# CRT under s3torchconnector sends one). s3dlio-hashed: S3DLIO_S3_PAYLOAD_SIGNING=on, each
# body also hashed (SHA-256) into its signature, as boto3 and obstore do over http
# (decision 027).
CLIENTS = [("s3dlio", "s3"), ("s3dlio-hashed", "s3"), ("s3torchconnector", "s3"), ("s3dlio", "file"), ("torch", "file")]
# S3DLIO_BENCH_CLIENTS=s3dlio runs only those clients (a quick look at one side).
ONLY = os.environ.get("S3DLIO_BENCH_CLIENTS")


def state_dict(torch, fill):
    n = TOTAL // TENSORS // 4
    if fill:
        return {f"layer{i}.weight": torch.full((n,), float(i + 1)) for i in range(TENSORS)}
    return {f"layer{i}.weight": torch.zeros(n) for i in range(TENSORS)}


def storage(client, op, where, path):
    """The DCP storage writer or reader for a client."""
    if client.startswith("s3dlio"):
        from s3dlio.dcp import StorageReader, StorageWriter

        return StorageWriter(path, thread_count=THREADS) if op == "save" else StorageReader(path)
    if client == "torch":
        from torch.distributed.checkpoint import FileSystemReader, FileSystemWriter

        # No fsync, as no object store client does one.
        return FileSystemWriter(path, thread_count=THREADS, sync_files=False) if op == "save" else FileSystemReader(path)
    from s3torchconnector import S3ClientConfig
    from s3torchconnector._s3client import S3Client
    from s3torchconnector.dcp import S3FileSystem, S3StorageReader, S3StorageWriter

    region = os.environ.get("AWS_REGION", "us-east-1")
    made = S3StorageWriter(region, path, thread_count=THREADS) if op == "save" else S3StorageReader(region, path)
    # Its DCP classes take no endpoint: give them a client that has one (path style).
    client = S3Client(region, endpoint=os.environ["AWS_ENDPOINT_URL"], s3client_config=S3ClientConfig(force_path_style=True))
    made.fs = S3FileSystem(region, s3_client=client)
    return made


def worker(client, op, where, path):
    if client == "s3dlio-hashed":
        os.environ["S3DLIO_S3_PAYLOAD_SIGNING"] = "on"
    import torch
    import torch.distributed.checkpoint as dcp

    state = state_dict(torch, fill=op == "save")
    t = time.perf_counter()
    if op == "save":
        dcp.save(state, storage_writer=storage(client, op, where, path))
    else:
        dcp.load(state, storage_reader=storage(client, op, where, path))
    secs = time.perf_counter() - t
    if op == "load":
        for i in range(TENSORS):
            assert bool((state[f"layer{i}.weight"] == float(i + 1)).all()), f"{client} loaded wrong values"
    print(json.dumps({"seconds": secs}))


def measure(client, op, where, path):
    cmd = [sys.executable, __file__, "--worker", client, op, where, path]
    got, cpu_s, rss = run_worker(cmd, f"{client} {op} on {where}")
    secs = got["seconds"]
    row = {
        "client": client, "where": where, "op": op, "seconds": secs, "gb_per_s": TOTAL / secs / 1e9,
        "cpu_s": cpu_s, "peak_rss_mib": rss,
    }
    print(f"{client:<17} {where:<5} {op:<5} {row['gb_per_s']:6.2f} GB/s cpu {row['cpu_s']:6.2f} s rss {row['peak_rss_mib']:7.0f} MiB", flush=True)
    return row


def markdown(rows):
    lines = ["| where | op | client | GB/s | ÷ peer | CPU s | peak RSS MiB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ours = r["client"].startswith("s3dlio")
        peer = next((x for x in rows if (x["where"], x["op"]) == (r["where"], r["op"]) and not x["client"].startswith("s3dlio")), None)
        ratio = f"{r['gb_per_s'] / peer['gb_per_s']:.2f}" if ours and peer else ""
        lines.append(f"| {r['where']} | {r['op']} | {r['client']} | {r['gb_per_s']:.2f} | {ratio} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines) + "\n"


def main():
    import s3dlio

    s3dlio.create_bucket(BUCKET)
    runs = {}
    clients = [(c, w) for c, w in CLIENTS if not ONLY or c in ONLY.split(",")]
    with tempfile.TemporaryDirectory(dir="target") as tmp:
        for r in range(ROUNDS):
            # Odd rounds run the clients in reverse, so none always follows the same one.
            for client, where in clients[::-1] if r % 2 else clients:
                path = f"s3://{BUCKET}/{client}" if where == "s3" else (
                    f"file://{os.path.abspath(tmp)}/{client}" if client.startswith("s3dlio") else f"{os.path.abspath(tmp)}/{client}")
                for op in ("save", "load"):
                    runs.setdefault((client, where, op), []).append(measure(client, op, where, path))
                # Each client starts on an empty server (and an empty directory).
                uri = path if "://" in path else f"file://{path}"
                s3dlio.delete(uri + "/", recursive=True)
    # The median round of each row (by time), with every round's time kept.
    rows = []
    for client, where in clients:
        for op in ("save", "load"):
            measured = sorted(runs[(client, where, op)], key=lambda row: row["seconds"])
            row = dict(measured[len(measured) // 2], rounds_seconds=[m["seconds"] for m in runs[(client, where, op)]])
            rows.append(row)
    s3dlio.delete(f"s3://{BUCKET}/", recursive=True)
    s3dlio.delete_bucket(BUCKET)
    os.makedirs("target/bench", exist_ok=True)
    with open("target/bench/checkpoint.json", "w") as f:
        json.dump({"bytes": TOTAL, "tensors": TENSORS, "threads": THREADS, "rounds": ROUNDS, "rows": rows}, f, indent=1)
    table = markdown(rows)
    with open("target/bench/checkpoint.md", "w") as f:
        f.write(table)
    print(table, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:6])
    else:
        main()
