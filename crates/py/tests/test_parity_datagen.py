"""The original s3dlio 0.10.0's data generation (issue 20, generation group):
generate_data_with_threads, generate_into_buffer, Generator (fill_chunk, is_complete,
reset, chunk_size), py_total_cpus, py_default_data_gen_threads."""

import os

import numpy as np
import pytest
import zstandard

import s3dlio

MiB = 1 << 20


def test_threads_change_nothing_in_the_bytes():
    size = 9 * MiB + 4321  # above the size generated in parallel
    whole = bytes(s3dlio.generate_data(size, dedup=2, compress=3))
    for threads in (1, 2, None):
        view = s3dlio.generate_data_with_threads(size, 2, 3, threads)
        assert isinstance(view, memoryview) and view.readonly
        assert bytes(view) == whole
    assert bytes(s3dlio.generate_data_with_threads(size, seed=5)) != bytes(s3dlio.generate_data(size))
    # The factors hold: about 3x compressible.
    ratio = size / len(zstandard.ZstdCompressor(level=1).compress(whole))
    assert 2.0 < ratio, f"compress=3 gave a zstd ratio of {ratio:.2f}"


def test_generate_into_buffer_fills_the_callers_memory():
    buf = bytearray(3 * MiB + 7)
    assert s3dlio.generate_into_buffer(buf, compress=2, threads=2) == len(buf)
    assert bytes(buf) == bytes(s3dlio.generate_data(len(buf), compress=2))
    arr = np.full(5 * MiB, 0xAB, dtype=np.uint8)  # compressible tails are zeroed too
    assert s3dlio.generate_into_buffer(arr, compress=4, seed=3) == arr.nbytes
    assert arr.tobytes() == bytes(s3dlio.generate_data(arr.nbytes, compress=4, seed=3))
    f32 = np.zeros(1000, dtype=np.float32)
    assert s3dlio.generate_into_buffer(f32) == 4000
    with pytest.raises(TypeError, match="read-only"):
        s3dlio.generate_into_buffer(b"immutable")
    with pytest.raises(ValueError, match="threads"):
        s3dlio.generate_into_buffer(bytearray(10), threads=0)
    with pytest.raises(ValueError, match="dedup"):
        s3dlio.generate_into_buffer(bytearray(10), dedup=0)


def test_generator_streams_the_same_bytes_chunk_by_chunk():
    size = 10 * MiB + 5
    g = s3dlio.Generator(size, dedup=1, compress=2, threads=2, chunk_size=MiB, seed=7)
    assert (g.size, g.chunk_size, g.seed, g.position) == (size, MiB, 7, 0)
    buf = bytearray(g.chunk_size)
    out = bytearray()
    while not g.is_complete():
        n = g.fill_chunk(buf)
        out += buf[:n]
    assert bytes(out) == bytes(s3dlio.generate_data(size, compress=2, seed=7))
    assert g.fill_chunk(buf) == 0 and g.position == size
    g.reset()
    first = bytearray(100)
    assert g.fill_chunk(first) == 100 and bytes(first) == bytes(out[:100])
    assert s3dlio.Generator(1).chunk_size == 32 * MiB


def test_generator_without_a_seed_picks_a_random_one():
    a, b = s3dlio.Generator(MiB), s3dlio.Generator(MiB)
    assert a.seed != b.seed
    x, y = bytearray(MiB), bytearray(MiB)
    a.fill_chunk(x)
    b.fill_chunk(y)
    assert x != y, "two unseeded generators must not store data a dedup store would merge"
    again = s3dlio.Generator(MiB, seed=a.seed)
    z = bytearray(MiB)
    again.fill_chunk(z)
    assert z == x
    with pytest.raises(ValueError, match="chunk_size"):
        s3dlio.Generator(10, chunk_size=0)


def test_cpu_counts():
    total = s3dlio.py_total_cpus()
    assert 1 <= total <= os.cpu_count()
    assert s3dlio.py_default_data_gen_threads() == max(1, total // 2)
