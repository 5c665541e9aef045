"""s3torchconnector's classes over s3dlio: a script switches by changing its import.

```python
# from s3torchconnector import S3IterableDataset, S3MapDataset, S3Checkpoint, S3Client
from s3dlio.compat.s3torchconnector import S3IterableDataset, S3MapDataset, S3Checkpoint, S3Client
```

The constructors take s3torchconnector's arguments. ``region`` and ``endpoint`` set
s3dlio's process-wide ``region`` / ``endpoint_url`` knobs (``s3dlio.configure``), applied
again in each ``DataLoader`` worker; ``S3ClientConfig`` maps ``max_attempts`` to
``retry_max_attempts``, ``part_size`` to the ranged-read chunk and the multipart part
size, ``force_path_style`` to ``s3_force_path_style``. What s3dlio has no equivalent for
(``throughput_target_gbps`` other than its default, ``unsigned``, ``profile``, a
``reader_constructor``, a ``storage_class``, a ``delimiter`` other than ``"/"``) raises
``NotSupportedError`` rather than being ignored.

Differences: items reach ``transform`` as an ``S3Reader`` over bytes s3dlio has already
read (the iterable dataset reads ahead concurrently through the Rust loader; the map
dataset reads a ``DataLoader`` batch in one concurrent call); ``S3Client.get_object`` and
``S3Checkpoint.reader`` are lazy, version-pinned ``ObjectReader``s; writers are s3dlio's
``ObjectWriter`` (nothing visible before ``close``; a ``with`` block that raises aborts).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .._frameworks import require, shard_options

torch = require("torch", "torch")

import s3dlio  # noqa: E402

from ..errors import NotSupportedError  # noqa: E402
from ..formats import _ViewFile  # noqa: E402


@dataclass(frozen=True)
class S3ClientConfig:
    """s3torchconnector's client settings, with its defaults."""

    throughput_target_gbps: float = 10.0
    part_size: int = 8 * 1024 * 1024
    unsigned: bool = False
    force_path_style: bool = False
    max_attempts: int = 10
    profile: str | None = None


def _apply(region: str, endpoint: str | None, config: S3ClientConfig | None, reader_constructor: Any = None) -> None:
    """Sets the knobs these arguments stand for, where they differ from what is set; an
    endpoint or config not given leaves those knobs as they are."""
    given = config or S3ClientConfig()
    refused = [
        name for name, bad in [
            ("s3client_config.throughput_target_gbps", given.throughput_target_gbps != 10.0),
            ("s3client_config.unsigned", given.unsigned),
            ("s3client_config.profile", given.profile is not None),
            ("reader_constructor", reader_constructor is not None),
        ] if bad
    ]  # fmt: skip
    if refused:
        raise NotSupportedError(
            f"s3dlio.compat.s3torchconnector: {', '.join(refused)} has no s3dlio equivalent; leave it at its default"
        )
    wanted: dict[str, Any] = {"region": region}
    if endpoint is not None:
        wanted["endpoint_url"] = endpoint
    if config is not None:
        wanted.update(
            retry_max_attempts=config.max_attempts, range_chunk_size=config.part_size,
            multipart_part_size=config.part_size, s3_force_path_style=config.force_path_style or None,
        )  # fmt: skip
    s3dlio._configure_changed(**wanted)


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"s3dlio.compat.s3torchconnector: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class S3Reader(io.BufferedIOBase):
    """A read-only, seekable file of one object with its ``bucket`` and ``key``."""

    def __init__(self, bucket: str, key: str, raw: Any):
        super().__init__()
        self._bucket, self._key, self._raw = bucket, key, raw

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def key(self) -> str:
        return self._key

    def read(self, size: int | None = -1) -> bytes:
        return self._raw.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()


def _reader(uri: str, view: memoryview) -> S3Reader:
    return S3Reader(*_split(uri), _ViewFile(view))


def identity(x: Any) -> Any:
    return x


def _objects(object_uris: str | Iterable[str]) -> list[str]:
    """``from_objects``' argument: one URI or many."""
    return [object_uris] if isinstance(object_uris, str) else list(object_uris)


class S3IterableDataset(torch.utils.data.IterableDataset):
    """s3torchconnector's iterable dataset: every object (of a prefix or a list) once per
    iteration, through s3dlio's Rust loader. ``enable_sharding=True`` splits the objects
    across ``DataLoader`` workers and ``torch.distributed`` ranks, as there."""

    def __init__(self, source: str | list[str], region: str, endpoint: str | None, transform: Callable[[S3Reader], Any],
                 s3client_config: S3ClientConfig | None, enable_sharding: bool, reader_constructor: Any):  # fmt: skip
        super().__init__()
        _apply(region, endpoint, s3client_config, reader_constructor)
        self.source, self.region, self.endpoint = source, region, endpoint
        self.transform, self.config, self.enable_sharding = transform, s3client_config, enable_sharding

    @classmethod
    def from_prefix(cls, s3_uri: str, *, region: str, endpoint: str | None = None, transform: Callable[[S3Reader], Any] = identity,
                    s3client_config: S3ClientConfig | None = None, enable_sharding: bool = False,
                    reader_constructor: Any = None) -> S3IterableDataset:  # fmt: skip
        _split(s3_uri)
        return cls(s3_uri, region, endpoint, transform, s3client_config, enable_sharding, reader_constructor)

    @classmethod
    def from_objects(cls, object_uris: str | Iterable[str], *, region: str, endpoint: str | None = None,
                     transform: Callable[[S3Reader], Any] = identity, s3client_config: S3ClientConfig | None = None,
                     enable_sharding: bool = False, reader_constructor: Any = None) -> S3IterableDataset:  # fmt: skip
        return cls(_objects(object_uris), region, endpoint, transform, s3client_config, enable_sharding, reader_constructor)

    def __iter__(self) -> Iterator[Any]:
        _apply(self.region, self.endpoint, self.config)  # again in a spawned worker
        opts: dict[str, Any] = {"with_uris": True}
        if self.enable_sharding:
            from ..torch import _dist

            info = torch.utils.data.get_worker_info()
            opts = shard_options(opts, *_dist(), *((info.id, info.num_workers) if info else (0, 1)))
        for batch in s3dlio.create_loader(self.source, opts):
            for uri, view in batch:
                yield self.transform(_reader(uri, view))


class S3MapDataset(torch.utils.data.Dataset):
    """s3torchconnector's map-style dataset: ``ds[i]`` is ``transform(S3Reader)`` of the
    i-th object (a prefix is listed on first use); a ``DataLoader`` batch is read in one
    concurrent call (``__getitems__``)."""

    def __init__(self, source: str | list[str], region: str, endpoint: str | None, transform: Callable[[S3Reader], Any],
                 s3client_config: S3ClientConfig | None, reader_constructor: Any):  # fmt: skip
        super().__init__()
        _apply(region, endpoint, s3client_config, reader_constructor)
        self.source, self.region, self.endpoint = source, region, endpoint
        self.transform, self.config = transform, s3client_config
        self._dataset: Any = None

    @classmethod
    def from_prefix(cls, s3_uri: str, *, region: str, endpoint: str | None = None, transform: Callable[[S3Reader], Any] = identity,
                    s3client_config: S3ClientConfig | None = None, reader_constructor: Any = None) -> S3MapDataset:  # fmt: skip
        _split(s3_uri)
        return cls(s3_uri, region, endpoint, transform, s3client_config, reader_constructor)

    @classmethod
    def from_objects(cls, object_uris: str | Iterable[str], *, region: str, endpoint: str | None = None,
                     transform: Callable[[S3Reader], Any] = identity, s3client_config: S3ClientConfig | None = None,
                     reader_constructor: Any = None) -> S3MapDataset:  # fmt: skip
        return cls(_objects(object_uris), region, endpoint, transform, s3client_config, reader_constructor)

    def __getstate__(self) -> dict[str, Any]:
        # The Rust dataset stays in its process; a worker makes its own from the URIs.
        if self._dataset is not None:
            self.source = self._dataset.uris()
        return {**self.__dict__, "_dataset": None}

    def _reader_dataset(self) -> Any:
        if self._dataset is None:
            _apply(self.region, self.endpoint, self.config)
            self._dataset = s3dlio.create_dataset(self.source)
        return self._dataset

    def __len__(self) -> int:
        return len(self._reader_dataset())

    def __getitem__(self, index: int) -> Any:
        ds = self._reader_dataset()
        return self.transform(_reader(ds.uris()[index], ds[index]))

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        ds = self._reader_dataset()
        uris = ds.uris()
        return [self.transform(_reader(uris[i], v)) for i, v in zip(indices, ds.get_many(list(indices)), strict=True)]


class HeadObjectResult(NamedTuple):
    size: int
    last_modified: float | None
    etag: str | None
    storage_class: str | None


class ObjectInfo(NamedTuple):
    key: str
    etag: str | None
    size: int
    last_modified: float | None
    storage_class: str | None


class ListObjectResult(NamedTuple):
    object_info: list[ObjectInfo]
    common_prefixes: list[str]


class S3Client:
    """s3torchconnector's client: objects by bucket and key."""

    def __init__(self, region: str, *, endpoint: str | None = None, user_agent: Any = None,
                 s3client_config: S3ClientConfig | None = None):  # fmt: skip
        _apply(region, endpoint, s3client_config)
        self.region, self.endpoint, self.s3client_config = region, endpoint, s3client_config or S3ClientConfig()

    def get_object(self, bucket: str, key: str, *, object_info: Any = None, reader_constructor: Any = None) -> S3Reader:
        if reader_constructor is not None:
            _apply(self.region, self.endpoint, self.s3client_config, reader_constructor)
        return S3Reader(bucket, key, s3dlio.open_reader(f"s3://{bucket}/{key}", read_ahead=self.s3client_config.part_size))

    def put_object(self, bucket: str, key: str, storage_class: str | None = None) -> Any:
        if storage_class is not None:
            raise NotSupportedError("s3dlio.compat.s3torchconnector: put_object(storage_class=...) is not supported")
        return s3dlio.open_writer(f"s3://{bucket}/{key}")

    def head_object(self, bucket: str, key: str) -> HeadObjectResult:
        st = s3dlio.stat(f"s3://{bucket}/{key}")
        return HeadObjectResult(st["size"], st["last_modified"], st["etag"], st["storage_class"])

    def delete_object(self, bucket: str, key: str) -> None:
        s3dlio.delete(f"s3://{bucket}/{key}")

    def copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        s3dlio.copy(f"s3://{src_bucket}/{src_key}", f"s3://{dst_bucket}/{dst_key}")

    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "", max_keys: int = 1000) -> Iterator[ListObjectResult]:
        """Pages of at most ``max_keys`` objects (sub-prefixes with ``delimiter="/"``)."""
        if delimiter not in ("", "/"):
            raise NotSupportedError(f"s3dlio.compat.s3torchconnector: list_objects(delimiter={delimiter!r}): only '' or '/'")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        base = f"s3://{bucket}/"
        entries = s3dlio.list_stat(base + prefix, recursive=delimiter == "")
        infos = [
            ObjectInfo(e["uri"][len(base):], e["etag"], e["size"], e["last_modified"], e["storage_class"])
            for e in entries if e["type"] == "object"
        ]  # fmt: skip
        prefixes = [e["uri"][len(base) :] for e in entries if e["type"] == "prefix"]
        for start in range(0, max(len(infos), 1), max_keys):
            yield ListObjectResult(infos[start : start + max_keys], prefixes if start == 0 else [])


class S3Checkpoint:
    """s3torchconnector's checkpoint helper: ``torch.save(sd, ckpt.writer(uri))``,
    ``torch.load(ckpt.reader(uri))``."""

    def __init__(self, region: str, endpoint: str | None = None, s3client_config: S3ClientConfig | None = None):
        self.region, self.endpoint = region, endpoint
        self._client = S3Client(region, endpoint=endpoint, s3client_config=s3client_config)

    def reader(self, s3_uri: str) -> S3Reader:
        return self._client.get_object(*_split(s3_uri))

    def writer(self, s3_uri: str) -> Any:
        return self._client.put_object(*_split(s3_uri))


__all__ = [
    "S3Checkpoint", "S3Client", "S3ClientConfig", "S3IterableDataset", "S3MapDataset", "S3Reader",
    "HeadObjectResult", "ListObjectResult", "ObjectInfo",
]  # fmt: skip
