"""Ray Data (a local cluster of several worker processes) and Hugging Face ``datasets``
reading through ``s3dlio.fsspec`` on file:// and the memory S3 server: every row once
(issue 21). Skipped where the library is not installed."""

import itertools
import os

import pytest

import s3dlio

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
pytest.importorskip("fsspec", reason="fsspec is not installed")

import pyarrow.dataset as pads  # noqa: E402
from pyarrow.fs import FSSpecHandler, PyFileSystem  # noqa: E402

from s3dlio.fsspec import S3dlioFileSystem  # noqa: E402

ROWS = 1200
_sets = itertools.count()


@pytest.fixture(params=["file", "s3"])
def data(request, tmp_path_factory):
    """A hive-partitioned Parquet set of ROWS rows and 24 binary objects, written through
    our filesystem: (filesystem, its pyarrow wrapper, parquet root, binary root)."""
    if request.param == "file":
        fs, root = S3dlioFileSystem(scheme="file"), str(tmp_path_factory.mktemp("eco"))
    else:
        fs = S3dlioFileSystem(scheme="s3")
        root = fs._strip_protocol(request.getfixturevalue("memserver_bucket")) + f"/set{next(_sets)}"
    arrow_fs = PyFileSystem(FSSpecHandler(fs))
    table = pa.table({"id": list(range(ROWS)), "part": [i % 4 for i in range(ROWS)]})
    pads.write_dataset(
        table, f"{root}/set", format="parquet", partitioning=["part"], partitioning_flavor="hive",
        filesystem=arrow_fs, max_rows_per_file=100, max_rows_per_group=100,
    )  # fmt: skip
    for i in range(24):
        fs.pipe_file(f"{root}/bin/{i:02}", bytes([i]) * (i + 1))
    return fs, arrow_fs, f"{root}/set", f"{root}/bin"


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed")
    pytest.importorskip("ray.data", reason="Ray Data is not installed")
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_data_reads_every_row_once(ray, data):
    _, arrow_fs, parquet_root, binary_root = data
    rows = ray.data.read_parquet(parquet_root, filesystem=arrow_fs)
    assert sorted(r["id"] for r in rows.iter_rows()) == list(range(ROWS))
    assert rows.count() == ROWS
    # Read tasks ran in Ray's worker processes, not in this one.
    pids = ray.data.read_parquet(parquet_root, filesystem=arrow_fs).map_batches(
        lambda b: {"pid": [os.getpid()] * len(b["id"])}, batch_format="numpy"
    )
    assert os.getpid() not in {r["pid"] for r in pids.iter_rows()}
    blobs = ray.data.read_binary_files(binary_root, filesystem=arrow_fs, include_paths=True).take_all()
    assert sorted(len(r["bytes"]) for r in blobs) == list(range(1, 25))
    assert all(r["bytes"] == bytes([r["bytes"][0]]) * len(r["bytes"]) for r in blobs)


def test_hugging_face_datasets_loads_parquet(data, tmp_path):
    hf = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed")
    fs, _, parquet_root, _ = data
    ds = hf.load_dataset(
        "parquet",
        data_files={"train": f"s3dlio://{parquet_root}/**/*.parquet"},
        storage_options={"scheme": fs.scheme},
        split="train",
        cache_dir=str(tmp_path / "hf"),
    )
    assert len(ds) == ROWS and sorted(ds["id"]) == list(range(ROWS))
