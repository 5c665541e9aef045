"""The original s3dlio 0.10.0's data-format helpers: NPZ reads (``read_npz``) and TFRecord
indexes in NVIDIA DALI's text format (one ``"<offset> <size>"`` line per record, the size
counting the record's 16 bytes of framing).

``read_npz`` returns arrays that share memory with the object (no copy) when the member is
stored, as ``numpy.savez`` and ``generate_npz_bytes`` write it; a compressed member
(``numpy.savez_compressed``) is inflated into a new array.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from typing import Any

from . import _s3dlio
from .errors import InvalidInputError, NotFoundError


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a memoryview, so ``zipfile`` reads its directory
    without a copy of the whole object."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        chunk = self._view[self._pos : self._pos + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def _stored_array(np: Any, view: memoryview, info: zipfile.ZipInfo) -> Any:
    """The ``.npy`` member at ``info`` as an array over ``view`` itself."""
    local = view[info.header_offset : info.header_offset + 30]
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    member = view[start : start + info.file_size]
    header = io.BytesIO(member[: min(len(member), 1 << 16)])
    major, _ = np.lib.format.read_magic(header)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(header)
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(member, dtype=dtype, count=count, offset=header.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def read_npz(uri: str, array_name: str | None = None) -> Any:
    """The array ``array_name`` (with or without ``.npy``; None: the first) of the NPZ
    object at ``uri``, as a numpy array: read-only and sharing the object's memory for a
    stored member, a new array for a compressed one."""
    import numpy as np

    view = _s3dlio.get(uri)
    try:
        archive = zipfile.ZipFile(_ViewFile(view))
    except zipfile.BadZipFile as e:
        raise InvalidInputError(f"read_npz {uri}: not an NPZ (ZIP) archive: {e}") from e
    with archive:
        members = [i for i in archive.infolist() if i.filename.endswith(".npy")]
        if not members:
            raise InvalidInputError(f"read_npz {uri}: the archive holds no .npy member")
        if array_name is None:
            info = members[0]
        else:
            wanted = array_name if array_name.endswith(".npy") else f"{array_name}.npy"
            found = [i for i in members if i.filename == wanted]
            if not found:
                names = [i.filename[:-4] for i in members]
                raise NotFoundError(f"read_npz {uri}: no array {array_name!r}; it holds {names}")
            info = found[0]
        if info.compress_type == zipfile.ZIP_STORED:
            return _stored_array(np, view, info)
        return np.load(io.BytesIO(archive.read(info)), allow_pickle=False)


def get_tfrecord_index_entries(data: Any) -> list[tuple[int, int]]:
    """``(offset, size)`` of each record in TFRecord bytes (any buffer); ``size`` counts
    the length, its CRC, the payload and the payload's CRC. CRCs are not checked (as
    DALI's ``tfrecord2idx``); a truncated record raises ``InvalidInputError``."""
    view = memoryview(data).cast("B")
    entries: list[tuple[int, int]] = []
    offset = 0
    while offset < len(view):
        if offset + 12 > len(view):
            raise InvalidInputError(f"TFRecord data ends inside the header of the record at offset {offset}")
        (length,) = struct.unpack_from("<Q", view, offset)
        size = 16 + length
        if offset + size > len(view):
            raise InvalidInputError(
                f"TFRecord record at offset {offset} claims {length} bytes; only {len(view) - offset - 16} remain"
            )
        entries.append((offset, size))
        offset += size
    return entries


def index_tfrecord_bytes(data: Any) -> str:
    """The DALI index text of TFRecord bytes: one ``"<offset> <size>"`` line per record."""
    return "".join(f"{offset} {size}\n" for offset, size in get_tfrecord_index_entries(data))


def create_tfrecord_index(tfrecord_path: str | os.PathLike[str], index_path: str | os.PathLike[str] | None = None) -> int:
    """Writes the DALI index of a local TFRecord file to ``index_path`` (default: the file's
    path plus ``.idx``); returns the number of records."""
    total = os.path.getsize(tfrecord_path)
    lines = []
    with open(tfrecord_path, "rb") as f:
        # Only each record's 8-byte length is read; payloads are seeked over.
        while (offset := f.tell()) < total:
            header = f.read(8)
            if len(header) < 8:
                raise InvalidInputError(f"{tfrecord_path}: ends inside the header of the record at offset {offset}")
            size = 16 + struct.unpack("<Q", header)[0]
            if offset + size > total:
                raise InvalidInputError(f"{tfrecord_path}: the record at offset {offset} runs past the end")
            lines.append(f"{offset} {size}\n")
            f.seek(offset + size)
    with open(index_path if index_path is not None else f"{os.fspath(tfrecord_path)}.idx", "w") as out:
        out.writelines(lines)
    return len(lines)


def read_tfrecord_index(index_path: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """The ``(offset, size)`` entries of a DALI index file."""
    entries = []
    with open(index_path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not all(x.isdigit() for x in fields):
                raise InvalidInputError(f"{index_path}:{number}: expected '<offset> <size>', got {line.strip()!r}")
            entries.append((int(fields[0]), int(fields[1])))
    return entries


__all__ = [
    "create_tfrecord_index",
    "get_tfrecord_index_entries",
    "index_tfrecord_bytes",
    "read_npz",
    "read_tfrecord_index",
]
