"""Checkpoints on any backend, under the original s3dlio's names.

Each rank stores its shard (``save_distributed_shard``: one PUT, or a multipart upload
above ``multipart_threshold``; optional zstd; a CRC32C of what it wrote). Rank 0 gathers
every rank's shard meta and calls ``finalize_distributed_checkpoint``: it checks that
every shard is stored, writes ``manifests/ckpt-<step>-<ms>.json`` and only then moves
``latest`` to it. A save cut short anywhere leaves ``latest`` on the previous good step.

Shards load as read-only ``memoryview`` objects over the Rust buffer (no copy), as every
s3dlio read does; the original returned its ``BytesView`` (``view.obj`` is ours).

>>> import s3dlio.checkpoint as ck  # doctest: +SKIP
>>> store = ck.PyCheckpointStore("s3://bucket/run-7", strategy="round_robin:8")
>>> meta = store.writer(world_size=2, rank=1).save_distributed_shard(100, 1, "torch", data)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._s3dlio import _CheckpointStore

__all__ = [
    "PyCheckpointInfo",
    "PyCheckpointReader",
    "PyCheckpointStore",
    "PyCheckpointWriter",
    "finalize_distributed_checkpoint",
    "load_checkpoint",
    "load_checkpoint_with_validation",
    "load_checkpoint_with_validation_view",
    "save_checkpoint",
    "save_distributed_shard",
]


def _user_meta(user_meta: Mapping[str, Any] | None) -> str | None:
    if user_meta is None:
        return None
    if not isinstance(user_meta, Mapping):
        raise TypeError(f"user_meta must be a dict (JSON-serializable), not {type(user_meta).__name__}")
    return json.dumps(dict(user_meta))


@dataclass(frozen=True)
class PyCheckpointInfo:
    """One complete checkpoint, as ``list_checkpoints`` reports it."""

    step: int
    epoch: int
    framework: str
    timestamp: float
    world_size: int
    total_size: int
    manifest_key: str
    is_latest: bool
    # Only complete checkpoints (those with a manifest) are listed.
    status: str = "complete"
    is_complete: bool = True

    @property
    def is_single_rank(self) -> bool:
        return self.world_size == 1

    @property
    def size_mb(self) -> float:
        return self.total_size / (1 << 20)

    @property
    def size_gb(self) -> float:
        return self.total_size / (1 << 30)


class PyCheckpointStore:
    """Checkpoints under ``uri`` (any scheme). ``strategy``: ``flat`` (default),
    ``round_robin[:N]`` or ``binary[:LEVELS]`` (spread shard keys over prefixes);
    shards of at least ``multipart_threshold`` bytes (32 MiB) stream as multipart
    uploads of ``part_size`` bytes, ``max_in_flight`` at once; ``compression_level``
    is zstd's (1..=22; 0 or None: none)."""

    def __init__(
        self,
        uri: str,
        strategy: str | None = None,
        multipart_threshold: int | None = None,
        compression_level: int | None = None,
        *,
        part_size: int | None = None,
        max_in_flight: int | None = None,
    ):
        self._native = _CheckpointStore(uri, strategy, multipart_threshold, compression_level, part_size, max_in_flight)

    @property
    def uri(self) -> str:
        return self._native.uri

    @property
    def strategy(self) -> str:
        return self._native.strategy

    def writer(self, world_size: int, rank: int) -> PyCheckpointWriter:
        return PyCheckpointWriter(self, world_size, rank)

    def reader(self) -> PyCheckpointReader:
        return PyCheckpointReader(self)

    def save(self, step: int, epoch: int, framework: str, data: Any, user_meta: Mapping[str, Any] | None = None) -> str:
        """A single-rank checkpoint of ``data`` (any buffer); returns the manifest key."""
        w = self.writer(1, 0)
        shard = w.save_distributed_shard(step, epoch, framework, data)
        return w.finalize_distributed_checkpoint(step, epoch, framework, [shard], user_meta)

    def load_latest(self, validate: bool = False) -> memoryview | None:
        """The latest checkpoint's data (single-rank), or None when there is none."""
        m = self.reader().load_latest_manifest()
        if m is None:
            return None
        if m["world_size"] != 1:
            raise ValueError(
                f"the latest checkpoint of {self.uri} has {m['world_size']} ranks; read each with "
                "reader().read_shard_by_rank(manifest, rank)"
            )
        return self.reader().read_shard_by_rank(m, 0, validate)

    def list_checkpoints(self) -> list[PyCheckpointInfo]:
        return [
            PyCheckpointInfo(
                step=i["step"], epoch=i["epoch"], framework=i["framework"], timestamp=i["timestamp"],
                world_size=i["world_size"], total_size=i["total_size"], manifest_key=i["manifest"],
                is_latest=i["is_latest"],
            )
            for i in self._native.list()
        ]

    def delete_checkpoint(self, step: int) -> int:
        """Deletes every checkpoint of ``step`` (``latest`` first moves to the newest
        other one); returns the objects deleted. ``NotFoundError`` when there is none."""
        return self._native.delete(step)


class PyCheckpointWriter:
    """Rank ``rank`` of ``world_size``."""

    def __init__(self, store: PyCheckpointStore, world_size: int, rank: int):
        self._store, self.world_size, self.rank = store, world_size, rank

    def save_distributed_shard(self, step: int, epoch: int, framework: str, data: Any) -> dict[str, Any]:
        """Stores this rank's shard (any buffer, not copied); returns its meta for rank 0.
        The meta carries ``epoch`` and ``framework``; finalize refuses a shard saved for
        another epoch or framework than the one it records."""
        meta = json.loads(self._store._native.save_shard(self.world_size, self.rank, step, data))
        return dict(meta, epoch=epoch, framework=framework)

    def finalize_distributed_checkpoint(
        self,
        step: int,
        epoch: int,
        framework: str,
        shard_metas: Sequence[Mapping[str, Any]],
        user_meta: Mapping[str, Any] | None = None,
    ) -> str:
        """Rank 0, with every rank's shard meta: writes the manifest, then ``latest``.
        Returns the manifest key (``manifests/ckpt-<step>-<ms>.json``)."""
        for s in shard_metas:
            for field, want in (("epoch", epoch), ("framework", framework)):
                if field in s and s[field] != want:
                    raise ValueError(
                        f"the shard of rank {s.get('rank')} was saved for {field} {s[field]!r}, "
                        f"not {want!r}; finalize with the values every rank saved with"
                    )
        key, _ = self._store._native.finalize(
            self.world_size, self.rank, step, epoch, framework,
            json.dumps([dict(s) for s in shard_metas]), _user_meta(user_meta),
        )
        return key


class PyCheckpointReader:
    def __init__(self, store: PyCheckpointStore):
        self._store = store

    def load_latest_manifest(self) -> dict[str, Any] | None:
        text = self._store._native.latest_manifest()
        return None if text is None else json.loads(text)

    def load_manifest(self, step: int) -> dict[str, Any] | None:
        """The newest manifest of ``step``, or None."""
        text = self._store._native.manifest_for_step(step)
        return None if text is None else json.loads(text)

    def read_shard_by_rank(self, manifest: Mapping[str, Any], rank: int, validate: bool = False) -> memoryview:
        return self._store._native.read_shard(json.dumps(dict(manifest)), rank, validate)

    def read_all_shards(self, manifest: Mapping[str, Any], validate: bool = False) -> list[memoryview]:
        """Every rank's shard, in rank order, read concurrently."""
        return self._store._native.read_all(json.dumps(dict(manifest)), validate)

    def validate_checkpoint(self, manifest: Mapping[str, Any]) -> bool:
        """Reads every shard and checks its size and CRC32C; raises
        ``ChecksumMismatchError`` naming the first corrupted shard."""
        self._store._native.validate(json.dumps(dict(manifest)))
        return True


def save_checkpoint(uri: str, step: int, epoch: int, framework: str, data: Any, user_meta: Mapping[str, Any] | None = None) -> str:
    """A single-rank checkpoint under ``uri``; returns the manifest key."""
    return PyCheckpointStore(uri).save(step, epoch, framework, data, user_meta)


def _load(uri: str, validate: bool) -> memoryview:
    data = PyCheckpointStore(uri).load_latest(validate)
    if data is None:
        from .errors import NotFoundError

        raise NotFoundError(f"load_checkpoint {uri}: no checkpoint (no 'latest' pointer); save one first")
    return data


def load_checkpoint(uri: str) -> memoryview:
    """The latest single-rank checkpoint under ``uri``."""
    return _load(uri, False)


def load_checkpoint_with_validation(uri: str, validate_integrity: bool = True) -> memoryview:
    """As ``load_checkpoint``, checking the shard's CRC32C when ``validate_integrity``."""
    return _load(uri, validate_integrity)


# The original returned a BytesView here and bytes from the two above; ours are all views.
load_checkpoint_with_validation_view = load_checkpoint_with_validation


def save_distributed_shard(uri: str, step: int, epoch: int, framework: str, data: Any, world_size: int, rank: int) -> dict[str, Any]:
    return PyCheckpointStore(uri).writer(world_size, rank).save_distributed_shard(step, epoch, framework, data)


def finalize_distributed_checkpoint(
    uri: str,
    step: int,
    epoch: int,
    framework: str,
    shard_metas: Sequence[Mapping[str, Any]],
    world_size: int,
    rank: int,
    user_meta: Mapping[str, Any] | None = None,
) -> str:
    w = PyCheckpointStore(uri).writer(world_size, rank)
    return w.finalize_distributed_checkpoint(step, epoch, framework, shard_metas, user_meta)
