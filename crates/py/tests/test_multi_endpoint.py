"""`create_multi_endpoint_store*` (issue 19): the original's multi-endpoint store over
s3dlio's multi-endpoint layer — three memory-server gateways to one store, and file://
mount points that do not share their data."""

import asyncio
import os
import subprocess
import uuid

import pytest

import s3dlio
from conftest import server_available

KEY, SECRET = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def gateways():
    """Three gateways of one `s3dlio-memserver` process (one store), as endpoint URLs."""
    binary = os.environ.get("S3DLIO_TEST_MEMSERVER")
    if not server_available(binary, "S3DLIO_TEST_MEMSERVER"):
        pytest.skip("no memory server binary (S3DLIO_TEST_MEMSERVER unset)")
    p = subprocess.Popen(
        [binary, "--port", "0", "--gateways", "3", "--access-key", KEY, "--secret-key", SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = [p.stdout.readline().strip().removeprefix("listening on ") for _ in range(3)]
        assert all(u.startswith("http://127.0.0.1:") for u in urls), urls
        yield urls
    finally:
        p.terminate()
        p.wait(timeout=10)


def run(coro):
    return asyncio.run(coro)


def test_requests_spread_evenly_and_stats_count_them(gateways):
    store = s3dlio.create_multi_endpoint_store(gateways)
    assert store.endpoint_count() == 3 and store.strategy() == "round_robin"
    assert store.endpoints() == [u.replace("http://", "s3://") + "/" for u in gateways]
    bucket = f"s3://multi-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(bucket.replace("s3://", f"s3://{gateways[0].removeprefix('http://')}/"))
    body = os.urandom(64 << 10)

    async def work():
        await asyncio.gather(*(store.put(f"{bucket}/k{i:03}", body) for i in range(60)))
        got = await asyncio.gather(*(store.get(f"{bucket}/k{i:03}") for i in range(60)))
        assert all(bytes(g) == body for g in got)
        assert isinstance(got[0], memoryview) and got[0].readonly
        part = await store.get_range(f"{bucket}/k000", 10, 5)
        assert bytes(part) == body[10:15]
        listed = await store.list(f"{bucket}/")
        assert listed == [f"{bucket}/k{i:03}" for i in range(60)]
        await store.delete(f"{bucket}/k000")
        assert len(await store.list(f"{bucket}/")) == 59

    run(work())
    stats = store.get_endpoint_stats()
    assert [s["uri"] for s in stats] == store.endpoints()
    # 60 puts, 60 gets, a range, a listing, a delete and a listing: 124 requests in turn.
    assert sorted(s["total_requests"] for s in stats) == [41, 41, 42], stats
    assert [s["bytes_written"] for s in stats] == [20 * len(body)] * 3
    assert all(s["error_count"] == 0 and s["active_requests"] == 0 and s["available"] for s in stats)
    total = store.get_total_stats()
    assert total["total_requests"] == 124 and total["bytes_read"] == 60 * len(body) + 5
    assert total["latency_p99_us"] >= total["latency_p50_us"] > 0


def test_pinned_calls_go_to_the_endpoint_named(gateways):
    store = s3dlio.create_multi_endpoint_store(gateways, strategy="least_connections")
    bucket = f"s3://pinned-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(bucket.replace("s3://", f"s3://{gateways[0].removeprefix('http://')}/"))

    async def work():
        await store.put_to_endpoint(2, f"{bucket}/x", b"pinned")
        assert bytes(await store.get_from_endpoint(1, f"{bucket}/x")) == b"pinned"
        assert bytes(await store.get_range_from_endpoint(0, f"{bucket}/x", 1, 3)) == b"inn"
        assert await store.list_from_endpoint(0, f"{bucket}/") == [f"{bucket}/x"]
        await store.delete_from_endpoint(1, f"{bucket}/x")

    run(work())
    assert [s["total_requests"] for s in store.get_endpoint_stats()] == [2, 2, 1]
    with pytest.raises(IndexError, match="out of range"):
        store.get_from_endpoint(3, f"{bucket}/x")


def test_file_endpoints_that_share_nothing_take_put_all_and_list_all(tmp_path):
    dirs = [tmp_path / f"mnt{i}" for i in range(2)]
    for d in dirs:
        d.mkdir()
    path = tmp_path / "endpoints.txt"
    path.write_text("# two mount points\n" + "\n".join(f"file://{d}/" for d in dirs) + "\n")
    store = s3dlio.create_multi_endpoint_store_from_file(str(path))
    first = f"file://{dirs[0]}/"

    async def work():
        await store.put_all_endpoints(first + "shared.bin", bytearray(b"everywhere"))
        both = await store.list_all_endpoints(first)
        assert both == {f"file://{d}/": [f"file://{d}/shared.bin"] for d in dirs}
        # A URI under the first mount point is balanced over both, named as written.
        got = [bytes(await store.get(first + "shared.bin")) for _ in range(4)]
        assert got == [b"everywhere"] * 4

    run(work())
    assert [s["total_requests"] for s in store.get_endpoint_stats()] == [4, 4]
    templated = s3dlio.create_multi_endpoint_store_from_template(f"file://{tmp_path}/mnt{{0...1}}")
    assert templated.endpoints() == [f"file://{d}/" for d in dirs]


def test_environment_and_bad_input(monkeypatch, gateways):
    monkeypatch.setenv("S3_ENDPOINT_URIS", ",".join(gateways))
    monkeypatch.setenv("S3_LOAD_BALANCE_STRATEGY", "least_connections")
    store = s3dlio.create_multi_endpoint_store_from_env()
    assert store.endpoint_count() == 3 and store.strategy() == "least_connections"
    assert s3dlio.create_multi_endpoint_store_from_env(strategy="round_robin").strategy() == "round_robin"
    monkeypatch.delenv("S3_ENDPOINT_URIS")
    with pytest.raises(ValueError, match="S3_ENDPOINT_URIS"):
        s3dlio.create_multi_endpoint_store_from_env()
    with pytest.raises(ValueError, match="least_connections"):
        s3dlio.create_multi_endpoint_store(gateways, strategy="fastest")
    with pytest.raises(ValueError, match="one service"):
        s3dlio.create_multi_endpoint_store(["s3://h:1/b/", "file:///tmp/x/"])
    with pytest.raises(ValueError, match=r"\{1\.\.\.8\}"):
        s3dlio.create_multi_endpoint_store_from_template("http://10.0.0.{1..4}:9000")
    store = s3dlio.create_multi_endpoint_store(gateways)

    async def outside():
        await store.get("s3://h:9/b/k")

    with pytest.raises(ValueError, match="none of this store's endpoints"):
        run(outside())
