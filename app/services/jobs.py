"""Cron jobs as use cases (seed 004's internal jobs, DESIGN §7): save (validated strictly),
preview, run by hand, and the scheduler's steps (start due occurrences, run chunks).

An occurrence of a job raises one event of the job's `event_type` for every customer its
selector picks, through the same ingestion as `POST /v1/events` (`events.ingest_each`),
with `occurred_at` = the occurrence's moment and the event id
`job-<job id>-<bucket digits>-<customer row id>`: the events table's UNIQUE key makes an
occurrence apply at most once per customer, whatever crashes, restarts, second processes
or manual runs happen (a second run of the same bucket finds them all `existing`).

A run goes through the brand's customers in id order, in chunks: one writer command scans
at most `scan_max` customers and raises at most `events_max` events, then returns, so no
transaction holds the writer for long; its cursor is stored with its counts.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date, datetime, timezone
from typing import Any, NamedTuple

from ..clock import SystemClock
from ..jobs import cron, selectors
from ..ledger.errors import Conflict, InvalidRequest, LedgerError
from ..ledger.json_text import loads_exact
from ..rules.problems import InvalidRule, Problem
from ..rules.tiers import TIER_DOWNGRADED, TIER_UPGRADED
from ..store import jobs as job_store
from ..store.readers import Readers
from ..store.rules import brand_config, zone_of
from ..store.writer import Writer
from ..times import rfc3339
from .events import JOB_EVENT_PREFIX, EventAnswer, EventIn, ingest_each
from .ledger import check_time_zone

log = logging.getLogger("app.jobs")
PREVIEW_SAMPLE = 20
LOGGED_FAILURES = 3  # per chunk; the run's `failed` counts them all


class ChunkResult(NamedTuple):
    done: bool
    scanned: int
    matched: int
    created: int
    existing: int
    failed: int


def _customer(row: sqlite3.Row) -> selectors.CustomerRow:
    return selectors.CustomerRow(
        row["external_id"], row["status"], tuple(json.loads(row["tags"])),
        date.fromisoformat(row["birthdate"]) if row["birthdate"] else None, row["created_at_ms"],
        row["last_event_at_ms"], row["status_points"], row["lifetime_points"])


def _context(conn: sqlite3.Connection, job: sqlite3.Row, due_at_ms: int) -> tuple[selectors.Selector, selectors.Context]:
    config = brand_config(conn, job["brand_id"])
    zone = zone_of(job["time_zone"])
    selector = selectors.parse(loads_exact(job["selector"]))
    today = datetime.fromtimestamp(due_at_ms / 1000, tz=timezone.utc).astimezone(zone).date()
    return selector, selectors.Context(today, due_at_ms, zone, config.tiers)


def event_id_of(job_id: int, bucket: str, customer_row: int) -> str:
    return f"{JOB_EVENT_PREFIX}{job_id}-{''.join(ch for ch in bucket if ch.isdigit())}-{customer_row}"


def run_chunk(conn: sqlite3.Connection, run_id: int, now_ms: int, scan_max: int, events_max: int) -> ChunkResult:
    """One step of a run, inside one writer transaction."""
    run = job_store.run_row(conn, run_id)
    if run is None or run["status"] != "running":
        return ChunkResult(True, 0, 0, 0, 0, 0)
    job = job_store.job_by_id(conn, run["job_id"])
    if not job["active"] or job["deleted_at_ms"] is not None:  # switched off mid-run: stop here
        job_store.advance_run(conn, run_id, run["cursor"], 0, 0, 0, 0, 0, "job inactive", True, now_ms)
        return ChunkResult(True, 0, 0, 0, 0, 0)
    selector, ctx = _context(conn, job, run["due_at_ms"])
    rows = job_store.customers_after(conn, job["brand_id"], run["cursor"], scan_max)
    cursor, picked, scanned = run["cursor"], [], 0
    for row in rows:
        if len(picked) >= events_max:
            break
        cursor, scanned = row["id"], scanned + 1
        if selector.matches(_customer(row), ctx):
            picked.append(row)
    payload = loads_exact(job["payload"])
    occurred = rfc3339(run["due_at_ms"])
    events = []
    for row in picked:
        event_id = event_id_of(job["id"], run["bucket"], row["id"])
        body = {"event_id": event_id, "event_type": job["event_type"], "customer_id": row["external_id"],
                "occurred_at": occurred, "payload": payload}
        events.append(EventIn(event_id, job["event_type"], row["external_id"], run["due_at_ms"], payload, body))
    answers = ingest_each(conn, job["brand_id"], events, now_ms, raised_by_job=True)
    created = sum(1 for a in answers if isinstance(a, EventAnswer) and not a.replayed)
    existing = sum(1 for a in answers if isinstance(a, EventAnswer) and a.replayed)
    errors = [(e.event_id, a) for e, a in zip(events, answers) if isinstance(a, LedgerError)]
    for event_id, error in errors[:LOGGED_FAILURES]:  # a failing customer is logged; the run goes on
        log.error(json.dumps({"event": "job_event_failed", "job": job["code"], "bucket": run["bucket"],
                              "event_id": event_id, "error": error.code, "message": error.message[:200]}))
    if len(errors) > LOGGED_FAILURES:
        log.error(json.dumps({"event": "job_events_failed", "job": job["code"], "bucket": run["bucket"],
                              "more": len(errors) - LOGGED_FAILURES}))
    done = scanned == len(rows) < scan_max  # every customer left was scanned
    last_error = f"{errors[-1][0]}: {errors[-1][1].code}" if errors else None
    job_store.advance_run(conn, run_id, cursor, scanned, len(picked), created, existing, len(errors), last_error,
                          done, now_ms)
    return ChunkResult(done, scanned, len(picked), created, existing, len(errors))


def start_due(conn: sqlite3.Connection, now_ms: int, late_ms: int, limit: int) -> list[int]:
    """Start a run for each job whose next occurrence is due and schedule the one after.

    Missed occurrences (the service was down): `catch_up: latest` runs only the latest one
    that is due; `skip` runs an occurrence only when it is noticed within `late_ms` of it."""
    started = []
    for job in job_store.due_jobs(conn, now_ms, limit):
        zone = zone_of(job["time_zone"])
        latest = cron.latest_at_or_before(job["cron"], zone, now_ms, job["next_due_ms"] - 1)
        if latest is not None and (job["catch_up"] == "latest" or now_ms - latest.at_ms <= late_ms):
            run_id = job_store.start_run(conn, job["id"], latest.bucket, latest.at_ms, "schedule", now_ms)
            if run_id is not None:
                started.append(run_id)
        following = cron.next_after(job["cron"], zone, now_ms)
        job_store.set_next(conn, job["id"], (following.bucket, following.at_ms) if following else None)
    return started


def job_json(row: sqlite3.Row) -> dict:
    return {"code": row["code"], "version": row["version"], **job_store.definition(row),
            "next_bucket": row["next_bucket"], "next_run_at": rfc3339(row["next_due_ms"]),
            "created_at": rfc3339(row["created_at_ms"]), "updated_at": rfc3339(row["updated_at_ms"])}


def run_json(row: sqlite3.Row) -> dict:
    return {"id": str(row["id"]), "bucket": row["bucket"], "due_at": rfc3339(row["due_at_ms"]),
            "trigger": row["trigger"], "status": row["status"], "scanned": row["scanned"], "matched": row["matched"],
            "created": row["created"], "idempotent_existing": row["existing"], "failed": row["failed"],
            "last_error": row["last_error"], "started_at": rfc3339(row["started_at_ms"]),
            "finished_at": rfc3339(row["finished_at_ms"])}


def check_job(conn: sqlite3.Connection, brand_id: int, fields: dict[str, Any]) -> None:
    """Every problem of a job's definition against the brand, or nothing (400 with paths)."""
    config = brand_config(conn, brand_id)
    problems: list[Problem] = []
    name = fields["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        problems.append(Problem("name", "name: 1-200 characters"))
    try:
        cron.check_cron(fields["cron"])
    except InvalidRequest as exc:
        problems.append(Problem("cron", exc.message))
    try:
        check_time_zone(fields["time_zone"])
    except InvalidRequest as exc:
        problems.append(Problem("time_zone", exc.message))
    event_type = fields["event_type"]
    if event_type not in config.event_types or event_type in (TIER_UPGRADED, TIER_DOWNGRADED):
        problems.append(Problem("event_type", f"unknown event type {str(event_type)[:64]!r} (tier events are"
                                f" the service's own); event types: "
                                f"{', '.join(t for t in sorted(config.event_types) if not t.startswith('TIER_'))}"))
    if fields["catch_up"] not in ("latest", "skip"):
        problems.append(Problem("catch_up", "catch_up: latest (run the latest missed occurrence) or skip"))
    try:
        selectors.parse(fields["selector"], [t.code for t in config.tiers])
    except InvalidRule as exc:
        problems += [Problem(p["path"], p["message"]) for p in exc.details["problems"]]
    if problems:
        raise InvalidRule.of(problems)


class JobService:
    def __init__(self, writer: Writer, readers: Readers, clock=None, *, scan_max: int = 2000,
                 events_max: int = 50, late_ms: int = 60_000) -> None:
        self.writer, self.readers, self.clock = writer, readers, clock or SystemClock()
        self.scan_max, self.events_max, self.late_ms = scan_max, events_max, late_ms

    async def create(self, brand_id: int, code: str, fields: dict[str, Any], wrap=None) -> dict:
        return await self._save(brand_id, code, lambda conn: fields, True, wrap)

    async def patch(self, brand_id: int, code: str, changes: dict[str, Any], wrap=None) -> dict:
        def merged(conn: sqlite3.Connection) -> dict:
            return {**job_store.definition(job_store.job_row(conn, brand_id, code)), **changes}
        return await self._save(brand_id, code, merged, False, wrap)

    async def _save(self, brand_id: int, code: str, fields_of, create: bool, wrap) -> dict:
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            fields = fields_of(conn)
            if fields.get("time_zone") is None:  # the brand's own
                fields["time_zone"] = conn.execute("SELECT time_zone FROM brands WHERE id = ?",
                                                   (brand_id,)).fetchone()[0]
            check_job(conn, brand_id, fields)
            following = cron.next_after(fields["cron"], zone_of(fields["time_zone"]), now)
            return job_json(job_store.save_job(conn, brand_id, code, fields,
                                               (following.bucket, following.at_ms) if following else None,
                                               now, create=create))
        return await self.writer.submit(wrap(command) if wrap else command)

    async def delete(self, brand_id: int, code: str) -> dict:
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: {**job_json(job_store.delete_job(c, brand_id, code, now)),
                                                   "active": False, "deleted": True})

    async def get(self, brand_id: int, code: str) -> dict:
        return await self.readers.read(lambda c: job_json(job_store.job_row(c, brand_id, code)))

    async def list(self, brand_id: int, after_id: int, limit: int) -> list:
        rows = await self.readers.read(lambda c: job_store.list_jobs(c, brand_id, after_id, limit))
        return [(row["id"], job_json(row)) for row in rows]

    async def runs(self, brand_id: int, code: str, before_id: int, limit: int) -> list:
        def query(conn: sqlite3.Connection) -> list:
            job = job_store.job_row(conn, brand_id, code)
            return [(row["id"], run_json(row)) for row in job_store.list_runs(conn, job["id"], before_id, limit)]
        return await self.readers.read(query)

    def _current(self, job: sqlite3.Row, now_ms: int) -> cron.Occurrence:
        found = cron.previous_at_or_before(job["cron"], zone_of(job["time_zone"]), now_ms)
        if found is None:
            raise Conflict("the job has no occurrence in the last 400 days to run", job=job["code"])
        return found

    async def preview(self, brand_id: int, code: str) -> dict:
        """The current occurrence's bucket and who it selects; writes nothing."""
        now = self.clock.now_ms()

        def query(conn: sqlite3.Connection) -> dict:
            job = job_store.job_row(conn, brand_id, code)
            occurrence = self._current(job, now)
            selector, ctx = _context(conn, job, occurrence.at_ms)
            matching, sample, after = 0, [], 0
            while True:
                rows = job_store.customers_after(conn, brand_id, after, 5000)
                for row in rows:
                    if selector.matches(_customer(row), ctx):
                        matching += 1
                        if len(sample) < PREVIEW_SAMPLE:
                            sample.append(row["external_id"])
                if len(rows) < 5000:
                    break
                after = rows[-1]["id"]
            return {"bucket": occurrence.bucket, "due_at": rfc3339(occurrence.at_ms), "matching": matching,
                    "sample": sample}
        return await self.readers.read(query)

    async def run_now(self, brand_id: int, code: str) -> dict:
        """Run the current occurrence by hand, to the end (chunk by chunk); its counts."""
        now = self.clock.now_ms()

        def start(conn: sqlite3.Connection) -> tuple[int, str]:
            job = job_store.job_row(conn, brand_id, code)
            occurrence = self._current(job, now)
            return job_store.start_run(conn, job["id"], occurrence.bucket, occurrence.at_ms, "manual", now), \
                occurrence.bucket
        run_id, bucket = await self.writer.submit(start)
        await self.finish(run_id)
        row = await self.readers.read(lambda c: job_store.run_row(c, run_id))
        return {"run_id": str(run_id), "bucket": bucket, "matched": row["matched"], "created": row["created"],
                "idempotent_existing": row["existing"], "failed": row["failed"]}

    # -- the scheduler's steps -----------------------------------------------------------------
    async def step(self, run_id: int) -> ChunkResult:
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: run_chunk(c, run_id, now, self.scan_max, self.events_max))

    async def finish(self, run_id: int) -> None:
        while not (await self.step(run_id)).done:
            pass

    async def start_due(self, limit: int) -> list[int]:
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: start_due(c, now, self.late_ms, limit))

    async def running(self, limit: int) -> list[int]:
        return await self.readers.read(lambda c: job_store.running_runs(c, limit))
