"""The original s3dlio 0.10.0's streaming writers (issue 20, writer group), on every
backend: create_s3/azure/gcs/filesystem/direct_filesystem_writer, PyWriterOptions,
PyObjectWriter (write_chunk, write_owned_bytes, finalize, checksum as a real CRC32C,
compressed_bytes) and MultipartUploadWriter (reserve/commit, close's summary)."""

import gc
import math
import zlib

import numpy as np
import pytest
import zstandard

import s3dlio
from conftest import pattern

MiB = 1 << 20

# The create_* function for each backend the prefix fixture serves.
CREATORS = {
    "file": s3dlio.create_filesystem_writer,
    "s3": s3dlio.create_s3_writer,
    "azure": s3dlio.create_azure_writer,
    "gcs": s3dlio.create_gcs_writer,
}

# The backends with a create_* function (memory:// has none).
WITH_CREATOR = pytest.mark.parametrize("prefix", sorted(CREATORS), indirect=True)


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli, reflected 0x82F63B78) bit by bit: the reference the writer's
    hardware CRC is checked against."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def scheme_of(prefix: str) -> str:
    return {"az": "azure", "gs": "gcs"}.get(prefix.split("://")[0], prefix.split("://")[0])


def test_reference_crc32c_is_castagnoli():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


@WITH_CREATOR
def test_create_writer_streams_and_reports_a_crc32c(prefix):
    creator = CREATORS[scheme_of(prefix)]
    uri = f"{prefix}streamed.bin"
    parts = [pattern(3000, seed=1), bytearray(pattern(5000, seed=2)), memoryview(pattern(700, seed=3))]
    data = b"".join(bytes(p) for p in parts)
    w = creator(uri)
    for p in parts[:2]:
        assert w.write_chunk(p) is None
    w.write_owned_bytes(parts[2])
    assert w.bytes_written() == len(data)
    assert not s3dlio.exists(uri), "nothing is visible before finalize"
    assert w.finalize() == (len(data), len(data))
    assert bytes(s3dlio.get(uri)) == data
    # A real CRC32C (not the CRC32 zlib computes), also after finalize.
    assert w.checksum() == f"crc32c:{crc32c(data):08x}"
    assert w.checksum() != f"crc32c:{zlib.crc32(data):08x}"
    assert w.bytes_written() == len(data) and w.compressed_bytes() == len(data)
    with pytest.raises(RuntimeError, match="already finalized"):
        w.finalize()


@WITH_CREATOR
def test_create_writer_aborts_on_an_exception(prefix):
    creator = CREATORS[scheme_of(prefix)]
    uri = f"{prefix}aborted.bin"
    with pytest.raises(KeyError):
        with creator(uri) as w:
            w.write_chunk(b"half an object")
            raise KeyError("the producer failed")
    assert not s3dlio.exists(uri)
    with creator(uri) as w:
        w.write_chunk(b"whole")
    assert bytes(s3dlio.get(uri)) == b"whole"


def test_create_writers_check_the_scheme(tmp_path):
    with pytest.raises(s3dlio.InvalidInputError, match="open_writer"):
        s3dlio.create_s3_writer(f"file://{tmp_path}/x")
    with pytest.raises(ValueError, match="az://"):
        s3dlio.create_azure_writer("s3://b/k")
    with pytest.raises(ValueError, match="gs://"):
        s3dlio.create_gcs_writer("s3://b/k")
    with pytest.raises(ValueError, match="file://"):
        s3dlio.create_filesystem_writer("s3://b/k")
    # A plain path is a local file, as the original took it.
    w = s3dlio.create_filesystem_writer(str(tmp_path / "plain.bin"))
    w.write_chunk(b"local")
    w.finalize()
    assert (tmp_path / "plain.bin").read_bytes() == b"local"


def test_direct_filesystem_writer_writes_with_o_direct(tmp_path):
    data = pattern(3 * MiB + 123, seed=9)
    w = s3dlio.create_direct_filesystem_writer(f"direct://{tmp_path}/d.bin")
    w.write_chunk(data)
    assert w.finalize() == (len(data), len(data))
    assert (tmp_path / "d.bin").read_bytes() == data


@WITH_CREATOR
def test_zstd_compression_option(prefix):
    creator = CREATORS[scheme_of(prefix)]
    uri = f"{prefix}text.zst"
    text = b"s3dlio streams checkpoints to object storage. " * 50_000
    options = s3dlio.PyWriterOptions()
    options.with_compression("zstd", 5)  # the original's style: the setter's result unused
    w = creator(uri, options)
    w.write_chunk(text)
    written, stored = w.finalize()
    assert written == len(text) and stored < len(text) // 20
    raw = bytes(s3dlio.get(uri))
    assert len(raw) == stored == w.compressed_bytes()
    assert zstandard.ZstdDecompressor().decompress(raw, max_output_size=len(text)) == text
    # The checksum is of the bytes written, before compression: an uncompressed writer
    # given the same bytes (its CRC checked against the reference above) agrees.
    plain = creator(f"{prefix}text.bin")
    plain.write_chunk(text)
    plain.finalize()
    assert w.checksum() == plain.checksum()


def test_buffer_size_sets_the_compressed_pieces(tmp_path):
    data = pattern(MiB, seed=4)  # random: zstd cannot shrink it
    small = s3dlio.PyWriterOptions().with_compression("zstd").with_buffer_size(64 << 10)
    w = s3dlio.create_filesystem_writer(f"file://{tmp_path}/small.zst", small)
    w.write_chunk(data)
    # zstd keeps up to a block (128 KiB) of its own; the rest went on in 64 KiB pieces.
    assert w.compressed_bytes() >= MiB // 2, "64 KiB pieces went on before finalize"
    w.finalize()
    large = s3dlio.PyWriterOptions().with_compression("zstd").with_buffer_size(8 * MiB)
    w = s3dlio.create_filesystem_writer(f"file://{tmp_path}/large.zst", large)
    w.write_chunk(data)
    assert w.compressed_bytes() == 0, "an 8 MiB buffer holds the whole stream until finalize"
    _, stored = w.finalize()
    assert stored == (tmp_path / "large.zst").stat().st_size > MiB - 1
    with pytest.raises(s3dlio.InvalidInputError, match="zstd"):
        s3dlio.PyWriterOptions().with_compression("lz4")


def test_multipart_writer_reserve_commit_and_summary(prefix):
    uri = f"{prefix}multipart.bin"
    first = pattern(3 * MiB, seed=5)
    reserved = pattern(4 * MiB, seed=6)
    last = bytearray(pattern(5 * MiB + 17, seed=7))
    with s3dlio.MultipartUploadWriter.from_uri(uri, part_size=5 * MiB, max_in_flight=2) as w:
        assert w.write(first) == len(first)
        view = w.reserve(4 * MiB + 100)
        owner = view.obj
        assert isinstance(owner, s3dlio.ReservedBuffer) and not view.readonly
        view[: len(reserved)] = reserved
        w.commit(len(reserved))
        # Handed over without a copy: the view is released and the buffer is gone.
        with pytest.raises(ValueError):
            view[0]
        assert len(owner) == 0
        assert w.write(last, copy=True) == len(last)
        assert not s3dlio.exists(uri)
        info = w.close()
    data = first + reserved + bytes(last)
    assert bytes(s3dlio.get(uri)) == data
    assert info["total_bytes"] == len(data) and info["uri"] == uri
    assert info["started_at"] <= info["completed_at"]
    in_parts = scheme_of(prefix) in ("s3", "azure", "gcs")
    assert info["parts"] == (math.ceil(len(data) / (5 * MiB)) if in_parts else 1)
    etag = (info["etag"] or "").strip('"')
    if scheme_of(prefix) == "s3" and "-" in etag:
        assert etag.endswith(f"-{info['parts']}"), "S3 names the part count in a multipart ETag"


def test_reserved_memory_still_viewed_is_copied_at_commit(prefix):
    uri = f"{prefix}copied.bin"
    w = s3dlio.MultipartUploadWriter.from_uri(uri)
    view = w.reserve(100)
    owner = view.obj
    other = np.frombuffer(owner, dtype=np.uint8)  # a second export of the buffer
    other[:] = 7
    w.commit(60)
    other[:] = 9  # after commit: must not reach the upload
    assert len(owner) == 100, "a buffer still viewed stays with its views; the upload got a copy"
    w.close()
    assert bytes(s3dlio.get(uri)) == b"\x07" * 60


def test_reserve_and_commit_misuse_is_refused(local):
    w = s3dlio.MultipartUploadWriter.from_uri(f"{local}misuse.bin")
    with pytest.raises(RuntimeError, match="reserve"):
        w.commit(1)
    view = w.reserve(10)
    with pytest.raises(RuntimeError, match="commit"):
        w.reserve(10)
    with pytest.raises(ValueError, match="only 10 bytes"):
        w.commit(11)
    view[:] = b"0123456789"
    w.commit(10)  # the reservation survived the refused commit
    w.close()
    assert bytes(s3dlio.get(f"{local}misuse.bin")) == b"0123456789"


def test_multipart_writer_by_bucket_and_key_with_content_type(s3_bucket):
    bucket = s3_bucket.removeprefix("s3://").rstrip("/")
    w = s3dlio.MultipartUploadWriter(bucket, "typed/obj.json", content_type="application/json")
    w.write(b"{}")
    w.close()
    meta = s3dlio.stat(f"s3://{bucket}/typed/obj.json")
    assert meta["size"] == 2 and meta["content_type"] == "application/json"


def test_multipart_writer_never_leaves_an_upload_unasked(prefix):
    uri = f"{prefix}dropped.bin"
    with pytest.raises(s3dlio.InvalidInputError, match="journal"):
        s3dlio.MultipartUploadWriter.from_uri(uri, abort_on_drop=False)
    w = s3dlio.MultipartUploadWriter.from_uri(uri, abort_on_drop=True)
    w.write(b"never finished")
    del w
    gc.collect()
    assert not s3dlio.exists(uri)
    with pytest.raises(ZeroDivisionError):
        with s3dlio.MultipartUploadWriter.from_uri(uri) as w:
            w.write(b"x")
            1 / 0
    assert not s3dlio.exists(uri)
