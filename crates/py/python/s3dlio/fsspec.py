"""An fsspec filesystem over every s3dlio backend, so the Python data stack (pyarrow,
pandas, Hugging Face ``datasets``, Ray Data, Dask, Zarr) reads and writes through
s3dlio's one read path.

```python
import fsspec
fs = fsspec.filesystem("s3dlio", scheme="s3")    # paths are "bucket/key"
fs.pipe_file("bucket/a.txt", b"hello")
assert fs.cat_file("bucket/a.txt", start=1, end=3) == b"el"
```

``scheme`` picks the backend (``s3``, ``gs``, ``az``, ``file``, ``direct``, ``memory``);
a path is the URI without ``scheme://`` (``bucket/key``; ``/abs/path`` for files), and a
full URI of the same scheme is accepted too. ``register("s3", "gs")`` makes fsspec use
this class for those URL schemes (``pandas.read_parquet("s3://...")``).
``pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))`` gives pyarrow a filesystem.
``S3dlioAsyncFileSystem`` is the async form (Zarr, Dask, ``async`` code).

Listings carry each object's size, ETag and time from the listing itself (no request
per object). Object stores have no directories: a directory is a prefix that has
objects under it, ``mkdir`` / ``makedirs`` create nothing there (``file://`` makes real
directories), and zero-byte ``prefix/`` marker objects are not listed as files.

Files: ``open(path, "rb")`` is s3dlio's ``ObjectReader`` (ranged reads of
``block_size`` ahead, pinned to the version seen at open, ``readinto`` straight into
the caller's buffer); ``open(path, "wb")`` is s3dlio's ``ObjectWriter``: nothing is
visible until ``close``, and ``with fs.open(...)`` aborts the upload when the block
raises. ``fsspec.open(...)`` wraps it in fsspec's ``OpenFile``, whose ``__exit__``
closes (commits) on error too: use ``fs.open`` where a failed write must leave nothing.
``cat_file`` returns ``bytes`` (fsspec's contract; one copy): ``s3dlio.get`` is the
zero-copy read.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ._frameworks import require

fsspec = require("fsspec", "fsspec")

from fsspec.asyn import AsyncFileSystem  # noqa: E402
from fsspec.spec import AbstractFileSystem  # noqa: E402

import s3dlio  # noqa: E402

from .errors import NotFoundError  # noqa: E402

SCHEMES = ("s3", "gs", "az", "file", "direct", "memory")
# Schemes whose paths are local (absolute) paths and whose directories are real.
_LOCAL = ("file", "direct")
_COPY_CHUNK = 8 << 20


class S3dlioFileSystem(AbstractFileSystem):
    """fsspec's ``AbstractFileSystem`` over s3dlio (see the module doc)."""

    protocol = ("s3dlio",)
    root_marker = ""
    # The scheme when none is given: `register` makes one class per URL scheme.
    default_scheme = "s3"

    def __init__(self, scheme: str | None = None, read_ahead: int = 8 << 20, max_in_flight: int = 64, **kwargs: Any):
        scheme = scheme or self.default_scheme
        if scheme not in SCHEMES:
            raise ValueError(f"s3dlio.fsspec: scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
        if read_ahead < 1 or max_in_flight < 1:
            raise ValueError("s3dlio.fsspec: read_ahead and max_in_flight must be at least 1")
        super().__init__(**kwargs)
        self.scheme = scheme
        self.read_ahead = read_ahead
        self.max_in_flight = max_in_flight

    # --- paths -------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        head, sep, tail = path.partition("://")
        if sep and (head in SCHEMES or head in cls._protocols()):
            path = tail
        return path.rstrip("/") or path[:1]

    @classmethod
    def _protocols(cls) -> tuple[str, ...]:
        return (cls.protocol,) if isinstance(cls.protocol, str) else tuple(cls.protocol)

    def _uri(self, path: str) -> str:
        head, sep, _ = str(path).partition("://")
        if sep and head in SCHEMES and head != self.scheme:
            raise ValueError(f"s3dlio.fsspec: {path!r} is not a {self.scheme}:// path of this filesystem")
        return f"{self.scheme}://{self._strip_protocol(path)}"

    def _path(self, uri: str) -> str:
        return self._strip_protocol(uri)

    def _is_container(self, path: str) -> bool:
        return self.scheme not in _LOCAL and "/" not in self._strip_protocol(path)

    # --- metadata ----------------------------------------------------------------------

    def _entry(self, d: dict[str, Any]) -> dict[str, Any]:
        if d["type"] == "prefix":
            return {"name": self._path(d["uri"]), "size": 0, "type": "directory"}
        return {
            "name": self._path(d["uri"]), "size": d["size"], "type": "file", "uri": d["uri"],
            "ETag": d["etag"], "LastModified": d["last_modified"], "version_id": d["version_id"],
        }  # fmt: skip

    def _listing(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = self._uri(path).rstrip("/") + "/"
        try:
            entries = s3dlio.list_stat(prefix, recursive=recursive)
        except NotFoundError:
            return []
        # A zero-byte "prefix/" marker object is a directory, not a file.
        return [self._entry(d) for d in entries if not (d["type"] == "object" and d["uri"].endswith("/"))]

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if path in ("", "/") and self.scheme not in _LOCAL:
            entries = [
                {"name": self._path(u), "size": 0, "type": "directory"}
                for u in s3dlio.list_containers(f"{self.scheme}://")
            ]  # fmt: skip
        else:
            entries = self._listing(path, recursive=False)
            if not entries:
                info = self.info(path)
                entries = [info] if info["type"] == "file" else []
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not self._is_container(path):
            try:
                st = s3dlio.stat(self._uri(path))
                return self._entry({**st, "type": "object"})
            except (NotFoundError, IsADirectoryError):
                pass
        if self._is_container(path) or self._listing(path, recursive=False) or self._is_local_dir(path):
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(f"s3dlio.fsspec info: {self._uri(path)}: no such object or prefix")

    def _is_local_dir(self, path: str) -> bool:
        return self.scheme in _LOCAL and os.path.isdir(path)

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kwargs: Any) -> Any:
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        path = self._strip_protocol(path)
        found = {e["name"]: e for e in self._listing(path, recursive=True)}
        if withdirs:
            for name in list(found):
                parent = self._parent(name)
                while parent.startswith(path + "/") and parent not in found:
                    found[parent] = {"name": parent, "size": 0, "type": "directory"}
                    parent = self._parent(parent)
        if not found:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = None
            if info and info["type"] == "file":
                found = {path: info}
        ordered = dict(sorted(found.items()))
        return ordered if detail else list(ordered)

    def modified(self, path: str) -> datetime:
        stamp = self.info(path).get("LastModified")
        if stamp is None:
            raise NotImplementedError(f"s3dlio.fsspec: {self._uri(path)} has no modification time")
        return datetime.fromtimestamp(stamp, tz=timezone.utc)

    def ukey(self, path: str) -> str:
        info = self.info(path)
        return info.get("ETag") or super().ukey(path)

    # --- reads -------------------------------------------------------------------------

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        uri = self._uri(path)
        if start is None and end is None:
            return s3dlio.get_bytes(uri)
        span = _span(start, end, self.info(path)["size"] if _from_end(start, end) else None)
        return b"" if span is None else s3dlio.get_range_bytes(uri, *span)

    def cat(self, path: Any, recursive: bool = False, on_error: str = "raise", **kwargs: Any) -> Any:
        """As fsspec's, with many objects read in one concurrent call (``max_in_flight``
        at a time); a recursive ``cat`` reads the files under the prefixes, not the
        prefixes themselves."""
        paths = self.expand_path(path, recursive=recursive)
        if len(paths) == 1 and not isinstance(path, list) and paths[0] == self._strip_protocol(path):
            return self.cat_file(paths[0], **kwargs)
        if on_error != "raise" or kwargs:
            return super().cat(path, recursive=recursive, on_error=on_error, **kwargs)
        if recursive:
            roots = path if isinstance(path, list) else [path]
            files = {f for root in roots for f in self.find(root)}
            paths = [p for p in paths if p in files]
        got = s3dlio.get_many([self._uri(p) for p in paths], self.max_in_flight)
        return {p: bytes(view) for p, (_, view) in zip(paths, got, strict=True)}

    def cat_ranges(
        self,
        paths: Sequence[str],
        starts: Sequence[int] | int,
        ends: Sequence[int] | int,
        max_gap: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[Any]:
        out: list[Any] = [None] * len(paths)
        for p, (idx, ranges) in _ranges_by_path(paths, starts, ends).items():
            # One get_ranges per object: nearby ranges share a request, all read one version.
            try:
                views = s3dlio.get_ranges(self._uri(p), ranges, max_in_flight=self.max_in_flight)
                for i, v in zip(idx, views, strict=True):
                    out[i] = bytes(v)
            except Exception as e:
                if on_error != "return":
                    raise
                for i in idx:
                    out[i] = e
        return out

    def get_file(self, rpath: str, lpath: Any, callback: Any = None, outfile: Any = None, **kwargs: Any) -> None:
        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        with s3dlio.open_reader(self._uri(rpath), read_ahead=self.read_ahead) as src:
            if outfile is not None:
                shutil.copyfileobj(src, outfile, _COPY_CHUNK)
                return
            with open(lpath, "wb") as dst:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)

    # --- writes ------------------------------------------------------------------------

    def pipe_file(self, path: str, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        if mode == "create" and self.exists(path):
            raise FileExistsError(f"s3dlio.fsspec pipe_file: {self._uri(path)} exists")
        s3dlio.put_bytes(self._uri(path), value)

    def put_file(self, lpath: Any, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        if mode == "create" and self.exists(rpath):
            raise FileExistsError(f"s3dlio.fsspec put_file: {self._uri(rpath)} exists")
        with open(lpath, "rb") as src, s3dlio.open_writer(self._uri(rpath)) as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        s3dlio.copy(self._uri(path1), self._uri(path2))

    def rm_file(self, path: str) -> None:
        s3dlio.delete(self._uri(path))

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        if isinstance(path, list) or maxdepth is not None or _has_magic(path):
            return super().rm(path, recursive=recursive, maxdepth=maxdepth)
        path = self._strip_protocol(path)
        info = self.info(path)  # FileNotFoundError when there is nothing
        if info["type"] == "file":
            self.rm_file(path)
        elif not recursive:
            raise IsADirectoryError(f"s3dlio.fsspec rm: {self._uri(path)} is a prefix: pass recursive=True")
        else:
            s3dlio.delete(self._uri(path).rstrip("/") + "/", recursive=True)
            if self._is_local_dir(path):
                shutil.rmtree(path)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        if self.scheme in _LOCAL:
            path = self._strip_protocol(path)
            os.makedirs(path, exist_ok=True) if create_parents else os.mkdir(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        if self.scheme in _LOCAL:
            os.makedirs(self._strip_protocol(path), exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        if self._is_local_dir(self._strip_protocol(path)):
            os.rmdir(self._strip_protocol(path))

    # --- files -------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not autocommit:
            raise NotImplementedError("s3dlio.fsspec: autocommit=False (transactions) is not supported")
        uri = self._uri(path)
        if mode == "rb":
            return s3dlio.open_reader(uri, read_ahead=block_size if block_size not in (None, "default") else self.read_ahead)
        if mode in ("wb", "xb"):
            if mode == "xb" and self.exists(path):
                raise FileExistsError(f"s3dlio.fsspec open: {uri} exists")
            return s3dlio.open_writer(uri)
        raise NotImplementedError(f"s3dlio.fsspec open: mode {mode!r} (objects cannot be appended to); use rb, wb or xb")


class S3dlioAsyncFileSystem(AsyncFileSystem):
    """The async form (fsspec's ``AsyncFileSystem``, for Zarr, Dask and ``async`` code):
    reads, writes, range and batch reads, deletes and copies await s3dlio's ``*_async``
    calls on its runtime; listings, metadata and local-file transfers run
    ``S3dlioFileSystem``'s calls in a worker thread (they release the GIL), so nothing
    blocks the event loop. Arguments as ``S3dlioFileSystem``'s, plus fsspec's
    ``asynchronous`` (True by default here) and ``loop``."""

    protocol = ("s3dlio",)
    root_marker = ""

    def __init__(self, scheme: str | None = None, read_ahead: int = 8 << 20, max_in_flight: int = 64,
                 asynchronous: bool = True, loop: Any = None, batch_size: int | None = None, **kwargs: Any):  # fmt: skip
        super().__init__(asynchronous=asynchronous, loop=loop, batch_size=batch_size, **kwargs)
        self.sync_fs = S3dlioFileSystem(scheme, read_ahead, max_in_flight, skip_instance_cache=True)
        self.scheme = self.sync_fs.scheme

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return S3dlioFileSystem._strip_protocol(path)

    def _uri(self, path: str) -> str:
        return self.sync_fs._uri(path)

    async def _in_thread(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.sync_fs, method), *args, **kwargs)

    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        uri = self._uri(path)
        if start is None and end is None:
            return await s3dlio.get_bytes_async(uri)
        span = _span(start, end, (await self._info(path))["size"] if _from_end(start, end) else None)
        return b"" if span is None else await s3dlio.get_range_bytes_async(uri, *span)

    async def _cat_ranges(self, paths: Sequence[str], starts: Any, ends: Any, max_gap: int | None = None,
                          batch_size: int | None = None, on_error: str = "return", **kwargs: Any) -> list[Any]:  # fmt: skip
        groups = _ranges_by_path(paths, starts, ends)

        async def one(p: str, ranges: list[tuple[int, int]]) -> list[memoryview]:
            return await s3dlio.get_ranges_async(self._uri(p), ranges, max_in_flight=self.sync_fs.max_in_flight)

        results = await asyncio.gather(*(one(p, r) for p, (_, r) in groups.items()), return_exceptions=True)
        out: list[Any] = [None] * len(paths)
        for (idx, _), got in zip(groups.values(), results, strict=True):
            if isinstance(got, BaseException) and on_error != "return":
                raise got
            for k, i in enumerate(idx):
                out[i] = got if isinstance(got, BaseException) else bytes(got[k])
        return out

    async def _pipe_file(self, path: str, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        if mode == "create" and await self._exists(path):
            raise FileExistsError(f"s3dlio.fsspec pipe_file: {self._uri(path)} exists")
        await s3dlio.put_bytes_async(self._uri(path), value)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        await s3dlio.delete_async(self._uri(path))

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        await s3dlio.copy_async(self._uri(path1), self._uri(path2))

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return await self._in_thread("info", path)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        return await self._in_thread("ls", path, detail=detail)

    async def _find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any) -> Any:
        return await self._in_thread("find", path, maxdepth=maxdepth, withdirs=withdirs, detail=kwargs.get("detail", False))

    async def _rm(self, path: Any, recursive: bool = False, batch_size: int | None = None, maxdepth: int | None = None,
                  **kwargs: Any) -> None:  # fmt: skip
        await self._in_thread("rm", path, recursive=recursive, maxdepth=maxdepth)

    async def _put_file(self, lpath: Any, rpath: str, mode: str = "overwrite", **kwargs: Any) -> None:
        await self._in_thread("put_file", lpath, rpath, mode=mode)

    async def _get_file(self, rpath: str, lpath: Any, **kwargs: Any) -> None:
        await self._in_thread("get_file", rpath, lpath)

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        self.sync_fs.mkdir(path, create_parents=create_parents)

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.sync_fs.makedirs(path, exist_ok=exist_ok)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        return self.sync_fs._open(path, mode, **kwargs)


def _from_end(start: int | None, end: int | None) -> bool:
    """Whether a range counts from the object's end (so its size is needed)."""
    return (start or 0) < 0 or (end is not None and end < 0)


def _span(start: int | None, end: int | None, size: int | None) -> tuple[int, int | None] | None:
    """fsspec's ``start``/``end`` (negative: from the end, given ``size``) as
    ``(offset, length or None to the end)``; None when the range is empty."""
    start = start or 0
    if size is not None:
        start = max(size + start, 0) if start < 0 else start
        end = size + end if end is not None and end < 0 else end
    if end is not None and end <= start:
        return None
    return start, None if end is None else end - start


def _ranges_by_path(
    paths: Sequence[str], starts: Sequence[int] | int, ends: Sequence[int] | int
) -> dict[str, tuple[list[int], list[tuple[int, int]]]]:
    """``cat_ranges``' arguments grouped by object: each path's positions in the output
    and its ``(offset, length)`` ranges."""
    n = len(paths)
    starts = [starts] * n if isinstance(starts, int) else list(starts)
    ends = [ends] * n if isinstance(ends, int) else list(ends)
    if not len(starts) == len(ends) == n:
        raise ValueError("s3dlio.fsspec cat_ranges: paths, starts and ends differ in length")
    groups: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
    for i, p in enumerate(paths):
        idx, ranges = groups.setdefault(p, ([], []))
        idx.append(i)
        ranges.append((starts[i], max(ends[i] - starts[i], 0)))
    return groups


def _has_magic(path: Any) -> bool:
    """Whether ``path`` is a glob (fsspec expands those itself)."""
    return any(c in str(path) for c in "*?[")


def register(*protocols: str) -> None:
    """Makes fsspec use ``S3dlioFileSystem`` for URLs of these schemes (``"s3"``, ``"gs"``,
    ``"az"``, ...), replacing s3fs / gcsfs / ... for this process."""
    for protocol in protocols:
        if protocol not in SCHEMES:
            raise ValueError(f"s3dlio.fsspec.register: {protocol!r}: expected one of {', '.join(SCHEMES)}")
        attrs = {"protocol": (protocol,), "default_scheme": protocol}
        fsspec.register_implementation(protocol, type(f"S3dlio_{protocol}_FileSystem", (S3dlioFileSystem,), attrs), clobber=True)


fsspec.register_implementation("s3dlio", S3dlioFileSystem, clobber=True)

__all__ = ["S3dlioAsyncFileSystem", "S3dlioFileSystem", "register", "SCHEMES"]
