"""What the framework modules share: options for this process's shard, the epoch
counter, and the check that the framework is installed."""

from __future__ import annotations

import importlib
import multiprocessing.context
import multiprocessing.sharedctypes
from typing import Any


def require(module: str, package: str) -> Any:
    """Imports ``module`` or raises an ImportError that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"s3dlio.{module.split('.')[0]} needs {package}: pip install {package}") from e


def shard_options(options: dict[str, Any] | None, rank: int, world: int, worker: int, workers: int) -> dict[str, Any]:
    """``options`` with this reader's shard, unless the caller set one."""
    opts = dict(options or {})
    opts.setdefault("shard_rank", rank)
    opts.setdefault("shard_world_size", world)
    opts.setdefault("worker_id", worker)
    opts.setdefault("worker_count", workers)
    return opts


class EpochCounter:
    """The epoch each iteration of a dataset is, agreed by every copy of the dataset.

    A ``DataLoader`` iterates copies: in the main process (``num_workers=0``), in workers
    started for one epoch (each gets a fresh copy of the main process's object), or in
    persistent workers (each keeps its copy across epochs). Each iterating process counts
    its own iterations in shared memory, in a slot of its own (the main process's, or
    worker ``id``'s), so every worker of one epoch counts the same number without a lock,
    and the count survives a worker's exit. ``set`` (``set_epoch``) reaches workers that
    already run, and counting starts again from it."""

    SLOTS = 1024

    def __init__(self, first: int = 0):
        # [0]: the epoch set, [1]: the main process's count, [2 + w]: worker w's.
        self._shared = multiprocessing.sharedctypes.RawArray("q", 2 + self.SLOTS)
        self._shared[0] = first

    def set(self, epoch: int) -> None:
        self._shared[0] = epoch
        for slot in range(1, len(self._shared)):
            self._shared[slot] = 0

    def next(self, worker: int | None) -> int:
        """The epoch of this iteration, by the main process (``worker=None``) or a worker."""
        if worker is not None and not 0 <= worker < self.SLOTS:
            raise ValueError(f"worker id {worker}: at most {self.SLOTS} DataLoader workers")
        slot = 1 if worker is None else 2 + worker
        count = self._shared[slot]
        self._shared[slot] = count + 1
        return self._shared[0] + count

    def __getstate__(self) -> dict[str, Any]:
        # Shared memory travels only to a process being started (a spawned DataLoader
        # worker); anything else (a pickle to disk, another framework) gets a copy.
        if multiprocessing.context.get_spawning_popen() is not None:
            return {"shared": self._shared}
        return {"values": list(self._shared)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "shared" in state:
            self._shared = state["shared"]
        else:
            self._shared = multiprocessing.sharedctypes.RawArray("q", state["values"])
