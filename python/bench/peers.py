"""Ours beside the peers on one memory-backed S3 server, in one run (`cargo xtask bench peers`).

Each (workload, op, peer) runs `peers_worker.py` in a fresh process, so its CPU seconds
and peak RSS come from the OS (`wait4`) and no peer warms another's caches. The original
s3dlio 0.10.0 has our package name, so it runs from its own venv. Rounds alternate the
peers; each row keeps its best round. The server's own limit comes first: the raw hyper
GET loop of `s3dlio-memserver-limit` on an in-process server.

Writes target/bench/peers.json and target/bench/peers.md (the Markdown table).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "peers-bench"
CONC = 32
SCALE = float(os.environ.get("S3DLIO_BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("S3DLIO_BENCH_ROUNDS", "2"))
# (name, objects, size): the workloads, object counts scaled to a 2-core box.
WORKLOADS = [
    ("64KiB x 1000", int(1000 * SCALE), 64 << 10),
    ("256KiB x 2000", int(2000 * SCALE), 256 << 10),
    ("1MiB x 1000", int(1000 * SCALE), 1 << 20),
    ("1GiB x 1", 1, 1 << 30),
]


def run_worker(python, peer, workload, op, count, size):
    tag = workload.replace(" ", "")
    cmd = [python, os.path.join(HERE, "peers_worker.py"), peer, tag, op, BUCKET, str(count), str(size), str(CONC)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    lines = out.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise SystemExit(f"{peer} {op} {workload} failed (wait status {status}):\n{out}\n{err}")
    row = json.loads(lines[-1])
    # A peer that measured and then crashed while its interpreter shut down (obstore 0.12.1
    # aborts at exit after a 1 GiB get here) keeps its figures, marked.
    row["exit_status"] = status
    # CPU of the timed phase only (the worker's own count): making a PUT's payload is not
    # the client's work. Peak RSS is the whole process's, payload included.
    row.update(process_cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mib=usage.ru_maxrss / 1024)
    return row


def server_limit(limit_bin):
    rows = {}
    for workload, count, size in WORKLOADS:
        conns = CONC if size < (64 << 20) else 4
        out = subprocess.run(
            [limit_bin, "--size", str(size), "--connections", str(conns), "--seconds", "3"],
            check=True, capture_output=True, text=True,
        ).stdout
        rows[workload] = json.loads(out)
    return rows


def main():
    pythons = {
        "s3dlio": sys.executable,
        "original": os.environ["S3DLIO_ORIGINAL_PYTHON"],
        "obstore": sys.executable,
        "boto3": sys.executable,
    }
    import s3dlio

    limit = server_limit(os.environ["S3DLIO_MEMSERVER_LIMIT"])
    s3dlio.create_bucket(BUCKET)
    results = []
    for workload, count, size in WORKLOADS:
        for op in ("put", "get"):
            best = {}
            for _ in range(ROUNDS):
                for peer, python in pythons.items():
                    row = run_worker(python, peer, workload, op, count, size)
                    if peer not in best or row["seconds"] < best[peer]["seconds"]:
                        best[peer] = row
            for peer, row in best.items():
                row.update(
                    workload=workload, op=op, peer=peer,
                    objects_per_s=count / row["seconds"], mb_per_s=count * size / row["seconds"] / 1e6,
                )
                results.append(row)
                print(f"{workload:<14} {op:<4} {peer:<9} {row['objects_per_s']:>9.1f} obj/s "
                      f"{row['mb_per_s']:>8.1f} MB/s cpu {row['cpu_s']:>6.2f} s rss {row['peak_rss_mib']:>7.1f} MiB",
                      flush=True)
        s3dlio.delete(f"s3://{BUCKET}/{workload.replace(' ', '')}/", recursive=True)
    s3dlio.delete_bucket(BUCKET)
    os.makedirs("target/bench", exist_ok=True)
    with open("target/bench/peers.json", "w") as f:
        json.dump({"server_limit": limit, "rows": results}, f, indent=1)
    table = markdown(limit, results)
    with open("target/bench/peers.md", "w") as f:
        f.write(table)
    print(table)


def fmt(v, digits=0):
    return "—" if v is None else f"{v:.{digits}f}"


def markdown(limit, results):
    lines = [
        "| workload | op | peer | objects/s | MB/s | ÷ best peer | ÷ original | p50 ms | p99 ms | CPU s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workload, _, _ in WORKLOADS:
        lim = limit[workload]
        lines.append(f"| {workload} | server limit (raw GET loop) | — | {lim['requests_per_s']:.0f} | "
                     f"{lim['mb_per_s']:.0f} | | | | | | |")
        for op in ("put", "get"):
            rows = [r for r in results if r["workload"] == workload and r["op"] == op]
            peers = [r for r in rows if r["peer"] != "s3dlio"]
            best_peer = max(r["mb_per_s"] for r in peers)
            original = next(r["mb_per_s"] for r in rows if r["peer"] == "original")
            for r in rows:
                note = "" if r["exit_status"] == 0 else f" (exit status {r['exit_status']})"
                lines.append(
                    f"| {workload} | {op} | {r['peer']}{note} | {r['objects_per_s']:.0f} | {r['mb_per_s']:.0f} | "
                    f"{r['mb_per_s'] / best_peer:.2f} | {r['mb_per_s'] / original:.2f} | {fmt(r['p50_ms'], 1)} | "
                    f"{fmt(r['p99_ms'], 1)} | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
