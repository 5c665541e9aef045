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
Loading reads only the byte ranges each rank needs, per file in offset order: small
reads share read-ahead windows, and tensor data goes straight from the responses into
the tensors ``torch.load`` allocates.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from ._frameworks import require

torch = require("torch", "torch")

import torch.distributed.checkpoint.filesystem as _fs  # noqa: E402
from torch.distributed.checkpoint.planner import LoadPlan, LoadPlanner  # noqa: E402
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


class StorageReader(_fs.FileSystemReader):
    """``FileSystemReader`` over s3dlio: each file is opened once with ``open_reader``
    and its items are read in offset order. Small reads (zip headers, pickled objects)
    come from one window of ``read_ahead`` bytes, so neighbouring items share a request;
    a tensor's data goes straight from the response into the tensor ``torch.load``
    allocates (the read path's concurrent ranged GETs, no intermediate buffer)."""

    def __init__(self, uri: str, *, read_ahead: int = 1 << 20, **kwargs: Any):
        super().__init__(path=uri, **kwargs)
        self.fs = S3dlioFileSystem(read_ahead=read_ahead)
        self.path = self.fs.init_path(uri)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike) -> bool:
        return S3dlioFileSystem.validate_checkpoint_id(checkpoint_id)

    def read_data(self, plan: LoadPlan, planner: LoadPlanner) -> Future[None]:
        # Offset order per file: each read continues where the window already is.
        def key(item: Any) -> tuple[str, int]:
            info = self.storage_data[item.storage_index]
            return (str(info.relative_path), info.offset)

        return super().read_data(dataclasses.replace(plan, items=sorted(plan.items, key=key)), planner)
