"""PyTorch Distributed Checkpoint (``torch.distributed.checkpoint``) on every s3dlio
scheme: ``file://``, ``direct://``, ``s3://``, ``az://``, ``gs://`` (and ``memory://``
within one process).

>>> import torch.distributed.checkpoint as dcp  # doctest: +SKIP
>>> from s3dlio.dcp import StorageReader, StorageWriter
>>> dcp.save(state_dict, storage_writer=StorageWriter("s3://bucket/ckpt/step-100"))
>>> dcp.load(state_dict, storage_reader=StorageReader("s3://bucket/ckpt/step-100"))

Each rank writes its files through a streaming upload (``part_size`` ×
``max_in_flight`` bytes in flight; nothing is visible until a file is complete, and a
failure aborts it). The coordinator's ``.metadata`` is written under a temporary name
and copied into place, so a reader sees it only after every rank's files are stored.
Loading reads only the byte ranges each rank needs: per file, one ``get_ranges`` call
for all of its items (ranges sorted by offset, nearby ones merged into one request),
each item a zero-copy view of the response.
"""

from __future__ import annotations

import io
import os
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from ._frameworks import require

torch = require("torch", "torch")

import torch.distributed.checkpoint.filesystem as _fs  # noqa: E402
from torch.distributed.checkpoint.planner import LoadItemType, LoadPlan, LoadPlanner  # noqa: E402
from torch.futures import Future  # noqa: E402

import s3dlio  # noqa: E402

__all__ = ["S3dlioFileSystem", "StorageReader", "StorageWriter"]


def _uri(path: str | os.PathLike) -> str:
    return str(path)


class S3dlioFileSystem(_fs.FileSystemBase):
    """DCP's file operations on s3dlio URIs."""

    def __init__(self, part_size: int | None = None, max_in_flight: int | None = None, read_ahead: int = 8 << 20):
        self.part_size, self.max_in_flight, self.read_ahead = part_size, max_in_flight, read_ahead

    @contextmanager
    def create_stream(self, path: str | os.PathLike, mode: str) -> Generator[io.IOBase, None, None]:
        if mode == "wb":
            w = s3dlio.open_writer(_uri(path), part_size=self.part_size, max_in_flight=self.max_in_flight)
            try:
                yield w
            except BaseException:
                w.abort()
                raise
            if not w.closed:  # DCP closes its data files itself
                w.close()
        elif mode == "rb":
            with s3dlio.open_reader(_uri(path), read_ahead=self.read_ahead) as r:
                yield r
        else:
            raise ValueError(f"mode {mode!r}: s3dlio streams are 'wb' or 'rb'")

    def concat_path(self, path: str | os.PathLike, suffix: str) -> str:
        return _uri(path).rstrip("/") + "/" + suffix

    def init_path(self, path: str | os.PathLike) -> str:
        return _uri(path).rstrip("/")

    def rename(self, path: str | os.PathLike, new_path: str | os.PathLike) -> None:
        # A copy is one atomic write of the whole object at its new name.
        s3dlio.copy(_uri(path), _uri(new_path))
        s3dlio.delete(_uri(path))

    def mkdir(self, path: str | os.PathLike) -> None:
        # Objects need no directories, and file:// writes create their parents.
        pass

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        scheme = _uri(checkpoint_id).split("://", 1)[0]
        return "://" in _uri(checkpoint_id) and f"{scheme}://" in _SCHEMES

    def exists(self, path: str | os.PathLike) -> bool:
        return s3dlio.exists(_uri(path))

    def rm_file(self, path: str | os.PathLike) -> None:
        s3dlio.delete(_uri(path))

    def ls(self, path: str | os.PathLike) -> list[str]:
        return s3dlio.list(self.init_path(path) + "/")


_SCHEMES = ("file://", "direct://", "memory://", "s3://", "az://", "gs://", "gcs://", "https://")


class StorageWriter(_fs.FileSystemWriter):
    """``FileSystemWriter`` over s3dlio: ``thread_count`` files of a rank upload at
    once. ``sync_files`` defaults to False: a file is durable when its upload completes,
    and there is no descriptor to fsync."""

    def __init__(
        self,
        uri: str,
        *,
        single_file_per_rank: bool = True,
        sync_files: bool = False,
        thread_count: int = 1,
        per_thread_copy_ahead: int = 10_000_000,
        overwrite: bool = True,
        part_size: int | None = None,
        max_in_flight: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            path=uri,
            single_file_per_rank=single_file_per_rank,
            sync_files=sync_files,
            thread_count=thread_count,
            per_thread_copy_ahead=per_thread_copy_ahead,
            overwrite=overwrite,
            **kwargs,
        )
        self.fs = S3dlioFileSystem(part_size=part_size, max_in_flight=max_in_flight)
        self.path = self.fs.init_path(uri)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        return S3dlioFileSystem.validate_checkpoint_id(checkpoint_id)


class _View(io.RawIOBase):
    """A seekable read-only file over one zero-copy view (what ``torch.load`` needs)."""

    def __init__(self, view: memoryview):
        self._view, self._pos = view, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._view) - self._pos)
        if n <= 0:
            return 0
        memoryview(b).cast("B")[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


class StorageReader(_fs.FileSystemReader):
    """``FileSystemReader`` over s3dlio that fetches each file's items with one
    ``get_ranges`` call (``coalesce_gap`` and ``max_merged_size`` as there) instead of
    one seek and read per item."""

    def __init__(
        self,
        uri: str,
        *,
        coalesce_gap: int = 1 << 20,
        max_merged_size: int = 64 << 20,
        max_in_flight: int = 16,
        **kwargs: Any,
    ):
        super().__init__(path=uri, **kwargs)
        self.fs = S3dlioFileSystem()
        self.path = self.fs.init_path(uri)
        self._ranges = {"coalesce_gap": coalesce_gap, "max_merged_size": max_merged_size, "max_in_flight": max_in_flight}

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        return S3dlioFileSystem.validate_checkpoint_id(checkpoint_id)

    def read_data(self, plan: LoadPlan, planner: LoadPlanner) -> Future[None]:
        per_file: dict[str, list[Any]] = {}
        for item in plan.items:
            per_file.setdefault(self.storage_data[item.storage_index].relative_path, []).append(item)
        for relative_path, items in per_file.items():
            items.sort(key=lambda i: self.storage_data[i.storage_index].offset)
            infos = [self.storage_data[i.storage_index] for i in items]
            views = s3dlio.get_ranges(
                self.fs.concat_path(self.path, relative_path), [(s.offset, s.length) for s in infos], **self._ranges
            )
            for item, info, view in zip(items, infos, views):
                source = self.transforms.transform_load_stream(item, info.transform_descriptors or (), _View(view))
                if item.type == LoadItemType.BYTE_IO:
                    planner.load_bytes(item, io.BytesIO(source.read(-1)))
                    continue
                seekable = source if source.seekable() else io.BytesIO(source.read(-1))
                tensor = torch.load(seekable, map_location="cpu", weights_only=True)
                tensor = _fs.narrow_tensor_by_index(tensor, item.storage_offsets, item.lengths)
                target = planner.resolve_tensor(item).detach()
                if target.size() != tensor.size():
                    raise ValueError(
                        f"{relative_path}: item {item.storage_index} has size {tuple(tensor.size())}, "
                        f"the state dict expects {tuple(target.size())}"
                    )
                target.copy_(tensor)
                planner.commit_tensor(item, target)
        fut: Future[None] = Future()
        fut.set_result(None)
        return fut
