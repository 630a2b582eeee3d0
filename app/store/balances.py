"""Balance reads: current counters, and counters as of a past moment."""
from __future__ import annotations

import sqlite3

from ..ledger.accounts import Counters


def customer_accounts(conn: sqlite3.Connection, brand_id: int, external_id: str) -> list[tuple[str, int, int]]:
    """(asset code, scale, account id) of every account the customer holds."""
    return [tuple(r) for r in conn.execute(
        "SELECT s.code, s.scale, a.id FROM accounts a JOIN assets s ON s.id = a.asset_id"
        " WHERE a.brand_id = ? AND a.kind = 'customer' AND a.owner = ? ORDER BY s.code",
        (brand_id, external_id))]


def current_counters(conn: sqlite3.Connection, account_id: int) -> Counters:
    row = conn.execute("SELECT debits_posted, credits_posted, debits_pending, credits_pending"
                       " FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return Counters(*row) if row else Counters()


def counters_as_of(conn: sqlite3.Connection, account_id: int, as_of_ms: int) -> Counters:
    """The counters after the last transfer at or before `as_of_ms` (empty before the first)."""
    debit = conn.execute(
        "SELECT created_at_ms, id, dr_debits_posted, dr_credits_posted, dr_debits_pending,"
        " dr_credits_pending FROM transfers WHERE debit_account_id = ? AND created_at_ms <= ?"
        " ORDER BY created_at_ms DESC, id DESC LIMIT 1", (account_id, as_of_ms)).fetchone()
    credit = conn.execute(
        "SELECT created_at_ms, id, cr_debits_posted, cr_credits_posted, cr_debits_pending,"
        " cr_credits_pending FROM transfers WHERE credit_account_id = ? AND created_at_ms <= ?"
        " ORDER BY created_at_ms DESC, id DESC LIMIT 1", (account_id, as_of_ms)).fetchone()
    latest = max((r for r in (debit, credit) if r), key=lambda r: (r[0], r[1]), default=None)
    return Counters(*latest[2:]) if latest else Counters()


def movements(conn: sqlite3.Connection, brand_id: int, external_id: str, asset_code: str | None,
              before_id: int, limit: int) -> list[sqlite3.Row]:
    """The customer's transfers, newest first, each with its side and the balance after it."""
    accounts = [r for r in customer_accounts(conn, brand_id, external_id)
                if asset_code is None or r[0] == asset_code]
    if not accounts:
        return []
    ids = [a[2] for a in accounts]
    marks = ",".join("?" * len(ids))
    bound = "AND t.id < ?" if before_id else ""
    extra = (before_id,) if before_id else ()
    return conn.execute(
        f"SELECT * FROM (SELECT t.id, t.kind, t.code, t.amount, t.metadata, t.created_at_ms, s.code AS asset,"
        f" s.scale, 1 AS incoming, t.cr_credits_posted - t.cr_debits_posted AS balance_after,"
        f" d.kind AS other_kind, d.owner AS other_owner"
        f" FROM transfers t JOIN assets s ON s.id = t.asset_id JOIN accounts d ON d.id = t.debit_account_id"
        f" WHERE t.credit_account_id IN ({marks}) {bound}"
        f" UNION ALL SELECT t.id, t.kind, t.code, t.amount, t.metadata, t.created_at_ms, s.code, s.scale, 0,"
        f" t.dr_credits_posted - t.dr_debits_posted, c.kind, c.owner"
        f" FROM transfers t JOIN assets s ON s.id = t.asset_id JOIN accounts c ON c.id = t.credit_account_id"
        f" WHERE t.debit_account_id IN ({marks}) {bound}) ORDER BY id DESC LIMIT ?",
        (*ids, *extra, *ids, *extra, limit)).fetchall()
