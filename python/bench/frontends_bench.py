"""The wheel's `get_many` beside `s3-cli get -r` on the same objects on one S3 server, in
one run (`cargo xtask bench frontends`): both read through the one read path, so their
rates should match. Each round lists the prefix and reads every object at the same
concurrency; the CLI's time is its whole process (start, client, listing, reads), the
wheel's its `list` + `get_many` in a warm process. Rounds alternate; medians are reported.
"""

import os
import statistics
import subprocess
import sys
import time

import s3dlio

N = int(os.environ.get("S3DLIO_BENCH_OBJECTS", "1000"))
SIZE = 64 << 10
JOBS = 32
ROUNDS = int(os.environ.get("S3DLIO_BENCH_ROUNDS", "5"))
BUCKET = "frontends-bench"
PREFIX = f"s3://{BUCKET}/obj/"


def cli_round(cli):
    t = time.perf_counter()
    subprocess.run([cli, "get", "-r", "-j", str(JOBS), PREFIX], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def py_round():
    t = time.perf_counter()
    uris = s3dlio.list(PREFIX, recursive=True)
    got = s3dlio.get_many(uris, max_in_flight=JOBS)
    elapsed = time.perf_counter() - t
    assert len(got) == N and all(len(v) == SIZE for _, v in got)
    return elapsed


def main():
    cli = os.environ["S3DLIO_CLI"]
    os.environ["AWS_ENDPOINT_URL"] = os.environ["S3DLIO_TEST_S3_ENDPOINT"]
    s3dlio.create_bucket(BUCKET)
    s3dlio.put(PREFIX, num=N, template="o{}", size=SIZE, object_type="random", max_in_flight=JOBS)
    cli_round(cli), py_round()  # warm the server's page cache and the wheel's client
    times = {"s3-cli get -r": [], "python get_many": []}
    for _ in range(ROUNDS):
        times["s3-cli get -r"].append(cli_round(cli))
        times["python get_many"].append(py_round())
    rates = {k: N / statistics.median(v) for k, v in times.items()}
    for k, rate in rates.items():
        print(f"{k:<16} {rate:>8.0f} objects/s  (median of {ROUNDS}; {N} x 64 KiB, {JOBS} at once)")
    ratio = rates["python get_many"] / rates["s3-cli get -r"]
    print(f"python / cli     {ratio:>8.2f}")
    s3dlio.delete(PREFIX, recursive=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
