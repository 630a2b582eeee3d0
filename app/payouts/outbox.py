"""The payout drain (DESIGN §8): one bounded step of the scheduler's tick.

Each run takes the due unfinished payouts (at most PAYOUT_DRAIN_BATCH_MAX, oldest first):
1. **claim** the pending ones, `CLAIMS_PER_COMMAND` per writer command: `pending →
   submitted` (from then on a cancel is refused: the rail may have it) and, for a rail
   with a `stage` hook (the chain), the work that must be durable before any I/O (nonce,
   signature, stored transaction);
2. call the rails **outside any transaction**, one payout after the other: `submit` for a
   payout the rail has not acknowledged yet, `check` for one it has (`provider_ref`). A rail
   that computes in this process (`cpu_bound`: the embedded dev chain, py-evm in Python)
   gets at most DEV_CHAIN_TICK_BUDGET_MS of CPU time (its thread's) per run, so that it
   never starves the requests of the GIL; what is left waits for the next tick;
3. **apply** every outcome in one writer command: `Submitted`/`Pending` store the ref and
   poll again after PAYOUT_POLL_INTERVAL_MS; `Confirmed` posts the hold (the amount stays
   in the brand's `payout_clearing` account: what was paid out); `Failed` voids it (the
   funds return, visible in the customer's movements); `Retry`, or any exception, backs off
   (1 s doubling up to PAYOUT_RETRY_MAX_MS, or the rail's own wait if longer).
Every claim and every rail call is a `payout_attempts` row. A crash between any two steps
leaves a state the next run continues from: a claimed payout is submitted again (the same
idempotency key, the same signed bytes), a submitted one checked again.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Optional

from ..ledger.errors import LedgerError
from ..store import payouts as store
from ..store.sqlite import rollback_to
from ..store.transfers import resolve_pending
from .rails import Confirmed, Failed, Outcome, Pending, PayoutOrder, Retry, Submitted

log = logging.getLogger("app.payouts")
RETRY_BASE_MS = 1000
# A chain claim signs inside the writer's transaction (~3 ms with eth-keys' pure-Python
# backend): a few per command keep the writer free for requests between them.
CLAIMS_PER_COMMAND = 8
MISSING_RAIL_RETRY_S = 300.0


@dataclass
class DrainStats:
    """What /metrics can show of the drain."""

    runs: int = 0
    claimed: int = 0
    confirmed: int = 0
    failed: int = 0
    retries: int = 0
    lag_ms: int = 0     # how late the most overdue payout of the last run was
    outcomes: dict[str, int] = field(default_factory=dict)


def order_of(row: sqlite3.Row) -> PayoutOrder:
    return PayoutOrder(row["uid"], row["brand_id"], row["asset"], row["amount"], row["scale"],
                       json.loads(row["destination"]), {"row_id": row["id"]})


class PayoutDrain:
    def __init__(self, writer, readers, clock, rails, *, batch_max: int, poll_ms: int, retry_max_ms: int,
                 cpu_budget_ms: int = 100) -> None:
        self.writer, self.readers, self.clock, self.rails = writer, readers, clock, rails
        self.batch_max, self.poll_ms, self.retry_max_ms = batch_max, poll_ms, retry_max_ms
        self.cpu_budget_s = cpu_budget_ms / 1000
        self.stats = DrainStats()

    async def run(self) -> int:
        """One bounded round; how many payouts it advanced."""
        self.stats.runs += 1
        now = self.clock.now_ms()
        due = await self.readers.read(lambda c: store.due_payouts(c, now, self.batch_max))
        self.stats.lag_ms = max((now - row["next_attempt_at_ms"] for row in due), default=0)
        if not due:
            return 0
        ready = {name: await self._ready(rail) for name, rail in self.rails.items()
                 if any(row["rail"] == name for row in due)}
        work: list[tuple[sqlite3.Row, bool]] = []   # (payout, just claimed)
        pending = [row for row in due if row["status"] == "pending" and ready.get(row["rail"], True)]
        claimed = await self._claim(pending) if pending else {}
        for row in due:
            if row["id"] in claimed:
                work.append((row, True))
            elif row["status"] == "submitted" and ready.get(row["rail"], True):
                work.append((row, False))
        results = []
        spent: dict[str, float] = {}  # CPU seconds of the rails that compute in this process
        for row, first in work:
            rail = self.rails.get(row["rail"])
            if getattr(rail, "cpu_bound", False):
                before = spent.setdefault(row["rail"], rail.cpu_s)
                if rail.cpu_s - before >= self.cpu_budget_s:
                    continue  # next tick: a claimed one is then submitted, a submitted one checked
            results.append((row, *await self._call(row, first, claimed.get(row["id"]))))
        if results:
            await self.writer.submit(lambda c: self._apply(c, results, self.clock.now_ms()))
        return len(results)

    @staticmethod
    async def _ready(rail: Any) -> bool:
        hook = getattr(rail, "ready", None)
        return True if hook is None else await hook()

    # -- claiming -----------------------------------------------------------------------------------
    async def _claim(self, rows: list[sqlite3.Row]) -> dict[int, Optional[str]]:
        """Claim `rows` in one command; payout id → the ref `stage` made (None without one)."""
        prepared: dict[str, Any] = {}
        for name in {row["rail"] for row in rows}:
            rail = self.rails.get(name)
            hook = getattr(rail, "prepare", None)
            if hook is not None:
                prepared[name] = await hook([order_of(r) for r in rows if r["rail"] == name])
        claimed: dict[int, Optional[str]] = {}
        for start in range(0, len(rows), CLAIMS_PER_COMMAND):
            chunk, now = rows[start:start + CLAIMS_PER_COMMAND], self.clock.now_ms()
            claimed.update(await self.writer.submit(lambda c: self._claim_command(c, chunk, prepared, now)))
        return claimed

    def _claim_command(self, conn: sqlite3.Connection, rows: list[sqlite3.Row], prepared: dict,
                       now_ms: int) -> dict[int, Optional[str]]:
        claimed: dict[int, Optional[str]] = {}
        for row in rows:
            rail = self.rails.get(row["rail"])
            if rail is None:  # never handed to any provider: safe to refund
                self._fail_pending(conn, row, f"rail {row['rail']} is not configured", now_ms)
                continue
            conn.execute("SAVEPOINT claim")
            try:
                if not store.move(conn, row["id"], "pending", "submitted", now_ms):
                    conn.execute("RELEASE claim")  # canceled since it was read
                    continue
                stage = getattr(rail, "stage", None)
                ref = stage(conn, order_of(row), prepared.get(row["rail"]), now_ms) if stage else None
                store.note_attempt(conn, row["id"], "claim", "claimed", ref, now_ms, counts=False, provider_ref=ref)
                conn.execute("RELEASE claim")
                claimed[row["id"]] = ref
                self.stats.claimed += 1
            except LedgerError as exc:  # the rail refuses the order itself: nothing was handed over
                rollback_to(conn, "claim")
                self._fail_pending(conn, row, f"{row['rail']}: {exc.message}", now_ms)
            except Exception as exc:  # noqa: BLE001 - stays pending; tried again after a backoff
                rollback_to(conn, "claim")
                log.exception("claiming payout %s failed", row["uid"])
                store.note_attempt(conn, row["id"], "claim", "error", f"{type(exc).__name__}: {exc}", now_ms,
                                   next_attempt_at_ms=now_ms + self._backoff_ms(row["attempts"], 0),
                                   error=f"claim: {type(exc).__name__}: {exc}")
        return claimed

    def _fail_pending(self, conn: sqlite3.Connection, row: sqlite3.Row, reason: str, now_ms: int) -> None:
        if store.move(conn, row["id"], "pending", "failed", now_ms, last_error=reason[:store.MAX_ERROR_CHARS]):
            resolve_pending(conn, row["brand_id"], row["hold_transfer_id"], "void", now_ms)
            store.note_attempt(conn, row["id"], "claim", "failed", reason, now_ms, counts=False)
            self.stats.failed += 1

    # -- calling the rails --------------------------------------------------------------------------
    async def _call(self, row: sqlite3.Row, first: bool, staged_ref: Optional[str]) -> tuple[str, Outcome]:
        rail = self.rails.get(row["rail"])
        if rail is None:  # submitted before the rail was removed: it may be paying, so never refund here
            return "check", Retry(f"rail {row['rail']} is not configured", MISSING_RAIL_RETRY_S)
        ref = staged_ref if first else row["provider_ref"]
        action = "submit" if first or ref is None else "check"
        try:
            if action == "submit":
                return action, await rail.submit(order_of(row))
            return action, await rail.check(order_of(row), ref)
        except Exception as exc:  # noqa: BLE001 - a rail's bug or a network error: try again later
            log.warning("payout %s: %s raised %s", row["uid"], action, type(exc).__name__)
            return action, Retry(f"{row['rail']} {action}: {type(exc).__name__}: {str(exc)[:300]}", 5.0)

    # -- applying outcomes -------------------------------------------------------------------------
    def _apply(self, conn: sqlite3.Connection, results: list, now_ms: int) -> None:
        for row, action, outcome in results:
            conn.execute("SAVEPOINT outcome")
            try:
                self._apply_one(conn, row, action, outcome, now_ms)
                note = getattr(self.rails.get(row["rail"]), "note", None)
                if note is not None:
                    note(conn, order_of(row), outcome, now_ms)
                conn.execute("RELEASE outcome")
            except Exception:  # noqa: BLE001 - this payout is checked again next time
                rollback_to(conn, "outcome")
                log.exception("recording the outcome of payout %s failed", row["uid"])
            kind = type(outcome).__name__.lower()
            self.stats.outcomes[kind] = self.stats.outcomes.get(kind, 0) + 1

    def _apply_one(self, conn: sqlite3.Connection, row: sqlite3.Row, action: str, outcome: Outcome,
                   now_ms: int) -> None:
        pid = row["id"]
        if isinstance(outcome, (Submitted, Pending)):
            kind = "submitted" if isinstance(outcome, Submitted) else "pending"
            store.note_attempt(conn, pid, action, kind, outcome.provider_ref, now_ms,
                               next_attempt_at_ms=now_ms + self.poll_ms, provider_ref=outcome.provider_ref)
        elif isinstance(outcome, Confirmed):
            if store.move(conn, pid, "submitted", "confirmed", now_ms):
                resolve_pending(conn, row["brand_id"], row["hold_transfer_id"], "post", now_ms)
                self.stats.confirmed += 1
            store.note_attempt(conn, pid, action, "confirmed", outcome.provider_ref, now_ms,
                               provider_ref=outcome.provider_ref)
        elif isinstance(outcome, Failed) and outcome.final:
            if store.move(conn, pid, "submitted", "failed", now_ms):
                resolve_pending(conn, row["brand_id"], row["hold_transfer_id"], "void", now_ms)
                self.stats.failed += 1
            store.note_attempt(conn, pid, action, "failed", outcome.reason, now_ms, error=outcome.reason)
        else:  # Retry, or a Failed that is not final
            after_s = getattr(outcome, "after_s", 0.0)
            self.stats.retries += 1
            store.note_attempt(conn, pid, action, "retry", outcome.reason, now_ms, error=outcome.reason,
                               next_attempt_at_ms=now_ms + self._backoff_ms(row["attempts"], after_s))

    def _backoff_ms(self, attempts: int, after_s: float) -> int:
        doubling = RETRY_BASE_MS * 2 ** min(attempts, 20)
        return min(self.retry_max_ms, max(doubling, int(after_s * 1000)))
