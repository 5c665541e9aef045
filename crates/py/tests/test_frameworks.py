"""torch and JAX take the views without a copy (skipped where not installed)."""

import warnings

import numpy as np
import pytest

import s3dlio
from conftest import pattern


def test_torch_frombuffer_shares_the_rust_buffer(prefix):
    torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
    data = pattern(1 << 20, seed=11)
    s3dlio.put_bytes(prefix + "t", data)
    view = s3dlio.get(prefix + "t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that the buffer is not writable
        tensor = torch.frombuffer(view, dtype=torch.uint8)
    assert tensor.data_ptr() == view.obj.address
    assert tensor.numel() == len(data)
    assert bytes(tensor.numpy().tobytes()) == data
    floats = torch.frombuffer(s3dlio.get_range(prefix + "t", 0, 4096), dtype=torch.float32)
    assert floats.numel() == 1024


def test_torch_reads_into_a_tensor(local):
    torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
    data = pattern(65536, seed=12)
    s3dlio.put_bytes(local + "into", data)
    tensor = torch.empty(65536, dtype=torch.uint8)
    assert s3dlio.get_into(local + "into", tensor.numpy()) == 65536
    assert tensor.numpy().tobytes() == data


def test_jax_accepts_the_views(prefix):
    jnp = pytest.importorskip("jax.numpy", reason="jax is not installed in this environment")
    data = pattern(4096, seed=13)
    s3dlio.put_bytes(prefix + "j", data)
    view = s3dlio.get(prefix + "j")
    arr = np.frombuffer(view, dtype=np.uint8)
    assert arr.ctypes.data == view.obj.address  # zero-copy up to the numpy array
    j = jnp.asarray(arr)
    assert j.shape == (4096,) and bytes(np.asarray(j).tobytes()) == data
