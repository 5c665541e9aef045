"""file:// at the limit (issue 16): ours beside plain Python on the same files, one run.

- one 1 GiB get vs `readinto` into fresh memory and into a pre-faulted buffer;
- 4 KiB random ranges: `get_range` per call and `get_ranges` batched (alone, and with
  the caller holding its last two results) vs a Python `seek` + `readinto` loop;
- 1000 x 64 KiB objects: `get_many` vs `get_many_async`.

Files are read from the page cache (each is read once before timing). Best of 5 (10 for
the range loops: the first rounds of each warm the thread pools and the allocator). Run by `cargo xtask bench file-limits`; `S3DLIO_BENCH_DIR` picks the
directory (default target/), `S3DLIO_BENCH_FILE_MIB` the large file's size (1024).
"""

import asyncio
import os
import random
import tempfile
import time

import s3dlio

RANGES = 20_000
SMALL = 4096


def best(fn, rounds=5):
    b = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t)
    return b


def row(name, value, unit, reference=None):
    ratio = f"  ({value / reference:.2f}x plain Python)" if reference else ""
    print(f"{name:<48} {value:>12,.0f} {unit}{ratio}", flush=True)


def large(path, size):
    uri = "file://" + path
    gbps = lambda secs: size / secs / 1e6  # noqa: E731
    ours = gbps(best(lambda: s3dlio.get(uri)))

    def readinto(buf):
        with open(path, "rb", buffering=0) as f:
            f.readinto(buf)

    prefaulted = bytearray(size)
    pre = gbps(best(lambda: readinto(prefaulted)))
    fresh = gbps(best(lambda: readinto(bytearray(size))))
    row(f"get {size >> 20} MiB, MB/s", ours, "MB/s", fresh)
    row("  readinto fresh bytearray, MB/s", fresh, "MB/s")
    row("  readinto pre-faulted bytearray, MB/s", pre, "MB/s")


def ranges(path, size):
    uri = "file://" + path
    rng = random.Random(16)
    offsets = [rng.randrange(0, size - SMALL) // SMALL * SMALL for _ in range(RANGES)]

    def python():
        buf = bytearray(SMALL)
        with open(path, "rb", buffering=0) as f:
            for o in offsets:
                f.seek(o)
                f.readinto(buf)

    def per_call():
        for o in offsets:
            s3dlio.get_range(uri, o, SMALL)

    def batched():
        return s3dlio.get_ranges(uri, [(o, SMALL) for o in offsets], coalesce_gap=0)

    def kept(calls=10):
        # As a training loop holds the last batches while it fetches the next: the
        # views of earlier calls are alive, so a collection inside a call has them to walk.
        held = []
        t = time.perf_counter()
        for _ in range(calls):
            held = held[-1:] + [batched()]
        return RANGES * calls / (time.perf_counter() - t)

    plain = RANGES / best(python, 10)
    row("4 KiB get_range per call, ranges/s", RANGES / best(per_call, 10), "/s", plain)
    row("4 KiB get_ranges batched (no merging), ranges/s", RANGES / best(batched, 10), "/s", plain)
    row("  the same, last two results kept, ranges/s", max(kept() for _ in range(3)), "/s", plain)
    row("  Python seek + readinto loop, ranges/s", plain, "/s")


def many(root):
    n, size = 1000, 64 << 10
    s3dlio.put(f"file://{root}/many/", num=n, template="{}", size=size)
    uris = [f"file://{root}/many/{i}" for i in range(n)]

    async def in_loop():
        return await s3dlio.get_many_async(uris, 32)

    row("1000 x 64 KiB get_many, objects/s", n / best(lambda: s3dlio.get_many(uris, 32)), "/s")
    row("1000 x 64 KiB get_many_async, objects/s", n / best(lambda: asyncio.run(in_loop())), "/s")


def main():
    size = int(os.environ.get("S3DLIO_BENCH_FILE_MIB", "1024")) << 20
    with tempfile.TemporaryDirectory(dir=os.environ.get("S3DLIO_BENCH_DIR", "target")) as root:
        path = os.path.abspath(os.path.join(root, "large.bin"))
        with open(path, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(block)
        with open(path, "rb") as f:
            while f.read(64 << 20):
                pass
        large(path, size)
        ranges(path, size)
        many(os.path.abspath(root))


if __name__ == "__main__":
    main()
