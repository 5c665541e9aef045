"""The op-log from Python: `init_op_log` records every call as one row of warp's TSV in a
zstd file, `finalize_op_log` closes it (idempotent), one log at a time, and a script that
never finalizes still leaves a readable file."""

import os
import subprocess
import sys

import pytest

import s3dlio

HEADER = "idx\tthread\top\tclient_id\tn_objects\tbytes\tendpoint\tfile\terror\tstart\tfirst_byte\tend\tduration_ns"


def rows(path):
    import zstandard as zstd
    with open(path, "rb") as f:
        text = zstd.ZstdDecompressor().stream_reader(f).read().decode()
    lines = text.splitlines()
    assert lines[0] == HEADER
    return [line.split("\t") for line in lines[1:]]


def test_calls_are_recorded_until_finalize(prefix, tmp_path):
    path = tmp_path / "ops.tsv.zst"
    assert not s3dlio.is_op_log_active() and (s3dlio.op_log_stats() == {} or not s3dlio.op_log_stats()["active"])
    s3dlio.init_op_log(str(path), client_id="py-test")
    try:
        assert s3dlio.is_op_log_active()
        with pytest.raises(RuntimeError, match="already recording"):
            s3dlio.init_op_log(str(tmp_path / "other.zst"))
        s3dlio.put_bytes(prefix + "a", b"x" * 1000)
        assert len(s3dlio.get(prefix + "a")) == 1000
        s3dlio.stat(prefix + "a")
        with pytest.raises(s3dlio.NotFoundError):
            s3dlio.get(prefix + "missing")
    finally:
        s3dlio.finalize_op_log()
    s3dlio.finalize_op_log()  # idempotent
    s3dlio.put_bytes(prefix + "b", b"y")  # not recorded
    stats = s3dlio.op_log_stats()
    assert (stats["active"], stats["written"], stats["dropped"], stats["errors"]) == (False, 4, 0, 1)
    got = [(r[2], r[5], r[7], r[8] != "") for r in rows(path)]
    assert got == [
        ("PUT", "1000", prefix + "a", False),
        ("GET", "1000", prefix + "a", False),
        ("STAT", "0", prefix + "a", False),
        ("GET", "0", prefix + "missing", True),
    ]
    assert all(r[3] == "py-test" for r in rows(path))


def test_a_script_that_never_finalizes_leaves_a_readable_log(tmp_path):
    path = tmp_path / "exit.tsv.zst"
    script = (
        "import s3dlio, sys\n"
        "s3dlio.init_op_log(sys.argv[1])\n"
        "for i in range(100): s3dlio.put_bytes(f'file://{sys.argv[2]}/o{i}', b'z')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path)], check=True, timeout=120)
    assert len(rows(path)) == 100
