"""`verify`: PRAGMA integrity_check plus every ledger invariant and the hash chain.

Returns a list of problems (empty when the ledger is sound); each names what is wrong.
Reads only; safe on a live database (it reads one consistent snapshot).

Every sum is taken in Python: SQL `sum()` raises "integer overflow" past 2^63-1, and a
ledger built only of accepted transfers can legitimately hold totals past that (nine
credits of 10^18 and their debits), so `verify` must never depend on it.
`near_limit` lists the accounts approaching the 64-bit counter range (warnings, not problems).
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Callable

from ..ledger.money import COUNTER_WARN_MINOR, MAX_COUNTER_MINOR
from ..ledger.transfers import GENESIS_HASH, ChainFields, chain_content, chain_hash

MAX_PROBLEMS = 100
# (phase, rows done, rows in all): called now and then while a large ledger is checked.
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY_ROWS = 100_000

_TRANSFERS = (
    "SELECT id, brand_id, asset_id, debit_account_id, credit_account_id, amount, kind, code,"
    " pending_id, timeout_at_ms, idempotency_key, metadata, created_at_ms, dr_prev_id, cr_prev_id,"
    " prev_hash, hash, dr_debits_posted, dr_credits_posted, dr_debits_pending, dr_credits_pending,"
    " cr_debits_posted, cr_credits_posted, cr_debits_pending, cr_credits_pending, description"
    " FROM transfers ORDER BY id")
_ACCOUNTS = ("SELECT id, asset_id, no_overdraft, tracks_lots, debits_posted, credits_posted, debits_pending,"
             " credits_pending, last_transfer_id FROM accounts ORDER BY id")


def _integrity(conn: sqlite3.Connection) -> list[str]:
    result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return [] if result == ["ok"] else [f"integrity_check: {'; '.join(result[:10])}"]


class _Walk:
    """What one pass over the transfers learns: each account's counters recomputed from its
    transfers, and the problems of the hash chain and of the accounts' history chains."""

    def __init__(self) -> None:
        self.counters: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.last: dict[int, tuple[int, tuple]] = {}  # account → (last transfer id, counters after it)
        self.problems: list[str] = []


def _walk_transfers(conn: sqlite3.Connection, progress: Progress | None) -> _Walk:
    walk = _Walk()
    resolved = {r[0] for r in conn.execute("SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL")}
    total = conn.execute("SELECT max(id) FROM transfers").fetchone()[0] or 0
    prev = GENESIS_HASH
    for n, r in enumerate(conn.execute(_TRANSFERS), 1):
        if progress and n % PROGRESS_EVERY_ROWS == 0:
            progress("transfers", n, total)
        if len(walk.problems) < MAX_PROBLEMS:
            if r[15] != prev or r[16] != chain_hash(prev, chain_content(ChainFields(*r[:15]), r[25])):
                walk.problems.append(f"transfer {r[0]}: hash chain broken")
            for account_id, prev_id in ((r[3], r[13]), (r[4], r[14])):
                if walk.last.get(account_id, (None,))[0] != prev_id:
                    walk.problems.append(f"transfer {r[0]}: history chain of account {account_id} broken")
        prev = r[16]
        walk.last[r[3]] = (r[0], tuple(r[17:21]))
        walk.last[r[4]] = (r[0], tuple(r[21:25]))
        kind, amount = r[6], r[5]
        if kind in ("posted", "post_pending"):
            walk.counters[r[3]][0] += amount
            walk.counters[r[4]][1] += amount
        elif kind == "pending" and r[0] not in resolved:
            walk.counters[r[3]][2] += amount
            walk.counters[r[4]][3] += amount
    if progress:
        progress("transfers", total, total)
    return walk


def _accounts(conn: sqlite3.Connection, walk: _Walk) -> list[str]:
    """Per account: stored counters = its transfers, balances-after of its last transfer = its
    counters, no overdraft, lots = balance; per asset: debits = credits."""
    problems: list[str] = []
    lots: dict[int, int] = defaultdict(int)
    for account_id, remaining in conn.execute("SELECT account_id, remaining FROM lots"):
        lots[account_id] += remaining
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for account_id, asset_id, no_overdraft, tracks_lots, *counters, head in conn.execute(_ACCOUNTS):
        stored = tuple(counters)
        recomputed = tuple(walk.counters.get(account_id, (0, 0, 0, 0)))
        if stored != recomputed:
            problems.append(f"account {account_id}: stored counters {stored} != sum of transfers {recomputed}")
        last_id, after = walk.last.get(account_id, (None, (0, 0, 0, 0)))
        if after != stored or head != last_id:
            problems.append(f"account {account_id}: its last transfer's balances-after or id differ from the account")
        dp, cp, dpe, _cpe = stored
        if no_overdraft and dp + dpe > cp:
            problems.append(f"account {account_id}: below zero although overdraft is forbidden")
        if tracks_lots and lots.get(account_id, 0) != cp - dp:
            problems.append(f"account {account_id}: lots sum to {lots.get(account_id, 0)} but the balance is {cp - dp}")
        for i, value in enumerate(stored):
            totals[asset_id][i] += value
    for asset_id, (dp, cp, dpe, cpe) in sorted(totals.items()):
        if dp != cp or dpe != cpe:
            problems.append(f"asset {asset_id}: debits {dp}/{dpe} != credits {cp}/{cpe} (posted/pending)")
    return problems


def _open_holds(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT t.id FROM transfers t WHERE t.kind = 'pending' AND"
        " (NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id))"
        " != (EXISTS (SELECT 1 FROM open_holds h WHERE h.transfer_id = t.id))").fetchall()
    return [f"transfer {r[0]}: open-hold index disagrees with its resolution" for r in rows]


def verify(conn: sqlite3.Connection, progress: Progress | None = None) -> list[str]:
    problems: list[str] = []
    conn.execute("BEGIN")  # one snapshot for every check
    try:
        problems.extend(_integrity(conn))
        if not problems:
            walk = _walk_transfers(conn, progress)
            problems.extend(walk.problems)
            problems.extend(_accounts(conn, walk))
            problems.extend(_open_holds(conn))
    finally:
        conn.execute("COMMIT")
    return problems[:MAX_PROBLEMS]


# Near the limit: rows of the partial index `accounts_near_counter_limit` (migration 0003).
_NEAR_LIMIT = (
    "SELECT a.id, a.kind, a.owner, s.code, b.code,"
    " max(a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)"
    " FROM accounts a JOIN assets s ON s.id = a.asset_id JOIN brands b ON b.id = a.brand_id"
    f" WHERE max(a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending) >= {COUNTER_WARN_MINOR}"
    " ORDER BY 6 DESC LIMIT ?")


def near_limit(conn: sqlite3.Connection, limit: int = MAX_PROBLEMS) -> list[dict]:
    """Accounts whose largest counter has passed COUNTER_WARN_MINOR, fullest first."""
    return [{"account_id": r[0], "account": f"{r[1]}:{r[2]}", "asset": r[3], "brand": r[4],
             "largest_counter_minor": r[5], "used_percent": r[5] * 100 // MAX_COUNTER_MINOR}
            for r in conn.execute(_NEAR_LIMIT, (limit,))]


def near_limit_summary(conn: sqlite3.Connection) -> tuple[int, int]:
    """(how many accounts are past COUNTER_WARN_MINOR, the largest counter among them or 0)."""
    largest = "max(debits_posted, credits_posted, debits_pending, credits_pending)"
    # The bound is written into the SQL (not a parameter) so the planner matches the partial index.
    count, top = conn.execute(f"SELECT count(*), max({largest}) FROM accounts"
                              f" WHERE {largest} >= {COUNTER_WARN_MINOR}").fetchone()
    return count, top or 0


def near_limit_warnings(conn: sqlite3.Connection) -> list[str]:
    return [f"account {a['account_id']} ({a['account']}, asset {a['asset']} of brand {a['brand']}) has used"
            f" {a['used_percent']}% of its 64-bit counter range" for a in near_limit(conn)]
