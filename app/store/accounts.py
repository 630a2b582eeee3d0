"""Accounts: lookup, creation on first use, and counter updates."""
from __future__ import annotations

import json
import sqlite3

from ..ledger.accounts import Account, Counters, overdraft_forbidden_for
from ..ledger.assets import Asset
from ..ledger.errors import NotFound

_SELECT = ("SELECT a.id, a.brand_id, a.asset_id, a.kind, a.owner, a.no_overdraft, a.tracks_lots,"
           " s.expiry_days, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,"
           " a.last_transfer_id"
           " FROM accounts a JOIN assets s ON s.id = a.asset_id")


def _account(row: sqlite3.Row | tuple) -> Account:
    return Account(row[0], row[1], row[2], row[3], row[4], bool(row[5]), bool(row[6]), row[7],
                   Counters(row[8], row[9], row[10], row[11]), row[12])


def load_account(conn: sqlite3.Connection, account_id: int) -> Account:
    row = conn.execute(_SELECT + " WHERE a.id = ?", (account_id,)).fetchone()
    if row is None:
        raise NotFound("no such account", account_id=account_id)
    return _account(row)


def load_pair(conn: sqlite3.Connection, debit_id: int, credit_id: int) -> tuple[Account, Account]:
    """Both accounts of a transfer in one query."""
    found = {row[0]: _account(row) for row in conn.execute(_SELECT + " WHERE a.id IN (?, ?)", (debit_id, credit_id))}
    for account_id in (debit_id, credit_id):
        if account_id not in found:
            raise NotFound("no such account", account_id=account_id)
    return found[debit_id], found[credit_id]


def load_many(conn: sqlite3.Connection, account_ids: set[int], customer_row: int | None = None) -> dict[int, Account]:
    """The accounts that exist among `account_ids`, and every account of the customer row
    `customer_row` when given, in one query."""
    if customer_row is None:
        return {row[0]: _account(row) for row in conn.execute(
            _SELECT + " WHERE a.id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(account_ids)),))}
    return {row[0]: _account(row) for row in conn.execute(
        _SELECT + " WHERE a.id IN (SELECT value FROM json_each(?)) UNION ALL " + _SELECT + " WHERE a.customer_id = ?",
        (json.dumps(sorted(account_ids)), customer_row))}


_SAVE = ("UPDATE accounts SET debits_posted = ?, credits_posted = ?, debits_pending = ?,"
         " credits_pending = ?, last_transfer_id = ? WHERE id = ?")


def save_many(conn: sqlite3.Connection, accounts: list[Account]) -> None:
    """Accounts' counters and newest transfer, as held in memory by a batch."""
    conn.executemany(_SAVE, [(*a.counters, a.last_transfer_id, a.id) for a in accounts])


def find_account(conn: sqlite3.Connection, asset: Asset, kind: str, owner: str) -> Account | None:
    row = conn.execute(_SELECT + " WHERE a.brand_id = ? AND a.asset_id = ? AND a.kind = ? AND a.owner = ?",
                       (asset.brand_id, asset.id, kind, owner)).fetchone()
    return _account(row) if row else None


def ensure_account(conn: sqlite3.Connection, asset: Asset, kind: str, owner: str, now_ms: int,
                   customer_id: int | None = None) -> Account:
    """The account of `owner` for `asset`, created (empty) on first use."""
    found = find_account(conn, asset, kind, owner)
    if found:
        return found
    no_overdraft = overdraft_forbidden_for(kind)
    tracks_lots = no_overdraft and asset.expiry_days is not None
    account_id = conn.execute(
        "INSERT INTO accounts (brand_id, asset_id, kind, owner, customer_id, no_overdraft, tracks_lots,"
        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (asset.brand_id, asset.id, kind, owner, customer_id, int(no_overdraft), int(tracks_lots),
         now_ms)).lastrowid
    return Account(account_id, asset.brand_id, asset.id, kind, owner, no_overdraft, tracks_lots,
                   asset.expiry_days, Counters())


def save_pair(conn: sqlite3.Connection, dr_id: int, dr: Counters, cr_id: int, cr: Counters,
              last_transfer_id: int) -> None:
    """Both accounts' counters after a transfer, and the transfer as their newest."""
    conn.executemany(_SAVE, ((*dr, last_transfer_id, dr_id), (*cr, last_transfer_id, cr_id)))
