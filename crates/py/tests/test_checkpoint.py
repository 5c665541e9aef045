"""Checkpoints on every backend: single- and multi-rank saves load back byte for byte,
`latest` only ever names a complete checkpoint, validation catches a corrupted shard,
deletes keep `latest` valid; a torch.distributed job (gloo, 2 to 4 ranks on file, S3,
Azure and GCS) saves and loads its state dicts."""

import io
import os

import pytest

import s3dlio
import s3dlio.checkpoint as ck
from conftest import WORLDS, pattern, shared_prefix

MIB = 1 << 20


def test_single_rank_round_trip_under_the_original_names(prefix):
    data = pattern(100_000, 1)
    key = s3dlio.save_checkpoint(prefix, 10, 1, "torch", data, {"lr": 0.01})
    assert key.startswith("manifests/ckpt-000000000010-") and key.endswith(".json")
    view = s3dlio.load_checkpoint(prefix)
    assert isinstance(view, memoryview) and view.readonly
    assert view == data
    assert s3dlio.load_checkpoint_with_validation(prefix) == data
    s3dlio.save_checkpoint(prefix, 11, 1, "torch", b"newer")
    assert bytes(s3dlio.load_checkpoint_with_validation_view(prefix, validate_integrity=True)) == b"newer"
    infos = ck.PyCheckpointStore(prefix).list_checkpoints()
    assert [(i.step, i.is_latest, i.is_single_rank) for i in infos] == [(10, False, True), (11, True, True)]
    assert infos[0].total_size == 100_000 and infos[0].framework == "torch"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"strategy": "round_robin:3", "compression_level": 3},
        # Multipart shards: 5 MiB parts (S3's smallest) and a tail.
        {"strategy": "binary:2", "multipart_threshold": 1, "part_size": 5 * MIB},
    ],
)
def test_multi_rank_save_and_load(prefix, options):
    store = ck.PyCheckpointStore(prefix, **options)
    size = 6 * MIB + 7 if "part_size" in options else 50_000
    data = [pattern(size, r) for r in range(3)]
    metas = [store.writer(3, r).save_distributed_shard(5, 2, "jax", data[r]) for r in (2, 0, 1)]
    assert all(m["checksum"].startswith("crc32c:") and m["size"] == size for m in metas)
    key = store.writer(3, 0).finalize_distributed_checkpoint(5, 2, "jax", metas, {"note": "hi"})
    reader = store.reader()
    m = reader.load_latest_manifest()
    assert (m["step"], m["epoch"], m["framework"], m["world_size"]) == (5, 2, "jax", 3)
    assert m["user_meta"] == {"note": "hi"} and key.endswith(".json")
    assert [reader.read_shard_by_rank(m, r) for r in range(3)] == data
    assert reader.read_all_shards(m, validate=True) == data
    assert reader.validate_checkpoint(m)
    assert reader.load_manifest(5) == m and reader.load_manifest(6) is None
    with pytest.raises(ValueError, match="3 ranks"):
        store.load_latest()


def test_a_save_cut_short_keeps_latest_and_corruption_is_caught(prefix):
    store = ck.PyCheckpointStore(prefix)
    good = [store.writer(2, r).save_distributed_shard(1, 0, "torch", pattern(4096, r)) for r in range(2)]
    store.writer(2, 0).finalize_distributed_checkpoint(1, 0, "torch", good)
    # Step 2: rank 1 never stores its shard; rank 0 finalizes with a stale meta.
    mine = store.writer(2, 0).save_distributed_shard(2, 0, "torch", pattern(4096, 9))
    ghost = dict(good[1], step=2, key=good[1]["key"].replace("step-000000000001", "step-000000000002"))
    with pytest.raises(s3dlio.NotFoundError):
        store.writer(2, 0).finalize_distributed_checkpoint(2, 0, "torch", [mine, ghost])
    m = store.reader().load_latest_manifest()
    assert m["step"] == 1
    # Corrupt rank 1's shard in place (same size): only a validated read notices.
    victim = prefix + m["shards"][1]["key"]
    s3dlio.put_bytes(victim, pattern(4096, 77))
    with pytest.raises(s3dlio.ChecksumMismatchError, match="rank-000001"):
        store.reader().validate_checkpoint(m)
    assert len(store.reader().read_shard_by_rank(m, 1)) == 4096
    # Deleting the only step removes the pointer; loading then says what to do.
    assert store.delete_checkpoint(1) == 3
    with pytest.raises(s3dlio.NotFoundError, match="save one first"):
        s3dlio.load_checkpoint(prefix)
    with pytest.raises(s3dlio.NotFoundError):
        store.delete_checkpoint(1)


def test_bad_arguments_are_refused_with_advice(local):
    with pytest.raises(ValueError, match="strategy"):
        ck.PyCheckpointStore(local, strategy="zigzag")
    with pytest.raises(ValueError, match="compression_level 40"):
        ck.PyCheckpointStore(local, compression_level=40)
    store = ck.PyCheckpointStore(local)
    with pytest.raises(ValueError, match="ranks run 0..world_size"):
        store.writer(2, 5).save_distributed_shard(1, 0, "torch", b"x")
    meta = store.writer(2, 1).save_distributed_shard(1, 0, "torch", b"x")
    with pytest.raises(ValueError, match="only rank 0"):
        store.writer(2, 1).finalize_distributed_checkpoint(1, 0, "torch", [meta])
    with pytest.raises(TypeError, match="user_meta"):
        store.writer(1, 0).finalize_distributed_checkpoint(1, 0, "torch", [meta], user_meta=[1])
    # The epoch and framework a rank saved with must be the ones finalize records.
    metas = [store.writer(2, r).save_distributed_shard(3, 1, "torch", b"x") for r in range(2)]
    assert metas[0]["epoch"] == 1 and metas[0]["framework"] == "torch"
    with pytest.raises(ValueError, match="epoch 1, not 2"):
        store.writer(2, 0).finalize_distributed_checkpoint(3, 2, "torch", metas)
    with pytest.raises(ValueError, match="framework 'torch', not 'jax'"):
        store.writer(2, 0).finalize_distributed_checkpoint(3, 1, "jax", metas)
    store.writer(2, 0).finalize_distributed_checkpoint(3, 1, "torch", metas)


def _dcp_rank(rank, world, uri, init):
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    state = {"w": torch.arange(1000, dtype=torch.float32) * (rank + 1), "step": torch.tensor(rank)}
    buf = io.BytesIO()
    torch.save(state, buf)
    store = ck.PyCheckpointStore(uri)
    meta = store.writer(world, rank).save_distributed_shard(42, 3, "torch", buf.getbuffer())
    metas = [None] * world
    dist.all_gather_object(metas, meta)
    if rank == 0:
        store.writer(world, 0).finalize_distributed_checkpoint(42, 3, "torch", metas)
    dist.barrier()
    m = store.reader().load_latest_manifest()
    back = torch.load(io.BytesIO(store.reader().read_shard_by_rank(m, rank, validate=True)))
    assert torch.equal(back["w"], state["w"]) and int(back["step"]) == rank
    dist.destroy_process_group()


@pytest.mark.parametrize("where,world", WORLDS)
def test_torch_distributed_ranks_save_and_load(where, world, tmp_path, request):
    torch = pytest.importorskip("torch")
    import torch.multiprocessing as mp

    uri = shared_prefix(where, request, tmp_path)
    init = f"file://{tmp_path}/rendezvous"
    mp.spawn(_dcp_rank, args=(world, uri, init), nprocs=world, join=True)
    m = ck.PyCheckpointStore(uri).reader().load_latest_manifest()
    assert (m["step"], m["world_size"]) == (42, world)
    assert torch.load(io.BytesIO(ck.PyCheckpointStore(uri).reader().read_shard_by_rank(m, 1)))["w"][1] == 2.0
