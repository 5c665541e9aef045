"""A ``tf.data.Dataset`` of ``uint8`` tensors from object storage (TensorFlow copies each
item into its own tensor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._frameworks import require, shard_options

tf = require("tensorflow", "tensorflow")

import numpy as np  # noqa: E402

import s3dlio  # noqa: E402


def make_dataset(source: str | Sequence[str], options: dict[str, Any] | None = None, rank: int = 0, world_size: int = 1) -> Any:
    """Every object under a prefix (or in a list), through s3dlio's Rust loader."""
    loader = s3dlio.create_loader(source, shard_options(options, rank, world_size, 0, 1))

    def samples():
        for batch in loader:
            for view in batch:
                yield np.frombuffer(view, dtype=np.uint8)

    return tf.data.Dataset.from_generator(samples, output_signature=tf.TensorSpec(shape=(None,), dtype=tf.uint8))
