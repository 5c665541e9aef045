"""DLIO benchmark storage over s3dlio: one ``DataStorage`` for every scheme s3dlio serves.

Importing this module needs ``dlio_benchmark`` (``DataStorage`` is the base class);
``s3dlio.integrations.dlio`` registers it in a DLIO tree without that.

- ``storage_root`` is a URI (``s3://bucket/prefix``, ``az://account/container``,
  ``gs://bucket``, ``file:///data``, ``direct:///data``); without a scheme it is an S3
  ``bucket/prefix``, as DLIO's own S3 storage reads it. A name DLIO passes is under the
  root (a leading ``/`` is dropped); a full URI is used as written.
- ``storage_options`` are s3dlio knobs (``s3dlio.KNOBS``: ``endpoint_url``, ``region``,
  ``access_key_id``, ``secret_access_key``, ``session_token``, ``multipart_part_size``,
  ...), set with ``s3dlio.configure`` for the process, never written into ``os.environ``;
  an unknown key raises ``ValueError``.
- ``endpoint_uris`` pick one endpoint per process: by rank (``round_robin``, the default,
  or ``use_mpi_endpoint_distribution: true``) or seeded by rank (``random``). Per-request
  balancing is ``s3dlio.create_multi_endpoint_store``'s; ``least_connections`` is refused
  here rather than quietly turned into round-robin.
- Reads return read-only zero-copy ``memoryview``s; writes are whole objects (a write at
  an offset raises ``NotSupportedError``), atomic, multipart above the part size.
"""

from __future__ import annotations

import fnmatch
import io
import os
import random
import shutil
from typing import Any

import s3dlio
from dlio_benchmark.common.constants import MODULE_STORAGE
from dlio_benchmark.common.enumerations import MetadataType, NamespaceType
from dlio_benchmark.storage.storage_handler import DataStorage, Namespace
from dlio_benchmark.utils.utility import DLIOMPI, Profile

from ...errors import InvalidInputError, NotSupportedError

dlp = Profile(MODULE_STORAGE)

# What a full URI starts with; any other name is under the storage root.
_SCHEMES = ("s3://", "az://", "gs://", "gcs://", "file://", "direct://", "memory://")
# Schemes whose directories are real, so one exists while it is empty.
_LOCAL = ("file://", "direct://")
# Where MPI launchers put a process's rank, for a process DLIO has not set up MPI in.
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID")


def _rank() -> int | None:
    try:
        return DLIOMPI.get_instance().rank()
    except Exception:  # DLIO raises a bare Exception when its MPI state is not set up.
        pass
    for var in _RANK_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return None


def _endpoint(uris: list[str], strategy: str, by_rank: bool) -> str:
    """The endpoint of ``uris`` this process uses."""
    rank = _rank()
    if by_rank and rank is None:
        raise ValueError(
            "DLIO storage: use_mpi_endpoint_distribution needs the process's rank; run under "
            f"mpirun/srun (or set one of {', '.join(_RANK_VARS)})"
        )
    seed = os.getpid() if rank is None else rank
    if by_rank or strategy == "round_robin":
        return uris[seed % len(uris)]
    if strategy == "random":
        return random.Random(seed).choice(uris)
    if strategy == "least_connections":
        raise NotSupportedError(
            "DLIO storage: load_balance_strategy least_connections: this storage uses one "
            "endpoint per process; use round_robin or random (s3dlio.create_multi_endpoint_store "
            "balances each request)"
        )
    raise ValueError(f"DLIO storage: load_balance_strategy {strategy!r}: expected round_robin or random")


def _configure(args: Any) -> None:
    """Sets the knobs DLIO's configuration asks for (``storage_options``, ``endpoint_uris``)."""
    knobs = dict(getattr(args, "storage_options", None) or {})
    uris = list(getattr(args, "endpoint_uris", None) or [])
    if uris:
        if "endpoint_url" in knobs:
            raise ValueError("DLIO storage: endpoint_uris and storage_options.endpoint_url both name the endpoint; give one")
        by_rank = bool(getattr(args, "use_mpi_endpoint_distribution", False))
        strategy = getattr(args, "load_balance_strategy", None) or "round_robin"
        knobs["endpoint_url"] = _endpoint(uris, strategy, by_rank)
    try:
        s3dlio._configure_changed(**knobs)
    except ValueError as e:
        raise ValueError(f"DLIO storage.storage_options: {e}") from e


def _is_object(uri: str) -> bool:
    try:
        return s3dlio.exists(uri)
    except InvalidInputError:  # a bucket or container: no key, so no object
        return False


def _matches(names: list[str], patterns: list[str]) -> bool:
    """Whether a key's ``/``-separated names match a glob's, ``*`` staying within one name."""
    return len(names) == len(patterns) and all(fnmatch.fnmatchcase(n, p) for n, p in zip(names, patterns))


def _payload(data: Any) -> Any:
    """What ``put_bytes`` is given for DLIO's ``data``: a buffer as it is, a ``BytesIO``'s own
    memory (no copy), a text as UTF-8, a stream's bytes read once."""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, io.BytesIO):
        return data.getbuffer()
    if hasattr(data, "read") and not isinstance(data, (bytes, bytearray, memoryview)):
        if hasattr(data, "seek"):
            data.seek(0)
        return data.read()
    return data


class S3dlioStorage(DataStorage):
    """DLIO's ``storage_type: s3dlio`` (see the module doc)."""

    @dlp.log_init
    def __init__(self, namespace: str, framework: Any = None):
        super().__init__(framework)
        root = str(namespace)
        if not root.startswith(_SCHEMES):
            root = "s3://" + root.lstrip("/")
        while root.endswith("/") and not root.endswith("://"):
            root = root[:-1]
        self._root = root
        self._local = root.startswith(_LOCAL)
        self.namespace = Namespace(root, NamespaceType.HIERARCHICAL if self._local else NamespaceType.FLAT)
        _configure(self._args)

    def _uri(self, id: Any) -> str:
        name = str(id)
        if name.startswith(_SCHEMES):
            return name
        name = name.lstrip("/")
        return f"{self._root}/{name}" if name else self._root

    def _prefix(self, id: Any) -> str:
        uri = self._uri(id)
        return uri if uri.endswith("/") else uri + "/"

    def _path(self, uri: str) -> str:
        """The local path of a file:// or direct:// URI."""
        return uri.split("://", 1)[1]

    @dlp.log
    def get_uri(self, id: Any) -> str:
        return self._uri(id)

    @dlp.log
    def create_namespace(self, exist_ok: bool = False) -> bool:
        """Makes the root directory on file:// and direct://; a bucket or container is made
        by its owner (as DLIO's S3 storage assumes)."""
        if self._local:
            return self.create_node("", exist_ok)
        return True

    @dlp.log
    def get_namespace(self) -> Any:
        return self.get_node("")

    @dlp.log
    def create_node(self, id: Any, exist_ok: bool = False) -> bool:
        """A directory on file:// and direct://, a ``prefix/`` marker object elsewhere."""
        if not exist_ok and self.get_node(id) is not None:
            raise FileExistsError(f"{self._uri(id)}: exists (create_node with exist_ok=False)")
        s3dlio.mkdir(self._prefix(id))
        return True

    @dlp.log
    def get_node(self, id: Any = "") -> Any:
        """``MetadataType.FILE`` for an object, ``DIRECTORY`` for a prefix with objects under
        it (or a local directory), ``None`` for neither; other errors raise."""
        uri = self._uri(id)
        if self._local:
            path = self._path(uri)
            if os.path.isdir(path):
                return MetadataType.DIRECTORY
            return MetadataType.FILE if os.path.exists(path) else None
        if _is_object(uri):
            return MetadataType.FILE
        return MetadataType.DIRECTORY if s3dlio.list(self._prefix(id)) else None

    @dlp.log
    def walk_node(self, id: Any, use_pattern: bool = False) -> list[str]:
        """The names directly under ``id`` (sub-prefixes without their ``/``); with
        ``use_pattern``, the URIs that match the glob ``id`` (``*`` within one name)."""
        if use_pattern:
            return self._glob(self._uri(id))
        prefix = self._prefix(id)
        names = (uri[len(prefix) :].rstrip("/") for uri in s3dlio.list(prefix))
        return [n for n in names if n]

    def _glob(self, pattern: str) -> list[str]:
        scheme, rest = pattern.split("://", 1)
        parts = rest.split("/")
        wild = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), None)
        if wild is None:
            return [pattern] if s3dlio.exists(pattern) else []
        base = f"{scheme}://{'/'.join(parts[:wild])}/"
        want = parts[wild:]
        return [uri for uri in s3dlio.list(base, recursive=True) if _matches(uri[len(base) :].split("/"), want)]

    @dlp.log
    def delete_node(self, id: Any) -> bool:
        """Deletes an object, or a prefix and everything under it; ``False`` when there was
        neither."""
        kind = self.get_node(id)
        if kind is None:
            return False
        if kind == MetadataType.FILE:
            s3dlio.delete(self._uri(id))
        elif self._local:
            shutil.rmtree(self._path(self._uri(id)))
        else:
            s3dlio.delete(self._prefix(id), recursive=True)
        return True

    @dlp.log
    def put_data(self, id: Any, data: Any, offset: int | None = None, length: int | None = None) -> None:
        """Stores ``data`` (a buffer, ``BytesIO``, text or readable stream) as the object ``id``."""
        uri = self._uri(id)
        if offset is not None or length is not None:
            raise NotSupportedError(f"put_data {uri}: objects are written whole; offset and length are not supported")
        payload = _payload(data)
        try:
            s3dlio.put_bytes(uri, payload)
        finally:
            # A BytesIO cannot grow or close while its buffer is exported.
            if isinstance(payload, memoryview) and payload is not data:
                payload.release()

    @dlp.log
    def get_data(self, id: Any, data: Any = None, offset: int | None = None, length: int | None = None) -> memoryview:
        """The object ``id``, or ``length`` bytes from ``offset`` (either alone: from 0, to the
        end), as a read-only zero-copy ``memoryview``. ``data`` is unused: DLIO's file
        storage passes it and reads into a new object too."""
        uri = self._uri(id)
        if offset is None and length is None:
            return s3dlio.get(uri)
        return s3dlio.get_range(uri, offset or 0, length)

    @dlp.log
    def isfile(self, id: Any) -> bool:
        return self.get_node(id) == MetadataType.FILE

    def get_basename(self, id: Any) -> str:
        return os.path.basename(str(id).rstrip("/"))


class S3PyTorchConnectorStorage(S3dlioStorage):
    """The class DLIO's ``storage/s3_torch_storage.py`` defines, served by s3dlio on every
    scheme: ``install_dropin_replacement`` puts it in place of s3torchconnector's."""
