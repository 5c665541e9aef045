"""``s3dlio.fsspec``: fsspec's filesystem contract on every backend, and the libraries
that reach storage through it (pyarrow datasets and parquet, pandas) reading a
partitioned Parquet set exactly once (issue 21)."""

import os

import pytest

import s3dlio

fsspec = pytest.importorskip("fsspec", reason="fsspec is not installed")

from conftest import fresh_prefix  # noqa: E402
from s3dlio.fsspec import S3dlioFileSystem, register  # noqa: E402


@pytest.fixture(params=["file", "memory", "s3", "azure", "gcs"])
def prefix(request, tmp_path):
    """A fresh prefix URI on each backend; S3 on the memory S3 server, named in the URI:
    s3s-fs answers HEAD of a key that is a directory on its disk with a 500 where S3
    says 404 (docs/backends.md), and fsspec's `info` of a prefix begins with that HEAD."""
    return fresh_prefix(request, tmp_path, "memserver_bucket")


def fs_and_root(prefix):
    """The filesystem of `prefix`'s scheme and the prefix as one of its paths."""
    scheme = prefix.split("://")[0]
    fs = fsspec.filesystem("s3dlio", scheme=scheme)
    return fs, fs._strip_protocol(prefix)


def test_files_listings_and_metadata(prefix):
    fs, root = fs_and_root(prefix)
    fs.pipe_file(f"{root}/a/b.txt", b"hello world")
    fs.pipe_file(f"{root}/a/c/d.bin", b"x" * 10)
    fs.pipe({f"{root}/e.txt": b"e"})
    assert fs.ls(root, detail=False) == [f"{root}/a", f"{root}/e.txt"]
    listed = {e["name"]: e for e in fs.ls(f"{root}/a")}
    assert listed[f"{root}/a/b.txt"]["size"] == 11 and listed[f"{root}/a/b.txt"]["type"] == "file"
    assert listed[f"{root}/a/c"]["type"] == "directory"
    assert fs.find(root) == [f"{root}/a/b.txt", f"{root}/a/c/d.bin", f"{root}/e.txt"]
    assert fs.find(root, withdirs=True) == [f"{root}/a", f"{root}/a/b.txt", f"{root}/a/c", f"{root}/a/c/d.bin", f"{root}/e.txt"]
    assert fs.find(root, maxdepth=1) == [f"{root}/e.txt"]
    assert fs.info(f"{root}/a")["type"] == "directory" and fs.isdir(f"{root}/a/c")
    info = fs.info(f"{root}/a/b.txt")
    assert info["size"] == 11 and info["uri"] == f"{prefix}a/b.txt"
    assert fs.size(f"{root}/a/c/d.bin") == 10 and fs.du(root) == 22
    assert fs.modified(f"{root}/e.txt").tzinfo is not None
    assert fs.ukey(f"{root}/e.txt")
    assert fs.exists(f"{prefix}e.txt"), "a full URI of the scheme is a path too"
    assert not fs.exists(f"{root}/nothing")
    with pytest.raises(FileNotFoundError, match="no such object or prefix"):
        fs.info(f"{root}/nothing")
    assert fs.glob(f"{root}/a/*.txt") == [f"{root}/a/b.txt"]


def test_reads_ranges_and_batches(prefix):
    fs, root = fs_and_root(prefix)
    data = bytes(range(256)) * 4
    fs.pipe_file(f"{root}/r.bin", data)
    fs.pipe_file(f"{root}/s.bin", b"small")
    assert fs.cat_file(f"{root}/r.bin") == data
    assert fs.cat_file(f"{root}/r.bin", 10, 20) == data[10:20]
    assert fs.cat_file(f"{root}/r.bin", -5) == data[-5:]
    assert fs.cat_file(f"{root}/r.bin", 1000, 5000) == data[1000:]
    assert fs.cat_file(f"{root}/r.bin", 10, 5) == b""
    assert fs.cat([f"{root}/r.bin", f"{root}/s.bin"]) == {f"{root}/r.bin": data, f"{root}/s.bin": b"small"}
    assert fs.cat(root, recursive=True) == {f"{root}/r.bin": data, f"{root}/s.bin": b"small"}
    got = fs.cat_ranges([f"{root}/r.bin", f"{root}/s.bin", f"{root}/r.bin"], [0, 1, 500], [4, 3, 510])
    assert got == [data[:4], b"ma", data[500:510]]
    missing = fs.cat_ranges([f"{root}/none"], [0], [1])
    assert isinstance(missing[0], FileNotFoundError)
    with fs.open(f"{root}/r.bin", block_size=64) as f:
        assert f.read(3) == data[:3]
        f.seek(900)
        assert f.read() == data[900:]
        buf = bytearray(16)
        f.seek(16)
        assert f.readinto(buf) == 16 and bytes(buf) == data[16:32]


def test_writes_commit_on_close_and_abort_on_error(prefix, tmp_path):
    fs, root = fs_and_root(prefix)
    with fs.open(f"{root}/w.bin", "wb") as f:
        f.write(b"abc" * 1000)
    assert fs.cat_file(f"{root}/w.bin") == b"abc" * 1000
    with pytest.raises(RuntimeError, match="boom"):
        with fs.open(f"{root}/bad.bin", "wb") as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert not fs.exists(f"{root}/bad.bin"), "a failed write leaves nothing"
    with fsspec.open(f"s3dlio://{root}/t.txt", "w", scheme=prefix.split("://")[0]) as f:
        f.write("text\n")  # TextIOWrapper and OpenFile both close the writer
    assert fs.cat_file(f"{root}/t.txt") == b"text\n"
    with pytest.raises(FileExistsError):
        fs.open(f"{root}/t.txt", "xb")
    with pytest.raises(NotImplementedError, match="appended"):
        fs.open(f"{root}/t.txt", "ab")
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{root}/t.txt", b"x", mode="create")
    local = tmp_path / "up.bin"
    local.write_bytes(os.urandom(3 << 20))
    fs.put_file(str(local), f"{root}/up.bin")
    fs.get_file(f"{root}/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == local.read_bytes()
    fs.cp_file(f"{root}/up.bin", f"{root}/copy.bin")
    assert fs.size(f"{root}/copy.bin") == 3 << 20
    fs.mv(f"{root}/copy.bin", f"{root}/moved/copy.bin")
    assert not fs.exists(f"{root}/copy.bin") and fs.size(f"{root}/moved/copy.bin") == 3 << 20
    with pytest.raises(IsADirectoryError, match="recursive=True"):
        fs.rm(f"{root}/moved")
    fs.rm(f"{root}/moved", recursive=True)
    assert not fs.exists(f"{root}/moved")
    fs.rm(f"{root}/w.bin")
    assert not fs.exists(f"{root}/w.bin")
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{root}/w.bin")


def test_options_are_checked_and_registration(memory_bucket):
    with pytest.raises(ValueError, match="scheme 'ftp'"):
        S3dlioFileSystem(scheme="ftp")
    with pytest.raises(ValueError, match="at least 1"):
        S3dlioFileSystem(scheme="memory", read_ahead=0)
    with pytest.raises(NotImplementedError, match="autocommit"):
        S3dlioFileSystem(scheme="memory").open(f"{memory_bucket}/x", "wb", autocommit=False)
    with pytest.raises(ValueError, match="not a memory:// path"):
        S3dlioFileSystem(scheme="memory").cat_file("s3://b/k")
    previous = fsspec.get_filesystem_class("memory")
    register("memory")
    try:
        fs, path = fsspec.core.url_to_fs(f"memory://{memory_bucket}/reg.txt")
        assert isinstance(fs, S3dlioFileSystem) and fs.scheme == "memory"
        fs.pipe_file(path, b"registered")
        assert s3dlio.get_bytes(f"memory://{memory_bucket}/reg.txt") == b"registered"
    finally:
        fsspec.register_implementation("memory", previous, clobber=True)
    with pytest.raises(ValueError, match="expected one of"):
        register("ftp")


@pytest.fixture
def parquet_set(prefix):
    """A hive-partitioned Parquet set of 600 rows written through our filesystem by
    pyarrow: (its filesystem, root path, the table)."""
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    import pyarrow.dataset as pads
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, root = fs_and_root(prefix)
    table = pa.table({"id": list(range(600)), "part": [i % 3 for i in range(600)], "x": [i * 0.5 for i in range(600)]})
    arrow_fs = PyFileSystem(FSSpecHandler(fs))
    pads.write_dataset(
        table, f"{root}/set", format="parquet", partitioning=["part"], partitioning_flavor="hive",
        filesystem=arrow_fs, max_rows_per_file=100, max_rows_per_group=100,
    )  # fmt: skip
    return fs, arrow_fs, f"{root}/set", table


def test_pyarrow_reads_a_partitioned_set_once(parquet_set):
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    fs, arrow_fs, root, table = parquet_set
    files = [f for f in fs.find(root) if f.endswith(".parquet")]
    assert len(files) >= 6 and {f.split("/")[-2] for f in files} == {"part=0", "part=1", "part=2"}
    ds = pads.dataset(root, filesystem=arrow_fs, format="parquet", partitioning="hive")
    got = ds.to_table().sort_by("id")
    assert got.column("id").to_pylist() == list(range(600)), "every row exactly once"
    assert got.column("part").to_pylist() == [i % 3 for i in range(600)]
    one = ds.to_table(filter=pads.field("part") == 1, columns=["id"])
    assert sorted(one.column("id").to_pylist()) == list(range(1, 600, 3))
    assert pq.read_table(files[0], filesystem=arrow_fs).num_rows == 100


def test_pandas_reads_through_storage_options(parquet_set, prefix):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    fs, _, root, _ = parquet_set
    df = pd.read_parquet(f"s3dlio://{root}", storage_options={"scheme": fs.scheme})
    assert sorted(df["id"].tolist()) == list(range(600))
    csv = f"s3dlio://{root}.csv"
    df.sort_values("id").to_csv(csv, index=False, storage_options={"scheme": fs.scheme})
    back = pd.read_csv(csv, storage_options={"scheme": fs.scheme})
    assert back["id"].tolist() == list(range(600)) and back["x"].iloc[10] == 5.0


def test_async_filesystem(prefix):
    import asyncio

    from s3dlio.fsspec import S3dlioAsyncFileSystem

    scheme = prefix.split("://")[0]
    afs = S3dlioAsyncFileSystem(scheme=scheme)
    root = afs._strip_protocol(prefix)
    data = bytes(range(200))

    async def run():
        await asyncio.gather(*(afs._pipe_file(f"{root}/d/{i}", data[: i + 1]) for i in range(5)))
        assert await afs._cat_file(f"{root}/d/4") == data[:5]
        assert await afs._cat_file(f"{root}/d/4", -2) == data[3:5]
        assert await afs._cat_file(f"{root}/d/4", 1, 3) == data[1:3]
        assert await afs._cat([f"{root}/d/0", f"{root}/d/1"]) == {f"{root}/d/0": data[:1], f"{root}/d/1": data[:2]}
        got = await afs._cat_ranges([f"{root}/d/4", f"{root}/d/3", f"{root}/nope"], [0, 1, 0], [2, 3, 1])
        assert got[:2] == [data[:2], data[1:3]] and isinstance(got[2], FileNotFoundError)
        assert (await afs._info(f"{root}/d/2"))["size"] == 3
        assert await afs._find(root) == [f"{root}/d/{i}" for i in range(5)]
        assert [e["name"] for e in await afs._ls(f"{root}/d")] == [f"{root}/d/{i}" for i in range(5)]
        await afs._cp_file(f"{root}/d/4", f"{root}/copy")
        await afs._rm_file(f"{root}/d/0")
        assert not await afs._exists(f"{root}/d/0") and await afs._exists(f"{root}/copy")
        with pytest.raises(FileExistsError):
            await afs._pipe_file(f"{root}/copy", b"x", mode="create")

    asyncio.run(run())
    blocking = S3dlioAsyncFileSystem(scheme=scheme, asynchronous=False)
    assert blocking.cat_file(f"{root}/copy") == data[:5], "fsspec's sync wrappers run the same coroutines"
