"""Balance reads: current counters, and counters as of a past moment."""
from __future__ import annotations

import sqlite3

from ..ledger.accounts import Counters


def customer_accounts(conn: sqlite3.Connection, brand_id: int, external_id: str) -> list[tuple[str, int, int]]:
    """(asset code, scale, account id) of every account the customer holds."""
    return [tuple(r) for r in conn.execute(
        "SELECT s.code, s.scale, a.id FROM customers c JOIN accounts a ON a.customer_id = c.id"
        " JOIN assets s ON s.id = a.asset_id WHERE c.brand_id = ? AND c.external_id = ? ORDER BY s.code",
        (brand_id, external_id))]


def customer_balances(conn: sqlite3.Connection, brand_id: int, external_id: str) -> list[tuple] | None:
    """(asset code, scale, Counters) per account of the customer, in one query; None when
    the customer does not exist."""
    rows = conn.execute(
        "SELECT s.code, s.scale, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending"
        " FROM customers c LEFT JOIN accounts a ON a.customer_id = c.id"
        " LEFT JOIN assets s ON s.id = a.asset_id WHERE c.brand_id = ? AND c.external_id = ? ORDER BY s.code",
        (brand_id, external_id)).fetchall()
    if not rows:
        return None
    return [(r[0], r[1], Counters(*r[2:6])) for r in rows if r[0] is not None]


# An account's history, newest first: follow the chain from accounts.last_transfer_id through
# dr_prev_id / cr_prev_id (whichever side the account is on), while `created_at_ms > floor`.
_CHAIN = """
WITH RECURSIVE chain(id) AS (
  SELECT last_transfer_id FROM accounts WHERE id = :acct
  UNION ALL
  SELECT CASE WHEN t.debit_account_id = :acct THEN t.dr_prev_id ELSE t.cr_prev_id END
  FROM transfers t JOIN chain ON t.id = chain.id
  WHERE chain.id IS NOT NULL AND t.created_at_ms > :floor
)"""


def counters_as_of(conn: sqlite3.Connection, account_id: int, as_of_ms: int) -> Counters:
    """The counters right after the account's last transfer at or before `as_of_ms`.

    Walks the account's chain back from its newest transfer; the cost grows with the number
    of the account's transfers after `as_of_ms`, not with the size of the ledger."""
    row = conn.execute(
        _CHAIN + " SELECT t.debit_account_id, t.dr_debits_posted, t.dr_credits_posted, t.dr_debits_pending,"
        " t.dr_credits_pending, t.cr_debits_posted, t.cr_credits_posted, t.cr_debits_pending, t.cr_credits_pending"
        " FROM chain JOIN transfers t ON t.id = chain.id WHERE t.created_at_ms <= :floor ORDER BY t.id DESC LIMIT 1",
        {"acct": account_id, "floor": as_of_ms}).fetchone()
    if row is None:
        return Counters()
    return Counters(*row[1:5]) if row[0] == account_id else Counters(*row[5:9])


_MOVEMENT = """
SELECT t.id, t.kind, t.code, t.amount, t.metadata, t.description, t.created_at_ms, s.code AS asset, s.scale,
       t.credit_account_id = :acct AS incoming,
       CASE WHEN t.credit_account_id = :acct THEN t.cr_credits_posted - t.cr_debits_posted
            ELSE t.dr_credits_posted - t.dr_debits_posted END AS balance_after,
       o.kind AS other_kind, o.owner AS other_owner
FROM transfers t JOIN assets s ON s.id = t.asset_id
JOIN accounts o ON o.id = CASE WHEN t.credit_account_id = :acct THEN t.debit_account_id ELSE t.credit_account_id END
WHERE t.id = :id"""


def _next_in_chain(conn: sqlite3.Connection, account_id: int, transfer_id: int) -> tuple[bool, int | None]:
    """(does the transfer touch the account, the account's previous transfer before it)."""
    row = conn.execute("SELECT debit_account_id, credit_account_id, dr_prev_id, cr_prev_id FROM transfers"
                       " WHERE id = ?", (transfer_id,)).fetchone()
    if row is None:
        return False, None
    if row[0] == account_id:
        return True, row[2]
    return row[1] == account_id, row[3]


def _history_ids(conn: sqlite3.Connection, account_id: int, before_id: int, limit: int) -> list[int]:
    """Up to `limit` ids of the account's transfers below `before_id` (0: from the newest)."""
    head = conn.execute("SELECT last_transfer_id FROM accounts WHERE id = ?", (account_id,)).fetchone()[0]
    if before_id:
        touches, prev = _next_in_chain(conn, account_id, before_id)
        if touches:  # the cursor is on this account's chain: continue right after it
            head = prev
        else:  # another asset's chain: skip this one's newer transfers
            while head is not None and head >= before_id:
                head = _next_in_chain(conn, account_id, head)[1]
    ids: list[int] = []
    while head is not None and len(ids) < limit:
        ids.append(head)
        head = _next_in_chain(conn, account_id, head)[1]
    return ids


def movements(conn: sqlite3.Connection, brand_id: int, external_id: str, asset_code: str | None,
              before_id: int, limit: int) -> list[sqlite3.Row]:
    """The customer's transfers, newest first, each with its side and the balance after it."""
    accounts = [r for r in customer_accounts(conn, brand_id, external_id)
                if asset_code is None or r[0] == asset_code]
    merged = sorted(((tid, acct) for _, _, acct in accounts
                     for tid in _history_ids(conn, acct, before_id, limit)), reverse=True)[:limit]
    return [conn.execute(_MOVEMENT, {"acct": acct, "id": tid}).fetchone() for tid, acct in merged]
