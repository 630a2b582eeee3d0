"""Cron jobs, their runs, and the scheduler's lease row (see migrations/0007_jobs.sql)."""
from __future__ import annotations

import sqlite3
from typing import Any, Mapping, Optional

from ..ledger.errors import Conflict, LimitExceeded, NotFound
from ..ledger.json_text import exact_json, loads_exact

MAX_JOBS_PER_BRAND = 200
JOB_FIELDS = ("name", "cron", "time_zone", "active", "selector", "event_type", "payload", "catch_up")


# -- the lease ----------------------------------------------------------------------------------
def take_lease(conn: sqlite3.Connection, name: str, holder: str, now_ms: int, ttl_ms: int) -> tuple[str, int]:
    """Take or renew the lease for `holder` unless another holds it unexpired; (holder, expiry)
    as it stands after."""
    conn.execute(
        "INSERT INTO scheduler_lease (name, holder, acquired_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET"
        " acquired_at_ms = CASE WHEN holder = excluded.holder THEN acquired_at_ms ELSE excluded.acquired_at_ms END,"
        " holder = excluded.holder, expires_at_ms = excluded.expires_at_ms"
        " WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.expires_at_ms <= ?",
        (name, holder, now_ms, now_ms + ttl_ms, now_ms))
    row = conn.execute("SELECT holder, expires_at_ms FROM scheduler_lease WHERE name = ?", (name,)).fetchone()
    return row[0], row[1]


def release_lease(conn: sqlite3.Connection, name: str, holder: str) -> None:
    conn.execute("DELETE FROM scheduler_lease WHERE name = ? AND holder = ?", (name, holder))


def lease(conn: sqlite3.Connection, name: str) -> Optional[sqlite3.Row]:
    return conn.execute("SELECT holder, acquired_at_ms, expires_at_ms FROM scheduler_lease WHERE name = ?",
                        (name,)).fetchone()


# -- jobs ---------------------------------------------------------------------------------------
def job_row(conn: sqlite3.Connection, brand_id: int, code: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM jobs WHERE brand_id = ? AND code = ? AND deleted_at_ms IS NULL",
                       (brand_id, code)).fetchone()
    if row is None:
        raise NotFound("no such job", job=code)
    return row


def job_by_id(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row:
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()


def list_jobs(conn: sqlite3.Connection, brand_id: int, after_id: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM jobs WHERE brand_id = ? AND deleted_at_ms IS NULL AND id > ? ORDER BY id"
                        " LIMIT ?", (brand_id, after_id, limit)).fetchall()


def definition(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: (loads_exact(row[name]) if name in ("selector", "payload") else
                   bool(row[name]) if name == "active" else row[name]) for name in JOB_FIELDS}


def save_job(conn: sqlite3.Connection, brand_id: int, code: str, fields: Mapping[str, Any],
             next_due: Optional[tuple[str, int]], now_ms: int, *, create: bool) -> sqlite3.Row:
    values = (fields["name"], fields["cron"], fields["time_zone"], int(fields["active"]),
              exact_json(fields["selector"]), fields["event_type"], exact_json(fields["payload"]),
              fields["catch_up"], *(next_due or (None, None)))
    current = conn.execute("SELECT id, deleted_at_ms FROM jobs WHERE brand_id = ? AND code = ?",
                           (brand_id, code)).fetchone()
    if create:
        if current is not None and current["deleted_at_ms"] is None:
            raise Conflict("a job with this code exists; PATCH /v1/jobs/{code} changes it", field="code", code=code)
        count = conn.execute("SELECT count(*) FROM jobs WHERE brand_id = ? AND deleted_at_ms IS NULL",
                             (brand_id,)).fetchone()[0]
        if count >= MAX_JOBS_PER_BRAND:
            raise LimitExceeded(f"a brand has at most {MAX_JOBS_PER_BRAND} jobs")
    elif current is None or current["deleted_at_ms"] is not None:
        raise NotFound("no such job", job=code)
    if current is None:
        return conn.execute(
            "INSERT INTO jobs (brand_id, code, name, cron, time_zone, active, selector, event_type, payload, catch_up,"
            " next_bucket, next_due_ms, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING *", (brand_id, code, *values, now_ms, now_ms)).fetchone()
    return conn.execute(
        "UPDATE jobs SET version = version + 1, name = ?, cron = ?, time_zone = ?, active = ?, selector = ?,"
        " event_type = ?, payload = ?, catch_up = ?, next_bucket = ?, next_due_ms = ?, deleted_at_ms = NULL,"
        " updated_at_ms = ? WHERE id = ? RETURNING *", (*values, now_ms, current["id"])).fetchone()


def delete_job(conn: sqlite3.Connection, brand_id: int, code: str, now_ms: int) -> sqlite3.Row:
    row = job_row(conn, brand_id, code)
    conn.execute("UPDATE jobs SET deleted_at_ms = ?, active = 0, updated_at_ms = ? WHERE id = ?",
                 (now_ms, now_ms, row["id"]))
    conn.execute("UPDATE job_runs SET status = 'done', finished_at_ms = ?, last_error = 'job deleted'"
                 " WHERE job_id = ? AND status = 'running'", (now_ms, row["id"]))
    return row


def due_jobs(conn: sqlite3.Connection, now_ms: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM jobs WHERE active = 1 AND deleted_at_ms IS NULL AND next_due_ms <= ?"
                        " ORDER BY next_due_ms LIMIT ?", (now_ms, limit)).fetchall()


def set_next(conn: sqlite3.Connection, job_id: int, next_due: Optional[tuple[str, int]]) -> None:
    conn.execute("UPDATE jobs SET next_bucket = ?, next_due_ms = ? WHERE id = ?", (*(next_due or (None, None)), job_id))


# -- runs ---------------------------------------------------------------------------------------
def start_run(conn: sqlite3.Connection, job_id: int, bucket: str, due_at_ms: int, trigger: str,
              now_ms: int) -> Optional[int]:
    """A new run of the occurrence; None when the schedule already started this one."""
    row = conn.execute("INSERT INTO job_runs (job_id, bucket, due_at_ms, trigger, status, started_at_ms)"
                       " VALUES (?, ?, ?, ?, 'running', ?) ON CONFLICT DO NOTHING RETURNING id",
                       (job_id, bucket, due_at_ms, trigger, now_ms)).fetchone()
    return row[0] if row else None


def run_row(conn: sqlite3.Connection, run_id: int) -> sqlite3.Row:
    return conn.execute("SELECT * FROM job_runs WHERE id = ?", (run_id,)).fetchone()


def running_runs(conn: sqlite3.Connection, limit: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM job_runs WHERE status = 'running' ORDER BY id LIMIT ?",
                                       (limit,))]


def advance_run(conn: sqlite3.Connection, run_id: int, cursor: int, scanned: int, matched: int, created: int,
                existing: int, failed: int, last_error: Optional[str], done: bool, now_ms: int) -> None:
    conn.execute("UPDATE job_runs SET cursor = ?, scanned = scanned + ?, matched = matched + ?,"
                 " created = created + ?, existing = existing + ?, failed = failed + ?,"
                 " last_error = coalesce(?, last_error), status = ?, finished_at_ms = ? WHERE id = ?",
                 (cursor, scanned, matched, created, existing, failed, last_error and last_error[:500],
                  "done" if done else "running", now_ms if done else None, run_id))


def list_runs(conn: sqlite3.Connection, job_id: int, before_id: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM job_runs WHERE job_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                        (job_id, before_id or 2**63 - 1, limit)).fetchall()


def customers_after(conn: sqlite3.Connection, brand_id: int, after_id: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, external_id, status, tags, birthdate, created_at_ms, last_event_at_ms, status_points,"
        " lifetime_points FROM customers WHERE brand_id = ? AND id > ? ORDER BY id LIMIT ?",
        (brand_id, after_id, limit)).fetchall()
