"""Payouts, their attempts, and the chain rail's nonces and signed transactions (SQL only).

Every function runs on the connection it is given: the writer's (inside the caller's
transaction) or a reader's. The rules the drain follows are restated by the schema
(migrations/0008_payouts.sql): status moves, the hold resolved by its payout only, one
chain transaction per payout, one transaction per payer nonce.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, NamedTuple, Optional

from ..ledger.errors import IdempotencyConflict, NotFound
from ..ledger.json_text import canonical_json
from ..ledger.money import format_amount
from ..times import rfc3339

FINAL = ("confirmed", "failed", "canceled")
MAX_ERROR_CHARS = 500

_PAYOUT = ("SELECT p.id, p.uid, p.brand_id, p.customer_id AS customer_row_id, c.external_id AS customer,"
           " w.uid AS wallet, p.asset_id, s.code AS asset, s.scale, p.amount, p.rail, p.destination, p.status,"
           " p.hold_transfer_id, p.idempotency_key, p.provider_ref, p.attempts, p.last_error,"
           " p.next_attempt_at_ms, p.created_at_ms, p.updated_at_ms, t.tx_hash"
           " FROM payouts p LEFT JOIN customers c ON c.id = p.customer_id LEFT JOIN wallets w ON w.id = p.wallet_id"
           " JOIN assets s ON s.id = p.asset_id LEFT JOIN chain_txs t ON t.payout_id = p.id")


class NewPayout(NamedTuple):
    uid: str
    brand_id: int
    customer_row_id: Optional[int]   # the source: a customer's account, or
    wallet_row_id: Optional[int]     # a funding wallet's (a withdrawal)
    asset_id: int
    amount_minor: int
    rail: str
    destination: dict
    hold_transfer_id: int
    idempotency_key: str


def payout_view(row: sqlite3.Row) -> dict:
    chain = row["rail"] == "chain"
    return {"id": row["uid"], "status": row["status"], "customer_id": row["customer"], "wallet_id": row["wallet"],
            "asset": row["asset"],
            "amount": format_amount(row["amount"], row["scale"]), "rail": row["rail"],
            "destination": json.loads(row["destination"]), "hold_transfer_id": str(row["hold_transfer_id"]),
            "provider_ref": row["provider_ref"] or (row["tx_hash"] if chain else None),
            "tx_hash": row["tx_hash"] if chain else None,
            "provider_id": None if chain else row["provider_ref"],
            "attempts": row["attempts"], "last_error": row["last_error"],
            "created_at": rfc3339(row["created_at_ms"]), "updated_at": rfc3339(row["updated_at_ms"])}


# -- payouts ----------------------------------------------------------------------------------
def by_key(conn: sqlite3.Connection, brand_id: int, key: str) -> Optional[sqlite3.Row]:
    return conn.execute(_PAYOUT + " WHERE p.brand_id = ? AND p.idempotency_key = ?", (brand_id, key)).fetchone()


def check_same_request(found: sqlite3.Row, wanted: dict[str, Any]) -> None:
    """A payout made earlier under the same key must be this very request (else 409 naming the field)."""
    have = {"customer_id": found["customer"], "wallet_id": found["wallet"], "asset": found["asset"],
            "amount_minor": found["amount"],
            "rail": found["rail"], "destination": json.loads(found["destination"])}
    for name, value in wanted.items():
        if canonical_json(have[name]) != canonical_json(value):
            raise IdempotencyConflict("idempotency key was used for a different payout",
                                      field="amount" if name == "amount_minor" else name, payout_id=found["uid"])


def paid_out_since(conn: sqlite3.Connection, customer_row_id: int, asset_id: int, since_ms: int) -> int:
    """What the customer has asked to pay out of the asset since `since_ms`, less what failed
    or was canceled (those funds came back)."""
    return conn.execute("SELECT coalesce(sum(amount), 0) FROM payouts WHERE customer_id = ? AND asset_id = ?"
                        " AND created_at_ms >= ? AND status NOT IN ('failed', 'canceled')",
                        (customer_row_id, asset_id, since_ms)).fetchone()[0]


def insert_payout(conn: sqlite3.Connection, p: NewPayout, now_ms: int) -> int:
    return conn.execute(
        "INSERT INTO payouts (uid, brand_id, customer_id, wallet_id, asset_id, amount, rail, destination, status,"
        " hold_transfer_id, idempotency_key, next_attempt_at_ms, created_at_ms, updated_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
        (p.uid, p.brand_id, p.customer_row_id, p.wallet_row_id, p.asset_id, p.amount_minor, p.rail, canonical_json(p.destination),
         p.hold_transfer_id, p.idempotency_key, now_ms, now_ms, now_ms)).lastrowid


def payout_by_id(conn: sqlite3.Connection, payout_id: int) -> sqlite3.Row:
    return conn.execute(_PAYOUT + " WHERE p.id = ?", (payout_id,)).fetchone()


def get_payout(conn: sqlite3.Connection, brand_id: int, uid: str) -> sqlite3.Row:
    row = conn.execute(_PAYOUT + " WHERE p.uid = ? AND p.brand_id = ?", (uid, brand_id)).fetchone()
    if row is None:
        raise NotFound("no such payout", payout_id=str(uid)[:40])
    return row


def list_payouts(conn: sqlite3.Connection, brand_id: int, customer_row_id: Optional[int], status: Optional[str],
                 after_id: int, limit: int, wallet_row_id: Optional[int] = None) -> list[sqlite3.Row]:
    where, args = ["p.brand_id = ?", "p.id > ?"], [brand_id, after_id]
    if customer_row_id is not None:
        where.append("p.customer_id = ?")
        args.append(customer_row_id)
    if wallet_row_id is not None:
        where.append("p.wallet_id = ?")
        args.append(wallet_row_id)
    if status is not None:
        where.append("p.status = ?")
        args.append(status)
    return conn.execute(_PAYOUT + " WHERE " + " AND ".join(where) + " ORDER BY p.id LIMIT ?",
                        (*args, limit)).fetchall()


def due_payouts(conn: sqlite3.Connection, now_ms: int, limit: int) -> list[sqlite3.Row]:
    """Unfinished payouts whose next attempt is due, oldest first (claims in id order keep
    the chain's nonces in the order the payouts were asked for)."""
    return conn.execute(_PAYOUT + " WHERE p.status IN ('pending', 'submitted') AND p.next_attempt_at_ms <= ?"
                        " ORDER BY p.id LIMIT ?", (now_ms, limit)).fetchall()


def move(conn: sqlite3.Connection, payout_id: int, from_status: str, to_status: str, now_ms: int,
         **fields: Any) -> bool:
    """`from_status` → `to_status` (and `fields`), only if the payout is still `from_status`."""
    sets = "".join(f", {name} = ?" for name in fields)
    cursor = conn.execute(f"UPDATE payouts SET status = ?, updated_at_ms = ?{sets} WHERE id = ? AND status = ?",
                          (to_status, now_ms, *fields.values(), payout_id, from_status))
    return cursor.rowcount == 1


def note_attempt(conn: sqlite3.Connection, payout_id: int, action: str, outcome: str, detail: Optional[str],
                 now_ms: int, *, next_attempt_at_ms: Optional[int] = None, counts: bool = True,
                 provider_ref: Optional[str] = None, error: Optional[str] = None) -> None:
    """Record one attempt; `counts` adds it to `attempts`; the rest updates the payout."""
    detail = detail[:MAX_ERROR_CHARS] if detail else None
    conn.execute("INSERT INTO payout_attempts (payout_id, action, outcome, detail, at_ms) VALUES (?, ?, ?, ?, ?)",
                 (payout_id, action, outcome, detail, now_ms))
    conn.execute("UPDATE payouts SET attempts = attempts + ?, updated_at_ms = ?,"
                 " next_attempt_at_ms = coalesce(?, next_attempt_at_ms), provider_ref = coalesce(?, provider_ref),"
                 " last_error = coalesce(?, last_error) WHERE id = ?",
                 (int(counts), now_ms, next_attempt_at_ms, provider_ref,
                  error[:MAX_ERROR_CHARS] if error else None, payout_id))


def attempts_of(conn: sqlite3.Connection, payout_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT action, outcome, detail, at_ms FROM payout_attempts WHERE payout_id = ?"
                        " ORDER BY id", (payout_id,)).fetchall()


def counts_by_rail_status(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    return conn.execute("SELECT rail, status, count(*) FROM payouts GROUP BY rail, status").fetchall()


# -- the chain rail ----------------------------------------------------------------------------
def raise_nonce_floor(conn: sqlite3.Connection, chain_key: str, address: str, floor: int) -> int:
    """The next nonce is at least `floor` (what the chain says the account has used); returns it."""
    conn.execute("INSERT INTO chain_nonces (chain_key, address, next_nonce) VALUES (?, ?, ?)"
                 " ON CONFLICT (chain_key, address) DO UPDATE SET next_nonce = max(next_nonce, excluded.next_nonce)",
                 (chain_key, address, floor))
    return conn.execute("SELECT next_nonce FROM chain_nonces WHERE chain_key = ? AND address = ?",
                        (chain_key, address)).fetchone()[0]


def allocate_nonce(conn: sqlite3.Connection, chain_key: str, address: str) -> int:
    """The payer's next nonce, taken (in the caller's transaction: gapless, never twice)."""
    row = conn.execute("UPDATE chain_nonces SET next_nonce = next_nonce + 1 WHERE chain_key = ? AND address = ?"
                       " RETURNING next_nonce - 1", (chain_key, address)).fetchone()
    if row is None:
        raise RuntimeError(f"no nonce row for {address} on {chain_key}: the rail is not ready")
    return row[0]


class ChainTx(NamedTuple):
    payout_id: int
    chain_key: str
    chain_id: int
    from_address: str
    nonce: int
    to_address: str
    value: int
    token: Optional[str]
    raw_tx: str
    tx_hash: str


def insert_chain_tx(conn: sqlite3.Connection, tx: ChainTx, now_ms: int) -> None:
    conn.execute("INSERT INTO chain_txs (payout_id, chain_key, chain_id, from_address, nonce, to_address, value,"
                 " token, raw_tx, tx_hash, status, created_at_ms, updated_at_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'signed', ?, ?)",
                 (tx.payout_id, tx.chain_key, tx.chain_id, tx.from_address, tx.nonce, tx.to_address, str(tx.value),
                  tx.token, tx.raw_tx, tx.tx_hash, now_ms, now_ms))


def chain_tx_by_uid(conn: sqlite3.Connection, uid: str) -> Optional[sqlite3.Row]:
    return conn.execute("SELECT t.* FROM chain_txs t JOIN payouts p ON p.id = t.payout_id WHERE p.uid = ?",
                        (uid,)).fetchone()


def set_chain_tx_status(conn: sqlite3.Connection, tx_hash: str, status: str, block_number: Optional[int],
                        now_ms: int) -> None:
    conn.execute("UPDATE chain_txs SET status = ?, block_number = coalesce(?, block_number), updated_at_ms = ?"
                 " WHERE tx_hash = ?", (status, block_number, now_ms, tx_hash))


def chain_txs_all(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM chain_txs ORDER BY chain_key, from_address, nonce").fetchall()
