"""Payouts on the embedded dev chain (issue 10): payouts drained per second, and the credit
endpoint's throughput while the drain runs vs idle (target: during ≥ 0.8 × idle).

1. `python -m app serve` as bench/http_bench.py starts it (synchronous=FULL, rate limit off,
   a fresh SQLite file) with the service's default scheduler and drain settings (a tick a
   second, PAYOUT_DRAIN_BATCH_MAX 50, DEV_CHAIN_TICK_BUDGET_MS 100; --env to change; the
   first runs used 100 ms ticks of 200, see bench/README.md) and no payout limits;
   http_bench's seed (brand `bench`, c0..c999 with 1,000,000.00 CREDITS each).
2. (idle)   POST /v1/customers/{id}/credit for --seconds (wrk, http_bench's credit figure).
3. --payouts payouts of 1.00 CREDITS (DevToken on the dev chain) requested through the API
   (16 threads, one Idempotency-Key each); the drain starts at once.
4. (during) the same credit figure while the drain runs (marked FAIL if the drain finished
   before the figure did).
5. Wait until every payout is confirmed: payouts/s = payouts / (last confirmation - first
   request); (idle2) the credit figure again.
Then `python -m app verify` and checks: every payout confirmed, nothing failed.

Usage: python bench/payout_bench.py [--payouts 2000] [--seconds 10] [--connections 32] [--env NAME=VALUE ...]
Needs wrk. Only ever targets 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import CUSTOMERS, ROOT, Ledger, free_port, seed, start_server  # noqa: E402
from jobs_bench import credit_figure, stop  # noqa: E402

TARGET_RATIO = 0.8
DEST = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
DEFAULT_ENV = {"PAYOUT_LIMITS": ""}


def status_counts(ledger: Ledger) -> dict[str, int]:
    import sqlite3
    conn = sqlite3.connect(f"file:{ledger.path}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM payouts GROUP BY status").fetchall())
    finally:
        conn.close()


def request_payouts(url: str, key: str, count: int, run: str) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        def one(n: int) -> None:
            r = c.post("/v1/payouts", headers={"Idempotency-Key": f"pb-{run}-{n}"},
                       json={"customer_id": f"c{n % CUSTOMERS}", "asset": "CREDITS", "amount": "1.00", "rail": "chain",
                             "destination": {"address": DEST}})
            r.raise_for_status()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(count)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--payouts", type=int, default=2000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    settings = DEFAULT_ENV | dict(item.split("=", 1) for item in args.env)
    os.environ.update(settings)
    run = os.urandom(6).hex()
    with tempfile.TemporaryDirectory() as tmp:
        db, port = os.path.join(tmp, "app.db"), free_port()
        url, ledger = f"http://127.0.0.1:{port}", Ledger(os.path.join(tmp, "app.db"))
        server = start_server(db, port, os.path.join(tmp, "server.log"))
        try:
            key, _ = seed(url, run)
            brand_id = ledger.brand_id("bench")
            idle = credit_figure(url, "(idle)   POST credit", key, ledger, brand_id, f"pb-{run}-idle-", args, tmp,
                                 server.pid)
            started = time.monotonic()
            request_payouts(url, key, args.payouts, run)
            requested_s = time.monotonic() - started
            made = sum(status_counts(ledger).values())
            if made != args.payouts:  # every request has its own key: one payout each, no replay
                raise SystemExit(f"{args.payouts:,} payouts requested (each 2xx), {made:,} in the file")
            during = credit_figure(url, "(during) POST credit", key, ledger, brand_id, f"pb-{run}-during-", args, tmp,
                                   server.pid)
            if status_counts(ledger).get("confirmed", 0) >= args.payouts:
                during.problems.append("the drain finished before the figure did: not all of it was 'during'")
            deadline = time.monotonic() + max(600, args.payouts / 5)
            while status_counts(ledger).get("confirmed", 0) + status_counts(ledger).get("failed", 0) < args.payouts:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the drain did not finish in time: {status_counts(ledger)}")
                time.sleep(0.2)
            drained_s = time.monotonic() - started
            idle2 = credit_figure(url, "(idle2)  POST credit", key, ledger, brand_id, f"pb-{run}-idle2-", args, tmp,
                                  server.pid)
        finally:
            stop(server)
        counts = status_counts(ledger)
        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, DATABASE_PATH=db), timeout=1800)
    ratio = during.per_s() / idle.per_s() if idle.per_s() else 0.0
    both = (idle.per_s() + idle2.per_s()) / 2
    ratio_both = during.per_s() / both if both else 0.0
    print(f"run {run}: synchronous=FULL, rate limit off, wrk -c{args.connections}, {args.seconds} s per figure;"
          f" settings {settings}")
    for fig in (idle, during, idle2):
        print(f"  {fig.label:22s} {fig.per_s():>8,.0f} 2xx/s  p99 {fig.p99_ms:6.1f} ms  {'; '.join(fig.problems)}")
    print(f"  payouts: {args.payouts:,} requested in {requested_s:.1f} s; all final after {drained_s:.1f} s:"
          f" {args.payouts / drained_s:,.1f} payouts/s; {counts}")
    print(f"  credit during the drain / idle: {ratio:.2f} (target >= {TARGET_RATIO})"
          f" {'ok' if ratio >= TARGET_RATIO else 'FAIL'}; against the mean of idle and idle2: {ratio_both:.2f}")
    print(f"  verify: {'ok' if verify.returncode == 0 else 'FAIL ' + verify.stdout[-500:]}")
    failed = counts.get("failed", 0) or verify.returncode or any(f.problems for f in (idle, during, idle2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
