"""Funding wallets, their deposits and the deposit scan's cursor (SQL only; schema in
migrations/0010_wallets.sql).

Every function runs on the connection it is given: the writer's (inside the caller's
transaction) or a reader's. A wallet's balance is its ledger account's (kind 'wallet').
"""
from __future__ import annotations

import sqlite3
from typing import NamedTuple, Optional

from ..ledger.errors import NotFound
from ..ledger.money import format_amount
from ..times import rfc3339

_WALLET = ("SELECT w.id, w.uid, w.brand_id, w.name, w.asset_id, s.code AS asset, s.scale, w.account_id,"
           " w.hd_index, w.deposit_address, w.created_at_ms, a.credits_posted, a.debits_posted, a.debits_pending"
           " FROM wallets w JOIN assets s ON s.id = w.asset_id JOIN accounts a ON a.id = w.account_id")


class NewWallet(NamedTuple):
    uid: str
    brand_id: int
    name: str
    asset_id: int
    account_id: int
    hd_index: int
    deposit_address: str


class Deposit(NamedTuple):
    """A transfer of value to a deposit address seen on chain (before it is credited)."""
    chain_key: str
    tx_hash: str
    log_index: int          # -1: a plain ETH transfer
    block_number: int
    from_address: str
    to_address: str
    token: Optional[str]    # None: ETH
    value: int              # base units


def wallet_view(row: sqlite3.Row) -> dict:
    scale = row["scale"]
    return {"id": row["uid"], "name": row["name"], "asset": row["asset"], "deposit_address": row["deposit_address"],
            "balance": format_amount(row["credits_posted"] - row["debits_posted"], scale),
            "available": format_amount(row["credits_posted"] - row["debits_posted"] - row["debits_pending"], scale),
            "created_at": rfc3339(row["created_at_ms"])}


def deposit_view(row: sqlite3.Row, scale: int) -> dict:
    return {"tx_hash": row["tx_hash"], "log_index": row["log_index"], "block_number": row["block_number"],
            "from_address": row["from_address"], "token": row["token"], "value": row["value"],
            "amount": format_amount(row["amount"], scale), "dust": row["dust"],
            "transfer_id": None if row["transfer_id"] is None else str(row["transfer_id"]),
            "created_at": rfc3339(row["created_at_ms"])}


# -- wallets ------------------------------------------------------------------------------------
def next_hd_index(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(hd_index), -1) + 1 FROM wallets").fetchone()[0]


def first_wallet(conn: sqlite3.Connection) -> Optional[tuple[int, str]]:
    """(hd_index, deposit_address) of the lowest index: what proves the seed is this database's."""
    row = conn.execute("SELECT hd_index, deposit_address FROM wallets ORDER BY hd_index LIMIT 1").fetchone()
    return None if row is None else (row[0], row[1])


def insert_wallet(conn: sqlite3.Connection, w: NewWallet, now_ms: int) -> int:
    return conn.execute(
        "INSERT INTO wallets (uid, brand_id, name, asset_id, account_id, hd_index, deposit_address, created_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (w.uid, w.brand_id, w.name, w.asset_id, w.account_id, w.hd_index, w.deposit_address, now_ms)).lastrowid


def wallet_by_row_id(conn: sqlite3.Connection, row_id: int) -> sqlite3.Row:
    return conn.execute(_WALLET + " WHERE w.id = ?", (row_id,)).fetchone()


def get_wallet(conn: sqlite3.Connection, brand_id: int, uid: str) -> sqlite3.Row:
    row = conn.execute(_WALLET + " WHERE w.uid = ? AND w.brand_id = ?", (uid, brand_id)).fetchone()
    if row is None:
        raise NotFound("no such wallet", wallet_id=str(uid)[:40])
    return row


def list_wallets(conn: sqlite3.Connection, brand_id: int, after_id: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute(_WALLET + " WHERE w.brand_id = ? AND w.id > ? ORDER BY w.id LIMIT ?",
                        (brand_id, after_id, limit)).fetchall()


class Target(NamedTuple):
    """Where a deposit to one address goes."""
    wallet_row_id: int
    account_id: int
    brand_id: int
    asset_id: int
    asset: str
    scale: int


def targets_by_address(conn: sqlite3.Connection) -> dict[str, Target]:
    """Every brand's wallets by deposit address."""
    return {row[0]: Target(*row[1:]) for row in conn.execute(
        "SELECT w.deposit_address, w.id, w.account_id, w.brand_id, w.asset_id, s.code, s.scale FROM wallets w"
        " JOIN assets s ON s.id = w.asset_id")}


# -- deposits -------------------------------------------------------------------------------------
def deposit_seen(conn: sqlite3.Connection, d: Deposit) -> bool:
    return conn.execute("SELECT 1 FROM deposits WHERE chain_key = ? AND tx_hash = ? AND log_index = ?",
                        (d.chain_key, d.tx_hash, d.log_index)).fetchone() is not None


def insert_deposit(conn: sqlite3.Connection, wallet_row_id: int, d: Deposit, amount_minor: int, dust: int,
                   transfer_id: Optional[int], now_ms: int) -> None:
    conn.execute("INSERT INTO deposits (wallet_id, chain_key, tx_hash, log_index, block_number, from_address, token,"
                 " value, amount, dust, transfer_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (wallet_row_id, d.chain_key, d.tx_hash, d.log_index, d.block_number, d.from_address, d.token,
                  str(d.value), amount_minor, str(dust), transfer_id, now_ms))


def deposits_of(conn: sqlite3.Connection, wallet_row_id: int, limit: int) -> list[sqlite3.Row]:
    """The wallet's newest deposits first."""
    return conn.execute("SELECT * FROM deposits WHERE wallet_id = ? ORDER BY id DESC LIMIT ?",
                        (wallet_row_id, limit)).fetchall()


def deposit_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM deposits").fetchone()[0]


# -- the scan's cursor ----------------------------------------------------------------------------
def next_block(conn: sqlite3.Connection, chain_key: str) -> Optional[int]:
    row = conn.execute("SELECT next_block FROM deposit_scans WHERE chain_key = ?", (chain_key,)).fetchone()
    return None if row is None else row[0]


def start_cursor(conn: sqlite3.Connection, chain_key: str, block: int, now_ms: int) -> None:
    """The cursor at `block` unless it has started already."""
    conn.execute("INSERT INTO deposit_scans (chain_key, next_block, updated_at_ms) VALUES (?, ?, ?)"
                 " ON CONFLICT (chain_key) DO NOTHING", (chain_key, block, now_ms))


def set_next_block(conn: sqlite3.Connection, chain_key: str, block: int, now_ms: int) -> None:
    """Move the cursor forward (never back: a stale scan cannot re-read what was credited)."""
    conn.execute("INSERT INTO deposit_scans (chain_key, next_block, updated_at_ms) VALUES (?, ?, ?)"
                 " ON CONFLICT (chain_key) DO UPDATE SET next_block = max(next_block, excluded.next_block),"
                 " updated_at_ms = excluded.updated_at_ms", (chain_key, block, now_ms))
