"""The original s3dlio 0.10.0's dataset and loader classes, over s3dlio's Rust loader.

``PyBytesAsyncDataLoader(dataset, opts)`` gives batches (``async for``), single items
(``for``) or items that name their URI (``items()``), all zero-copy memoryviews read ahead
by Rust; ``PyLoaderOptions`` builds the options dict; ``PyVecDataset`` and
``PyAsyncDataLoader`` batch a list of integers. ``crates/py/README.md`` lists what differs
from the original.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from . import _s3dlio
from .errors import NotSupportedError

PyDataset = _s3dlio.PyDataset


def refuse_auto_tune(on: bool) -> None:
    """The original's ``auto_tune`` is refused rather than ignored."""
    if on:
        raise NotSupportedError("auto_tune: s3dlio's loader does not tune itself; set num_workers and prefetch")


def original_loader_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The original's loader keyword arguments as ``create_loader`` options: ``auto_tune``
    refused when on, ``num_workers=0`` (its default) leaving s3dlio's reads in flight at
    their default, ``num_workers_pytorch`` dropped (a DataLoader's workers are found at
    iteration)."""
    opts = dict(opts)
    refuse_auto_tune(opts.pop("auto_tune", False))
    if opts.get("num_workers") == 0:
        del opts["num_workers"]
    opts.pop("num_workers_pytorch", None)
    return opts


class PyObjectItem:
    """One object from ``PyBytesAsyncDataLoader.items()``: its ``uri`` and ``data`` (a
    zero-copy read-only memoryview)."""

    __slots__ = ("uri", "data")

    def __init__(self, uri: str, data: memoryview) -> None:
        self.uri = uri
        self.data = data

    @property
    def byte_count(self) -> int:
        return len(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return bytes(self.data)

    def __repr__(self) -> str:
        return f"PyObjectItem(uri={self.uri!r}, byte_count={len(self.data)})"


class PyObjectDataLoaderSyncIter:
    """Items with their URIs as reads complete; ``collect_batch(n)`` takes up to ``n`` at
    once (an empty list at the end)."""

    def __init__(self, loader: _s3dlio.Loader) -> None:
        self._batches = iter(loader)
        self._pending: list[tuple[str, memoryview]] = []

    def __iter__(self) -> PyObjectDataLoaderSyncIter:
        return self

    def __next__(self) -> PyObjectItem:
        while not self._pending:
            self._pending = list(reversed(next(self._batches)))
        return PyObjectItem(*self._pending.pop())

    def collect_batch(self, n: int) -> list[PyObjectItem]:
        items: list[PyObjectItem] = []
        for item in self:
            items.append(item)
            if len(items) == n:
                break
        return items


class PyBytesAsyncDataLoader:
    """Every sample of ``dataset`` (a ``PyDataset``) once per iteration, ``opts`` as
    ``create_loader``'s: ``async for batch in loader`` gives lists of memoryviews
    (``batch_size`` each), ``for item in loader`` single memoryviews as reads complete,
    ``items()`` ``PyObjectItem``s that name their URI. Each iteration is the next epoch."""

    def __init__(self, dataset: PyDataset, opts: dict[str, Any] | None = None) -> None:
        if not isinstance(dataset, PyDataset):
            raise TypeError(f"PyBytesAsyncDataLoader takes an s3dlio.PyDataset, not {type(dataset).__name__}")
        self._dataset = dataset
        self._opts = dict(opts or {})
        # Bad options raise here, not at the first iteration.
        self._loader = _s3dlio.create_loader(dataset, self._opts)
        self._async = _s3dlio.create_async_loader(dataset, self._opts)
        self._unordered = _s3dlio.create_loader(dataset, {**self._opts, "ordered": False})
        self._items = _s3dlio.create_loader(dataset, {**self._opts, "ordered": False, "with_uris": True})

    def __aiter__(self) -> AsyncIterator[list[memoryview]]:
        return self._async.__aiter__()

    def __iter__(self) -> Iterator[memoryview]:
        for batch in self._unordered:
            yield from batch

    def items(self) -> PyObjectDataLoaderSyncIter:
        return PyObjectDataLoaderSyncIter(self._items)

    def __len__(self) -> int:
        """Batches per epoch."""
        return len(self._loader)


# Options that belong to a dataset (how each object is read), not to a loader over it.
_READ_KEYS = ("reader_mode", "part_size", "max_inflight_parts")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated: use {new} (every scheme)", DeprecationWarning, stacklevel=3)


def PyS3Dataset(uri: str, opts: dict[str, Any] | None = None) -> PyDataset:  # noqa: N802 (the original's name)
    """Deprecated: ``PyDataset(uri, opts)``."""
    _deprecated("PyS3Dataset", "PyDataset")
    return PyDataset(uri, opts)


PyS3DatasetCompat = PyS3Dataset


class PyS3AsyncDataLoader(PyBytesAsyncDataLoader):
    """Deprecated: ``PyBytesAsyncDataLoader(PyDataset(uri, opts), opts)``."""

    def __init__(self, uri: str, opts: dict[str, Any] | None = None) -> None:
        _deprecated("PyS3AsyncDataLoader", "PyBytesAsyncDataLoader")
        opts = dict(opts or {})
        read = {k: opts.pop(k) for k in _READ_KEYS if k in opts}
        super().__init__(PyDataset(uri, read), opts)


PyS3AsyncDataLoaderCompat = PyS3AsyncDataLoader


class PyLoaderOptions:
    """A fluent builder of loader options: each setter changes this object and returns it.
    ``to_dict()`` is the dict ``create_loader`` / ``PyBytesAsyncDataLoader`` take. The
    framework settings (``pin_memory``, ``persistent_workers``, ``with_timeout``, the
    multiprocessing context, ``non_blocking``, ``channels_*``, ``with_generator_seed``,
    ``enable_transforms``, ``collate_buffer_size``) are kept for the caller's
    ``torch.utils.data.DataLoader`` (``torch_kwargs()``) and transforms: s3dlio's loader
    reads bytes and does not use them."""

    def __init__(self) -> None:
        self.batch_size = 32
        self.drop_last_value = False
        self.shuffle_value = False
        self.seed = 0
        self.num_workers_value = 64
        self.prefetch_value = 2
        self.shard_rank = 0
        self.shard_world_size = 1
        self.pin_memory_value = False
        self.persistent_workers_value = False
        self.timeout_seconds: float | None = None
        self.multiprocessing_context: str | None = None
        self.non_blocking_value = False
        self.memory_format = "channels_first"
        self.generator_seed: int | None = None
        self.enable_transforms_value = False
        self.collate_buffer_size_value = 0

    def with_batch_size(self, size: int) -> PyLoaderOptions:
        self.batch_size = size
        return self

    def drop_last(self, yes: bool) -> PyLoaderOptions:
        self.drop_last_value = yes
        return self

    def shuffle(self, on: bool, seed: int) -> PyLoaderOptions:
        self.shuffle_value, self.seed = on, seed
        return self

    def num_workers(self, n: int) -> PyLoaderOptions:
        """Reads in flight at once (s3dlio reads concurrently in Rust, not in workers)."""
        self.num_workers_value = n
        return self

    def prefetch(self, n: int) -> PyLoaderOptions:
        self.prefetch_value = n
        return self

    def auto_tune(self, on: bool) -> PyLoaderOptions:
        refuse_auto_tune(on)
        return self

    def random_sampling(self, replacement: bool) -> PyLoaderOptions:
        if replacement:
            raise NotSupportedError("random_sampling(replacement=True): s3dlio samples every object once per epoch")
        self.shuffle_value = True
        return self

    def distributed_sampling(self, rank: int, world_size: int) -> PyLoaderOptions:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size}")
        self.shard_rank, self.shard_world_size = rank, world_size
        return self

    def pin_memory(self, pin: bool) -> PyLoaderOptions:
        self.pin_memory_value = pin
        return self

    def persistent_workers(self, persistent: bool) -> PyLoaderOptions:
        self.persistent_workers_value = persistent
        return self

    def with_timeout(self, seconds: float) -> PyLoaderOptions:
        self.timeout_seconds = seconds
        return self

    def use_spawn(self) -> PyLoaderOptions:
        self.multiprocessing_context = "spawn"
        return self

    def use_fork(self) -> PyLoaderOptions:
        self.multiprocessing_context = "fork"
        return self

    def use_forkserver(self) -> PyLoaderOptions:
        self.multiprocessing_context = "forkserver"
        return self

    def channels_first(self) -> PyLoaderOptions:
        self.memory_format = "channels_first"
        return self

    def channels_last(self) -> PyLoaderOptions:
        self.memory_format = "channels_last"
        return self

    def non_blocking(self, non_blocking: bool) -> PyLoaderOptions:
        self.non_blocking_value = non_blocking
        return self

    def with_generator_seed(self, seed: int) -> PyLoaderOptions:
        self.generator_seed = seed
        return self

    def enable_transforms(self, enable: bool) -> PyLoaderOptions:
        self.enable_transforms_value = enable
        return self

    def collate_buffer_size(self, size: int) -> PyLoaderOptions:
        self.collate_buffer_size_value = size
        return self

    def gpu_optimized(self) -> PyLoaderOptions:
        """Pinned memory, persistent workers and non-blocking copies for the DataLoader."""
        return self.pin_memory(True).persistent_workers(True).non_blocking(True)

    def distributed_optimized(self, rank: int, world_size: int) -> PyLoaderOptions:
        """This rank's shard, and persistent workers."""
        return self.distributed_sampling(rank, world_size).persistent_workers(True)

    def debug_mode(self) -> PyLoaderOptions:
        """One read at a time, in order, no shuffle."""
        self.num_workers_value, self.prefetch_value, self.shuffle_value = 1, 1, False
        return self

    def to_dict(self) -> dict[str, Any]:
        """The options s3dlio's loaders take."""
        return {
            "batch_size": self.batch_size,
            "drop_last": self.drop_last_value,
            "shuffle": self.shuffle_value,
            "seed": self.seed,
            "num_workers": self.num_workers_value,
            "prefetch": self.prefetch_value,
            "shard_rank": self.shard_rank,
            "shard_world_size": self.shard_world_size,
        }

    def torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``torch.utils.data.DataLoader`` from the framework settings."""
        kwargs: dict[str, Any] = {
            "pin_memory": self.pin_memory_value,
            "persistent_workers": self.persistent_workers_value,
        }
        if self.timeout_seconds is not None:
            kwargs["timeout"] = self.timeout_seconds
        if self.multiprocessing_context is not None:
            kwargs["multiprocessing_context"] = self.multiprocessing_context
        return kwargs


class _IndexOutOfRange(IndexError, RuntimeError):
    """An index past a ``PyVecDataset``: an ``IndexError`` (so ``for`` stops) and the
    ``RuntimeError`` the original raised."""


class PyVecDataset:
    """A list of integers as a dataset: ``len``, ``ds[i]``."""

    def __init__(self, obj: Sequence[int]) -> None:
        self._items = [int(x) for x in obj]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < len(self._items):
            raise _IndexOutOfRange(f"Index {index} out of range")
        return self._items[index]


class PyAsyncDataLoader:
    """``async for batch in loader``: the ``PyVecDataset``'s integers in lists of
    ``batch_size`` (options ``batch_size``, ``drop_last``, ``shuffle``, ``seed``); each
    iteration is the next epoch, shuffled by ``seed`` and the epoch number."""

    _KEYS = {"batch_size", "drop_last", "shuffle", "seed"}

    def __init__(self, dataset: PyVecDataset, opts: dict[str, Any] | None = None) -> None:
        opts = dict(opts or {})
        unknown = set(opts) - self._KEYS
        if unknown:
            raise ValueError(f"unknown PyAsyncDataLoader option(s) {sorted(unknown)}; known: {sorted(self._KEYS)}")
        self._dataset = dataset
        self._batch_size = int(opts.get("batch_size", 32))
        if self._batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._drop_last = bool(opts.get("drop_last", False))
        self._shuffle = bool(opts.get("shuffle", False))
        self._seed = int(opts.get("seed", 0))
        self._epoch = 0

    async def _batches(self, order: list[int]) -> AsyncIterator[list[int]]:
        for start in range(0, len(order), self._batch_size):
            batch = [self._dataset[i] for i in order[start : start + self._batch_size]]
            if len(batch) == self._batch_size or not self._drop_last:
                yield batch

    def __aiter__(self) -> AsyncIterator[list[int]]:
        order = list(range(len(self._dataset)))
        if self._shuffle:
            random.Random(self._seed * 1_000_003 + self._epoch).shuffle(order)
        self._epoch += 1
        return self._batches(order)


__all__ = [
    "PyAsyncDataLoader",
    "PyBytesAsyncDataLoader",
    "PyDataset",
    "PyLoaderOptions",
    "PyObjectDataLoaderSyncIter",
    "PyObjectItem",
    "PyS3AsyncDataLoader",
    "PyS3AsyncDataLoaderCompat",
    "PyS3Dataset",
    "PyS3DatasetCompat",
    "PyVecDataset",
]
