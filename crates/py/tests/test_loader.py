"""Datasets and loaders: every sample once, seeded orders, zero-copy items, options,
async iteration, and the PyTorch / JAX datasets (DataLoader with 0 and 2 workers, fork
and spawn)."""

import asyncio
import importlib.util
import multiprocessing

import numpy as np
import pytest

import s3dlio

N = 37


def fill(prefix, n=N, size=100):
    """Sample i holds `size` bytes of value i."""
    for i in range(n):
        s3dlio.put_bytes(f"{prefix}s/{i:04}", bytes([i]) * size)
    return f"{prefix}s/"


def sample_ids(batch):
    return [view[0] for view in batch]


def test_dataset_reads_by_index_zero_copy(prefix):
    src = fill(prefix)
    ds = s3dlio.create_dataset(src)
    assert len(ds) == N and ds.uris()[3].endswith("s/0003")
    view = ds[3]
    assert isinstance(view, memoryview) and view.readonly and bytes(view) == bytes([3]) * 100
    assert np.frombuffer(view, np.uint8).ctypes.data == view.obj.address
    assert ds[-1][0] == N - 1
    with pytest.raises(IndexError):
        ds[N]
    ranged = s3dlio.create_dataset(ds.uris(), {"reader_mode": "range", "part_size": 16, "max_inflight_parts": 3})
    assert all(bytes(ranged[i]) == bytes(ds[i]) for i in range(N))


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_once_across_shards(prefix, drop_last):
    src = fill(prefix)
    for world, workers in [(1, 1), (2, 1), (2, 3)]:
        seen = []
        for rank in range(world):
            for worker in range(workers):
                opts = {"batch_size": 4, "drop_last": drop_last, "shuffle": True, "seed": 3, "shard_rank": rank,
                        "shard_world_size": world, "worker_id": worker, "worker_count": workers}
                loader = s3dlio.create_loader(src, opts)
                batches = list(loader)
                assert len(batches) == len(loader)
                assert all(len(b) == 4 for b in batches) or not drop_last
                seen += [i for b in batches for i in sample_ids(b)]
        assert len(seen) == len(set(seen))
        if not drop_last:
            assert sorted(seen) == list(range(N)), (world, workers)
        else:
            assert N - len(seen) < 4 * world * workers


def test_the_seed_fixes_the_order_and_epochs_differ(prefix):
    src = fill(prefix)
    opts = {"batch_size": 5, "shuffle": True, "seed": 11}
    loader = s3dlio.create_loader(src, opts)
    first = [i for b in loader for i in sample_ids(b)]
    second = [i for b in loader for i in sample_ids(b)]  # the next iter() is epoch 1
    assert first == [i for b in s3dlio.create_loader(src, opts) for i in sample_ids(b)]
    assert first != second and sorted(first) == sorted(second) == list(range(N))
    epoch1 = s3dlio.create_loader(src, {**opts, "epoch": 1})
    assert [i for b in epoch1 for i in sample_ids(b)] == second


def test_options_are_checked(local):
    src = fill(local, n=2)
    with pytest.raises(ValueError, match='unknown loader option "batchsize"'):
        s3dlio.create_loader(src, {"batchsize": 4})
    with pytest.raises(ValueError, match="reader_mode"):
        s3dlio.create_loader(src, {"reader_mode": "fast"})
    with pytest.raises(ValueError, match="batch_size"):
        s3dlio.create_loader(src, {"batch_size": 0})


def test_async_loader_and_skipped_samples(local):
    src = fill(local, n=10)
    uris = s3dlio.list(src, recursive=True)
    uris.insert(4, f"{src}missing")

    async def run(opts):
        got = []
        async for batch in s3dlio.create_async_loader(uris, opts):
            got += sample_ids(batch)
        return got

    assert asyncio.run(run({"batch_size": 3, "on_error": "skip"})) == list(range(10))
    with pytest.raises(FileNotFoundError, match="missing"):
        asyncio.run(run({"batch_size": 3}))
    loader = s3dlio.create_loader(uris, {"batch_size": 3, "on_error": "skip"})
    assert sum(len(b) for b in loader) == 10
    assert [u for u, _ in loader.skipped()] == [f"{src}missing"]


def byte_sum(tensor):
    """A transform that spawned workers can unpickle (a module-level function)."""
    import torch

    return tensor.to(torch.int32).sum()


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")


@needs_torch
@pytest.mark.parametrize("workers, start", [(0, None), (2, "fork"), (2, "spawn")])
@pytest.mark.parametrize("backend", ["file", "s3"])
def test_torch_dataloader_reads_every_sample_once(backend, workers, start, request, tmp_path):
    from torch.utils.data import DataLoader

    from s3dlio.torch import ObjectIterableDataset, ObjectMapDataset

    if backend == "s3":
        base = f"s3://{request.getfixturevalue('s3_bucket')}/torch-{workers}-{start}/"
    else:
        base = f"file://{tmp_path}/"
    src = fill(base)
    kwargs = {"num_workers": workers, "batch_size": 8}
    if workers:
        kwargs["multiprocessing_context"] = multiprocessing.get_context(start)
    iterable = ObjectIterableDataset.from_prefix(src, options={"shuffle": True, "seed": 1})
    seen = [int(x) for batch in DataLoader(iterable, **kwargs) for x in batch[:, 0]]
    assert sorted(seen) == list(range(N))
    mapped = ObjectMapDataset.from_prefix(src, transform=byte_sum)
    sums = sorted(int(x) for batch in DataLoader(mapped, **kwargs) for x in batch)
    assert sums == [i * 100 for i in range(N)]


@needs_torch
def test_torch_writable_items_are_copies(local):
    from s3dlio.torch import ObjectMapDataset

    src = fill(local, n=3)
    copy = ObjectMapDataset(src, writable=True)[1]
    copy[0] = 9
    assert int(copy[0]) == 9 and int(ObjectMapDataset(src)[1][0]) == 1


@needs_torch
def test_torch_tensor_points_into_the_memoryview(local):
    from s3dlio.torch import _tensor

    src = fill(local, n=1)
    view = s3dlio.get(f"{src}0000")
    assert _tensor(view, writable=False).data_ptr() == view.obj.address
    assert _tensor(view, writable=True).data_ptr() != view.obj.address


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_jax_iterable_yields_zero_copy_arrays(local):
    from s3dlio.jax import ObjectIterable

    src = fill(local, n=5)
    arrays = list(ObjectIterable(src, {"batch_size": 2}))
    assert [int(a[0]) for a in arrays] == list(range(5))
    assert all(a.dtype == np.uint8 and not a.flags.writeable for a in arrays)


def test_a_missing_framework_says_what_to_install(monkeypatch):
    import s3dlio._frameworks as frameworks

    with pytest.raises(ImportError, match="pip install nosuchframework"):
        frameworks.require("nosuchframework", "nosuchframework")
