"""The original s3dlio 0.10.0's JAX / TensorFlow helpers: ``JaxIterable`` yields numpy
``uint8`` arrays (``jax.numpy.asarray`` moves them to the device), ``make_tf_dataset``
builds a ``tf.data.Dataset``. Importable without JAX or TensorFlow (TensorFlow is imported
when ``make_tf_dataset`` is called). ``s3dlio.jax`` and ``s3dlio.tf`` are ours.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import _s3dlio
from ._frameworks import require, shard_options
from .loaders import original_loader_options


def _normalize_opts(
    batch_size: int = 1,
    drop_last: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    prefetch: int = 8,
    auto_tune: bool = False,
) -> dict[str, Any]:
    """The original's keyword arguments as ``create_loader`` options."""
    return original_loader_options(
        {
            "batch_size": batch_size,
            "drop_last": drop_last,
            "shuffle": shuffle,
            "seed": seed,
            "num_workers": num_workers,
            "prefetch": prefetch,
            "auto_tune": auto_tune,
        }
    )


def _arrays(uri: str, opts: dict[str, Any], writable: bool) -> Iterator[np.ndarray]:
    """Every sample as a ``uint8`` array: a read-only view of the Rust buffer, or a
    writable copy."""
    loader = _s3dlio.create_loader(uri, shard_options(opts, 0, 1, 0, 1))
    for batch in loader:
        for view in batch:
            yield np.frombuffer(bytearray(view) if writable else view, dtype=np.uint8)


class JaxIterable:
    """Every object under ``uri`` once per iteration (each iteration the next epoch), as
    numpy ``uint8`` arrays (read-only views of the Rust buffer; ``writable=True`` copies),
    optionally through ``transform``. ``suppress_nonwritable_warning`` is taken for the
    original's signature: numpy warns about nothing here, so there is nothing to suppress."""

    def __init__(
        self,
        uri: str,
        *,
        loader_opts: dict[str, Any],
        transform: Callable[[np.ndarray], Any] | None = None,
        writable: bool = False,
        suppress_nonwritable_warning: bool = True,
    ) -> None:
        self._uri = uri
        self._opts = dict(loader_opts)
        self._transform = transform
        self._writable = writable
        self._epoch = 0

    @classmethod
    def from_prefix(
        cls,
        uri: str,
        *,
        prefetch: int = 8,
        num_workers: int = 0,
        batch_size: int = 1,
        drop_last: bool = False,
        shuffle: bool = False,
        seed: int = 0,
        auto_tune: bool = False,
        transform: Callable[[np.ndarray], Any] | None = None,
        writable: bool = False,
        suppress_nonwritable_warning: bool = True,
    ) -> JaxIterable:
        opts = _normalize_opts(batch_size, drop_last, shuffle, seed, num_workers, prefetch, auto_tune)
        return cls(
            uri,
            loader_opts=opts,
            transform=transform,
            writable=writable,
            suppress_nonwritable_warning=suppress_nonwritable_warning,
        )

    def __iter__(self) -> Iterator[Any]:
        opts = {**self._opts, "epoch": self._opts.get("epoch", 0) + self._epoch}
        self._epoch += 1
        for array in _arrays(self._uri, opts, self._writable):
            yield self._transform(array) if self._transform else array


class S3JaxIterable(JaxIterable):
    """Deprecated: ``JaxIterable`` (every scheme)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("S3JaxIterable is deprecated: use JaxIterable", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


def make_tf_dataset(
    uri: str,
    *,
    prefetch: int = 8,
    num_workers: int = 0,
    batch_size: int = 1,
    drop_last: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    auto_tune: bool = False,
    map_fn: Callable[[Any], Any] | None = None,
    writable: bool = False,
    suppress_nonwritable_warning: bool = True,
) -> Any:
    """A ``tf.data.Dataset`` of ``uint8`` tensors, one per object under ``uri``
    (TensorFlow copies each into its own tensor), mapped by ``map_fn`` when given.
    ``suppress_nonwritable_warning`` is taken for the original's signature (no warning
    arises)."""
    tf = require("tensorflow", "tensorflow")
    opts = _normalize_opts(batch_size, drop_last, shuffle, seed, num_workers, prefetch, auto_tune)
    ds = tf.data.Dataset.from_generator(
        lambda: _arrays(uri, opts, writable),
        output_signature=tf.TensorSpec(shape=(None,), dtype=tf.uint8),
    )
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds


__all__ = ["JaxIterable", "S3JaxIterable", "make_tf_dataset"]
