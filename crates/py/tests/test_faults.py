"""The reliability scenarios through the Python API (issue 17): the memory S3 server behind
the fault proxy (`s3dlio-faultproxy`, driven over its stdin), reads in 256 KiB chunks one
at a time. The Rust suite (`crates/s3dlio/tests/faults.rs`) runs the same scenarios on
every backend; these prove the wheel keeps them: errors arrive as the documented classes,
naming the URI, within the documented time, and no mixed or partial object is visible."""

import os
import subprocess
import threading
import time
import uuid

import pytest

import s3dlio
from conftest import pattern, server_available

CHUNK = 256 << 10
PART = 5 << 20


class FaultProxy:
    """`s3dlio-faultproxy` in front of `upstream`; each method is one command on its stdin."""

    def __init__(self, binary, upstream):
        self.process = subprocess.Popen(
            [binary, upstream], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        first = self.process.stdout.readline().strip()
        assert first.startswith("listening on "), first
        self.endpoint = first.removeprefix("listening on ")

    def _command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def add(self, rule):
        answer = self._command(f"add {rule}")
        assert answer == "ok", answer

    def clear(self):
        assert self._command("clear") == "ok"

    def faults(self):
        """The fault applied to each request seen since the last clear (None: untouched)."""
        count = int(self._command("seen").removeprefix("seen "))
        lines = [self.process.stdout.readline().split() for _ in range(count)]
        return [None if fault == "-" else fault for _method, _target, fault in lines]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def proxy(memserver_endpoint):
    binary = os.environ.get("S3DLIO_TEST_FAULTPROXY")
    if not server_available(binary, "S3DLIO_TEST_FAULTPROXY"):
        pytest.skip("no fault proxy (S3DLIO_TEST_FAULTPROXY unset)")
    p = FaultProxy(binary, memserver_endpoint)
    s3dlio.configure(
        endpoint_url=p.endpoint,
        range_chunk_size=CHUNK,
        range_threshold=CHUNK,
        range_concurrency=1,
        retry_max_attempts=4,
        retry_initial_backoff_ms=5,
        retry_max_backoff_ms=20,
    )
    try:
        yield p
    finally:
        s3dlio.configure(
            **{name: None for name in s3dlio.configure()},
        )
        p.close()


@pytest.fixture
def base(proxy):
    bucket = f"s3://faults-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(bucket)
    return f"{bucket}/py/"


def test_a_body_cut_mid_way_is_read_again_with_exact_bytes(proxy, base):
    """Body cut after 64 KiB (single GET, first chunk, third chunk): exact bytes, one cut."""
    for name, size, skip in [("small", 100 << 10, 0), ("chunked-first", 1 << 20, 0), ("chunked-third", 1 << 20, 2)]:
        uri = base + name
        data = pattern(size, 7)
        s3dlio.put_bytes(uri, data)
        proxy.clear()
        proxy.add(f"reset-after=65536 method=GET skip={skip} times=1")
        assert bytes(s3dlio.get(uri)) == data, name
        assert proxy.faults().count("reset") == 1, name


def test_a_chunk_failing_for_good_fails_the_read_naming_the_uri_after_the_retries(proxy, base):
    """503 twice then read exact; 500 for good: S3dlioError naming the URI after 4 tries."""
    uri = base + "chunks"
    data = pattern(1 << 20, 3)
    s3dlio.put_bytes(uri, data)
    proxy.clear()
    proxy.add("status=503 method=GET skip=1 times=2")
    assert bytes(s3dlio.get(uri)) == data
    proxy.clear()
    proxy.add("status=500 method=GET skip=1")
    with pytest.raises(s3dlio.S3dlioError) as info:
        s3dlio.get(uri)
    assert uri in str(info.value)
    assert sum(f is not None for f in proxy.faults()) == 4, "one try and three retries"


def test_a_503_storm_ends_within_the_retry_budget(proxy, base):
    """Every request 503, 1.5 s budget: S3dlioError naming the URI and 503 within 2 s."""
    uri = base + "storm"
    s3dlio.put_bytes(uri, b"x")
    s3dlio.configure(retry_max_attempts=1000, retry_initial_backoff_ms=20, retry_max_backoff_ms=100,
                     retry_max_elapsed_ms=1500)
    proxy.add("status=503")
    started = time.monotonic()
    with pytest.raises(s3dlio.S3dlioError) as info:
        s3dlio.get(uri)
    took = time.monotonic() - started
    assert took < 2.0, took
    assert uri in str(info.value) and "503" in str(info.value)


@pytest.mark.parametrize("fault", ["no-answer", "stall-after=65536"])
def test_a_stalled_server_is_cut_by_the_idle_timeout_within_ten_percent(proxy, base, fault):
    """No answer / body stalled after 64 KiB, idle timeout 2 s: OperationTimeoutError in 2.0-2.2 s."""
    uri = base + "stall"
    s3dlio.put_bytes(uri, pattern(1 << 20, 5))
    s3dlio.configure(s3_idle_timeout_ms=2000, retry_max_attempts=1)
    proxy.add(f"{fault} method=GET")
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        s3dlio.get(uri)
    took = time.monotonic() - started
    assert 2.0 <= took <= 2.2, took
    assert isinstance(info.value, s3dlio.OperationTimeoutError)
    assert uri in str(info.value)


def test_an_upload_cut_off_by_a_killed_server_leaves_the_old_object(proxy, base):
    """Server dies 32 KiB into a PUT: put_bytes raises; the old object is intact."""
    uri = base + "replace-me"
    old = pattern(1000, 1)
    s3dlio.put_bytes(uri, old)
    proxy.add("drop-request-after=32768 method=PUT")
    with pytest.raises(s3dlio.S3dlioError):
        s3dlio.put_bytes(uri, pattern(1 << 20, 2))
    proxy.clear()
    assert bytes(s3dlio.get(uri)) == old


def test_a_failing_commit_raises_and_nothing_becomes_visible(proxy, base):
    """CompleteMultipartUpload answers 500: close() raises naming the URI; stat says not found."""
    uri = base + "never"
    proxy.add("status=500 method=POST query=uploadId")
    writer = s3dlio.open_writer(uri, part_size=PART)
    writer.write(pattern(3 * PART, 9))
    with pytest.raises(s3dlio.S3dlioError) as info:
        writer.close()
    assert uri in str(info.value)
    assert "status" in proxy.faults(), "the commit was hit"
    proxy.clear()
    with pytest.raises(s3dlio.NotFoundError):
        s3dlio.stat(uri)


def test_an_object_replaced_mid_read_is_an_error_not_mixed_bytes(proxy, base):
    """Object replaced while its second chunk waits: an error naming the URI ("changed"), no bytes."""
    uri = base + "moving"
    s3dlio.put_bytes(uri, pattern(1 << 20, 1))
    # The second chunk waits at the proxy while the object is replaced.
    proxy.add("latency-ms=500 method=GET skip=1 times=1")
    outcome = {}

    def read():
        try:
            outcome["bytes"] = bytes(s3dlio.get(uri))
        except s3dlio.S3dlioError as e:
            outcome["error"] = e

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.2)
    s3dlio.put_bytes(uri, pattern(1 << 20, 2))
    reader.join(timeout=30)
    assert "bytes" not in outcome, "a read across the replacement returned bytes"
    assert uri in str(outcome["error"]) and "changed" in str(outcome["error"])
