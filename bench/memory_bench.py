"""RSS of the service over a million transfers, with the default memory budget.

Starts `python -m app serve` on a fresh SQLite file (synchronous=FULL), posts atomic
batches of 1,000 customer-to-customer transfers from 4 client threads until 1,000,000
transfers exist (counted in the SQLite file against the 201 answers), prints the server's RSS (VmRSS) every 100,000 transfers and the
transfers/s, then stops the service and runs `python -m app verify`. Only ever targets
127.0.0.1; bounded by the count (and a 15-minute limit).

Usage: python bench/memory_bench.py [--transfers 1000000]
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as hb  # noqa: E402  (server start, seeding, batch bodies: one place)

LIMIT_S = 900


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--transfers", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, port = os.path.join(tmp, "app.db"), hb.free_port()
        url = f"http://127.0.0.1:{port}"
        server = hb.start_server(db, port, os.path.join(tmp, "server.log"))
        try:
            ledger = hb.Ledger(db)
            key, _ = hb.seed(url, "mem")
            before = hb.settle(url, ledger)
            print(f"RSS at start (after seeding {hb.CUSTOMERS:,} customers): {hb.rss_kb(server.pid) / 1024:,.1f} MiB")
            batches = args.transfers // hb.BATCH_SIZE
            done, answered, lock, failures = [0], [0], threading.Lock(), []
            started = time.monotonic()

            def client(seed: int) -> None:
                rng = random.Random(seed)
                with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": key}) as c:
                    while time.monotonic() - started < LIMIT_S:
                        with lock:
                            if done[0] >= batches:
                                return
                            done[0] += 1
                            n = done[0]
                        r = c.post("/v1/transfers/batch", content=hb.batch_body(rng),
                                   headers={"Content-Type": "application/json"})
                        if r.status_code != 201:
                            failures.append(r.text[:200])
                            return
                        with lock:
                            answered[0] += 1
                        if n % (100_000 // hb.BATCH_SIZE) == 0:
                            print(f"  {n * hb.BATCH_SIZE:>9,} transfers: RSS {hb.rss_kb(server.pid) / 1024:6.1f} MiB,"
                                  f" {n * hb.BATCH_SIZE / (time.monotonic() - started):,.0f} transfers/s", flush=True)
            threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            created = hb.settle(url, ledger) - before
            if created != answered[0] * hb.BATCH_SIZE:
                failures.append(f"transfers created {created:,} != {answered[0]:,} answered batches x {hb.BATCH_SIZE}")
            print(f"RSS after {created:,} transfers ({answered[0]:,} batches answered 201): {hb.rss_kb(server.pid) / 1024:,.1f} MiB;"
                  f" database {os.path.getsize(db) / 2**20:,.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=60)
        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=hb.ROOT, capture_output=True,
                                text=True, env=dict(os.environ, DATABASE_PATH=db), timeout=900)
        print(f"python -m app verify: exit {verify.returncode}: {verify.stdout.strip()}")
        if failures or verify.returncode:
            sys.exit(f"FAIL: {failures[:3]}")


if __name__ == "__main__":
    main()
