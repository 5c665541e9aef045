"""One streaming upload of 1 GiB in 16 writes of one reused 64 MiB buffer: wall and
client CPU seconds per run (decision 020's A/B). `KIND` is `bytearray` (copied by the
writer) or `bytes` (a fresh `bytes` per write, shared).

    target/py-venv/bin/python python/bench/raw_upload.py s3://bench/x bytearray

against any store the environment reaches (e.g. `target/release/s3dlio-memserver --port
9555 --access-key ak --secret-key sk` with `AWS_ENDPOINT_URL=http://127.0.0.1:9555`,
`AWS_ACCESS_KEY_ID=ak`, `AWS_SECRET_ACCESS_KEY=sk`, `AWS_REGION=us-east-1`, and the bucket
created first).
"""

import os
import resource
import sys
import time

import s3dlio


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(uri, kind, runs=3):
    src = bytearray(os.urandom(64 << 20))
    for _ in range(runs):
        c0, t0 = cpu(), time.perf_counter()
        with s3dlio.open_writer(uri, part_size=16 << 20, max_in_flight=4) as w:
            for _ in range(16):
                w.write(bytes(src) if kind == "bytes" else src)
        print(f"{kind}: wall {time.perf_counter() - t0:.2f} s, client cpu {cpu() - c0:.2f} s per GiB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
