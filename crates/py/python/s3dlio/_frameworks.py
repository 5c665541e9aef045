"""What the framework modules share: options for this process's shard, and the check
that the framework is installed."""

from __future__ import annotations

import importlib
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
