"""Sweeps that move time forward: pending transfers past their timeout, lots past expiry.

Each sweep is one writer command handling at most `limit` items; each item runs in its
own SAVEPOINT so that one failing item is logged and skipped, not fatal to the sweep.
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from ..ledger.errors import LedgerError
from ..ledger.lots import expirable
from ..ledger.transfers import TransferSpec
from .accounts import ensure_account, load_account
from ..rules.tiers import TIER_ASSET
from .brands import asset_by_id
from .events import lower_status_points
from .sqlite import rollback_to
from .transfers import create_transfer, resolve_pending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    done: int
    failed: int


def _each(conn: sqlite3.Connection, items: list, apply) -> SweepResult:
    done = failed = 0
    for item in items:
        conn.execute("SAVEPOINT sweep_item")
        try:
            apply(item)
            conn.execute("RELEASE sweep_item")
            done += 1
        except (LedgerError, sqlite3.Error) as exc:
            rollback_to(conn, "sweep_item")
            log.error("sweep item %r failed: %s", item, exc)
            failed += 1
    return SweepResult(done, failed)


def expire_due_holds(conn: sqlite3.Connection, now_ms: int, limit: int) -> SweepResult:
    rows = conn.execute("SELECT transfer_id, brand_id FROM open_holds WHERE timeout_at_ms <= ?"
                        " ORDER BY timeout_at_ms LIMIT ?", (now_ms, limit)).fetchall()
    return _each(conn, rows, lambda r: resolve_pending(conn, r[1], r[0], "expire", now_ms))


def _earned_by_rule(conn: sqlite3.Connection, lot_id: int) -> bool:
    """The lot came from a rule's credit (its transfer names the rule): those points counted
    toward status; points credited by hand never did."""
    row = conn.execute("SELECT json_extract(t.metadata, '$.rule') FROM lots l JOIN transfers t ON t.id = l.transfer_id"
                       " WHERE l.id = ?", (lot_id,)).fetchone()
    return row is not None and row[0] is not None


def expire_due_lots(conn: sqlite3.Connection, now_ms: int, limit: int) -> SweepResult:
    """Move what remains of each expired lot to `breakage`, within the available balance;
    expired points of the tier asset lower the customer's status points (never below 0)."""
    rows = conn.execute(
        "SELECT l.id, l.account_id, l.remaining FROM lots l JOIN accounts a ON a.id = l.account_id"
        " WHERE l.remaining > 0 AND l.expires_at_ms <= ?"
        " AND a.credits_posted - a.debits_posted - a.debits_pending > 0"
        " ORDER BY l.expires_at_ms, l.id LIMIT ?", (now_ms, limit)).fetchall()

    def expire(row) -> None:
        lot_id, account_id, remaining = row
        account = load_account(conn, account_id)
        amount = expirable(remaining, account.counters.available)
        if amount == 0:
            return
        asset = asset_by_id(conn, account.asset_id)
        breakage = ensure_account(conn, asset, "system", "breakage", now_ms)
        create_transfer(conn, TransferSpec(
            brand_id=account.brand_id, asset_id=account.asset_id, debit_account_id=account_id,
            credit_account_id=breakage.id, amount=amount, code="expiry",
            metadata={"lot_id": lot_id}, from_lot_id=lot_id), now_ms)
        if asset.code == TIER_ASSET and account.kind == "customer" and _earned_by_rule(conn, lot_id):
            # DESIGN §6a: expiry lowers status points, by what a rule earned (what counted)
            lower_status_points(conn, account.brand_id, account.owner, amount)

    return _each(conn, rows, expire)
