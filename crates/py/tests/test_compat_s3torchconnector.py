"""``s3dlio.compat.s3torchconnector``: s3torchconnector's classes and arguments over
s3dlio, on the memory S3 server named by ``endpoint=`` as a script would (issue 21)."""

import multiprocessing
import uuid

import pytest

import s3dlio

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

from s3dlio.compat.s3torchconnector import (  # noqa: E402
    S3Checkpoint,
    S3Client,
    S3ClientConfig,
    S3IterableDataset,
    S3MapDataset,
)
from s3dlio.errors import NotSupportedError  # noqa: E402

N = 12


@pytest.fixture
def bucket(memserver_endpoint):
    """A bucket on the memory S3 server; the knobs the classes set are restored after."""
    before = dict(s3dlio._configured)
    S3Client("us-east-1", endpoint=memserver_endpoint)
    name = f"s3tc-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(f"s3://{name}")
    for i in range(N):
        s3dlio.put_bytes(f"s3://{name}/ds/{i:02}", bytes([i]) * (i + 1))
    yield name
    s3dlio.delete(f"s3://{name}/", recursive=True)
    s3dlio.delete_bucket(f"s3://{name}")
    s3dlio.configure(**{k: before.get(k) for k in set(s3dlio._configured) | set(before)})


def key_and_bytes(reader):
    """A transform spawned workers can unpickle."""
    return reader.key, reader.read()


def test_client_objects_by_bucket_and_key(bucket, memserver_endpoint):
    client = S3Client("us-east-1", endpoint=memserver_endpoint, s3client_config=S3ClientConfig(max_attempts=3))
    assert s3dlio._configured["retry_max_attempts"] == "3"
    with client.put_object(bucket, "obj") as w:
        w.write(b"0123456789")
        assert not s3dlio.exists(f"s3://{bucket}/obj"), "nothing visible before close"
    r = client.get_object(bucket, "obj")
    assert (r.bucket, r.key) == (bucket, "obj") and r.read(3) == b"012"
    r.seek(-2, 2)
    assert r.read() == b"89" and r.tell() == 10
    head = client.head_object(bucket, "obj")
    assert head.size == 10 and head.etag
    pages = list(client.list_objects(bucket, "ds/", max_keys=5))
    assert [len(p.object_info) for p in pages] == [5, 5, 2]
    assert pages[0].object_info[0].key == "ds/00" and pages[0].object_info[0].size == 1
    top = list(client.list_objects(bucket, delimiter="/"))
    assert [o.key for o in top[0].object_info] == ["obj"] and top[0].common_prefixes == ["ds/"]
    client.copy_object(bucket, "obj", bucket, "copy")
    client.delete_object(bucket, "obj")
    assert client.get_object(bucket, "copy").read() == b"0123456789" and not s3dlio.exists(f"s3://{bucket}/obj")
    with pytest.raises(NotSupportedError, match="delimiter"):
        list(client.list_objects(bucket, delimiter="#"))
    with pytest.raises(NotSupportedError, match="storage_class"):
        client.put_object(bucket, "x", storage_class="GLACIER")


def test_unsupported_settings_are_refused(bucket):
    for config in [S3ClientConfig(unsigned=True), S3ClientConfig(throughput_target_gbps=100.0), S3ClientConfig(profile="p")]:
        with pytest.raises(NotSupportedError, match="no s3dlio equivalent"):
            S3Client("us-east-1", s3client_config=config)
    with pytest.raises(NotSupportedError, match="reader_constructor"):
        S3MapDataset.from_prefix(f"s3://{bucket}/ds/", region="us-east-1", reader_constructor=object())
    with pytest.raises(ValueError, match="not an s3:// URI"):
        S3IterableDataset.from_prefix("gs://b/p", region="us-east-1")


@pytest.mark.parametrize("workers", [0, 2])
def test_iterable_dataset_as_s3torchconnector_shards(bucket, memserver_endpoint, workers):
    from torch.utils.data import DataLoader

    kwargs = {"num_workers": workers, "batch_size": None}
    if workers:
        kwargs["multiprocessing_context"] = multiprocessing.get_context("fork")

    def items(sharding):
        ds = S3IterableDataset.from_prefix(f"s3://{bucket}/ds/", region="us-east-1", endpoint=memserver_endpoint,
                                           transform=key_and_bytes, enable_sharding=sharding)  # fmt: skip
        return sorted(tuple(x) for x in DataLoader(ds, **kwargs))  # collation makes lists

    want = [(f"ds/{i:02}", bytes([i]) * (i + 1)) for i in range(N)]
    assert items(True) == want
    assert items(False) == sorted(want * max(workers, 1)), "without sharding every worker reads everything"
    uris = [f"s3://{bucket}/ds/{i:02}" for i in (3, 1)]
    ds = S3IterableDataset.from_objects(uris, region="us-east-1", transform=key_and_bytes)
    assert list(ds) == [("ds/03", b"\x03" * 4), ("ds/01", b"\x01" * 2)]


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_map_dataset_batches_and_spawned_workers(bucket, memserver_endpoint, start):
    from torch.utils.data import DataLoader

    ds = S3MapDataset.from_prefix(f"s3://{bucket}/ds/", region="us-east-1", endpoint=memserver_endpoint, transform=key_and_bytes)
    assert len(ds) == N and ds[2] == ("ds/02", b"\x02" * 3)
    got = [x for batch in DataLoader(ds, batch_size=5, num_workers=2, collate_fn=list,
                                     multiprocessing_context=multiprocessing.get_context(start)) for x in batch]  # fmt: skip
    assert got == [(f"ds/{i:02}", bytes([i]) * (i + 1)) for i in range(N)]
    assert ds.__getitems__([4, 0]) == [("ds/04", b"\x04" * 5), ("ds/00", b"\x00")]


def test_checkpoint_save_and_load(bucket, memserver_endpoint):
    ckpt = S3Checkpoint(region="us-east-1", endpoint=memserver_endpoint)
    state = {"w": torch.arange(1000, dtype=torch.float32), "step": 7}
    with ckpt.writer(f"s3://{bucket}/ckpt.pt") as w:
        torch.save(state, w)
    loaded = torch.load(ckpt.reader(f"s3://{bucket}/ckpt.pt"))
    assert loaded["step"] == 7 and torch.equal(loaded["w"], state["w"])
