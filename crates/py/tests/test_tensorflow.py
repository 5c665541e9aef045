"""``s3dlio.tf.make_dataset`` and the original's ``make_tf_dataset`` end to end with a real
TensorFlow (the CPU wheel the test command installs): every object once per epoch, each
epoch a new order, ranks split the data, bytes intact, ``map_fn`` applied."""

import pytest

import s3dlio

tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed in this environment")

N = 19


def fill(prefix):
    for i in range(N):
        s3dlio.put_bytes(f"{prefix}tf/{i:03}", bytes([i]) * (i + 1))
    return f"{prefix}tf/"


def ids(ds):
    return [int(t.numpy()[0]) for t in ds]


@pytest.mark.parametrize("where", ["file", "s3"])
def test_make_dataset_reads_every_object_once_per_epoch(where, request, tmp_path):
    from s3dlio.tf import make_dataset

    base = f"file://{tmp_path}/" if where == "file" else f"s3://{request.getfixturevalue('s3_bucket')}/tf-{id(tmp_path)}/"
    src = fill(base)
    ds = make_dataset(src, {"shuffle": True, "seed": 2, "batch_size": 4})
    assert ds.element_spec == tf.TensorSpec(shape=(None,), dtype=tf.uint8)
    first, second = ids(ds), ids(ds)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second, "each iteration of the tf.data.Dataset is the next epoch"
    for t in ds.take(3):
        i = int(t.numpy()[0])
        assert t.numpy().tobytes() == bytes([i]) * (i + 1)
    halves = [ids(make_dataset(src, {"shuffle": True, "seed": 2}, rank=r, world_size=2)) for r in range(2)]
    assert not set(halves[0]) & set(halves[1]) and sorted(halves[0] + halves[1]) == list(range(N))


def test_make_tf_dataset_applies_map_fn_and_batches(local):
    from s3dlio.jax_tf import make_tf_dataset

    src = fill(local)
    lengths = make_tf_dataset(src, map_fn=lambda t: tf.shape(t)[0]).batch(5)
    got = sorted(int(x) for batch in lengths for x in batch.numpy())
    assert got == [i + 1 for i in range(N)]
