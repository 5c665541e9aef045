"""Runs one measured worker in a fresh process: its last stdout line is JSON, and its CPU
seconds and peak RSS (its reaped children included, e.g. DataLoader workers) come from
the OS (`wait4`). Shared by the benchmarks that run one process per row."""

import json
import os
import subprocess


def run_worker(cmd, what):
    """(the worker's JSON, cpu seconds, peak RSS MiB); exits naming `what` on failure."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().strip().splitlines()
    if status != 0 or not out:
        raise SystemExit(f"{what} failed (wait status {status})")
    return json.loads(out[-1]), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
