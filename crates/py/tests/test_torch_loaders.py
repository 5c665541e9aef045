"""The loader traps of issue 21: epochs advance without set_epoch (also in persistent
workers), set_epoch reaches running workers, map-style datasets hold only their shard
and fetch a batch in one concurrent call, and ranks of a real torch.distributed process
group (gloo) split the data."""

import importlib.util
import multiprocessing

import pytest

import s3dlio

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")

N = 23


def fill(prefix, n=N):
    """Sample i is 10 bytes of value i."""
    for i in range(n):
        s3dlio.put_bytes(f"{prefix}s/{i:04}", bytes([i]) * 10)
    return f"{prefix}s/"


def loader_order(src, epoch, worker=0, workers=1, rank=0, world=1):
    """What s3dlio's loader reads for this shard in `epoch` (seed 5, shuffled)."""
    opts = {"shuffle": True, "seed": 5, "epoch": epoch, "worker_id": worker, "worker_count": workers,
            "shard_rank": rank, "shard_world_size": world}  # fmt: skip
    return [v[0] for batch in s3dlio.create_loader(src, opts) for v in batch]


def per_worker(batches, workers):
    """The samples each worker yielded: a DataLoader takes batches from workers in turn."""
    got = [[] for _ in range(workers)]
    for k, batch in enumerate(batches):
        got[k % workers] += [int(x) for x in batch[:, 0]]
    return got


@pytest.mark.parametrize(
    "workers, start, persistent",
    [(0, None, False), (2, "fork", False), (2, "fork", True), (2, "spawn", False), (2, "spawn", True)],
)
def test_each_iteration_is_the_next_epoch(local, workers, start, persistent):
    from torch.utils.data import DataLoader

    from s3dlio.torch import ObjectIterableDataset

    src = fill(local)
    ds = ObjectIterableDataset(src, options={"shuffle": True, "seed": 5})
    kwargs = {"batch_size": 4, "num_workers": workers}
    if workers:
        kwargs.update(multiprocessing_context=multiprocessing.get_context(start), persistent_workers=persistent)
    dl = DataLoader(ds, **kwargs)
    n = max(workers, 1)

    def epoch():
        return per_worker(list(dl), n)

    def expected(e):
        return [loader_order(src, e, w, n) for w in range(n)]

    first, second = epoch(), epoch()
    assert first == expected(0) and second == expected(1), "no set_epoch call: each iteration a new order"
    assert sorted(sum(second, [])) == list(range(N))
    ds.set_epoch(10)
    assert epoch() == expected(10), "set_epoch reaches the workers"
    assert epoch() == expected(11), "and counting goes on from it"


def test_epoch_option_is_the_first_epoch(local):
    from s3dlio.torch import ObjectIterableDataset

    src = fill(local)
    ds = ObjectIterableDataset(src, options={"shuffle": True, "seed": 5, "epoch": 3})
    assert [int(t[0]) for t in ds] == loader_order(src, 3)
    assert [int(t[0]) for t in ds] == loader_order(src, 4)


def test_a_pickled_dataset_keeps_its_count_but_not_the_memory(local):
    import pickle

    from s3dlio.torch import ObjectIterableDataset

    src = fill(local)
    ds = ObjectIterableDataset(src, options={"shuffle": True, "seed": 5})
    list(ds)
    copy = pickle.loads(pickle.dumps(ds))
    assert [int(t[0]) for t in copy] == loader_order(src, 1)
    assert [int(t[0]) for t in ds] == loader_order(src, 1), "the copy's count is its own"


def test_create_dataset_holds_only_its_shard(prefix):
    src = fill(prefix)
    seen = []
    for rank in range(3):
        ds = s3dlio.create_dataset(src, {"shard_rank": rank, "shard_world_size": 3})
        ids = [ds[i][0] for i in range(len(ds))]
        assert ids == list(range(rank, N, 3))
        seen += ids
    assert sorted(seen) == list(range(N))
    two = s3dlio.PyDataset(src, {"shard_rank": 1, "shard_world_size": 2, "worker_id": 1, "worker_count": 2})
    assert [two[i][0] for i in range(len(two))] == list(range(3, N, 4))
    with pytest.raises(ValueError, match="batch_size, shuffle belong to a loader"):
        s3dlio.create_dataset(src, {"batch_size": 4, "shuffle": True})


def test_dataset_get_many_reads_a_batch_in_order(local):
    src = fill(local)
    ds = s3dlio.create_dataset(src)
    views = ds.get_many([5, 0, -1, 5], max_in_flight=2)
    assert [v[0] for v in views] == [5, 0, N - 1, 5] and all(v.readonly for v in views)
    with pytest.raises(IndexError):
        ds.get_many([0, N])
    with pytest.raises(ValueError, match="max_in_flight"):
        ds.get_many([0], max_in_flight=0)


def test_map_dataset_fetches_each_batch_in_one_call(local, monkeypatch):
    from torch.utils.data import DataLoader

    from s3dlio.torch import ObjectMapDataset, ObjectStoreMapDataset

    src = fill(local)
    calls = []

    class Recorded:
        def __init__(self, inner):
            self.inner = inner

        def get_many(self, indices, max_in_flight):
            calls.append((list(indices), max_in_flight))
            return self.inner.get_many(indices, max_in_flight)

        def __getitem__(self, index):
            raise AssertionError("a batch must not be read one item at a time")

    for cls in (ObjectMapDataset, ObjectStoreMapDataset):
        calls.clear()
        ds = cls(src)
        real = ds._reader()
        monkeypatch.setattr(ds, "_reader", lambda real=real: Recorded(real))
        batches = list(DataLoader(ds, batch_size=8, shuffle=False))
        assert [len(c[0]) for c in calls] == [8, 8, 7] and calls[0][0] == list(range(8))
        assert [int(x) for b in batches for x in b[:, 0]] == list(range(N))
    assert ObjectMapDataset(src, max_in_flight=3).__getitems__([2, 1])[0][0] == 2


def _rank_main(rank, init, src, queue):
    import torch.distributed as dist
    from torch.utils.data import DataLoader

    from s3dlio.torch import ObjectIterableDataset

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        ds = ObjectIterableDataset(src, options={"shuffle": True, "seed": 5})
        epochs = [[int(x) for b in DataLoader(ds, batch_size=4) for x in b[:, 0]] for _ in range(2)]
        queue.put((rank, epochs))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ranks_of_a_gloo_process_group_split_every_epoch(local, tmp_path):
    src = fill(local)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    init = f"file://{tmp_path}/rendezvous"
    procs = [ctx.Process(target=_rank_main, args=(r, init, src, queue)) for r in range(2)]
    for p in procs:
        p.start()
    got = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for epoch in range(2):
        for rank in range(2):
            assert got[rank][epoch] == loader_order(src, epoch, rank=rank, world=2)
        assert sorted(got[0][epoch] + got[1][epoch]) == list(range(N))
    assert got[0][0] != got[0][1], "the second epoch is another order"
