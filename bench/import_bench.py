"""CSV import through the CLI: rows/s and peak memory, small file against large.

Generates PURCHASE events (1,000 customers, amounts with cents, half with occurred_at) into a
CSV in a temp dir, makes a database with `python -m app create-brand`, and runs
`python -m app import events FILE --brand bench` as a subprocess on a file of `--small` rows,
then on a fresh database with one of `--rows` rows. Prints each run's rows/s and peak RSS
(each child's own, from wait4's rusage) and the ratios large/small: the import streams, so
peak memory should not grow with the file (ratio near 1) and throughput should hold.
Ends with `python -m app verify` of the large database and RUSAGE_CHILDREN's peak (the
largest child of the whole run). Bounded: each import stops after 15 minutes.

Usage: python bench/import_bench.py [--rows 100000] [--small 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_S = 900


def write_csv(path: str, rows: int) -> int:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("event_id,event_type,customer_id,occurred_at,payload.amount,payload.channel\n")
        for i in range(rows):
            occurred = f"2026-01-{i % 28 + 1:02d}T10:{i % 60:02d}:00Z" if i % 2 else ""
            fh.write(f"ev-{i:08d},PURCHASE,cust-{i % 1000}@bench.example,{occurred},"
                     f"{(i * 37) % 500 + 1}.{i % 100:02d},{'web' if i % 3 else 'store'}\n")
    return os.path.getsize(path)


def run(args: list[str], db: str, out_path: str) -> tuple[int, float, int, str]:
    """(exit code, seconds, the child's own peak RSS in KiB, stdout) of `python -m app ARGS`.
    The child is reaped with wait4, whose rusage is that child's alone."""
    env = {**os.environ, "DATABASE_PATH": db, "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    with open(out_path, "w") as out:
        child = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, stdout=out,
                                 stderr=subprocess.DEVNULL)
    timer = threading.Timer(LIMIT_S, child.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from trying again
    with open(out_path) as fh:
        return child.returncode, time.perf_counter() - started, usage.ru_maxrss, fh.read()


def import_run(tmp: str, rows: int) -> dict:
    folder = os.path.join(tmp, f"r{rows}")
    os.mkdir(folder)
    db, csv_path = os.path.join(folder, "app.db"), os.path.join(folder, "events.csv")
    size = write_csv(csv_path, rows)
    out_path = os.path.join(folder, "out.txt")
    code, _, _, _ = run(["create-brand", "bench"], db, out_path)
    assert code == 0, "create-brand failed"
    code, seconds, peak_kib, out = run(["import", "events", csv_path, "--brand", "bench"], db, out_path)
    report = json.loads(out)
    assert code == 0 and report["created"] == rows and report["failed"] == 0, (code, report)
    return {"rows": rows, "bytes": size, "seconds": seconds, "rows_per_s": rows / seconds, "peak_kib": peak_kib,
            "db": db}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--small", type=int, default=10_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = import_run(tmp, args.small)
        large = import_run(tmp, args.rows)
        for r in (small, large):
            print(f"{r['rows']:>9,} rows ({r['bytes'] / 2**20:.1f} MiB CSV): {r['seconds']:.1f} s,"
                  f" {r['rows_per_s']:,.0f} rows/s, peak RSS {r['peak_kib'] / 1024:.0f} MiB")
        print(f"ratio rows/s large/small: {large['rows_per_s'] / small['rows_per_s']:.2f}")
        print(f"ratio peak RSS large/small: {large['peak_kib'] / small['peak_kib']:.2f}"
              " (near 1: memory does not grow with the file)")
        code, seconds, _, out = run(["verify"], large["db"], os.path.join(tmp, "verify.txt"))
        print(f"verify: exit {code} in {seconds:.1f} s: {out.strip()}")
        print(f"RUSAGE_CHILDREN peak RSS: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
