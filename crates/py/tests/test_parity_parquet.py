"""The original s3dlio 0.10.0's Parquet surface (issue 20): generated files, row groups by
byte range through the footer cache (raw or Arrow IPC), the row index, the row-group
stream loader, `put(object_type=...)` files their readers parse, and the GCS knobs."""

import io

import numpy as np
import pytest

import s3dlio
from conftest import fresh_prefix

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(params=["file", "memory", "s3", "azure", "gcs"])
def prefix(request, tmp_path):
    """Every backend, S3 on the memory S3 server: s3s-fs answers a suffix range longer
    than the object (how a footer is read without a HEAD) with a 500 (docs/backends.md)."""
    return fresh_prefix(request, tmp_path, "memserver_bucket")


def table_of(view):
    return pq.read_table(io.BytesIO(bytes(view)))


def test_generated_files_hold_the_generator_bytes_in_their_schema():
    view = s3dlio.generate_parquet_bytes(3, 100, 4, seed=5)
    assert isinstance(view, memoryview) and view.readonly
    f = pq.ParquetFile(io.BytesIO(bytes(view)))
    assert f.metadata.num_row_groups == 4 and f.metadata.num_rows == 400
    assert f.schema_arrow.names == ["col0", "col1", "col2"]
    assert all(t == pa.float32() for t in f.schema_arrow.types)
    # Row group by row group, column by column: one run of generate_data's bytes.
    data = bytes(s3dlio.generate_data(3 * 100 * 4 * 4, seed=5))
    first = f.read_row_group(0).column("col0").to_numpy()
    assert first.tobytes() == data[:400]
    second = f.read_row_group(1).column("col2").to_numpy()
    assert second.tobytes() == data[(3 + 2) * 400 : (3 + 3) * 400]

    schema = s3dlio.generate_parquet_bytes_schema([("t5", 32), ("label", 1)], 8, 2, seed=1)
    t = table_of(schema)
    assert t.schema.field("t5").type == pa.list_(pa.field("element", pa.float32(), nullable=False), 32)
    assert t.schema.field("label").type == pa.float32() and t.num_rows == 16
    assert s3dlio.generate_parquet_bytes(1, 10, 1, seed=1) != s3dlio.generate_parquet_bytes(1, 10, 1, seed=2)
    with pytest.raises(ValueError, match="at least one column"):
        s3dlio.generate_parquet_bytes(0, 10, 1)
    with pytest.raises(ValueError, match="width 0"):
        s3dlio.generate_parquet_bytes_schema([("x", 0)], 10, 1)


def test_a_file_written_to_a_uri_is_the_one_generated_in_memory(prefix):
    s3dlio.generate_and_write_parquet(f"{prefix}a.parquet", 2, 1000, 3, seed=9)
    assert bytes(s3dlio.get(f"{prefix}a.parquet")) == bytes(s3dlio.generate_parquet_bytes(2, 1000, 3, seed=9))
    columns = [("emb", 16), ("y", 1)]
    s3dlio.generate_and_write_parquet_schema_streaming(f"{prefix}b.parquet", columns, 50, 2)
    assert bytes(s3dlio.get(f"{prefix}b.parquet")) == bytes(s3dlio.generate_parquet_bytes_schema(columns, 50, 2))
    with pytest.raises(ValueError, match="num_row_groups"):
        s3dlio.generate_and_write_parquet(f"{prefix}c.parquet", 2, 1000, 0)
    assert not s3dlio.exists(f"{prefix}c.parquet")


def chunk_range(meta, rg, col):
    """Where pyarrow says column chunk `col` of row group `rg` lies."""
    c = meta.row_group(rg).column(col)
    start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
    return start, start + c.total_compressed_size


def test_row_groups_by_byte_range_raw_and_arrow(prefix):
    # A pyarrow-written file (snappy pages, dictionaries, statistics) as well as ours.
    table = pa.table({"a": np.arange(3000, dtype=np.int64), "b": [f"s{i % 7}" for i in range(3000)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=1000, compression="snappy")
    uri = f"{prefix}pa.parquet"
    s3dlio.put_bytes(uri, buf.getvalue())
    meta = pq.ParquetFile(io.BytesIO(buf.getvalue())).metadata
    assert s3dlio.parquet_rg_row_offsets(uri) == [0, 1000, 2000, 3000]
    for rg in range(3):
        got = pa.ipc.open_stream(s3dlio.parquet_get_rg(uri, rg)).read_all()
        assert got.equals(table.slice(rg * 1000, 1000))
        only_b = pa.ipc.open_stream(s3dlio.parquet_get_rg(uri, rg, col_indices=[1])).read_all()
        assert only_b.column_names == ["b"] and only_b.column("b").equals(table.slice(rg * 1000, 1000).column("b"))
        raw = s3dlio.parquet_get_rg(uri, rg, decode="raw")
        start, _ = chunk_range(meta, rg, 0)
        _, end = chunk_range(meta, rg, 1)
        assert bytes(raw) == buf.getvalue()[start:end]
    with pytest.raises(s3dlio.InvalidInputError, match="the file has 3"):
        s3dlio.parquet_get_rg(uri, 3)
    with pytest.raises(ValueError, match="decode"):
        s3dlio.parquet_get_rg(uri, 0, decode="numpy")
    # Codecs this build does not decode fail by name; their raw bytes still read.
    gz = io.BytesIO()
    pq.write_table(table, gz, row_group_size=1000, compression="gzip")
    s3dlio.put_bytes(f"{prefix}gz.parquet", gz.getvalue())
    with pytest.raises(s3dlio.InvalidInputError, match="(?i)gzip|flate"):
        s3dlio.parquet_get_rg(f"{prefix}gz.parquet", 0)
    assert len(s3dlio.parquet_get_rg(f"{prefix}gz.parquet", 0, decode="raw")) > 0
    s3dlio.put_bytes(f"{prefix}plain.bin", b"not parquet at all")
    with pytest.raises(s3dlio.InvalidInputError, match="not a Parquet file"):
        s3dlio.parquet_get_rg(f"{prefix}plain.bin", 0)


def test_the_footer_cache_rereads_a_rewritten_file(local):
    import asyncio

    uri = f"{local}r.parquet"
    s3dlio.generate_and_write_parquet(uri, 1, 100, 2, seed=1)
    s3dlio.parquet_cache_clear()
    before = bytes(s3dlio.parquet_get_rg(uri, 1, decode="raw"))
    assert s3dlio.parquet_cache_len() == 1
    # Rewritten (another size, another version): the cached footer no longer fits, the
    # pinned read fails its precondition, and the footer is read again.
    s3dlio.generate_and_write_parquet(uri, 1, 150, 2, seed=2)
    async def read():
        return await s3dlio.parquet_get_rg_async(uri, 1, decode="raw")

    after = asyncio.run(read())
    new = pq.ParquetFile(io.BytesIO(bytes(s3dlio.get(uri))))
    assert after != before and len(after) > len(before)
    assert pa.ipc.open_stream(s3dlio.parquet_get_rg(uri, 1)).read_all().num_rows == new.metadata.row_group(1).num_rows
    assert s3dlio.parquet_rg_row_offsets(uri) == [0, 150, 300]
    s3dlio.parquet_cache_invalidate(uri)
    assert s3dlio.parquet_cache_len() == 0


def test_the_index_maps_rows_to_ranges_and_marks_epochs(prefix):
    uris = [f"{prefix}f{i}.parquet" for i in range(2)]
    for i, uri in enumerate(uris):
        s3dlio.generate_and_write_parquet(uri, 2, 100, 3 + i)
    idx = s3dlio.PyParquetIndex(col_indices=[1])
    assert idx.ensure_indexed(uris, epoch=1, batch_size=2) == 3 + 4
    assert len(idx) == 7 and idx.file_count() == 2 and idx.file_rg_count(uris[1]) == 4
    assert idx.file_rg_count(f"{prefix}other.parquet") is None
    rg, offset, length = idx.rg_lookup(uris[1], 250)
    assert rg == 2 and (offset, length) == idx.rg_range(uris[1], 2)
    assert bytes(s3dlio.get_range(uris[1], offset, length)) == bytes(
        s3dlio.parquet_get_rg(uris[1], 2, col_indices=[1], decode="raw")
    )
    assert not idx.check_and_mark(uris[1], 2, 1) and idx.check_and_mark(uris[1], 2, 1)
    idx.mark_fetched(uris[0], 0, 1)
    assert idx.was_fetched(uris[0], 0, 1) and not idx.was_fetched(uris[0], 0, 2)
    assert idx.ensure_indexed(uris, epoch=1) == 5, "two row groups fetched in epoch 1"
    assert idx.ensure_indexed(uris, epoch=2) == 7
    with pytest.raises(s3dlio.InvalidInputError, match="400 rows"):
        idx.rg_for_sample(uris[1], 400)
    with pytest.raises(ValueError, match="batch_size"):
        idx.ensure_indexed(uris, batch_size=0)
    idx.invalidate_uri(uris[0])
    assert not idx.is_indexed(uris[0]) and "files=1" in repr(idx)
    idx.clear()
    assert len(idx) == 0


def test_the_stream_loader_yields_every_row_group_once(prefix):
    for i, groups in enumerate([2, 3]):
        s3dlio.generate_and_write_parquet(f"{prefix}d/part{i}.parquet", 2, 64, groups, seed=i)
    s3dlio.put_bytes(f"{prefix}d/_SUCCESS", b"")
    loader = s3dlio.create_async_loader(f"{prefix}d/", {"format": "parquet", "prefetch": 2})
    assert isinstance(loader, s3dlio.PyParquetStreamLoader)
    assert loader.files() == [f"{prefix}d/part0.parquet", f"{prefix}d/part1.parquet"]
    for _ in range(2):  # each iter() is a new pass
        items = list(loader)
        assert sorted((i.file_uri[-13:], i.rg_idx) for i in items) == [
            ("part0.parquet", 0), ("part0.parquet", 1), ("part1.parquet", 0), ("part1.parquet", 1), ("part1.parquet", 2)
        ]  # fmt: skip
        for item in items:
            assert isinstance(item.data, memoryview) and item.byte_count == len(item) == len(bytes(item))
            assert bytes(item.data) == bytes(s3dlio.parquet_get_rg(item.file_uri, item.rg_idx, decode="raw"))
    arrow = s3dlio.create_async_loader(
        [f"{prefix}d/part1.parquet"], {"format": "parquet", "decode": "arrow", "columns": [0]}
    )
    batches = [pa.ipc.open_stream(i.data).read_all() for i in arrow]
    assert sum(b.num_rows for b in batches) == 3 * 64 and all(b.column_names == ["col0"] for b in batches)
    with pytest.raises(ValueError, match="batch_size"):
        s3dlio.create_async_loader(f"{prefix}d/", {"format": "parquet", "batch_size": 4})
    with pytest.raises(ValueError, match="'parquet'"):
        s3dlio.create_async_loader(f"{prefix}d/", {"format": "csv"})
    missing = s3dlio.create_async_loader([f"{prefix}d/none.parquet"], {"format": "parquet"})
    with pytest.raises(s3dlio.NotFoundError, match="none.parquet"):
        list(missing)


def test_put_writes_files_numpy_pyarrow_and_tensorflow_read(prefix):
    size = 200 * 1024
    for kind in ("npz", "tfrecord", "parquet"):
        s3dlio.put(prefix, num=2, template=f"{kind}-{{}}", size=size, object_type=kind)
    data = bytes(s3dlio.generate_data(size // 4 * 4, seed=1))
    with np.load(io.BytesIO(bytes(s3dlio.get(f"{prefix}npz-1")))) as z:
        assert z["x"].shape == (size // 4,) and z["x"].tobytes() == data
    t = table_of(s3dlio.get(f"{prefix}parquet-1"))
    assert t.num_rows == size // 4 and t.column("col0").to_numpy().tobytes() == data
    tf = pytest.importorskip("tensorflow")
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".tfrecord") as f:
        f.write(bytes(s3dlio.get(f"{prefix}tfrecord-1")))
        f.flush()
        spec = {"data": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
        parsed = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(f.name)]
    assert [int(p["label"]) for p in parsed] == [0, 1, 2, 3]
    assert b"".join(p["data"].numpy() for p in parsed) == bytes(s3dlio.generate_data(size, seed=1))


def test_gcs_knobs_say_what_this_build_does(request):
    assert s3dlio.gcs_get_channel_count() == 0 and s3dlio.gcs_get_rapid_mode() is False
    s3dlio.gcs_set_channel_count(0)
    s3dlio.gcs_set_rapid_mode(None)
    s3dlio.gcs_set_rapid_mode(False)
    with pytest.raises(s3dlio.NotSupportedError, match="max_in_flight"):
        s3dlio.gcs_set_channel_count(8)
    with pytest.raises(s3dlio.NotSupportedError, match="gRPC"):
        s3dlio.gcs_set_rapid_mode(True)
    bucket = request.getfixturevalue("gcs_bucket")
    assert s3dlio.gcs_bucket_storage_class(f"{bucket}/") == "STANDARD"
    assert s3dlio.gcs_query_rapid_bucket(f"{bucket}/some/prefix") is False
    assert s3dlio.gcs_query_rapid_bucket(bucket.removeprefix("gs://")) is False
    with pytest.raises(s3dlio.NotFoundError):
        s3dlio.gcs_query_rapid_bucket("no-such-bucket-here")
