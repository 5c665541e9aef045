"""Training-input throughput: s3dlio's PyTorch dataset beside s3torchconnector and a
plain torch Dataset that reads with boto3 (or open() on file://), on the same data in one
run. Run by `cargo xtask bench loader` (release wheel, the memory S3 server). Batch 32;
every client reads every sample once and hands the DataLoader a list of the samples' bytes
(no collation copy for anyone).

The clients: s3dlio's `ObjectIterableDataset` under `DataLoader(num_workers=0)` (Rust
reads 64 at once) and under `DataLoader(num_workers=8)` (each worker its own shard and
reads); s3dlio's `ObjectMapDataset` under `DataLoader(num_workers=0)` (each batch one
`__getitems__` call, its reads concurrent); s3torchconnector's `S3MapDataset` and the boto3 / open() dataset under
`DataLoader(num_workers=8)`.

Each (dataset, where, client) runs in a fresh process of its own, so its CPU seconds and
peak RSS (the worker processes included) come from the OS (`wait4`). Datasets: 10 000 ×
256 KiB and 1000 × 8 MiB, scaled by S3DLIO_BENCH_SCALE; each is written, read by every
client, then deleted. Writes target/bench/loader.json and target/bench/loader.md.
"""

import json
import os
import sys
import time

from worker_proc import run_worker

BATCH = 32
WORKERS = 8
SCALE = float(os.environ.get("S3DLIO_BENCH_SCALE", "1"))
DATASETS = [(int(10_000 * SCALE), 256 << 10), (int(1000 * SCALE), 8 << 20)]
BUCKET = "loader-bench"
CLIENTS = {
    "file": ["s3dlio (0 workers)", "s3dlio (8 workers)", "s3dlio map (0 workers)", "torch+open"],
    "s3": ["s3dlio (0 workers)", "s3dlio (8 workers)", "s3dlio map (0 workers)", "s3torchconnector", "torch+boto3"],
}


def keep(batch):
    """The DataLoader's collate: the list as it is."""
    return batch


def endpoint():
    return os.environ["AWS_ENDPOINT_URL"]


class Boto3Dataset:
    """A map-style dataset doing one boto3 `get_object` per sample."""

    def __init__(self, keys):
        self.keys, self.client = keys, None

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        if self.client is None:  # one client per worker process
            import boto3

            self.client = boto3.client("s3", endpoint_url=endpoint())
        return self.client.get_object(Bucket=BUCKET, Key=self.keys[i])["Body"].read()


class FileDataset:
    """A map-style dataset doing one `open().read()` per sample."""

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i], "rb") as f:
            return f.read()


def read_all(reader):
    return reader.read()


def s3torch_dataset(uris):
    from s3torchconnector import S3ClientConfig, S3MapDataset

    return S3MapDataset.from_objects(
        uris,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint=endpoint(),
        s3client_config=S3ClientConfig(force_path_style=True),
        transform=read_all,
    )


def loader(client, prefix, uris):
    """The DataLoader a client reads through."""
    from torch.utils.data import DataLoader

    if client.startswith("s3dlio map"):
        from s3dlio.torch import ObjectMapDataset

        # Each batch is one __getitems__ call: its 32 reads run at once.
        return DataLoader(ObjectMapDataset(uris), batch_size=BATCH, num_workers=0, collate_fn=keep)
    if client.startswith("s3dlio"):
        from s3dlio.torch import ObjectIterableDataset

        ds = ObjectIterableDataset.from_prefix(prefix, options={"batch_size": BATCH, "num_workers": 64, "prefetch": 4})
        workers = 0 if "0 workers" in client else WORKERS
        return DataLoader(ds, batch_size=BATCH, num_workers=workers, collate_fn=keep)
    if client == "torch+open":
        ds = FileDataset([u[len("file://"):] for u in uris])
    elif client == "torch+boto3":
        ds = Boto3Dataset([u[len(f"s3://{BUCKET}/"):] for u in uris])
    else:
        ds = s3torch_dataset(uris)
    return DataLoader(ds, batch_size=BATCH, num_workers=WORKERS, collate_fn=keep)


def worker(client, prefix, n, size):
    """One client reads the dataset once; prints its JSON line."""
    import s3dlio

    uris = sorted(s3dlio.list(prefix, recursive=True))
    dl = loader(client, prefix, uris)
    t = time.perf_counter()
    got = nbytes = 0
    for batch in dl:
        got += len(batch)
        # An s3dlio sample of 0 workers is a memoryview; through worker processes, bytes.
        nbytes += sum(len(x) for x in batch)
    secs = time.perf_counter() - t
    assert (got, nbytes) == (n, n * size), (client, got, nbytes)
    print(json.dumps({"seconds": secs}))


def measure(client, where, prefix, n, size):
    cmd = [sys.executable, __file__, "--worker", client, prefix, str(n), str(size)]
    got, cpu_s, rss = run_worker(cmd, f"{client} on {prefix}")
    secs = got["seconds"]
    row = {
        "dataset": f"{n} x {size >> 10} KiB", "where": where, "client": client,
        "samples_per_s": n / secs, "mb_per_s": n * size / secs / 1e6, "seconds": secs,
        # The whole process, set-up included, and its DataLoader workers (reaped children).
        "cpu_s": cpu_s, "peak_rss_mib": rss,
    }
    print(f"{row['dataset']:<16} {where:<5} {client:<20} {row['samples_per_s']:>8.0f} samples/s "
          f"{row['mb_per_s']:>8.1f} MB/s cpu {row['cpu_s']:>6.2f} s rss {row['peak_rss_mib']:>7.0f} MiB", flush=True)
    return row


def markdown(rows):
    lines = [
        "| dataset | where | client | samples/s | MB/s | ÷ s3dlio (8 workers) | CPU s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours = next(x for x in rows if (x["dataset"], x["where"], x["client"]) == (r["dataset"], r["where"], "s3dlio (8 workers)"))
        lines.append(
            f"| {r['dataset']} | {r['where']} | {r['client']} | {r['samples_per_s']:.0f} | {r['mb_per_s']:.0f} | "
            f"{r['samples_per_s'] / ours['samples_per_s']:.2f} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    import s3dlio
    import torch

    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/loader-bench")
    os.makedirs(root, exist_ok=True)
    s3dlio.create_bucket(BUCKET)
    rows = []
    for n, size in DATASETS:
        for where in ["file", "s3"]:
            prefix = f"file://{root}/d{n}/" if where == "file" else f"s3://{BUCKET}/d{n}/"
            s3dlio.put(prefix, num=n, template="obj-{}", size=size, max_in_flight=32)
            for client in CLIENTS[where]:
                rows.append(measure(client, where, prefix, n, size))
            s3dlio.delete(prefix, recursive=True)
    s3dlio.delete_bucket(BUCKET)
    import s3torchconnector

    versions = f"torch {torch.__version__}, s3torchconnector {s3torchconnector.__version__}"
    os.makedirs("target/bench", exist_ok=True)
    with open("target/bench/loader.json", "w") as f:
        json.dump({"versions": versions, "rows": rows}, f, indent=1)
    table = markdown(rows)
    with open("target/bench/loader.md", "w") as f:
        f.write(table)
    print(table + versions, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
