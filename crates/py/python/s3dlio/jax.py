"""Samples for JAX as numpy ``uint8`` arrays that share memory with the Rust buffer
(read-only; ``jax.numpy.asarray`` copies them to the device as usual)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._frameworks import require, shard_options

require("jax", "jax")

import numpy as np  # noqa: E402

import s3dlio  # noqa: E402


class ObjectIterable:
    """Every object under a prefix (or in a list) once per iteration (an epoch), through
    s3dlio's Rust loader; ``options`` as ``s3dlio.create_loader``'s. Each iteration
    after the first is the next epoch (a new shuffle order)."""

    def __init__(self, source: str | Sequence[str], options: dict[str, Any] | None = None, rank: int = 0, world_size: int = 1):
        self.loader = s3dlio.create_loader(source, shard_options(options, rank, world_size, 0, 1))

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self.loader:
            for view in batch:
                yield np.frombuffer(view, dtype=np.uint8)
