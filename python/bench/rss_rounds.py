"""RSS over repeated rounds of GETs (docs/reliability.md, "Memory under repeated rounds").

Needs the memory S3 server: `eval "$(cargo xtask emulators up)"`, then
`target/py-venv/bin/python python/bench/rss_rounds.py`. Writes 2000 x 64 KiB objects, reads
them all with `get_many` 40 times (dropping the results), prints RSS after rounds 1, 5, 10,
20 and 40, then after one `malloc_trim(0)`.
"""

import ctypes
import os

import s3dlio

ROUNDS, OBJECTS, SIZE = 40, 2000, 64 << 10


def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def main():
    os.environ["AWS_ENDPOINT_URL"] = os.environ["S3DLIO_TEST_S3MEM_ENDPOINT"]
    bucket = f"s3://rss-rounds-{os.getpid()}"
    s3dlio.create_bucket(bucket)
    data = os.urandom(SIZE)
    uris = [f"{bucket}/k{i}" for i in range(OBJECTS)]
    for uri in uris:
        s3dlio.put_bytes(uri, data)
    seen = []
    for _ in range(ROUNDS):
        got = s3dlio.get_many(uris, max_in_flight=64)
        del got
        seen.append(rss_mib())
    print("RSS MiB after rounds 1, 5, 10, 20, 40:", [seen[i] for i in (0, 4, 9, 19, 39)])
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print("RSS MiB after malloc_trim(0):", rss_mib())
    s3dlio.delete(f"{bucket}/", recursive=True)
    s3dlio.delete_bucket(bucket)


if __name__ == "__main__":
    main()
