"""s3dlio as a storage type of the DLIO benchmark (``dlio_benchmark``).

Two ways in, as in the original s3dlio:

- **A new storage type** (recommended): ``install_s3dlio_storage(dlio_path)`` copies
  ``s3dlio_storage.py`` into ``dlio_benchmark/storage/`` and registers
  ``StorageType.S3DLIO`` in ``common/enumerations.py`` and ``storage/storage_factory.py``
  (the original printed those two edits for you to make); a DLIO configuration then says
  ``storage: {storage_type: s3dlio, storage_root: s3://bucket/prefix}``.
  ``generate_patch(dlio_path)`` writes the same change as a unified diff instead, for
  ``patch -p1`` in the checkout.
- **A drop-in**: ``install_dropin_replacement(dlio_path)`` replaces
  ``storage/s3_torch_storage.py`` (kept as ``.original.bak``) with one whose
  ``S3PyTorchConnectorStorage`` is served by s3dlio.

``dlio_path`` is the ``dlio_benchmark`` package directory or a checkout that holds it;
``None`` means the one Python imports. Importing this module does not import DLIO; the
storage class itself is ``s3dlio.integrations.dlio.storage`` (see its doc for the options).
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import shutil
from pathlib import Path

__all__ = [
    "generate_patch",
    "get_s3dlio_storage_content",
    "get_s3dlio_storage_path",
    "get_storage_file_content",
    "get_storage_file_path",
    "install_dropin_replacement",
    "install_s3dlio_storage",
    "install_to_dlio",
]

_HERE = Path(__file__).parent
_ENUMS = "common/enumerations.py"
_FACTORY = "storage/storage_factory.py"
_STORAGE = "storage/s3dlio_storage.py"
_DROPIN = "storage/s3_torch_storage.py"


def get_s3dlio_storage_path() -> str:
    """The file ``install_s3dlio_storage`` copies into DLIO."""
    return str(_HERE / "s3dlio_storage.py")


def get_s3dlio_storage_content() -> str:
    return Path(get_s3dlio_storage_path()).read_text()


def get_storage_file_path() -> str:
    """The file ``install_dropin_replacement`` puts in place of ``s3_torch_storage.py``."""
    return str(_HERE / "s3_torch_storage.py")


def get_storage_file_content() -> str:
    return Path(get_storage_file_path()).read_text()


def _package(dlio_path: str | Path | None) -> Path:
    """The ``dlio_benchmark`` package directory ``dlio_path`` stands for."""
    if dlio_path is None:
        spec = importlib.util.find_spec("dlio_benchmark")
        if spec is None or not spec.submodule_search_locations:
            raise ValueError("dlio_benchmark is not importable here; pass dlio_path (its package directory or checkout)")
        return Path(next(iter(spec.submodule_search_locations)))
    path = Path(dlio_path)
    for candidate in (path, path / "dlio_benchmark"):
        if (candidate / _FACTORY).is_file() and (candidate / _ENUMS).is_file():
            return candidate
    raise ValueError(
        f"{path}: not a dlio_benchmark package or checkout (no {_FACTORY} and {_ENUMS} in it or in its dlio_benchmark/)"
    )


def _edit(text: str, pattern: str, name: str, place: str, lines: list[str]) -> str:
    """``text`` with ``lines`` (indented like the line ``pattern`` matches, ending as its
    lines end) put ``place`` ("before" or "after") that line."""
    found = re.search(pattern + r"\r?$", text, flags=re.MULTILINE)
    if found is None:
        raise ValueError(
            f"{name}: no line matching {pattern!r}; this DLIO version differs from the ones "
            "s3dlio knows, so register StorageType.S3DLIO by hand (see generate_patch's doc)"
        )
    indent = re.match(r"[ \t]*", found.group(0)).group(0)
    eol = "\r\n" if "\r\n" in text else "\n"
    block = "".join(f"{indent}{line}{eol}" for line in lines)
    at = found.start() if place == "before" else found.end() + 1
    return text[:at] + block + text[at:]


def _read(path: Path) -> str:
    # newline="": DLIO's sources have CRLF line ends, which a patch must keep.
    with open(path, newline="") as f:
        return f.read()


def _write(path: Path, text: str) -> None:
    with open(path, "w", newline="") as f:
        f.write(text)


def _registered(package: Path) -> dict[str, tuple[str, str]]:
    """Each DLIO file the new storage type changes: (old text, new text), relative path as key."""
    enums = _read(package / _ENUMS)
    factory = _read(package / _FACTORY)
    new_enums, new_factory = enums, factory
    if "S3DLIO" not in enums:
        new_enums = _edit(enums, r"^[ \t]+S3 = ['\"]s3['\"][ \t]*", _ENUMS, "after", ["S3DLIO = 's3dlio'"])
    if "S3DLIO" not in factory:
        new_factory = _edit(
            factory,
            r"^[ \t]+elif storage_type == StorageType\.S3:[ \t]*",
            _FACTORY,
            "before",
            [
                "elif storage_type == StorageType.S3DLIO:",
                "    from dlio_benchmark.storage.s3dlio_storage import S3dlioStorage",
                "    return S3dlioStorage(namespace, framework)",
            ],
        )
    storage = package / _STORAGE
    old_storage = _read(storage) if storage.exists() else ""
    return {
        _ENUMS: (enums, new_enums),
        _FACTORY: (factory, new_factory),
        _STORAGE: (old_storage, get_s3dlio_storage_content()),
    }


def install_s3dlio_storage(dlio_path: str | Path | None = None) -> str:
    """Registers ``storage_type: s3dlio`` in the DLIO package at ``dlio_path``; running it
    again changes nothing. Returns the path of the storage file written."""
    package = _package(dlio_path)
    for name, (old, new) in _registered(package).items():
        if old != new:
            _write(package / name, new)
    return str(package / _STORAGE)


def generate_patch(dlio_path: str | Path | None = None, output_file: str | Path | None = None) -> str:
    """Writes what ``install_s3dlio_storage`` would change as a unified diff (default
    ``./dlio_s3dlio.patch``), paths relative to the checkout (``patch -p1`` there);
    returns its path."""
    package = _package(dlio_path)
    diff: list[str] = []
    for name, (old, new) in _registered(package).items():
        path = f"{package.name}/{name}"
        source = f"a/{path}" if old else "/dev/null"
        diff += difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), source, f"b/{path}"
        )
    output = Path(output_file or "dlio_s3dlio.patch")
    output.write_text("".join(diff))
    return str(output)


def install_dropin_replacement(dlio_path: str | Path | None = None) -> str:
    """Puts s3dlio's ``S3PyTorchConnectorStorage`` in place of DLIO's
    ``storage/s3_torch_storage.py``, keeping the first original as
    ``s3_torch_storage.py.original.bak``. Returns the path written."""
    target = _package(dlio_path) / _DROPIN
    backup = target.with_name(target.name + ".original.bak")
    if target.exists() and not backup.exists() and target.read_text() != get_storage_file_content():
        shutil.copy2(target, backup)
    shutil.copyfile(get_storage_file_path(), target)
    return str(target)


# The original's older name for the drop-in.
install_to_dlio = install_dropin_replacement
