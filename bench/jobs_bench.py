"""A cron job over many customers (issue 9): its throughput, the longest writer transaction,
and the p99 of POST /v1/customers/{id}/credit while it runs vs idle.

1. `python -m app serve` (synchronous=FULL, rate limit off, as bench/http_bench.py starts it;
   a fresh SQLite file unless --db names one); http_bench's seed (brand `bench`, a brand key,
   one keyed CREDITS credit to each of c0..c999); --customers customers c0..cN-1 through
   `POST /v1/imports/customers` (one CSV body); an event type GIFT and a rule crediting
   10 POINTS on it. The server is then stopped and started again, so that its
   `writer_longest_transaction_seconds` (max since start) covers only what follows.
2. A job `gift_all` selecting everyone (`{"all": []}`), on a fixed UTC minute of the day far
   enough ahead for the idle figure: one occurrence, the next a day later.
3. (idle)   credit @--connections for --seconds, http_bench's (b) (wrk -t2, a unique
            Idempotency-Key per request); then the longest writer transaction so far.
4. Wait for the scheduler to start the run (its next tick after the minute), then
   (during) the same credit figure while the run goes on (it must still be running when wrk
   stops, or the figure is marked FAIL).
5. Wait for the run to finish; customers/s = scanned / (finished_at - started_at) from
   `GET /v1/jobs/gift_all/runs`; the longest writer transaction from /metrics.
6. (idle2)  the credit figure again after the run (the machine's drift).
Then `python -m app verify`, and checks: the run scanned and created one event per customer
with no failure; every credit 2xx is a transfer with the figure's key prefix; nothing in flight.

Usage: python bench/jobs_bench.py [--customers 100000] [--seconds 10] [--connections 32]
                                  [--env JOB_EVENTS_MAX=50 ...] [--db PATH]
--env passes settings to the server (e.g. the job's chunk sizes, SCHEDULER_TICK_BUDGET_MS).
Needs wrk. Only ever targets 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import (  # noqa: E402
    ADMIN, BRAND, CREDIT_BODY, CUSTOMERS, DRAIN_S, ROOT, THREADS, Figure, Ledger, free_port, rss_kb, run_wrk, seed,
    settle, start_server)

JOB = "gift_all"
EVENT_TYPE = "GIFT"
TARGET_RATIO = 2.0


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    if not found:
        raise SystemExit(f"/metrics has no {name}")
    return float(found.group(1))


def ms_of(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000


def latest_run(api: httpx.Client) -> dict | None:
    r = api.get(f"/v1/jobs/{JOB}/runs", params={"limit": 1})
    r.raise_for_status()
    data = r.json()["data"]
    return data[0] if data else None


def import_customers(api: httpx.Client, count: int) -> dict:
    csv = "customer_id\n" + "".join(f"c{n}\n" for n in range(count))
    r = api.post("/v1/imports/customers", content=csv.encode(), headers={"Content-Type": "text/csv"}, timeout=1800)
    r.raise_for_status()
    return r.json()


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def credit_figure(url: str, label: str, key: str, ledger: Ledger, brand_id: int, prefix: str, args, tmp: str,
                  server_pid: int) -> Figure:
    fig = Figure(label, "credit", args.connections, args.seconds)
    config = {"key": key, "customers": CUSTOMERS, "seconds": args.seconds, "mode": "credit", "prefix": prefix,
              "body": CREDIT_BODY}
    keyed_before = ledger.keyed(brand_id, prefix)
    run_wrk(url, fig, config, tmp)
    settle_keyed = keyed_before
    for _ in range(100):  # the figure's transfers, once the writer has caught up
        now = ledger.keyed(brand_id, prefix)
        if now == settle_keyed and httpx.get(f"{url}/health", timeout=10).json()["writer_queue_depth"] == 0:
            break
        settle_keyed = now
        time.sleep(0.1)
    fig.created_keyed = fig.created = ledger.keyed(brand_id, prefix) - keyed_before
    fig.rss_kb = rss_kb(server_pid)
    if fig.in_flight:
        fig.problems.append(f"{fig.in_flight} request(s) sent but not answered before wrk stopped")
    if fig.non2xx or fig.socket_errors:
        fig.problems.append(f"{fig.non2xx} non-2xx answers, {fig.socket_errors} socket errors")
    if fig.replayed:
        fig.problems.append(f"{fig.replayed} replays where every key is new")
    if fig.created_keyed != fig.ok:
        fig.problems.append(f"transfers with the figure's key prefix {fig.created_keyed:,} != 2xx {fig.ok:,}")
    print(f"  done {label}: {fig.per_s():,.0f} 2xx/s, p99 {fig.p99_ms:.1f} ms", file=sys.stderr, flush=True)
    return fig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--seconds", type=int, default=10, help="measured seconds per credit figure (default 10)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a server setting (repeatable)")
    p.add_argument("--db", help="SQLite file to use (kept; default: a fresh temporary one)")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    if args.customers < CUSTOMERS:
        raise SystemExit(f"--customers must be at least {CUSTOMERS} (the credit figures' customers)")
    settings = dict(item.split("=", 1) for item in args.env)
    os.environ.update(settings)  # start_server passes os.environ on to the server
    run_tag = os.urandom(6).hex()
    problems: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.abspath(args.db) if args.db else os.path.join(tmp, "app.db")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = os.path.join(tmp, "server.log")
        ledger = Ledger(db)

        # 1. Set-up, then a restart so that the max-since-start gauge starts afresh.
        server = start_server(db, port, log_path)
        try:
            key, seeded = seed(url, run_tag)
            api = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120)
            t0 = time.monotonic()
            report = import_customers(api, args.customers)
            import_s = time.monotonic() - t0
            print(f"  imported {args.customers:,} customers in {import_s:.0f} s: {report['created']:,} created, "
                  f"{report['updated']:,} updated, {report['duplicates']:,} duplicates, {report['failed']} failed",
                  file=sys.stderr, flush=True)
            if report["failed"]:
                problems.append(f"import: {report['failed']} rows failed: {report['errors'][:3]}")
            r = api.post("/v1/event-types", json={"code": EVENT_TYPE, "name": "Gift"})
            if r.status_code != 409:
                r.raise_for_status()
            r = api.post("/v1/rules", json={"code": "gift", "name": "Gift to all", "event_type": EVENT_TYPE,
                                            "actions": [{"type": "credit", "asset": "POINTS", "amount": "10"}]})
            if r.status_code != 409:
                r.raise_for_status()
            settle(url, ledger)
        finally:
            stop(server)
        brand_id = ledger.brand_id(BRAND)
        customers = ledger._one("SELECT count(*) FROM customers WHERE brand_id = ?", (brand_id,))

        server = start_server(db, port, log_path)
        figures: list[Figure] = []
        try:
            api = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120)
            # 2. The job: due at a fixed minute after the idle figure.
            due = (datetime.now(timezone.utc) + timedelta(seconds=args.seconds + DRAIN_S + 20 + 59)).replace(
                second=0, microsecond=0)
            api.delete(f"/v1/jobs/{JOB}")  # from an earlier run on --db
            r = api.post("/v1/jobs", json={"code": JOB, "name": "Gift to all", "cron": f"{due.minute} {due.hour} * * *",
                                           "time_zone": "UTC", "selector": {"all": []}, "event_type": EVENT_TYPE})
            r.raise_for_status()
            bucket = r.json()["next_bucket"]
            # 3. Idle.
            figures.append(credit_figure(url, "(idle)   POST credit", key, ledger, brand_id, f"jb-{run_tag}-idle-",
                                         args, tmp, server.pid))
            longest_idle = metric(url, "writer_longest_transaction_seconds")
            # 4. The run starts at the scheduler's next tick after the minute.
            wait_s = (due - datetime.now(timezone.utc)).total_seconds()
            print(f"  waiting {max(wait_s, 0):.0f} s for the occurrence {bucket}", file=sys.stderr, flush=True)
            deadline = time.monotonic() + max(wait_s, 0) + 30
            while (run := latest_run(api)) is None:
                if time.monotonic() > deadline:
                    raise SystemExit("the scheduler did not start the run within 30 s of its minute")
                time.sleep(0.05)
            during = credit_figure(url, "(during) POST credit", key, ledger, brand_id, f"jb-{run_tag}-during-",
                                   args, tmp, server.pid)
            figures.append(during)
            run = latest_run(api)
            if run["status"] != "running":
                during.problems.append("the run finished before the figure did: not all of it was 'during'")
            scanned_after_during = run["scanned"]
            # 5. The rest of the run.
            deadline = time.monotonic() + max(600, args.customers / 20)
            last_print = time.monotonic()
            while run["status"] != "done":
                if time.monotonic() > deadline:
                    raise SystemExit(f"the run did not finish in time: {run}")
                time.sleep(0.5)
                run = latest_run(api)
                if time.monotonic() - last_print > 30:
                    print(f"  run: {run['scanned']:,} scanned, {run['created']:,} created", file=sys.stderr, flush=True)
                    last_print = time.monotonic()
            longest_run = metric(url, "writer_longest_transaction_seconds")
            lag_s = metric(url, "job_lag_seconds")
            # 6. Idle again.
            figures.append(credit_figure(url, "(idle2)  POST credit", key, ledger, brand_id, f"jb-{run_tag}-idle2-",
                                         args, tmp, server.pid))
            longest_end = metric(url, "writer_longest_transaction_seconds")
        finally:
            stop(server)
        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, DATABASE_PATH=db), timeout=1800)
        with open(log_path, errors="replace") as fh:
            log_lines = [ln for ln in fh if "Traceback" in ln or '"ERROR"' in ln or "job_event_failed" in ln]

    run_s = (ms_of(run["finished_at"]) - ms_of(run["started_at"])) / 1000
    lateness_s = (ms_of(run["started_at"]) - ms_of(run["due_at"])) / 1000
    idle, during, idle2 = figures
    ratio = during.p99_ms / idle.p99_ms
    print(f"run {run_tag}: synchronous=FULL, rate limit off, wrk -t{THREADS} -c{args.connections}, {args.seconds} s per "
          f"figure; {customers:,} customers (import of {args.customers:,}: {args.customers / import_s:,.0f} rows/s); "
          f"settings {settings or 'defaults'}")
    print()
    print(f"{'figure':22s} {'2xx/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} {'2xx':>8s} {'non-2xx':>7s} "
          f"{'transfers':>9s} {'RSS MiB':>7s}")
    for f in figures:
        print(f"{f.label:22s} {f.per_s():8,.0f} {f.p50_ms:7.2f} {f.p99_ms:7.2f} {f.max_ms:7.1f} {f.ok:8,d} "
              f"{f.non2xx:7,d} {f.created:9,d} {f.rss_kb / 1024:7.1f}")
    print()
    print(f"job run {run['id']} ({run['bucket']}): {run['scanned']:,} scanned, {run['created']:,} created, "
          f"{run['idempotent_existing']} existing, {run['failed']} failed; started {lateness_s:.1f} s after its "
          f"minute, {run_s:.1f} s long")
    print(f"customers/s (scanned / run time)        {run['scanned'] / run_s:9,.0f}   "
          f"({scanned_after_during:,} scanned by the end of (during): "
          f"{scanned_after_during / max(args.seconds, 1):,.0f}/s while credits ran, roughly)")
    print(f"longest writer transaction              idle {longest_idle * 1000:.1f} ms; after the run "
          f"{longest_run * 1000:.1f} ms; at the end {longest_end * 1000:.1f} ms")
    print(f"credit p99 during / idle                {ratio:9.2f}   ({during.p99_ms:.1f} / {idle.p99_ms:.1f} ms; "
          f"target <= {TARGET_RATIO:g}); vs idle2 {during.p99_ms / idle2.p99_ms:.2f}")
    print(f"job_lag_seconds after the run            {lag_s:.1f}")
    print(f"python -m app verify: exit {verify.returncode}")
    for line in (verify.stdout + verify.stderr).strip().splitlines()[:10]:
        print(f"  {line}")
    if log_lines:
        print(f"server log: {len(log_lines)} error line(s), first: {log_lines[0].rstrip()[:300]}")
    print(f"elapsed {time.monotonic() - started:.0f} s")
    for f in figures:
        problems += [f"{f.label.strip()}: {m}" for m in f.problems]
    if run["scanned"] != customers or run["created"] != customers or run["failed"]:
        problems.append(f"the run scanned {run['scanned']:,} and created {run['created']:,} of {customers:,} "
                        f"customers, {run['failed']} failed")
    if verify.returncode != 0:
        problems.append(f"python -m app verify exited {verify.returncode}")
    if problems:
        print()
        print("FAIL: the run did not measure what it says:")
        for m in problems:
            print(f"  FAIL {m}")
        sys.exit(1)
    print(f"ratio {'met' if ratio <= TARGET_RATIO else 'MISSED'} (target <= {TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
