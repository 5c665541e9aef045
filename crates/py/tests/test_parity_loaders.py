"""The original s3dlio 0.10.0's datasets and loaders (issue 20, loader group): PyDataset
(from_uris, keys, uris, get_item), PyBytesAsyncDataLoader (async batches, sync items,
items() with URIs, collect_batch), PyLoaderOptions, PyVecDataset, PyAsyncDataLoader,
s3dlio.jax_tf, and the top-level PyTorch dataset names."""

import asyncio
import pickle
import sys

import numpy as np
import pytest

import s3dlio
import s3dlio.jax_tf

N = 12


def fill(prefix):
    """N objects `s/00NN`, each 50 bytes of its index."""
    s3dlio.put_many([(f"{prefix}s/{i:04}", bytes([i]) * 50) for i in range(N)])
    return f"{prefix}s/"


def test_pydataset_by_prefix_and_by_list(prefix):
    src = fill(prefix)
    ds = s3dlio.PyDataset(src)
    assert s3dlio.Dataset is s3dlio.PyDataset and isinstance(s3dlio.create_dataset(src), s3dlio.PyDataset)
    assert len(ds) == N
    assert ds.keys() == [f"{i:04}" for i in range(N)]
    assert ds.uris() == [f"{src}{i:04}" for i in range(N)]

    async def read():
        return await ds.get_item(4)

    view = asyncio.run(read())
    assert isinstance(view, memoryview) and bytes(view) == bytes([4]) * 50
    with pytest.raises(IndexError):
        ds.get_item(N)
    listed = s3dlio.PyDataset.from_uris(ds.uris()[::-1], {"reader_mode": "range", "part_size": 16})
    assert listed.keys() == listed.uris() == ds.uris()[::-1]
    assert bytes(listed[0]) == bytes([N - 1]) * 50


def test_bytes_async_data_loader_three_ways(prefix):
    src = fill(prefix)
    loader = s3dlio.PyBytesAsyncDataLoader(s3dlio.PyDataset(src), {"batch_size": 5, "prefetch": 2})
    assert len(loader) == 3

    async def batches():
        return [b async for b in loader]

    got = asyncio.run(batches())
    assert [len(b) for b in got] == [5, 5, 2]
    assert all(isinstance(v, memoryview) for b in got for v in b)
    assert sorted(v[0] for b in got for v in b) == list(range(N))
    # Sync: single items as reads complete, each once.
    assert sorted(v[0] for v in loader) == list(range(N))
    # items(): each names its object.
    it = loader.items()
    first = it.collect_batch(7)
    rest = it.collect_batch(100)
    assert (len(first), len(rest)) == (7, 5) and it.collect_batch(3) == []
    for item in first + rest:
        assert isinstance(item, s3dlio.PyObjectItem)
        assert item.uri == f"{src}{item.data[0]:04}" and item.byte_count == len(item) == 50
        assert bytes(item) == bytes([item.data[0]]) * 50
    with pytest.raises(ValueError, match="unknown loader option"):
        s3dlio.PyBytesAsyncDataLoader(s3dlio.PyDataset(src), {"batch_sise": 5})
    with pytest.raises(TypeError, match="PyDataset"):
        s3dlio.PyBytesAsyncDataLoader(src)


def test_a_loader_over_a_dataset_keeps_its_read_mode(local):
    src = fill(local)
    ds = s3dlio.create_dataset(src, {"reader_mode": "range", "part_size": 8})
    assert sorted(v[0] for b in s3dlio.create_loader(ds) for v in b) == list(range(N))
    with pytest.raises(ValueError, match="belong to the dataset"):
        s3dlio.create_loader(ds, {"reader_mode": "sequential"})
    pairs = [p for b in s3dlio.create_loader(src, {"with_uris": True, "batch_size": 4}) for p in b]
    assert [(u, v[0]) for u, v in pairs] == [(f"{src}{i:04}", i) for i in range(N)]


def test_loader_options_builder(local):
    opts = s3dlio.PyLoaderOptions().with_batch_size(4).shuffle(True, 9).drop_last(True).prefetch(3)
    opts.distributed_sampling(1, 2).pin_memory(True).use_spawn().with_timeout(5.0)
    assert opts.to_dict() == {
        "batch_size": 4, "drop_last": True, "shuffle": True, "seed": 9, "num_workers": 64,
        "prefetch": 3, "shard_rank": 1, "shard_world_size": 2,
    }  # fmt: skip
    assert opts.torch_kwargs() == {
        "pin_memory": True, "persistent_workers": False, "timeout": 5.0, "multiprocessing_context": "spawn",
    }  # fmt: skip
    # The dict drives a real loader: rank 1 of 2 gets half, in whole batches of 4.
    src = fill(local)
    got = [v[0] for b in s3dlio.create_loader(src, opts.to_dict()) for v in b]
    assert len(got) == 4 and len(set(got)) == 4
    assert s3dlio.PyLoaderOptions().gpu_optimized().persistent_workers_value is True
    assert s3dlio.PyLoaderOptions().debug_mode().to_dict()["num_workers"] == 1
    with pytest.raises(s3dlio.NotSupportedError):
        s3dlio.PyLoaderOptions().auto_tune(True)
    with pytest.raises(s3dlio.NotSupportedError):
        s3dlio.PyLoaderOptions().random_sampling(True)
    with pytest.raises(ValueError, match="rank 2"):
        s3dlio.PyLoaderOptions().distributed_sampling(2, 2)


def test_vec_dataset_and_async_loader():
    ds = s3dlio.PyVecDataset([10, 20, 30, 40, 50])
    assert len(ds) == 5 and ds[2] == 30 and list(ds) == [10, 20, 30, 40, 50]
    with pytest.raises(RuntimeError, match="Index 5 out of range"):
        ds[5]
    loader = s3dlio.PyAsyncDataLoader(ds, {"batch_size": 2})

    async def epoch(ldr):
        return [b async for b in ldr]

    assert asyncio.run(epoch(loader)) == [[10, 20], [30, 40], [50]]
    shuffled = s3dlio.PyAsyncDataLoader(ds, {"batch_size": 2, "shuffle": True, "seed": 3, "drop_last": True})
    one, two = asyncio.run(epoch(shuffled)), asyncio.run(epoch(shuffled))
    assert len(one) == 2 and all(len(b) == 2 for b in one)
    assert one != two or sorted(sum(one, [])) != sorted(sum(two, [])), "each epoch a new order"
    with pytest.raises(ValueError, match="unknown"):
        s3dlio.PyAsyncDataLoader(ds, {"prefetch": 2})


def test_jax_iterable_without_jax(local):
    src = fill(local)
    it = s3dlio.jax_tf.JaxIterable.from_prefix(src, shuffle=True, seed=2, transform=lambda a: int(a[0]))
    first, second = list(it), list(it)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second, "the second iteration is the next epoch"
    arrays = list(s3dlio.jax_tf.JaxIterable(src, loader_opts={"batch_size": 4}))
    assert all(isinstance(a, np.ndarray) and not a.flags.writeable for a in arrays)
    writable = list(s3dlio.jax_tf.JaxIterable.from_prefix(src, writable=True))
    assert all(a.flags.writeable for a in writable)
    with pytest.deprecated_call():
        s3dlio.jax_tf.S3JaxIterable(src, loader_opts={})
    with pytest.raises(s3dlio.NotSupportedError):
        s3dlio.jax_tf.JaxIterable.from_prefix(src, auto_tune=True)


def test_make_tf_dataset_names_the_missing_package(local, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install tensorflow"):
        s3dlio.jax_tf.make_tf_dataset(local)


def test_top_level_torch_datasets(local):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    src = fill(local)
    assert "ObjectStoreIterableDataset" in dir(s3dlio)
    ds = s3dlio.ObjectStoreIterableDataset.from_prefix(src, shuffle=True, seed=4)
    seen = sorted(int(x) for batch in DataLoader(ds, batch_size=5, num_workers=2) for x in batch[:, 0])
    assert seen == list(range(N)), "two workers, each object once"
    raw = s3dlio.ObjectStoreIterableDataset(src, loader_opts={}, return_type="bytes", enable_sharding=False)
    assert sorted(b[0] for b in raw) == list(range(N))
    mapped = s3dlio.ObjectStoreMapDataset(src, reader_mode="range", part_size=16, return_type="reader")
    assert len(mapped) == N and mapped[3].read() == bytes([3]) * 50
    clone = pickle.loads(pickle.dumps(mapped))
    assert clone[5].read() == bytes([5]) * 50
    assert isinstance(s3dlio.ObjectStoreMapDataset(src)[1], torch.Tensor)
    with pytest.deprecated_call():
        s3dlio.S3MapDataset(src)
    with pytest.raises(ValueError, match="return_type"):
        s3dlio.ObjectStoreMapDataset(src, return_type="numpy")


def test_legacy_s3_names(local):
    src = fill(local)
    with pytest.deprecated_call():
        ds = s3dlio.PyS3Dataset(src)
    assert isinstance(ds, s3dlio.PyDataset) and len(ds) == N
    with pytest.deprecated_call():
        loader = s3dlio.PyS3AsyncDataLoader(src, {"batch_size": 4, "reader_mode": "range", "part_size": 16})
    assert sorted(v[0] for v in loader) == list(range(N))
    assert s3dlio.PyS3DatasetCompat is s3dlio.PyS3Dataset
