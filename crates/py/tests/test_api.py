"""Every function on every backend the servers provide."""

import os

import numpy as np
import pytest

import s3dlio
from conftest import pattern


def test_put_get_stat_exists_delete(prefix):
    uri = prefix + "a/b.bin"
    data = pattern(123_457)
    assert not s3dlio.exists(uri)
    s3dlio.put_bytes(uri, data)
    assert s3dlio.exists(uri)
    meta = s3dlio.stat(uri)
    assert meta["size"] == len(data) and meta["uri"] == uri
    assert bytes(s3dlio.get(uri)) == data
    assert s3dlio.delete(uri) == 1
    assert not s3dlio.exists(uri)


def test_large_objects_go_through_the_range_engine(prefix):
    # Above the 8 MiB threshold: several ranged requests, assembled once.
    data = bytes(s3dlio.generate_data(20 * 1024 * 1024 + 3, seed=9))
    s3dlio.put_bytes(prefix + "big", data)
    assert s3dlio.get(prefix + "big") == memoryview(data)
    buf = np.empty(len(data), np.uint8)
    assert s3dlio.get_into(prefix + "big", buf) == len(data)
    assert buf.tobytes() == data


def test_list_recursive_and_pattern(prefix):
    for key in ["x/1.npz", "x/2.txt", "y/3.npz", "top.npz"]:
        s3dlio.put_bytes(prefix + key, b"k")
    assert s3dlio.list(prefix, recursive=True) == sorted(prefix + k for k in ["top.npz", "x/1.npz", "x/2.txt", "y/3.npz"])
    assert s3dlio.list(prefix) == [prefix + "top.npz", prefix + "x/", prefix + "y/"]
    assert s3dlio.list(prefix, recursive=True, pattern=r"\.npz$") == [prefix + "top.npz", prefix + "x/1.npz", prefix + "y/3.npz"]
    assert s3dlio.delete(prefix + "x/") == 2
    assert s3dlio.delete(prefix, recursive=True) == 2
    assert s3dlio.list(prefix, recursive=True) == []


def test_get_many_keeps_input_order_across_schemes(prefix, local):
    uris = [prefix + f"m{i}" for i in range(20)] + [local + "other"]
    for i, u in enumerate(uris):
        s3dlio.put_bytes(u, pattern(1000 + i, seed=i))
    order = list(reversed(uris))
    got = s3dlio.get_many(order, max_in_flight=4)
    assert [u for u, _ in got] == order
    for u, view in got:
        i = uris.index(u)
        assert bytes(view) == pattern(1000 + i, seed=i)
        assert isinstance(view, memoryview) and view.readonly
    with pytest.raises(FileNotFoundError):
        s3dlio.get_many([uris[0], prefix + "missing"])


def test_synthetic_put_matches_generate_data(prefix):
    s3dlio.put(prefix, num=5, template="obj-{}-of-{}", size=70_000, max_in_flight=2)
    names = s3dlio.list(prefix)
    assert names == [prefix + f"obj-{i}-of-5" for i in range(5)]
    # Object i is generate_data with seed i.
    assert bytes(s3dlio.get(prefix + "obj-3-of-5")) == bytes(s3dlio.generate_data(70_000, seed=3))
    with pytest.raises(ValueError, match="no \\{\\}"):
        s3dlio.put(prefix, num=2, template="fixed")
    with pytest.raises(NotImplementedError):
        s3dlio.put(prefix, num=1, object_type="npz")


def test_put_streams_objects_larger_than_a_part(local):
    s3dlio.put(local, num=1, template="big", size=40 * 1024 * 1024 + 1, dedup_factor=2)
    assert s3dlio.stat(local + "big")["size"] == 40 * 1024 * 1024 + 1
    assert bytes(s3dlio.get_range(local + "big", 33 * 1024 * 1024, 1000)) == bytes(
        s3dlio.generate_data(40 * 1024 * 1024 + 1, dedup=2, seed=0)
    )[33 * 1024 * 1024 : 33 * 1024 * 1024 + 1000]


def test_generate_data_dedup_and_compress():
    import zlib

    plain = bytes(s3dlio.generate_data(1 << 20))
    assert len(plain) == 1 << 20
    assert bytes(s3dlio.generate_data(1 << 20)) == plain  # seeded: same bytes
    assert bytes(s3dlio.generate_data(1 << 20, seed=1)) != plain
    squeezed = bytes(s3dlio.generate_data(1 << 20, compress=4))
    assert len(zlib.compress(squeezed, 1)) < len(zlib.compress(plain, 1)) / 3
    deduped = bytes(s3dlio.generate_data(1 << 20, dedup=4))
    blocks = {deduped[i : i + 65536] for i in range(0, len(deduped), 65536)}
    assert len(blocks) == 4


def test_copy_upload_download(prefix, tmp_path):
    src_dir = tmp_path / "src"
    (src_dir / "sub").mkdir(parents=True)
    files = {"a.bin": pattern(10_000, 1), "b.bin": pattern(20_000, 2), "sub/c.bin": pattern(5, 3)}
    for name, data in files.items():
        (src_dir / name).write_bytes(data)
    assert s3dlio.upload([str(src_dir / "*.bin"), str(src_dir / "sub" / "*.bin")], prefix + "up/") == 3
    assert sorted(s3dlio.list(prefix + "up/")) == [prefix + "up/" + n for n in ["a.bin", "b.bin", "c.bin"]]
    assert s3dlio.copy(prefix + "up/a.bin", prefix + "copied.bin") == 10_000
    assert s3dlio.get_bytes(prefix + "copied.bin") == files["a.bin"]
    out = tmp_path / "out"
    assert s3dlio.download(prefix + "up/", str(out)) == 3
    assert (out / "b.bin").read_bytes() == files["b.bin"]
    assert s3dlio.download(prefix + "copied.bin", str(out / "one")) == 1
    assert (out / "one" / "copied.bin").read_bytes() == files["a.bin"]
    with pytest.raises(ValueError, match="no files match"):
        s3dlio.upload([str(src_dir / "*.none")], prefix)


def test_streaming_writer(prefix):
    uri = prefix + "stream.bin"
    chunks = [pattern(300_000, seed=s) for s in range(5)]
    with s3dlio.open_writer(uri, part_size=5 * 1024 * 1024, max_in_flight=2) as w:
        for c in chunks:
            w.write(c)
        w.write(np.arange(10, dtype=np.uint8))
        assert not s3dlio.exists(uri)  # nothing visible before close
        assert w.bytes_written == 1_500_010
    assert s3dlio.get_bytes(uri) == b"".join(chunks) + bytes(range(10))
    w = s3dlio.open_writer(uri)
    with pytest.raises(RuntimeError):
        w.close()
        w.write(b"after close")


def test_writer_aborts_on_exception_and_leaves_nothing(prefix):
    uri = prefix + "aborted.bin"
    with pytest.raises(KeyError):
        with s3dlio.open_writer(uri) as w:
            w.write(pattern(1_000_000))
            raise KeyError("boom")
    assert not s3dlio.exists(uri)
    assert [u for u in s3dlio.list(prefix, recursive=True) if "aborted" in u or "tmp" in u] == []


def test_writer_compresses_with_zstd(local):
    uri = local + "z.zst"
    with s3dlio.open_writer(uri, zstd_level=3) as w:
        w.write(b"\0" * 1_000_000)
    assert s3dlio.stat(uri)["size"] < 10_000


def test_mkdir_and_buckets(tmp_path, memory_bucket):
    d = tmp_path / "made" / "deep"
    s3dlio.mkdir(f"file://{d}")
    assert d.is_dir()
    s3dlio.create_bucket("memory://py-bucket-test")
    s3dlio.mkdir("memory://py-bucket-test/dir")
    assert s3dlio.list("memory://py-bucket-test/") == ["memory://py-bucket-test/dir/"]
    s3dlio.delete("memory://py-bucket-test/dir/")
    s3dlio.delete_bucket("memory://py-bucket-test")


def test_s3_buckets_by_bare_name(s3_bucket):
    name = s3_bucket + "-bare"
    s3dlio.create_bucket(name)  # the original's form: a bare name is an S3 bucket
    s3dlio.create_bucket(name)  # existing is fine
    s3dlio.put_bytes(f"s3://{name}/k", b"v")
    assert s3dlio.get_bytes(f"s3://{name}/k") == b"v"
    s3dlio.delete(f"s3://{name}/k")
    s3dlio.delete_bucket(name)
    with pytest.raises(FileNotFoundError):
        s3dlio.get(f"s3://{name}/k")


def test_configure_sets_the_documented_variables(local):
    try:
        now = s3dlio.configure(range_chunk_size=1 << 20, range_threshold=1 << 20)
        assert now["range_chunk_size"] == str(1 << 20)
        assert "S3DLIO_RANGE_CHUNK_SIZE" not in os.environ, "configure() leaves the environment alone"
        data = pattern(3 << 20, seed=5)
        s3dlio.put_bytes(local + "cfg", data)
        assert bytes(s3dlio.get(local + "cfg")) == data
        with pytest.raises(ValueError, match="S3DLIO_RANGE_CHUNK_SIZE"):
            s3dlio.configure(range_chunk_size="not-a-number")
        assert s3dlio.configure()["range_chunk_size"] == str(1 << 20), "a refused value changes nothing"
        with pytest.raises(ValueError, match="unknown s3dlio knob"):
            s3dlio.configure(no_such_knob=1)
    finally:
        s3dlio.configure(range_chunk_size=None, range_threshold=None)
    assert "range_chunk_size" not in s3dlio.configure()


def test_init_logging_accepts_levels_and_filters():
    s3dlio.init_logging("warn")
    s3dlio.init_logging("s3dlio=debug,info")  # later calls are harmless
    with pytest.raises(ValueError):
        s3dlio.init_logging("=")
