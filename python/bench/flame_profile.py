"""Flame graphs of ours on the memory S3 server (`cargo xtask bench --profile`).

For each case the objects are written first (unprofiled), then the release wheel's
`peers_worker.py` runs under `perf record -g`; `inferno` folds the samples into
target/bench/flame-<case>.svg. Needs `perf` (Debian: linux-perf) and a kernel that lets
this user profile (perf_event_paranoid <= 1, or root).
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "profile-bench"
# (case, objects, size, op): small GETs and PUTs, and one large GET.
CASES = [
    ("get-64KiB", 4000, 64 << 10, "get"),
    ("put-64KiB", 4000, 64 << 10, "put"),
    ("get-1GiB", 1, 1 << 30, "get"),
]


def worker(case, op, count, size):
    return [sys.executable, os.path.join(HERE, "peers_worker.py"), "s3dlio", case, op, BUCKET, str(count), str(size), "32"]


def main():
    import s3dlio

    tools = os.environ["S3DLIO_INFERNO_BIN"]
    s3dlio.create_bucket(BUCKET)
    os.makedirs("target/bench", exist_ok=True)
    for case, count, size, op in CASES:
        if op == "get":
            subprocess.run(worker(case, "put", count, size), check=True, capture_output=True)
        data = f"target/bench/perf-{case}.data"
        subprocess.run(["perf", "record", "-F", "999", "-g", "-o", data, "--", *worker(case, op, count, size)],
                       check=True, capture_output=True)
        script = subprocess.run(["perf", "script", "-i", data], check=True, capture_output=True).stdout
        folded = subprocess.run([os.path.join(tools, "inferno-collapse-perf")], input=script,
                                check=True, capture_output=True).stdout
        svg = f"target/bench/flame-{case}.svg"
        with open(svg, "wb") as f:
            subprocess.run([os.path.join(tools, "inferno-flamegraph"), "--title", f"s3dlio {case}"],
                           input=folded, check=True, stdout=f)
        print(f"{case}: {svg}", flush=True)
        s3dlio.delete(f"s3://{BUCKET}/{case}/", recursive=True)
    s3dlio.delete_bucket(BUCKET)


if __name__ == "__main__":
    main()
