"""Resumable uploads: `open_writer(..., journal=path)` on S3 and Azure. A writer process
killed with SIGKILL mid-upload leaves its upload and journal; a new writer with the
journal sends only the parts the service lacks, and the object is byte-identical.
`list_uploads` / `abort_uploads` find and clear uploads nobody resumed."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

import s3dlio
from conftest import pattern

PART = 5 << 20

CHILD = r"""
import sys, time, s3dlio
uri, journal, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from conftest import pattern
data = pattern(size, 7)
w = s3dlio.open_writer(uri, part_size=5 << 20, max_in_flight=1, journal=journal)
w.write(data[: 3 * (5 << 20)])
print("wrote", flush=True)
time.sleep(600)
"""


@pytest.fixture(params=["s3", "azure"])
def resumable(request, memserver_endpoint):
    """A fresh prefix on a backend that resumes uploads (S3 on the memory server, which
    lists multipart uploads; Azure on Azurite)."""
    if request.param == "azure":
        return f"{request.getfixturevalue('azure_container')}/resume-{uuid.uuid4().hex[:8]}/"
    host = memserver_endpoint.split("://", 1)[1].rstrip("/")
    bucket = f"resume-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(f"s3://{host}/{bucket}")
    return f"s3://{host}/{bucket}/p/"


def records(journal):
    with open(journal) as f:
        return len(f.read().splitlines()) - 1


def test_a_killed_writer_process_is_resumed_sending_only_what_is_missing(resumable, tmp_path):
    uri, journal = resumable + "big.bin", str(tmp_path / "big.journal")
    data = pattern(4 * PART + 12_345, 7)
    tests = os.path.dirname(__file__)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, uri, journal, str(len(data)), tests], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "wrote"
        # One part in flight: two are acknowledged (journaled) before the third goes.
        deadline = time.monotonic() + 60
        while records(journal) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert records(journal) >= 2
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not s3dlio.exists(uri), "nothing is visible before the upload completes"
    if resumable.startswith("s3://"):
        assert [u["uri"] for u in s3dlio.list_uploads(resumable)] == [uri], "the killed upload is still open"

    w = s3dlio.open_writer(uri, part_size=PART, journal=journal)
    assert w.resumable
    for i in range(0, len(data), 3 << 20):
        w.write(data[i : i + (3 << 20)])
    w.close()
    reused = w.reused_bytes  # kept after close
    assert reused >= 2 * PART and reused % PART == 0, reused
    assert s3dlio.get_bytes(uri) == data, "byte-identical"
    assert not os.path.exists(journal), "a finished upload removes its journal"
    if resumable.startswith("s3://"):
        assert s3dlio.list_uploads(resumable) == []


def test_an_exception_keeps_a_journaled_upload_and_abort_discards_it(resumable, tmp_path):
    uri, journal = resumable + "kept.bin", str(tmp_path / "kept.journal")
    data = pattern(2 * PART + 10, 3)
    with pytest.raises(KeyError):
        with s3dlio.open_writer(uri, part_size=PART, max_in_flight=1, journal=journal) as w:
            w.write(data[: 2 * PART])
            raise KeyError("interrupted")
    assert os.path.exists(journal) and not s3dlio.exists(uri)
    with s3dlio.open_writer(uri, part_size=PART, journal=journal) as w:
        w.write(data)
        assert w.reused_bytes >= PART
    assert s3dlio.get_bytes(uri) == data

    w = s3dlio.open_writer(uri + ".2", part_size=PART, max_in_flight=1, journal=journal)
    w.write(data[: 2 * PART])
    w.abort()
    assert not os.path.exists(journal), "abort removes the journal"
    if resumable.startswith("s3://"):
        assert s3dlio.list_uploads(resumable) == [], "abort aborts the upload"


def test_stale_uploads_are_listed_and_aborted_by_age(memserver_endpoint, tmp_path):
    host = memserver_endpoint.split("://", 1)[1].rstrip("/")
    bucket = f"stale-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(f"s3://{host}/{bucket}")
    prefix = f"s3://{host}/{bucket}/"
    for name in ("a", "b"):
        w = s3dlio.open_writer(prefix + name, part_size=PART, max_in_flight=1, journal=str(tmp_path / name))
        w.write(pattern(PART + 1, 1))
        del w  # dropped unclosed: a journaled upload stays
    listed = s3dlio.list_uploads(prefix)
    assert sorted(u["uri"] for u in listed) == [prefix + "a", prefix + "b"]
    assert all(u["upload_id"] and time.time() - u["initiated"] < 600 for u in listed)
    assert s3dlio.abort_uploads(prefix, older_than=3600) == [], "an upload seconds old is not stale"
    assert len(s3dlio.abort_uploads(prefix)) == 2
    assert s3dlio.list_uploads(prefix) == []
    with pytest.raises(ValueError, match="older_than"):
        s3dlio.abort_uploads(prefix, older_than=-1)


def test_backends_that_cannot_resume_refuse_a_journal(prefix, tmp_path):
    if prefix.startswith(("s3://", "az://")):
        pytest.skip("resumes (the tests above)")
    with pytest.raises(s3dlio.NotSupportedError, match="journal"):
        s3dlio.open_writer(prefix + "x", journal=str(tmp_path / "j"))
    with pytest.raises(s3dlio.NotSupportedError):
        s3dlio.list_uploads(prefix)
