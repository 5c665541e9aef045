"""The zero-copy contract: views point at the Rust buffer and keep it alive."""

import gc
import os
import sys

import numpy as np
import pytest

import s3dlio
from conftest import pattern


def test_view_address_is_the_rust_buffer(prefix):
    data = pattern(1 << 20)
    s3dlio.put_bytes(prefix + "obj", data)
    view = s3dlio.get(prefix + "obj")
    assert isinstance(view, memoryview)
    assert view.readonly and view.format == "B" and view.nbytes == len(data)
    owner = view.obj
    assert isinstance(owner, s3dlio.BytesView)
    arr = np.frombuffer(view, dtype=np.uint8)
    # numpy sees the same memory the Rust Bytes owns: no copy was made.
    assert arr.ctypes.data == owner.address
    assert np.shares_memory(arr, np.frombuffer(owner, dtype=np.uint8))
    assert arr.tobytes() == data


def test_range_views_are_zero_copy_too(prefix):
    data = pattern(4096, seed=1)
    s3dlio.put_bytes(prefix + "r", data)
    view = s3dlio.get_range(prefix + "r", 100, 50)
    assert bytes(view) == data[100:150]
    assert np.frombuffer(view, np.uint8).ctypes.data == view.obj.address
    assert s3dlio.get_range_bytes(prefix + "r", 4000) == data[4000:]


def test_view_outlives_every_other_reference(local):
    data = pattern(300_000, seed=2)
    s3dlio.put_bytes(local + "live", data)
    arr = np.frombuffer(s3dlio.get(local + "live"), dtype=np.uint8)
    gc.collect()
    # Only the array holds the view now; the bytes are still right.
    assert arr.tobytes() == data
    owner = arr.base.obj if isinstance(arr.base, memoryview) else arr.base
    assert isinstance(owner, s3dlio.BytesView)
    del owner
    for _ in range(3):
        gc.collect()
    assert arr.tobytes() == data


def test_view_owners_are_left_out_of_the_cycle_collector(local):
    # An owner refers to no Python object, so the collector has nothing to find in it;
    # leaving it out makes every collection during a large get_ranges walk a third
    # fewer objects. The view's memory must still be right after collections.
    data = pattern(64 << 10, seed=5)
    s3dlio.put_bytes(local + "gc", data)
    views = s3dlio.get_ranges(local + "gc", [(i * 4096, 4096) for i in range(16)])
    assert not any(gc.is_tracked(v.obj) for v in views)
    assert gc.is_tracked(views[0])  # CPython's own memoryview stays tracked
    gc.collect()
    assert b"".join(views) == data


def test_many_views_are_made_without_a_collection_in_between(local):
    # 3000 ranges make 6000 tracked objects: Python 3.11 would collect inside the call
    # about eight times. The views are examined together once the call returns, and the
    # collector's state is the caller's (a caller that disabled it keeps it disabled).
    s3dlio.put_bytes(local + "many", pattern(3000 * 16, seed=6))
    ranges = [(i * 16, 16) for i in range(3000)]
    phases = []
    gc.callbacks.append(lambda phase, info: phases.append(phase))
    try:
        gc.collect()
        before = len(phases)
        views = s3dlio.get_ranges(local + "many", ranges)
        during = len(phases) - before
        assert during == 0 and len(views) == 3000 and gc.isenabled()
        gc.disable()
        s3dlio.get_many([local + "many"] * 800)
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.callbacks.pop()


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_refcounts_return_to_baseline_over_many_gets(local):
    size = 256 * 1024
    s3dlio.put_bytes(local + "rc", b"x" * size)
    uri = local + "rc"
    for _ in range(100):
        s3dlio.get(uri).release()
    gc.collect()
    objects_before, rss_before = len(gc.get_objects()), rss_bytes()
    view = s3dlio.get(uri)
    owner_refs = sys.getrefcount(view.obj)
    view_refs = sys.getrefcount(view)
    del view
    for _ in range(10_000):
        v = s3dlio.get(uri)
        assert len(v) == size
        del v
    gc.collect()
    # 10 000 leaked buffers would be 2.5 GiB; nothing piles up in Python or in Rust.
    grown = rss_bytes() - rss_before
    assert grown < 64 << 20, grown
    assert len(gc.get_objects()) - objects_before < 100
    view = s3dlio.get(uri)
    after = (sys.getrefcount(view.obj), sys.getrefcount(view))
    assert after == (owner_refs, view_refs)


def test_views_are_read_only(local):
    s3dlio.put_bytes(local + "ro", b"abc")
    view = s3dlio.get(local + "ro")
    with pytest.raises(TypeError):
        view[0] = 1
    with pytest.raises(TypeError):
        memoryview(view.obj).cast("B")[0:1] = b"z"  # a fresh view of the owner is read-only too
    import ctypes

    with pytest.raises((BufferError, TypeError)):
        ctypes.c_char.from_buffer(view.obj)  # asks for a writable buffer
    arr = np.frombuffer(view, np.uint8)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1


def test_get_bytes_is_a_copy(local):
    s3dlio.put_bytes(local + "b", b"hello")
    data = s3dlio.get_bytes(local + "b")
    assert type(data) is bytes and data == b"hello"


def test_get_into_fills_the_callers_buffer(prefix):
    data = pattern(100_000, seed=3)
    s3dlio.put_bytes(prefix + "into", data)
    buf = bytearray(len(data))
    assert s3dlio.get_into(prefix + "into", buf) == len(data)
    assert bytes(buf) == data
    arr = np.zeros(1000, dtype=np.uint8)
    assert s3dlio.get_into(prefix + "into", arr, offset=500, length=1000) == 1000
    assert arr.tobytes() == data[500:1500]


def test_get_into_refuses_small_or_read_only_buffers(local):
    s3dlio.put_bytes(local + "small", b"0123456789")
    with pytest.raises(ValueError, match="too small"):
        s3dlio.get_into(local + "small", bytearray(4), length=8)
    with pytest.raises(ValueError, match="too small"):
        s3dlio.get_into(local + "small", bytearray(4))
    with pytest.raises(TypeError, match="read-only"):
        s3dlio.get_into(local + "small", b"0000000000")


def test_a_buffer_too_small_is_refused_before_a_byte_is_written(prefix):
    # 16 MiB: more than one chunk of the read path, so a late refusal would have
    # overwritten most of the buffer first (issue 17).
    s3dlio.put_bytes(prefix + "sixteen", pattern(16 << 20, seed=5))
    buf = bytearray(b"\xaa") * (15 << 20)
    with pytest.raises(ValueError, match="too small"):
        s3dlio.get_into(prefix + "sixteen", buf)
    assert buf.count(0xAA) == len(buf), "the refused buffer was written to"
    assert s3dlio.get_into(prefix + "sixteen", buf, offset=(1 << 20) + 1) == (15 << 20) - 1
    assert bytes(buf[: (15 << 20) - 1]) == pattern(16 << 20, seed=5)[(1 << 20) + 1 :]
    assert s3dlio.get_into(prefix + "sixteen", buf, offset=16 << 20) == 0


def test_writes_take_any_contiguous_buffer(prefix):
    floats = np.arange(1000, dtype=np.float32)
    s3dlio.put_bytes(prefix + "f32", floats)
    assert np.array_equal(np.frombuffer(s3dlio.get(prefix + "f32"), dtype=np.float32), floats)
    s3dlio.put_bytes(prefix + "mv", memoryview(b"abcdef")[2:])
    assert s3dlio.get_bytes(prefix + "mv") == b"cdef"
    with pytest.raises(ValueError, match="C-contiguous"):
        s3dlio.put_bytes(prefix + "strided", np.arange(10, dtype=np.uint8)[::2])
    with pytest.raises(TypeError, match="buffer protocol"):
        s3dlio.put_bytes(prefix + "str", "text")


def test_memory_store_keeps_its_own_copy_of_writable_buffers(memory_bucket):
    uri = f"memory://{memory_bucket}/mutable"
    buf = bytearray(b"before")
    s3dlio.put_bytes(uri, buf)
    buf[:] = b"AFTER!"
    assert s3dlio.get_bytes(uri) == b"before"


def test_a_view_can_be_written_back_without_a_copy(local):
    s3dlio.put_bytes(local + "a", pattern(5000, seed=4))
    view = s3dlio.get(local + "a")
    s3dlio.put_bytes(local + "b", view)
    assert s3dlio.get_bytes(local + "b") == bytes(view)
