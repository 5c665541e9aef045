"""Fixtures for the wheel's tests. They run against the *installed* wheel (never the
source folder) and against every backend the local servers provide."""

import itertools
import os
import sys
import sysconfig
import uuid

import pytest

_endpoint = os.environ.get("S3DLIO_TEST_S3_ENDPOINT")
if _endpoint:
    # The S3 store reads its endpoint from the environment when it is first built.
    os.environ["AWS_ENDPOINT_URL"] = _endpoint

import s3dlio  # noqa: E402

_counter = itertools.count()
# Azurite: `cargo xtask emulators up` exports the endpoint, account and key the Azure
# store reads (AZURE_STORAGE_ENDPOINT, AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY).
_azure = os.environ.get("S3DLIO_TEST_AZURE_ENDPOINT")
# fake-gcs-server: the GCS store reads STORAGE_EMULATOR_HOST (exported with this).
_gcs = os.environ.get("S3DLIO_TEST_GCS_ENDPOINT")


def pytest_report_header(config):
    return (
        f"s3dlio {s3dlio.__version__} from {os.path.dirname(s3dlio.__file__)}; "
        f"S3 endpoint: {_endpoint}; Azure endpoint: {_azure}; GCS endpoint: {_gcs}"
    )


def pytest_sessionstart(session):
    site = sysconfig.get_paths()["purelib"]
    if not s3dlio.__file__.startswith(site):
        pytest.exit(f"s3dlio was imported from {s3dlio.__file__}, not the installed wheel in {site}", 2)


def server_available(value, variable):
    if value:
        return True
    if os.environ.get("S3DLIO_REQUIRE_EMULATORS") == "1":
        pytest.fail(f"S3DLIO_REQUIRE_EMULATORS=1 but {variable} is unset: run `cargo xtask emulators up`")
    return False


def s3_available():
    return server_available(_endpoint, "S3DLIO_TEST_S3_ENDPOINT")


@pytest.fixture(scope="session")
def s3_bucket():
    if not s3_available():
        pytest.skip("no S3 server (S3DLIO_TEST_S3_ENDPOINT unset)")
    name = f"py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(f"s3://{name}")
    yield name
    s3dlio.delete(f"s3://{name}/", recursive=True)
    s3dlio.delete_bucket(f"s3://{name}")


@pytest.fixture(scope="session")
def memserver_endpoint():
    """The memory-backed S3 server (s3dlio-memserver): fast enough to show timing bugs
    s3s-fs hides. Same keys as the S3 server."""
    endpoint = os.environ.get("S3DLIO_TEST_S3MEM_ENDPOINT")
    if not server_available(endpoint, "S3DLIO_TEST_S3MEM_ENDPOINT"):
        pytest.skip("no memory S3 server (S3DLIO_TEST_S3MEM_ENDPOINT unset)")
    return endpoint


@pytest.fixture(scope="session")
def memserver_bucket(memserver_endpoint):
    """A bucket on the memory S3 server, as a URI that names the endpoint
    (`s3://127.0.0.1:PORT/bucket`), so it needs no `configure`."""
    bucket = f"s3://{memserver_endpoint.split('://', 1)[1]}/py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(bucket)
    yield bucket
    s3dlio.delete(f"{bucket}/", recursive=True)
    s3dlio.delete_bucket(bucket)


@pytest.fixture(scope="session")
def azure_container():
    """`az://account/container` on Azurite."""
    if not server_available(_azure, "S3DLIO_TEST_AZURE_ENDPOINT"):
        pytest.skip("no Azure server (S3DLIO_TEST_AZURE_ENDPOINT unset)")
    account = os.environ.get("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
    uri = f"az://{account}/py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(uri)
    yield uri
    s3dlio.delete(f"{uri}/", recursive=True)
    s3dlio.delete_bucket(uri)


@pytest.fixture(scope="session")
def gcs_bucket():
    """`gs://bucket` on fake-gcs-server."""
    if not server_available(_gcs, "S3DLIO_TEST_GCS_ENDPOINT"):
        pytest.skip("no GCS server (S3DLIO_TEST_GCS_ENDPOINT unset)")
    uri = f"gs://py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    s3dlio.create_bucket(uri)
    yield uri
    s3dlio.delete(f"{uri}/", recursive=True)
    s3dlio.delete_bucket(uri)


@pytest.fixture(scope="session")
def memory_bucket():
    name = f"py-{os.getpid()}"
    s3dlio.create_bucket(f"memory://{name}")
    return name


def fresh_prefix(request, tmp_path, s3_bucket_fixture="s3_bucket"):
    """A fresh, empty prefix URI (ending in /) on backend `request.param`; S3 in the
    bucket (a URI, or a name on the default endpoint) of fixture `s3_bucket_fixture`."""
    n = next(_counter)
    if request.param == "file":
        return f"file://{tmp_path}/p{n}/"
    if request.param == "memory":
        return f"memory://{request.getfixturevalue('memory_bucket')}/p{n}/"
    if request.param == "azure":
        return f"{request.getfixturevalue('azure_container')}/p{n}/"
    if request.param == "gcs":
        return f"{request.getfixturevalue('gcs_bucket')}/p{n}/"
    bucket = request.getfixturevalue(s3_bucket_fixture)
    return f"{bucket if '://' in bucket else 's3://' + bucket}/p{n}/"


@pytest.fixture(params=["file", "memory", "s3", "azure", "gcs"])
def prefix(request, tmp_path):
    """A fresh, empty prefix URI (ending in /) on each backend."""
    return fresh_prefix(request, tmp_path)


def shared_prefix(where, request, tmp_path):
    """A fresh prefix on a backend several processes can share (every scheme but
    memory://, which lives in one process)."""
    n = next(_counter)
    if where == "file":
        return f"file://{tmp_path}/shared{n}/"
    if where == "s3":
        return f"s3://{request.getfixturevalue('s3_bucket')}/shared{n}/"
    if where == "azure":
        return f"{request.getfixturevalue('azure_container')}/shared{n}/"
    return f"{request.getfixturevalue('gcs_bucket')}/shared{n}/"


# Ranks per backend in the multi-process tests: world sizes 2 to 4, every shared backend.
WORLDS = [("file", 2), ("s3", 3), ("azure", 4), ("gcs", 4)]


@pytest.fixture
def local(tmp_path):
    """A fresh file:// prefix."""
    return f"file://{tmp_path}/"


def pattern(size, seed=0):
    """Deterministic, non-repeating test bytes."""
    import random

    return random.Random(seed).randbytes(size)


