"""Core error kinds map to exception classes that name the URI and the cause."""

import os
import socket
import time

import pytest

import s3dlio


def test_missing_object_is_file_not_found(prefix):
    uri = prefix + "missing"
    with pytest.raises(FileNotFoundError) as info:
        s3dlio.get(uri)
    assert isinstance(info.value, s3dlio.NotFoundError)
    assert isinstance(info.value, s3dlio.S3dlioError)
    assert uri in str(info.value)
    with pytest.raises(s3dlio.NotFoundError):
        s3dlio.stat(uri)


def test_bad_uris_and_ranges_are_value_errors(local):
    with pytest.raises(ValueError, match="nope://") as info:
        s3dlio.get("nope://bucket/key")
    assert isinstance(info.value, s3dlio.InvalidInputError)
    assert "file://" in str(info.value)  # the message lists what this build serves
    s3dlio.put_bytes(local + "short", b"12345")
    with pytest.raises(ValueError, match="short"):
        s3dlio.get_range(local + "short", 10)


def test_an_object_uri_without_a_key_is_invalid_input_on_every_scheme(prefix):
    scheme_end = prefix.index("://") + 3
    root = prefix[: prefix.index("/", scheme_end) + 1]  # scheme://bucket/ (file: the first directory)
    with pytest.raises(ValueError) as info:
        s3dlio.get(root)
    assert isinstance(info.value, s3dlio.InvalidInputError), info.value
    assert root in str(info.value)


@pytest.mark.parametrize("key", ["nul\0byte", "k" * 2048], ids=["nul", "2KiB"])
def test_nul_bytes_and_overlong_keys_are_invalid_input_and_write_nothing(prefix, key):
    uri = prefix + key
    if prefix.startswith("memory://") and "\0" not in key:
        # Memory keys have no length limit (no service or file system behind them).
        s3dlio.put_bytes(uri, b"x")
        assert bytes(s3dlio.get(uri)) == b"x"
        return
    # S3, Azure and GCS refuse names over 1024 before any request (their emulators would
    # take them); a file system refuses a 2 KiB path segment.
    for call in (lambda: s3dlio.put_bytes(uri, b"x"), lambda: s3dlio.get(uri)):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, s3dlio.InvalidInputError), info.value
        assert prefix in str(info.value)
    assert s3dlio.list(prefix, recursive=True) == []


def test_permission_denied_is_permission_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f").write_bytes(b"x")
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            pytest.skip("root reads any file; permission checks need an unprivileged user")
        with pytest.raises(PermissionError):
            s3dlio.get(f"file://{locked}/f")
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("backend, secret", [("s3", "AWS_SECRET_ACCESS_KEY"), ("azure", "AZURE_STORAGE_KEY")])
def test_wrong_credentials_are_permission_errors(backend, secret, request, monkeypatch):
    if backend == "s3":
        base = f"s3://{request.getfixturevalue('s3_bucket')}"
    else:
        base = request.getfixturevalue("azure_container")
    monkeypatch.setenv(secret, "d3Jvbmcgc2VjcmV0")  # base64, as an Azure key must be
    s3dlio.configure()  # rebuild the clients from the changed environment
    try:
        with pytest.raises(PermissionError) as info:
            s3dlio.get(f"{base}/anything")
        assert isinstance(info.value, s3dlio.AccessDeniedError)
    finally:
        monkeypatch.undo()
        s3dlio.configure()
    s3dlio.put_bytes(f"{base}/after", b"ok")


def test_timeouts_are_timeout_errors(monkeypatch):
    # A server that accepts connections and never answers: the operation timeout fires.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    for var, value in [("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s"), ("AWS_REGION", "us-east-1")]:
        monkeypatch.setenv(var, value)
    s3dlio.configure(endpoint_url=f"http://127.0.0.1:{port}", s3_operation_timeout_ms=300, retry_max_attempts=1)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            s3dlio.get("s3://bucket/key")
        assert isinstance(info.value, s3dlio.OperationTimeoutError)
        assert "s3://bucket/key" in str(info.value) and "timed out" in str(info.value)
        assert time.monotonic() - started < 20
    finally:
        listener.close()
        monkeypatch.undo()
        s3dlio.configure(endpoint_url=None, s3_operation_timeout_ms=None, retry_max_attempts=None)


def test_every_error_class_is_exported_and_rooted():
    for name in ["NotFoundError", "AccessDeniedError", "InvalidInputError", "AlreadyExistsError",
                 "OperationTimeoutError", "NotSupportedError", "ChecksumMismatchError"]:
        assert issubclass(getattr(s3dlio, name), s3dlio.S3dlioError)
