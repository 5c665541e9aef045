"""Objects as files: `open_writer` takes `torch.save`, `open_reader` serves `torch.load`
and seeks, reads ranges on demand (a window of `read_ahead`, larger reads straight into
the caller's buffer) and never mixes versions; PyTorch DCP saves and loads through
`s3dlio.dcp` on every backend, and across 2 to 4 `torch.distributed` ranks (file, S3,
Azure, GCS)."""

import io

import pytest

import s3dlio
from conftest import WORLDS, pattern, shared_prefix


def test_writer_speaks_the_file_protocol(local):
    uri = local + "w.bin"
    w = s3dlio.open_writer(uri)
    assert (w.writable(), w.readable(), w.seekable(), w.closed) == (True, False, False, False)
    assert w.write(b"abc") == 3 and w.write(bytearray(5)) == 5
    w.flush()
    assert w.tell() == 8 and not s3dlio.exists(uri), "nothing is visible before close"
    w.close()
    assert w.closed and s3dlio.get_bytes(uri) == b"abc" + bytes(5)
    with pytest.raises(RuntimeError, match="closed"):
        w.flush()


def test_reader_reads_seeks_and_fetches_windows(prefix):
    uri = prefix + "r.bin"
    data = pattern(100_000, 3)
    s3dlio.put_bytes(uri, data)
    with s3dlio.open_reader(uri, read_ahead=10_000) as r:
        assert (r.size, r.readable(), r.seekable(), r.writable()) == (100_000, True, True, False)
        assert r.read(10) == data[:10]
        assert r.read(5) == data[10:15], "served from the window"
        assert r.seek(-100, 2) == 99_900
        assert r.read() == data[99_900:]
        assert r.read(1) == b"" and r.readinto(bytearray(4)) == 0, "at the end"
        r.seek(5)
        big = bytearray(50_000)  # larger than read_ahead: straight into the buffer
        assert r.readinto(big) == 50_000 and big == data[5:50_005]
        assert r.tell() == 50_005
        r.seek(9_995)
        small = bytearray(30)  # part from an old window, part from a new one
        assert r.readinto(small) == 30 and small == data[9_995:10_025]
        r.seek(10, 1)
        assert r.read(3) == data[10_035:10_038]
        r.seek(200_000)
        assert r.read() == b""
        assert r.readline() == b""
        with pytest.raises(ValueError, match="negative"):
            r.seek(-1)
    assert r.closed
    with pytest.raises(ValueError, match="closed"):
        r.read(1)
    with pytest.raises(ValueError, match="read_ahead"):
        s3dlio.open_reader(uri, read_ahead=0)
    with pytest.raises(s3dlio.NotFoundError):
        s3dlio.open_reader(prefix + "missing.bin")


def test_reader_reads_lines_across_windows(prefix):
    uri = prefix + "lines.txt"
    lines = [b"%d %s\n" % (i, b"x" * (i % 37)) for i in range(500)]
    s3dlio.put_bytes(uri, b"".join(lines) + b"tail")
    with s3dlio.open_reader(uri, read_ahead=64) as r:
        assert [r.readline() for _ in lines] == lines
        assert r.readline() == b"tail" and r.readline() == b""
        r.seek(0)
        assert r.readline(2) == b"0 " and r.readline() == b"\n", "a limit stops short of the newline"
        assert r.readline() == lines[1]


def test_reader_never_mixes_versions(prefix):
    uri = prefix + "v.bin"
    s3dlio.put_bytes(uri, pattern(50_000, 1))
    r = s3dlio.open_reader(uri, read_ahead=1000)
    assert r.read(100) == pattern(50_000, 1)[:100]
    s3dlio.put_bytes(uri, pattern(50_000, 2))
    with pytest.raises(s3dlio.S3dlioError, match="changed|version|match|Precondition"):
        r.seek(20_000)
        r.read(100)


def test_torch_save_into_a_writer_and_load_from_a_reader(prefix):
    torch = pytest.importorskip("torch")
    state = {"w": torch.randn(300, 70), "b": torch.arange(10), "meta": {"step": 3}}
    with s3dlio.open_writer(prefix + "model.pt") as w:
        torch.save(state, w)
    with s3dlio.open_reader(prefix + "model.pt", read_ahead=64 << 10) as r:
        back = torch.load(r, weights_only=True)
    assert torch.equal(back["w"], state["w"]) and torch.equal(back["b"], state["b"])
    assert back["meta"] == {"step": 3}


def _state(torch, seed):
    g = torch.Generator().manual_seed(seed)
    return {
        "layer.weight": torch.randn(257, 33, generator=g),
        "layer.bias": torch.randn(33, generator=g),
        "step": 7 + seed,  # not a tensor: saved as bytes
        "nested": {"m": torch.arange(1000, dtype=torch.int64) * seed},
    }


def _zeros_like(torch, state):
    return {
        "layer.weight": torch.zeros(257, 33),
        "layer.bias": torch.zeros(33),
        "step": 0,
        "nested": {"m": torch.zeros(1000, dtype=torch.int64)},
    }


def _assert_same(torch, a, b):
    assert torch.equal(a["layer.weight"], b["layer.weight"]) and torch.equal(a["layer.bias"], b["layer.bias"])
    assert torch.equal(a["nested"]["m"], b["nested"]["m"]) and a["step"] == b["step"]


def test_dcp_save_and_load_on_every_backend(prefix):
    torch = pytest.importorskip("torch")
    import torch.distributed.checkpoint as dcp

    from s3dlio.dcp import StorageReader, StorageWriter

    uri = prefix + "dcp/step-7"
    state = _state(torch, 1)
    dcp.save(state, storage_writer=StorageWriter(uri, thread_count=2))
    assert s3dlio.exists(uri + "/.metadata")
    assert not [u for u in s3dlio.list(uri + "/", recursive=True) if u.endswith(".tmp")], "the temporary metadata went"
    back = _zeros_like(torch, state)
    dcp.load(back, storage_reader=StorageReader(uri))
    _assert_same(torch, back, state)


def _dcp_rank(rank, world, uri, init):
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp

    from s3dlio.dcp import StorageReader, StorageWriter

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    # Each rank owns different keys, as a sharded model does.
    state = {f"rank{rank}": _state(torch, rank + 1)}
    dcp.save(state, storage_writer=StorageWriter(uri))
    back = {f"rank{rank}": _zeros_like(torch, state[f"rank{rank}"])}
    dcp.load(back, storage_reader=StorageReader(uri))
    _assert_same(torch, back[f"rank{rank}"], state[f"rank{rank}"])
    dist.destroy_process_group()


@pytest.mark.parametrize("where,world", WORLDS)
def test_dcp_across_ranks(where, world, tmp_path, request):
    pytest.importorskip("torch")
    import torch.multiprocessing as mp

    uri = shared_prefix(where, request, tmp_path) + "dcp"
    mp.spawn(_dcp_rank, args=(world, uri, f"file://{tmp_path}/rendezvous"), nprocs=world, join=True)
    names = sorted(u.rsplit("/", 1)[1] for u in s3dlio.list(uri + "/", recursive=True))
    assert names == [".metadata"] + [f"__{r}_0.distcp" for r in range(world)], names


def test_writer_keeps_byte_order_across_staged_and_shared_writes(prefix):
    # Borrowed buffers are staged in part-sized blocks; `bytes` is shared only when
    # nothing is staged. Any mix, across part boundaries, stores the bytes in order.
    import numpy as np

    uri = prefix + "mixed.bin"
    part = 5 << 20
    pieces = [
        bytes(pattern(1000, 1)),  # shared: nothing staged yet
        bytearray(pattern(100, 2)),  # staged
        bytes(pattern(3 * part, 3)),  # staged, since something is: order kept
        np.frombuffer(pattern(part + 7, 4), dtype=np.uint8),  # a large copy, GIL released
        memoryview(pattern(10, 5)),
    ]
    with s3dlio.open_writer(uri, part_size=part, max_in_flight=2) as w:
        for p in pieces:
            assert w.write(p) == len(memoryview(p).cast("B"))
        assert w.tell() == sum(len(memoryview(p).cast("B")) for p in pieces)
    assert s3dlio.get_bytes(uri) == b"".join(bytes(memoryview(p).cast("B")) for p in pieces)
