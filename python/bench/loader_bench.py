"""Training-input throughput: s3dlio's PyTorch dataset beside s3torchconnector and a
plain torch Dataset that reads with boto3 (or open() on file://) under
DataLoader(num_workers=8), on the same data in one run. Run by `cargo xtask bench loader`
(release wheel, local S3 server). Batch 32; every client reads every sample once per epoch
and hands the DataLoader a list of the samples' bytes (no collation copy for anyone).

Datasets: 10 000 × 256 KiB and 1000 × 8 MiB; each is written, read by every client,
then deleted.
"""

import os
import sys
import time

import boto3
import torch
from torch.utils.data import DataLoader, Dataset

import s3dlio
from s3dlio.torch import ObjectIterableDataset

BATCH = 32
WORKERS = 8
ENDPOINT = os.environ["S3DLIO_TEST_S3_ENDPOINT"]
DATASETS = [(10_000, 256 << 10), (1000, 8 << 20)]


def keep(batch):
    """The DataLoader's collate: the list as it is."""
    return batch


def report(client, where, n, size, secs):
    print(f"{client:<16} {where:<6} {n:>6} x {size >> 10:>5} KiB {n / secs:>9.0f} samples/s {n * size / secs / 1e6:>8.1f} MB/s {secs:>7.2f} s", flush=True)


def drain(loader):
    n = nbytes = 0
    for batch in loader:
        n += len(batch)
        nbytes += sum(len(x) for x in batch)
    return n, nbytes


class Boto3Dataset(Dataset):
    def __init__(self, bucket, keys):
        self.bucket, self.keys, self.client = bucket, keys, None

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        if self.client is None:  # one client per worker process
            self.client = boto3.client("s3", endpoint_url=ENDPOINT)
        return self.client.get_object(Bucket=self.bucket, Key=self.keys[i])["Body"].read()


class FileDataset(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i], "rb") as f:
            return f.read()


def s3torch_dataset(uris):
    from s3torchconnector import S3ClientConfig, S3MapDataset

    # from_objects: s3s-fs answers the connector's delimited listing with every key as a
    # common prefix, so the connector would find no objects to list.
    return S3MapDataset.from_objects(
        uris,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint=ENDPOINT,
        s3client_config=S3ClientConfig(force_path_style=True),
        transform=read_all,
    )


def read_all(reader):
    return reader.read()


def run(client, where, n, size, loader):
    t = time.perf_counter()
    got, nbytes = drain(loader)
    secs = time.perf_counter() - t
    assert (got, nbytes) == (n, n * size), (client, got, nbytes)
    report(client, where, n, size, secs)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/loader-bench"
    os.makedirs(root, exist_ok=True)
    s3dlio.create_bucket("s3://loader-bench")
    for n, size in DATASETS:
        for where in ["file", "s3"]:
            prefix = f"file://{os.path.abspath(root)}/d{n}/" if where == "file" else f"s3://loader-bench/d{n}/"
            s3dlio.put(prefix, num=n, template="obj-{}", size=size, max_in_flight=32)
            uris = sorted(s3dlio.list(prefix, recursive=True))
            assert len(uris) == n
            ds = ObjectIterableDataset.from_prefix(prefix, options={"batch_size": BATCH, "num_workers": 64, "prefetch": 4})
            run("s3dlio", where, n, size, DataLoader(ds, batch_size=BATCH, num_workers=0, collate_fn=keep))
            if where == "file":
                paths = [u[len("file://"):] for u in uris]
                run("torch+open", where, n, size, DataLoader(FileDataset(paths), batch_size=BATCH, num_workers=WORKERS, collate_fn=keep))
            else:
                keys = [u[len("s3://loader-bench/"):] for u in uris]
                run("s3torchconnector", where, n, size, DataLoader(s3torch_dataset(uris), batch_size=BATCH, num_workers=WORKERS, collate_fn=keep))
                run("torch+boto3", where, n, size, DataLoader(Boto3Dataset("loader-bench", keys), batch_size=BATCH, num_workers=WORKERS, collate_fn=keep))
            s3dlio.delete(prefix, recursive=True)
    print(f"torch {torch.__version__}, boto3 {boto3.__version__}, s3dlio {s3dlio.__version__}", flush=True)


if __name__ == "__main__":
    main()
