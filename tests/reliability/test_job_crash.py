"""Crash during a cron job run (DESIGN §7, issue 9): a real `python -m app serve` over a SQLite
file with 5,000 customers runs a job selecting everyone, in small chunks across ticks; it is
SIGKILLed mid-run (some customers reached, not all), a second process is started on the same
file, takes the lease once the dead holder's has expired, and finishes the run. Then every
customer has exactly one event of the occurrence and exactly one POINTS credit from it, the
run is done with its counts, and `python -m app verify` passes.

The cron is a fixed UTC minute of the day (the next whole minute far enough ahead), so the
occurrence is unambiguous: the next one is a day later. Only 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx

from tests.conftest import ROOT

CUSTOMERS = 5000
ADMIN = "job-crash-admin-key-0123456789"
POINTS_AMOUNT = "10"
SETTINGS = {  # small chunks, a fast tick, a short lease: the run takes seconds, over many ticks
    "JOB_SCAN_MAX": "60", "JOB_EVENTS_MAX": "20", "SCHEDULER_TICK_BUDGET_MS": "20",
    "SCHEDULER_INTERVAL_MS": "50", "SCHEDULER_LEASE_S": "2", "RATE_LIMIT_PER_S": "0",
    "SQLITE_SYNCHRONOUS": "FULL", "LOG_LEVEL": "WARNING",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: str, port: int, log_path: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_PATH=db, HOST="127.0.0.1", PORT=str(port), ADMIN_API_KEY=ADMIN, **SETTINGS)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    raise AssertionError("the server did not start; its log:\n" + open(log_path, errors="replace").read()[-3000:])


def _query(db: str, sql: str, args: tuple = ()) -> list:
    """Read-only, a fresh connection each time (never holds a lock the server needs)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _wait(what: str, test, timeout_s: float, proc: subprocess.Popen | None = None, log_path: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}) waiting for {what}; its log:\n"
                                 + open(log_path, errors="replace").read()[-3000:])
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _setup(url: str) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN}, timeout=60) as admin:
        assert admin.post("/v1/brands", json={"code": "crash", "name": "Crash"}).status_code == 201
        key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "crash"}).json()["key"]
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as api:
        r = api.post("/v1/event-types", json={"code": "GIFT", "name": "Gift"})
        assert r.status_code == 201, r.text
        r = api.post("/v1/rules", json={"code": "gift", "name": "Gift", "event_type": "GIFT",
                                        "actions": [{"type": "credit", "asset": "POINTS", "amount": POINTS_AMOUNT}]})
        assert r.status_code == 201, r.text
        csv = "customer_id\n" + "".join(f"k{n:05d}\n" for n in range(CUSTOMERS))
        r = api.post("/v1/imports/customers", content=csv.encode(), headers={"Content-Type": "text/csv"})
        assert r.status_code == 200 and r.json()["created"] == CUSTOMERS, r.text
        # A fixed minute of the day, at least 3 s ahead: one occurrence now, the next a day later.
        due = (datetime.now(timezone.utc) + timedelta(seconds=63)).replace(second=0, microsecond=0)
        r = api.post("/v1/jobs", json={"code": "gift_all", "name": "Gift to all", "cron": f"{due.minute} {due.hour} * * *",
                                       "time_zone": "UTC", "selector": {"all": []}, "event_type": "GIFT"})
        assert r.status_code == 201, r.text
        assert r.json()["next_bucket"] == due.strftime("%Y-%m-%dT%H:%M"), r.text


def test_sigkill_during_a_job_run_then_restart_reaches_everyone_exactly_once(tmp_path):
    db = str(tmp_path / "jobs.db")
    log_path = str(tmp_path / "server.log")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(db, port, log_path)
    second = None
    try:
        _setup(url)
        brand_id, job_id = _query(db, "SELECT j.brand_id, j.id FROM jobs j WHERE j.code = 'gift_all'")[0]
        job_events = "SELECT count(*) FROM events WHERE brand_id = ? AND event_id LIKE ?"
        prefix = f"job-{job_id}-%"
        # The occurrence is due within ~63 s; the first process starts it at its next tick.
        reached = _wait("the run to reach some customers",
                        lambda: (_query(db, job_events, (brand_id, prefix))[0][0] or 0) >= 300, 90, first, log_path)
        assert reached < CUSTOMERS
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = _query(db, job_events, (brand_id, prefix))[0][0]
        run = _query(db, "SELECT id, bucket, status, created FROM job_runs WHERE job_id = ?", (job_id,))
        assert len(run) == 1 and run[0][2] == "running", run
        assert 0 < at_kill < CUSTOMERS, f"the kill came too late or too early: {at_kill} reached"
        run_id, bucket = run[0][0], run[0][1]
        print(f"killed with {at_kill} of {CUSTOMERS} customers reached")

        # A second process on the same file: it waits for the dead holder's lease to expire
        # (SCHEDULER_LEASE_S=2), takes it and continues the run from its cursor.
        second = _serve(db, port, log_path)
        _wait("the run to finish after the restart",
              lambda: _query(db, "SELECT status FROM job_runs WHERE id = ?", (run_id,))[0][0] == "done",
              120, second, log_path)
        health = httpx.get(f"{url}/health", timeout=10).json()
        assert health["scheduler"]["lease_holder"] and str(second.pid) in health["scheduler"]["lease_holder"]
        _stop(second)
        assert second.returncode == 0, open(log_path, errors="replace").read()[-3000:]

        # Exactly one run of that one occurrence, done, every customer reached once.
        runs = _query(db, "SELECT bucket, trigger, status, scanned, matched, created, existing, failed"
                          " FROM job_runs WHERE job_id = ?", (job_id,))
        assert runs == [(bucket, "schedule", "done", CUSTOMERS, CUSTOMERS, CUSTOMERS, 0, 0)]
        digits = "".join(ch for ch in bucket if ch.isdigit())
        per_customer = _query(db, "SELECT c.id, c.external_id, count(e.id) FROM customers c LEFT JOIN events e"
                                  " ON e.customer_id = c.id AND e.event_id LIKE ? WHERE c.brand_id = ?"
                                  " GROUP BY c.id", (f"job-{job_id}-{digits}-%", brand_id))
        assert len(per_customer) == CUSTOMERS
        assert [row for row in per_customer if row[2] != 1] == []
        # The event id is job-<job id>-<bucket digits>-<customer row>.
        wrong_ids = _query(db, "SELECT count(*) FROM events e WHERE e.brand_id = ? AND e.event_id LIKE ?"
                               " AND e.event_id <> ?  || e.customer_id",
                           (brand_id, prefix, f"job-{job_id}-{digits}-"))
        assert wrong_ids == [(0,)]
        assert _query(db, "SELECT count(*) FROM events WHERE brand_id = ?", (brand_id,)) == [(CUSTOMERS,)]
        # Exactly one POINTS credit per customer, from that event.
        credits = _query(db, """
            SELECT a.customer_id, count(t.id), min(json_extract(t.metadata, '$.event_id')), sum(t.amount)
            FROM accounts a JOIN assets s ON s.id = a.asset_id AND s.code = 'POINTS'
            LEFT JOIN transfers t ON t.credit_account_id = a.id
            WHERE a.brand_id = ? AND a.kind = 'customer' GROUP BY a.id""", (brand_id,))
        assert len(credits) == CUSTOMERS
        assert [c for c in credits if c[1] != 1 or c[2] != f"job-{job_id}-{digits}-{c[0]}"] == []
        assert len({c[3] for c in credits}) == 1  # the same amount each
        assert _query(db, "SELECT count(*) FROM transfers WHERE brand_id = ?", (brand_id,)) == [(CUSTOMERS,)]
        # The next occurrence is a day later: nothing else started.
        assert _query(db, "SELECT next_bucket > ? FROM jobs WHERE id = ?", (bucket, job_id)) == [(1,)]

        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, DATABASE_PATH=db, ADMIN_API_KEY=ADMIN), timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
