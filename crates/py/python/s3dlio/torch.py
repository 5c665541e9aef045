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

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._frameworks import require, shard_options

torch = require("torch", "torch")

import s3dlio  # noqa: E402


def _tensor(view: memoryview, writable: bool) -> Any:
    if writable:
        return torch.frombuffer(bytearray(view), dtype=torch.uint8)
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
    reads, and items are yielded one by one for the ``DataLoader`` to batch."""

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
        self.epoch = 0

    @classmethod
    def from_prefix(cls, uri: str, **kwargs: Any) -> ObjectIterableDataset:
        return cls(uri, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose shuffle order the next iteration uses (as DistributedSampler)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rank, world = _dist()
        opts = shard_options(self.options, rank, world, worker, workers)
        opts.setdefault("epoch", self.epoch)
        for batch in s3dlio.create_loader(self.source, opts):
            for view in batch:
                item = _tensor(view, self.writable)
                yield self.transform(item) if self.transform else item


class ObjectMapDataset(torch.utils.data.Dataset):
    """One object per index: ``ds[i]`` reads ``ds.uris[i]`` as a ``uint8`` tensor. The
    prefix is listed once, here; the dataset holds only URIs, so it pickles into
    spawned workers."""

    def __init__(
        self,
        source: str | Sequence[str],
        transform: Callable[[Any], Any] | None = None,
        writable: bool = False,
    ):
        super().__init__()
        self.uris = s3dlio.list(source, recursive=True) if isinstance(source, str) else list(source)
        self.transform = transform
        self.writable = writable

    @classmethod
    def from_prefix(cls, uri: str, **kwargs: Any) -> ObjectMapDataset:
        return cls(uri, **kwargs)

    def __len__(self) -> int:
        return len(self.uris)

    def __getitem__(self, index: int) -> Any:
        item = _tensor(s3dlio.get(self.uris[index]), self.writable)
        return self.transform(item) if self.transform else item


# The original s3dlio's names.
S3IterableDataset = ObjectIterableDataset
S3MapDataset = ObjectMapDataset
