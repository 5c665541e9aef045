"""The original s3dlio 0.10.0's data formats (issue 20, format group): generate_npz_bytes,
read_npz (zero-copy for stored members), and the TFRecord index functions in DALI's
format."""

import io
import struct

import numpy as np
import pytest

import s3dlio


def test_generate_npz_bytes_is_what_numpy_loads(prefix):
    view = s3dlio.generate_npz_bytes([30, 20, 2], "<f4", num_samples=5, seed=3)
    assert isinstance(view, memoryview) and view.readonly
    with np.load(io.BytesIO(bytes(view))) as z:
        assert sorted(z.files) == ["x", "y"]
        x, y = z["x"], z["y"]
    assert x.shape == (30, 20, 2) and x.dtype == np.dtype("<f4")
    assert x.tobytes() == bytes(s3dlio.generate_data(30 * 20 * 2 * 4, seed=3))
    assert y.dtype == np.dtype("<i8") and y.tolist() == [0] * 5
    # Stored in an object, read back without a copy of the array.
    uri = f"{prefix}sample.npz"
    s3dlio.put_bytes(uri, view)
    got = s3dlio.read_npz(uri, "x")
    assert np.array_equal(got, x, equal_nan=True) and not got.flags.writeable
    assert not got.flags.owndata, "a view of the object's bytes, not a new array"
    assert s3dlio.read_npz(uri).shape == (30, 20, 2), "the first member by default"
    assert s3dlio.read_npz(uri, "y.npy").tolist() == [0] * 5
    with pytest.raises(s3dlio.NotFoundError, match=r"\['x', 'y'\]"):
        s3dlio.read_npz(uri, "z")
    with pytest.raises(ValueError, match="dtype"):
        s3dlio.generate_npz_bytes([2], "float32")


def test_read_npz_of_numpy_savez_and_savez_compressed(local):
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    b = np.asfortranarray(np.linspace(0, 1, 6).reshape(2, 3))
    for save, owns in ((np.savez, False), (np.savez_compressed, True)):
        buf = io.BytesIO()
        save(buf, a=a, b=b)
        uri = f"{local}{save.__name__}.npz"
        s3dlio.put_bytes(uri, buf.getvalue())
        got_a, got_b = s3dlio.read_npz(uri, "a"), s3dlio.read_npz(uri, "b")
        assert np.array_equal(got_a, a) and np.array_equal(got_b, b)
        assert got_b.flags.f_contiguous
        assert got_a.flags.owndata is owns
    s3dlio.put_bytes(f"{local}not.npz", b"plain bytes")
    with pytest.raises(s3dlio.InvalidInputError, match="not an NPZ"):
        s3dlio.read_npz(f"{local}not.npz")


def record(payload: bytes) -> bytes:
    """A TFRecord frame (CRCs zeroed: the index does not read them)."""
    return struct.pack("<Q", len(payload)) + b"\0" * 4 + payload + b"\0" * 4


def test_tfrecord_index_in_dalis_format(tmp_path):
    payloads = [b"a" * 10, b"", b"b" * 300]
    data = b"".join(record(p) for p in payloads)
    entries = [(0, 26), (26, 16), (42, 316)]
    assert s3dlio.get_tfrecord_index_entries(data) == entries
    assert s3dlio.get_tfrecord_index_entries(memoryview(data)) == entries
    assert s3dlio.index_tfrecord_bytes(data) == "0 26\n26 16\n42 316\n"
    path = tmp_path / "train.tfrecord"
    path.write_bytes(data)
    assert s3dlio.create_tfrecord_index(path) == 3
    assert (tmp_path / "train.tfrecord.idx").read_text() == "0 26\n26 16\n42 316\n"
    assert s3dlio.read_tfrecord_index(tmp_path / "train.tfrecord.idx") == entries
    assert s3dlio.create_tfrecord_index(str(path), str(tmp_path / "other.idx")) == 3
    # Each entry frames exactly one record.
    for (offset, size), payload in zip(entries, payloads):
        assert data[offset + 12 : offset + size - 4] == payload
    with pytest.raises(s3dlio.InvalidInputError, match="offset 42"):
        s3dlio.get_tfrecord_index_entries(data[:-1])
    path.write_bytes(data[:-1])
    with pytest.raises(s3dlio.InvalidInputError, match="offset 42"):
        s3dlio.create_tfrecord_index(path)
    (tmp_path / "bad.idx").write_text("0 26\nzero 16\n")
    with pytest.raises(s3dlio.InvalidInputError, match="bad.idx:2"):
        s3dlio.read_tfrecord_index(tmp_path / "bad.idx")
