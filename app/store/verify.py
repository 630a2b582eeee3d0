"""`verify`: PRAGMA integrity_check plus every ledger invariant and the hash chain.

Returns a list of problems (empty when the ledger is sound); each names what is wrong.
Reads only; safe on a live database (it reads one consistent snapshot).
"""
from __future__ import annotations

import sqlite3

from ..ledger.transfers import GENESIS_HASH, ChainFields, chain_hash

MAX_PROBLEMS = 100

_RECOMPUTED = """
WITH legs AS (
  SELECT debit_account_id AS acct,
         CASE WHEN kind IN ('posted','post_pending') THEN amount ELSE 0 END AS dp, 0 AS cp,
         CASE WHEN kind = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
              THEN amount ELSE 0 END AS dpe, 0 AS cpe
  FROM transfers t
  UNION ALL
  SELECT credit_account_id, 0,
         CASE WHEN kind IN ('posted','post_pending') THEN amount ELSE 0 END, 0,
         CASE WHEN kind = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
              THEN amount ELSE 0 END
  FROM transfers t)
SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
       coalesce(sum(l.dp), 0), coalesce(sum(l.cp), 0), coalesce(sum(l.dpe), 0), coalesce(sum(l.cpe), 0)
FROM accounts a LEFT JOIN legs l ON l.acct = a.id GROUP BY a.id
"""


def _integrity(conn: sqlite3.Connection) -> list[str]:
    result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return [] if result == ["ok"] else [f"integrity_check: {'; '.join(result[:10])}"]


def _balanced_assets(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT asset_id, sum(debits_posted), sum(credits_posted), sum(debits_pending),"
                        " sum(credits_pending) FROM accounts GROUP BY asset_id").fetchall()
    return [f"asset {r[0]}: debits {r[1]}/{r[3]} != credits {r[2]}/{r[4]} (posted/pending)"
            for r in rows if r[1] != r[2] or r[3] != r[4]]


def _stored_counters(conn: sqlite3.Connection) -> list[str]:
    return [f"account {r[0]}: stored counters {tuple(r[1:5])} != sum of transfers {tuple(r[5:9])}"
            for r in conn.execute(_RECOMPUTED) if tuple(r[1:5]) != tuple(r[5:9])]


def _no_overdraft(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT id FROM accounts WHERE no_overdraft = 1 AND"
                        " debits_posted + debits_pending > credits_posted").fetchall()
    return [f"account {r[0]}: below zero although overdraft is forbidden" for r in rows]


def _lots(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT a.id, a.credits_posted - a.debits_posted, coalesce(sum(l.remaining), 0)"
        " FROM accounts a LEFT JOIN lots l ON l.account_id = a.id WHERE a.tracks_lots = 1"
        " GROUP BY a.id").fetchall()
    return [f"account {r[0]}: lots sum to {r[2]} but the balance is {r[1]}" for r in rows if r[1] != r[2]]


def _open_holds(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT t.id FROM transfers t WHERE t.kind = 'pending' AND"
        " (NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id))"
        " != (EXISTS (SELECT 1 FROM open_holds h WHERE h.transfer_id = t.id))").fetchall()
    return [f"transfer {r[0]}: open-hold index disagrees with its resolution" for r in rows]


def _chain_and_snapshots(conn: sqlite3.Connection) -> list[str]:
    """Recompute the hash chain; check each account's history chain and that the balances-after
    of its last transfer equal its counters."""
    problems: list[str] = []
    prev = GENESIS_HASH
    last: dict[int, tuple[int, tuple]] = {}  # account → (last transfer id, counters after it)
    cursor = conn.execute(
        "SELECT id, brand_id, asset_id, debit_account_id, credit_account_id, amount, kind, code,"
        " pending_id, timeout_at_ms, idempotency_key, metadata, created_at_ms, dr_prev_id, cr_prev_id,"
        " prev_hash, hash, dr_debits_posted, dr_credits_posted, dr_debits_pending, dr_credits_pending,"
        " cr_debits_posted, cr_credits_posted, cr_debits_pending, cr_credits_pending"
        " FROM transfers ORDER BY id")
    for r in cursor:
        if r[15] != prev or r[16] != chain_hash(prev, ChainFields(*r[:15])):
            problems.append(f"transfer {r[0]}: hash chain broken")
        for account_id, prev_id in ((r[3], r[13]), (r[4], r[14])):
            if last.get(account_id, (None,))[0] != prev_id:
                problems.append(f"transfer {r[0]}: history chain of account {account_id} broken")
        if len(problems) >= MAX_PROBLEMS:
            break
        prev = r[16]
        last[r[3]] = (r[0], tuple(r[17:21]))
        last[r[4]] = (r[0], tuple(r[21:25]))
    for account_id, head, *counters in conn.execute(
            "SELECT id, last_transfer_id, debits_posted, credits_posted, debits_pending, credits_pending"
            " FROM accounts"):
        last_id, after = last.get(account_id, (None, (0, 0, 0, 0)))
        if after != tuple(counters) or head != last_id:
            problems.append(f"account {account_id}: its last transfer's balances-after or id differ from the account")
    return problems


CHECKS = (_integrity, _balanced_assets, _stored_counters, _no_overdraft, _lots, _open_holds,
          _chain_and_snapshots)


def verify(conn: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    conn.execute("BEGIN")  # one snapshot for every check
    try:
        for check in CHECKS:
            problems.extend(check(conn))
            if len(problems) >= MAX_PROBLEMS:
                break
    finally:
        conn.execute("COMMIT")
    return problems[:MAX_PROBLEMS]
