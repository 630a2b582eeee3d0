"""The scheduler (DESIGN §7): one Tornado PeriodicCallback per process that runs the
background work while this process holds the lease row.

Each tick, in order, each step bounded and each failure logged without stopping the rest:
1. take or renew the lease (`scheduler_lease`, holder = this process, expiry = now +
   `SCHEDULER_LEASE_S`); a process that does not hold it does nothing else. When the holder
   dies, another takes over once the lease has expired; a holder that stops cleanly
   releases it at once;
2. the built-in jobs: pending-transfer timeouts and lot expiry (`SCHEDULER_BATCH_MAX` of
   each), reward expiry, the idempotency purge, the payout drain (PAYOUT_DRAIN_BATCH_MAX),
   deposit detection for the funding wallets (DEPOSIT_SCAN_BLOCKS_MAX), the chain payer's
   balances for /metrics (every 30 s, once the chain rail is connected);
3. start the cron jobs that are due (a run per occurrence; the next occurrence scheduled);
4. run chunks of the runs in progress, one chunk of each in turn, until
   `SCHEDULER_TICK_BUDGET_MS` is spent (a job over 100k customers goes on over many ticks
   without holding back a small job, and the writer serves requests between chunks).

A tick never overlaps the previous one (a tick still running makes the next one a no-op).
Time comes from the runtime's clock, so tests move it; `tick()` can be called directly.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Optional

import tornado.ioloop

from ..store import jobs as job_store

log = logging.getLogger("app.jobs")
LEASE_NAME = "scheduler"
REPEAT_LOG_S = 60.0  # a step failing again the same way is logged once per this long


@dataclass
class SchedulerStats:
    """What /metrics shows of the scheduler."""

    ticks: int = 0
    holding: bool = False
    runs_started: int = 0
    chunks: int = 0
    failures: dict[str, int] = field(default_factory=dict)   # step or job code → failures
    lag_ms: int = 0    # how far behind the oldest unfinished occurrence is


class Scheduler:
    def __init__(self, runtime, holder: Optional[str] = None) -> None:
        self.runtime = runtime
        cfg = runtime.config
        self.holder = holder or f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.interval_ms = cfg.scheduler_interval_ms
        self.lease_ms = cfg.scheduler_lease_s * 1000
        self.budget_s = cfg.scheduler_tick_budget_ms / 1000
        self.limit = cfg.scheduler_batch_max
        self.stats = SchedulerStats()
        self._ticking = False
        self._callback: Optional[tornado.ioloop.PeriodicCallback] = None
        self._current: Optional[asyncio.Task] = None
        # (step, error class) → (monotonic time of its last log line, failures since): a step
        # failing every tick the same way (the disk full, out of file descriptors) logs once a minute.
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._callback = tornado.ioloop.PeriodicCallback(self._fire, self.interval_ms)
        self._callback.start()

    def _fire(self) -> None:
        if not self._ticking:
            self._current = asyncio.ensure_future(self.tick())

    async def stop(self) -> None:
        """Stop ticking, let the current tick finish, and hand the lease back."""
        if self._callback is not None:
            self._callback.stop()
        if self._current is not None:
            await asyncio.gather(self._current, return_exceptions=True)
        if self.stats.holding:
            await self.runtime.writer.submit(lambda c: job_store.release_lease(c, LEASE_NAME, self.holder))
            self.stats.holding = False

    # -- one tick ---------------------------------------------------------------------------------
    async def tick(self) -> bool:
        """One round of background work; False when skipped (overlap, or another holds the lease)."""
        if self._ticking:
            return False
        self._ticking = True
        try:
            self.stats.ticks += 1
            if not await self._hold_lease():
                return False
            rt = self.runtime
            await self._step("holds_and_lots", lambda: rt.ledger.sweep(self.limit))
            await self._step("rewards", lambda: rt.rewards.expire_due(self.limit))
            await self._step("gift_cards", lambda: rt.giftcards.expire_due(self.limit))
            await self._step("idempotency_purge", rt.purge_idempotency)
            await self._step("payouts", rt.payout_drain.run)
            await self._step("deposits", rt.deposits.run)
            await self._step("payer_balances", rt.rails.get("chain").refresh_payer_balances)
            started = await self._step("start_due_jobs", lambda: rt.jobs.start_due(self.limit))
            self.stats.runs_started += len(started or ())
            await self._run_chunks()
            return True
        finally:
            self._ticking = False

    async def _hold_lease(self) -> bool:
        now = self.runtime.clock.now_ms()
        try:
            holder, _ = await self.runtime.writer.submit(
                lambda c: job_store.take_lease(c, LEASE_NAME, self.holder, now, self.lease_ms))
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            self._failed("lease", exc)
            return False
        self.stats.holding = holder == self.holder
        return self.stats.holding

    async def _step(self, name: str, step: Callable[[], Awaitable]):
        try:
            result = await step()
        except Exception as exc:  # noqa: BLE001 - one failing step never stops the others
            self._failed(name, exc)
            return None
        if self._logged:  # recovered: its next failure is news again, logged at once
            for key in [k for k in self._logged if k[0] == name]:
                del self._logged[key]
        return result

    async def _run_chunks(self) -> None:
        jobs = self.runtime.jobs
        deadline = time.monotonic() + self.budget_s
        runs = await self._step("running_jobs", lambda: jobs.running(self.limit)) or []
        while runs and time.monotonic() < deadline:  # round robin: a long run never starves the others
            for run_id in list(runs):
                if time.monotonic() >= deadline:
                    break
                try:
                    result = await jobs.step(run_id)
                except Exception as exc:  # noqa: BLE001 - the run is retried next tick
                    self._failed(f"run {run_id}", exc)
                    runs.remove(run_id)
                    continue
                self.stats.chunks += 1
                if result.done:
                    runs.remove(run_id)
        self.stats.lag_ms = await self._step("lag", self._lag) or 0

    async def _lag(self) -> int:
        now = self.runtime.clock.now_ms()
        oldest = await self.runtime.readers.read(lambda c: c.execute(
            "SELECT min(due) FROM (SELECT min(due_at_ms) AS due FROM job_runs WHERE status = 'running'"
            " UNION ALL SELECT min(next_due_ms) FROM jobs WHERE active = 1 AND deleted_at_ms IS NULL)").fetchone()[0])
        return max(0, now - oldest) if oldest is not None else 0

    def _failed(self, name: str, exc: BaseException) -> None:
        self.stats.failures[name] = self.stats.failures.get(name, 0) + 1
        key, now = (name, type(exc).__name__), time.monotonic()
        last, since = self._logged.get(key, (float("-inf"), 0))
        if now - last < REPEAT_LOG_S:
            self._logged[key] = (last, since + 1)
            return
        self._logged[key] = (now, 0)
        log.error(json.dumps({"event": "scheduler_step_failed", "step": name, "error": type(exc).__name__,
                              "message": str(exc)[:300], "repeats_not_logged": since}))
