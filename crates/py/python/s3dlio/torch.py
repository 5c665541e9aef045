"""PyTorch datasets over object storage: items are zero-copy ``uint8`` tensors.

``ObjectIterableDataset`` streams a prefix (or a list of URIs) through s3dlio's Rust
loader, split across ``torch.distributed`` ranks and ``DataLoader`` workers
automatically; ``ObjectMapDataset`` reads one object per index. Both work with
``DataLoader(num_workers=0)`` (Rust already reads concurrently) and with
``num_workers > 0`` under fork and spawn (each worker opens its own clients).

Tensors share memory with the Rust buffer: do not write to them (PyTorch has no
read-only tensors to enforce it); ``writable=True`` gives each item a writable copy.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._frameworks import EpochCounter, require, shard_options

torch = require("torch", "torch")

import s3dlio  # noqa: E402
from s3dlio.loaders import original_loader_options  # noqa: E402


def _tensor(view: memoryview, writable: bool, quiet: bool = True) -> Any:
    if writable:
        return torch.frombuffer(bytearray(view), dtype=torch.uint8)
    if not quiet:
        return torch.frombuffer(view, dtype=torch.uint8)
    with warnings.catch_warnings():
        # The buffer is read-only on purpose: it is the storage response, not a copy.
        warnings.filterwarnings("ignore", message="The given buffer is not writable")
        return torch.frombuffer(view, dtype=torch.uint8)


def _dist() -> tuple[int, int]:
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


class ObjectIterableDataset(torch.utils.data.IterableDataset):
    """Every object under a prefix (or in a list), once per epoch across all ranks and
    workers. ``options`` are ``s3dlio.create_loader``'s (shuffle, seed, prefetch,
    num_workers for reads in flight, reader_mode, ...); ``batch_size`` there groups
    reads, and items are yielded one by one for the ``DataLoader`` to batch.

    Each iteration is the next epoch (with ``shuffle``, a new order), also in persistent
    ``DataLoader`` workers; ``set_epoch(e)`` makes the next one epoch ``e`` (as
    ``DistributedSampler``) and reaches running workers. Every rank must iterate the
    same number of times, as with ``DistributedSampler``."""

    def __init__(
        self,
        source: str | Sequence[str],
        options: dict[str, Any] | None = None,
        transform: Callable[[Any], Any] | None = None,
        writable: bool = False,
    ):
        super().__init__()
        self.source = source if isinstance(source, str) else list(source)
        self.options = dict(options or {})
        self.transform = transform
        self.writable = writable
        self._epochs = EpochCounter(self.options.pop("epoch", 0))

    @classmethod
    def from_prefix(cls, uri: str, **kwargs: Any) -> ObjectIterableDataset:
        return cls(uri, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration is; later ones count on from it."""
        self._epochs.set(epoch)

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rank, world = _dist()
        opts = shard_options(self.options, rank, world, worker, workers)
        opts["epoch"] = self._epochs.next(info.id if info else None)
        for batch in s3dlio.create_loader(self.source, opts):
            for view in batch:
                item = self._item(view)
                yield self.transform(item) if self.transform else item

    def _item(self, view: memoryview) -> Any:
        return _tensor(view, self.writable)


class ObjectMapDataset(torch.utils.data.Dataset):
    """One object per index: ``ds[i]`` reads ``ds.uris[i]`` as a ``uint8`` tensor. The
    prefix is listed once, here; the dataset holds only URIs, so it pickles into
    spawned workers. A ``DataLoader`` with a batch size fetches each batch through
    ``__getitems__``: one call that reads its objects concurrently (``max_in_flight`` at
    a time), not one blocking read after another."""

    def __init__(
        self,
        source: str | Sequence[str],
        transform: Callable[[Any], Any] | None = None,
        writable: bool = False,
        max_in_flight: int = 64,
    ):
        super().__init__()
        self.uris = s3dlio.list(source, recursive=True) if isinstance(source, str) else list(source)
        self.transform = transform
        self.writable = writable
        self.max_in_flight = max_in_flight
        self.read_options: dict[str, Any] = {}
        self._dataset: Any = None

    @classmethod
    def from_prefix(cls, uri: str, **kwargs: Any) -> ObjectMapDataset:
        return cls(uri, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        # The Rust dataset stays in its process; a worker makes its own from the URIs.
        return {**self.__dict__, "_dataset": None}

    def __len__(self) -> int:
        return len(self.uris)

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < len(self.uris):
            raise IndexError(index)
        return self._finish(self._reader()[index])

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        return [self._finish(v) for v in self._reader().get_many(list(indices), self.max_in_flight)]

    def _reader(self) -> Any:
        if self._dataset is None:
            self._dataset = s3dlio.create_dataset(self.uris, self.read_options)
        return self._dataset

    def _finish(self, view: memoryview) -> Any:
        item = self._item(view)
        return self.transform(item) if self.transform else item

    def _item(self, view: memoryview) -> Any:
        return _tensor(view, self.writable)


def _as(view: memoryview, return_type: str, writable: bool, quiet: bool) -> Any:
    """An item as the original's ``return_type`` asks: a tensor, ``bytes`` (a copy) or a
    file-like reader over a copy."""
    if return_type == "bytes":
        return bytes(view)
    if return_type == "reader":
        return io.BytesIO(view)
    return _tensor(view, writable, quiet)


def _return_type(value: str) -> str:
    kind = str(value).lower()
    if kind not in ("tensor", "bytes", "reader"):
        raise ValueError("return_type must be 'tensor', 'bytes', or 'reader'")
    return kind


class ObjectStoreIterableDataset(ObjectIterableDataset):
    """The original's iterable dataset: ``ObjectStoreIterableDataset(uri, *, loader_opts,
    writable, suppress_nonwritable_warning, enable_sharding, return_type)`` or
    ``from_prefix(uri, batch_size=1, ..., return_type="tensor")``. Items are split across
    ranks and ``DataLoader`` workers unless ``enable_sharding=False`` is passed (then
    every worker reads every object, as the original did by default)."""

    def __init__(
        self,
        uri: str,
        *,
        loader_opts: dict[str, Any],
        writable: bool = False,
        suppress_nonwritable_warning: bool = True,
        enable_sharding: bool | None = None,
        return_type: str = "tensor",
    ):
        opts = original_loader_options(loader_opts)
        if enable_sharding is False:
            opts.update(shard_rank=0, shard_world_size=1, worker_id=0, worker_count=1)
        super().__init__(uri, options=opts, writable=writable)
        self.quiet = suppress_nonwritable_warning
        self.return_type = _return_type(return_type)

    @classmethod
    def from_prefix(  # type: ignore[override]
        cls,
        uri: str,
        *,
        batch_size: int = 1,
        drop_last: bool = False,
        shuffle: bool = False,
        seed: int = 0,
        num_workers: int = 0,
        prefetch: int = 8,
        auto_tune: bool = False,
        reader_mode: str = "sequential",
        part_size: int = 8 << 20,
        max_inflight_parts: int = 4,
        enable_sharding: bool | None = None,
        writable: bool = False,
        suppress_nonwritable_warning: bool = True,
        return_type: str = "tensor",
    ) -> ObjectStoreIterableDataset:
        opts = dict(
            batch_size=batch_size, drop_last=drop_last, shuffle=shuffle, seed=seed, num_workers=num_workers,
            prefetch=prefetch, auto_tune=auto_tune, reader_mode=reader_mode, part_size=part_size,
            max_inflight_parts=max_inflight_parts,
        )  # fmt: skip
        return cls(
            uri,
            loader_opts=opts,
            writable=writable,
            suppress_nonwritable_warning=suppress_nonwritable_warning,
            enable_sharding=enable_sharding,
            return_type=return_type,
        )

    def _item(self, view: memoryview) -> Any:
        return _as(view, self.return_type, self.writable, self.quiet)


class ObjectStoreMapDataset(ObjectMapDataset):
    """The original's map-style dataset: ``ObjectStoreMapDataset(uri, *, reader_mode,
    part_size, max_inflight_parts, writable, suppress_nonwritable_warning, return_type)``.
    ``reader_mode="range"`` reads each object with ``max_inflight_parts`` ranged GETs of
    ``part_size`` bytes."""

    def __init__(
        self,
        uri: str,
        *,
        reader_mode: str = "sequential",
        part_size: int = 8 << 20,
        max_inflight_parts: int = 4,
        writable: bool = False,
        suppress_nonwritable_warning: bool = True,
        return_type: str = "tensor",
    ) -> None:
        read_options = {"reader_mode": reader_mode, "part_size": part_size, "max_inflight_parts": max_inflight_parts}
        listed = s3dlio.create_dataset(uri, read_options)
        super().__init__(listed.uris(), writable=writable)
        self.read_options = read_options
        self._dataset = listed
        self.quiet = suppress_nonwritable_warning
        self.return_type = _return_type(return_type)

    def _item(self, view: memoryview) -> Any:
        return _as(view, self.return_type, self.writable, self.quiet)


class S3IterableDataset(ObjectStoreIterableDataset):
    """Deprecated: ``ObjectStoreIterableDataset`` (every scheme)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("S3IterableDataset is deprecated: use ObjectStoreIterableDataset", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


class S3MapDataset(ObjectStoreMapDataset):
    """Deprecated: ``ObjectStoreMapDataset`` (every scheme)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("S3MapDataset is deprecated: use ObjectStoreMapDataset", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)
