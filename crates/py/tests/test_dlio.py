"""`s3dlio.integrations.dlio` against the real DLIO benchmark (dlio_benchmark 2.0.0 from
PyPI, installed by `cargo xtask test` into its own folder, `S3DLIO_TEST_DLIO_SITE`, with
--no-deps: only what its storage and config modules import). Each test registers the
storage type in a copy of DLIO's package and drives it through DLIO's own
`StorageFactory` in a child process."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import s3dlio
import s3dlio.integrations.dlio as dlio
from conftest import shared_prefix

SITE = os.environ.get("S3DLIO_TEST_DLIO_SITE")
needs_dlio = pytest.mark.skipif(
    not SITE or not os.path.isdir(os.path.join(SITE, "dlio_benchmark")),
    reason="dlio_benchmark is not installed (S3DLIO_TEST_DLIO_SITE; `cargo xtask test` installs it)",
)


@pytest.fixture
def dlio_copy(tmp_path):
    """A checkout-like folder holding a copy of DLIO's package, for the installer to change."""
    root = tmp_path / "dlio"
    shutil.copytree(os.path.join(SITE, "dlio_benchmark"), root / "dlio_benchmark", ignore=shutil.ignore_patterns("__pycache__"))
    return root


# Runs in the child: DLIO's singletons are set up as a DLIO rank sets them up (without
# MPI: `set_parent_values` is DLIO's own way in for a child process), then `steps` are
# run on the storage DLIO's factory makes. Prints one JSON line of results.
DRIVER = """
import io, json, sys
import numpy as np
from dlio_benchmark.utils.utility import DLIOMPI
spec = json.loads(sys.argv[1])
DLIOMPI.get_instance().set_parent_values(spec.get("rank", 0), spec.get("size", 1))
from dlio_benchmark.utils.config import ConfigArguments
from dlio_benchmark.storage.storage_factory import StorageFactory
from dlio_benchmark.common.enumerations import StorageType, MetadataType
args = ConfigArguments.get_instance()
for key, value in spec.get("args", {}).items():
    setattr(args, key, value)
out = {}
try:
    s = StorageFactory().get_storage(StorageType(spec.get("type", "s3dlio")), spec["root"], None)
    out["class"] = type(s).__name__
    exec(spec["steps"])
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out, default=str))
"""


def run_dlio(package_root, root, steps, env=None, **spec):
    spec.update(root=root, steps=textwrap.dedent(steps))
    child_env = dict(env if env is not None else os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join([str(package_root), SITE])
    p = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(spec)], capture_output=True, text=True, env=child_env, timeout=120
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


# A DLIO-shaped dataset: per-epoch subfolders of NPZ samples, written through put_data as
# DLIO's generators hand them over (a BytesIO), then found the way DLIO's main finds them.
DATASET = """
s.create_namespace(exist_ok=True)
for d in ("data", "data/train/"):
    s.create_node(d, exist_ok=True)
for d in range(2):
    s.create_node(f"data/train/{d}", exist_ok=True)
    for i in range(3):
        b = io.BytesIO()
        np.savez(b, x=np.arange(10) + 100 * d + i)
        s.put_data(f"data/train/{d}/img_{i}_of_3.npz", b)
        b.write(b"the BytesIO is usable again")
s.put_data("data/train/flat.bin", b"0123456789")
s.put_data("data/train/text.txt", "text")
out["names"] = sorted(s.walk_node("data/train"))
out["kinds"] = [str(s.get_node(p)) for p in ("data/train/0", "data/train/0/img_1_of_3.npz", "data/none")]
found = s.walk_node("data/train/*/*.npz", use_pattern=True)
out["found"] = sorted(s.get_basename(f) for f in found)
out["full"] = all(f.startswith(s.get_uri("data/train/")) for f in found)
view = s.get_data(sorted(found)[-1])
out["view"] = [type(view).__name__, view.readonly, np.load(io.BytesIO(view))["x"][:2].tolist()]
out["ranges"] = [bytes(s.get_data("data/train/flat.bin", None, 2, 3)).decode(),
                 bytes(s.get_data("data/train/flat.bin", offset=7)).decode(),
                 bytes(s.get_data("data/train/flat.bin", length=2)).decode(),
                 bytes(s.get_data("data/train/text.txt")).decode()]
out["isfile"] = [s.isfile("data/train/flat.bin"), s.isfile("data/train"), s.isfile("data/none")]
out["deleted"] = [s.delete_node("data/train/flat.bin"), s.delete_node("data"), str(s.get_node("data")), s.delete_node("data")]
"""


@needs_dlio
# S3 on the memory server: s3s-fs answers HEAD of a key that is a directory on its disk
# with a 500 (docs/backends.md), and DLIO asks what `train/0` is.
@pytest.mark.parametrize("where", ["file", "s3", "azure", "gcs"])
def test_storage_type_serves_a_dlio_dataset(where, request, tmp_path, dlio_copy):
    assert dlio.install_s3dlio_storage(dlio_copy).endswith("storage/s3dlio_storage.py")
    if where == "s3":
        root = f"{request.getfixturevalue('memserver_bucket')}/dataset/"
    else:
        root = shared_prefix(where, request, tmp_path)
    out = run_dlio(dlio_copy, root, DATASET)
    assert out.get("error") is None, out
    assert out["class"] == "S3dlioStorage"
    assert out["names"] == ["0", "1", "flat.bin", "text.txt"]
    assert out["kinds"] == ["directory", "file", "None"]
    assert out["found"] == [f"img_{i}_of_3.npz" for i in range(3) for _ in range(2)]
    assert out["full"]
    assert out["view"] == ["memoryview", True, [102, 103]]
    assert out["ranges"] == ["234", "789", "01", "text"]
    assert out["isfile"] == [True, False, False]
    assert out["deleted"] == [True, True, "None", False]
    assert s3dlio.list(root, recursive=True) == []


@needs_dlio
def test_storage_options_are_knobs_and_keys_never_reach_the_environment(memserver_endpoint, tmp_path, dlio_copy):
    dlio.install_s3dlio_storage(dlio_copy)
    bucket = f"dlio-{os.getpid()}"
    s3dlio.create_bucket(f"s3://{memserver_endpoint.split('://', 1)[1]}/{bucket}")
    keyless = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3DLIO_S3"))}
    # A token in the environment belongs to other keys: the configured pair signs without it.
    keyless["AWS_SESSION_TOKEN"] = "a-token-of-other-keys"
    options = {
        "endpoint_url": memserver_endpoint,
        "region": "us-east-1",
        "access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    steps = """
    import os, s3dlio
    s.put_data("k/a.bin", b"signed with the configured keys")
    out["read"] = bytes(s.get_data("k/a.bin")).decode()
    out["env"] = sorted(k for k in os.environ if k.startswith("AWS_"))
    out["token"] = s3dlio.configure().get("session_token")
    """
    # `bucket/prefix` without a scheme is S3, as DLIO's own S3 storage reads it.
    out = run_dlio(dlio_copy, f"{bucket}/run", steps, env=keyless, args={"storage_options": options})
    assert out == {"class": "S3dlioStorage", "read": "signed with the configured keys", "env": ["AWS_SESSION_TOKEN"], "token": ""}
    wrong = run_dlio(dlio_copy, f"{bucket}/run", steps, env=keyless, args={"storage_options": {**options, "secret_access_key": "wrong"}})
    assert "AccessDeniedError" in wrong["error"] and "s3://dlio-" in wrong["error"], wrong
    unknown = run_dlio(dlio_copy, f"{bucket}/run", steps, env=keyless, args={"storage_options": {"endpoint": "x"}})
    assert unknown["error"].startswith("ValueError: DLIO storage.storage_options: unknown s3dlio knob(s) ['endpoint']"), unknown


@needs_dlio
def test_endpoint_uris_pick_one_endpoint_per_rank(memserver_endpoint, tmp_path, dlio_copy):
    dlio.install_s3dlio_storage(dlio_copy)
    bucket = f"dlio-ep-{os.getpid()}"
    s3dlio.create_bucket(f"s3://{memserver_endpoint.split('://', 1)[1]}/{bucket}")
    # Port 9 (discard) on loopback refuses connections: the rank that picks it fails.
    endpoints = ["http://127.0.0.1:9", memserver_endpoint]
    steps = """
    s.put_data("x.bin", b"x")
    out["ok"] = True
    """
    quick = {"retry_max_attempts": 1, "s3_connect_timeout_ms": 2000}

    def rank(r, **extra):
        args = {"endpoint_uris": endpoints, "storage_options": quick, **extra}
        return run_dlio(dlio_copy, f"s3://{bucket}/ep", steps, rank=r, size=2, args=args)

    assert rank(1) == {"class": "S3dlioStorage", "ok": True}
    assert rank(3, use_mpi_endpoint_distribution=True)["ok"]
    assert "127.0.0.1:9" in rank(0)["error"] or "connect" in rank(0)["error"].lower(), rank(0)
    refused = rank(1, load_balance_strategy="least_connections")["error"]
    assert refused.startswith("NotSupportedError: DLIO storage: load_balance_strategy least_connections"), refused
    assert rank(1, load_balance_strategy="fastest")["error"].startswith("ValueError"), "an unknown strategy is refused"
    both = run_dlio(
        dlio_copy, f"s3://{bucket}/ep", steps, args={"endpoint_uris": endpoints, "storage_options": {"endpoint_url": endpoints[1]}}
    )
    assert "both name the endpoint" in both["error"], both


@needs_dlio
def test_writes_are_whole_objects(tmp_path, dlio_copy):
    dlio.install_s3dlio_storage(dlio_copy)
    steps = """
    s.put_data("a.bin", b"abc", offset=4)
    """
    out = run_dlio(dlio_copy, f"file://{tmp_path}/w", steps)
    assert out["error"].startswith("NotSupportedError: put_data file://"), out
    assert not os.path.exists(tmp_path / "w" / "a.bin")


def _read(path):
    with open(path, newline="") as f:
        return f.read()


def _tree(root):
    return {
        str(p.relative_to(root)): _read(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".orig", ".rej"))
    }


@needs_dlio
def test_install_and_generated_patch_make_the_same_change_once(tmp_path, dlio_copy):
    before = _tree(dlio_copy)
    patch = dlio.generate_patch(dlio_copy, tmp_path / "s3dlio.patch")
    assert _tree(dlio_copy) == before, "generate_patch changes nothing"
    twin = tmp_path / "twin"
    shutil.copytree(dlio_copy, twin)
    subprocess.run(["patch", "-p1", "-i", patch], cwd=twin, check=True, capture_output=True)
    dlio.install_s3dlio_storage(dlio_copy / "dlio_benchmark")  # the package directory works too
    after = _tree(dlio_copy)
    assert after == _tree(twin), "the patch is exactly what install writes"
    dlio.install_s3dlio_storage(dlio_copy)
    assert _tree(dlio_copy) == after, "installing again changes nothing"
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == [
        "dlio_benchmark/common/enumerations.py",
        "dlio_benchmark/storage/s3dlio_storage.py",
        "dlio_benchmark/storage/storage_factory.py",
    ]
    enums = after["dlio_benchmark/common/enumerations.py"]
    assert "    S3DLIO = 's3dlio'\r\n" in enums, "indented and ended like DLIO's own (CRLF) lines"
    assert enums.count("\r\n") == before["dlio_benchmark/common/enumerations.py"].count("\r\n") + 1


@needs_dlio
def test_dropin_replaces_s3_torch_storage_and_keeps_the_original(tmp_path, dlio_copy):
    target = dlio_copy / "dlio_benchmark" / "storage" / "s3_torch_storage.py"
    target.write_text("# DLIO's own s3torchconnector storage\n")
    assert dlio.install_dropin_replacement(dlio_copy) == str(target)
    assert dlio.install_to_dlio(dlio_copy) == str(target)
    backup = target.with_name("s3_torch_storage.py.original.bak")
    assert backup.read_text() == "# DLIO's own s3torchconnector storage\n", "the first original is kept"
    assert target.read_text() == dlio.get_storage_file_content()
    steps = """
    from dlio_benchmark.storage.s3_torch_storage import S3PyTorchConnectorStorage
    t = S3PyTorchConnectorStorage(spec["root"])
    t.put_data(t.get_uri("a.bin"), b"drop-in")
    out["read"] = [type(t).__name__, bytes(t.get_data("a.bin")).decode()]
    """
    out = run_dlio(dlio_copy, f"file://{tmp_path}/d", steps, type="s3")
    assert out == {"class": "S3Storage", "read": ["S3PyTorchConnectorStorage", "drop-in"]}, out


def test_the_installer_imports_without_dlio(tmp_path):
    with pytest.raises(ValueError, match="not a dlio_benchmark package or checkout"):
        dlio.install_s3dlio_storage(tmp_path)
    assert "import S3dlioStorage" in dlio.get_s3dlio_storage_content()
    code = "import s3dlio.integrations.dlio.storage"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "No module named 'dlio_benchmark'" in p.stderr, p.stderr
