"""The rewards catalog and the rewards issued to customers, inside the writer's transaction.

A customer reward is `issued`, then exactly once `used`, `cancelled` (its cost refunded and
its stock given back) or `expired` (by the sweep; no refund: the cost was spent, and the
stock is not given back: the item was handed out). The SQL restates each rule (CHECKs, a
trigger that lets only an issued reward change status).

`issue_reward` is the one way a reward is issued: the redeem route calls it with
`charge=True`, the events engine (a rule's `issue_reward` action) with `charge=False`,
inside its own transaction. Views are rendered here, as the API shows them, because the
engine embeds them in an event's stored answer.
"""
from __future__ import annotations

import secrets
import sqlite3
from typing import NamedTuple

from ..ledger.assets import Asset
from ..ledger.errors import AlreadyResolved, Conflict, LimitExceeded, NotFound, OutOfStock
from ..ledger.money import format_amount
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..times import rfc3339
from .accounts import ensure_account, find_account
from .brands import asset_by_id
from .expiry import SweepResult, _each
from .sqlite import rollback_to
from .transfers import create_transfer

DAY_MS = 86_400_000
REDEMPTION_CODE_BYTES = 18  # 24 URL-safe characters, 144 random bits


class RewardSpec(NamedTuple):
    """A catalog entry as validated by the service; amounts in minor units of `asset`."""

    code: str
    name: str
    asset: Asset
    cost_minor: int
    stock: int | None
    per_customer_limit: int | None
    valid_days: int | None
    active: bool = True


# -- the catalog --------------------------------------------------------------------------------
_REWARD = ("SELECT r.id, r.code, r.name, s.code AS asset, s.scale, r.cost_asset_id, r.cost_amount, r.stock,"
           " r.per_customer_limit, r.valid_days, r.active, r.created_at_ms"
           " FROM rewards r JOIN assets s ON s.id = r.cost_asset_id")


def reward_view(row: sqlite3.Row) -> dict:
    return {"code": row["code"], "name": row["name"], "cost_asset": row["asset"],
            "cost_amount": format_amount(row["cost_amount"], row["scale"]), "stock": row["stock"],
            "per_customer_limit": row["per_customer_limit"], "valid_days": row["valid_days"],
            "active": bool(row["active"]), "created_at": rfc3339(row["created_at_ms"])}


def create_reward(conn: sqlite3.Connection, brand_id: int, spec: RewardSpec, now_ms: int) -> dict:
    assert spec.asset.brand_id == brand_id and spec.cost_minor >= 0
    try:
        reward_id = conn.execute(
            "INSERT INTO rewards (brand_id, code, name, cost_asset_id, cost_amount, stock, per_customer_limit,"
            " valid_days, active, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (brand_id, spec.code, spec.name, spec.asset.id, spec.cost_minor, spec.stock, spec.per_customer_limit,
             spec.valid_days, int(spec.active), now_ms)).lastrowid
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" not in str(exc):
            raise
        raise Conflict("a reward with this code exists", field="code", code=spec.code) from None
    return reward_view(conn.execute(_REWARD + " WHERE r.id = ?", (reward_id,)).fetchone())


def list_rewards(conn: sqlite3.Connection, brand_id: int, after_id: int, limit: int) -> list[tuple[int, dict]]:
    """(row id, view) per reward, in the order they were created."""
    rows = conn.execute(_REWARD + " WHERE r.brand_id = ? AND r.id > ? ORDER BY r.id LIMIT ?",
                        (brand_id, after_id, limit)).fetchall()
    return [(row["id"], reward_view(row)) for row in rows]


def reward_codes(conn: sqlite3.Connection, brand_id: int) -> set[str]:
    """The codes of the brand's active rewards: what a rule's `issue_reward` may name."""
    return {r[0] for r in conn.execute("SELECT code FROM rewards WHERE brand_id = ? AND active = 1", (brand_id,))}


def reward_cost(conn: sqlite3.Connection, brand_id: int, reward_code: str) -> int:
    """The cost in minor units of an active reward (NotFound otherwise)."""
    return _active_reward(conn, brand_id, reward_code)["cost_amount"]


def _active_reward(conn: sqlite3.Connection, brand_id: int, code: str) -> sqlite3.Row:
    row = conn.execute(_REWARD + " WHERE r.brand_id = ? AND r.code = ?", (brand_id, code)).fetchone()
    if row is None or not row["active"]:
        raise NotFound("no such active reward", field="reward", reward=str(code)[:64])
    return row


# -- customer rewards -----------------------------------------------------------------------------
_ISSUED = ("SELECT cr.id, cr.brand_id, cr.customer_id, cr.reward_id, r.code AS reward, r.name,"
           " c.external_id AS customer, cr.status, cr.redemption_code, cr.source, cr.event_id, s.code AS asset,"
           " s.scale, r.cost_asset_id, cr.cost_amount, cr.charge_transfer_id, cr.refund_transfer_id,"
           " cr.issued_at_ms, cr.expires_at_ms, cr.resolved_at_ms"
           " FROM customer_rewards cr JOIN rewards r ON r.id = cr.reward_id"
           " JOIN customers c ON c.id = cr.customer_id JOIN assets s ON s.id = r.cost_asset_id")


def customer_reward_view(row: sqlite3.Row) -> dict:
    ids = {name: str(row[name]) if row[name] is not None else None
           for name in ("charge_transfer_id", "refund_transfer_id")}
    return {"id": str(row["id"]), "reward": row["reward"], "name": row["name"], "customer_id": row["customer"],
            "status": row["status"], "redemption_code": row["redemption_code"], "source": row["source"],
            "event_id": row["event_id"], "cost_asset": row["asset"],
            "cost_amount": format_amount(row["cost_amount"], row["scale"]), **ids,
            "issued_at": rfc3339(row["issued_at_ms"]), "expires_at": rfc3339(row["expires_at_ms"]),
            "resolved_at": rfc3339(row["resolved_at_ms"])}


def issue_reward(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, reward_code: str, now_ms: int,
                 *, charge: bool, source: str = "redeem", event_id: str | None = None) -> dict:
    """Issue one of the brand's active rewards to a customer and return its view.

    Stock and the per-customer limit always apply; `charge` debits the cost from the
    customer to the brand's `revenue` account (a `redeem` transfer, through the ledger's
    transfer path, so overdraft and lot rules hold). Raises NotFound, LimitExceeded,
    OutOfStock or InsufficientFunds and then has written nothing (its own SAVEPOINT, so
    a caller may catch the error and go on in the same transaction)."""
    conn.execute("SAVEPOINT issue_reward")
    try:
        view = _issue(conn, brand_id, customer_row_id, reward_code, now_ms, charge, source, event_id)
    except BaseException:
        rollback_to(conn, "issue_reward")
        raise
    conn.execute("RELEASE issue_reward")
    return view


def _issue(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, code: str, now_ms: int,
           charge: bool, source: str, event_id: str | None) -> dict:
    reward = _active_reward(conn, brand_id, code)
    customer = _customer(conn, brand_id, customer_row_id)
    limit = reward["per_customer_limit"]
    if limit is not None:
        held = conn.execute("SELECT count(*) FROM customer_rewards WHERE customer_id = ? AND reward_id = ?"
                            " AND status <> 'cancelled'", (customer_row_id, reward["id"])).fetchone()[0]
        if held >= limit:
            raise LimitExceeded("the customer already holds this reward as often as its per_customer_limit"
                                " allows", reward=code, per_customer_limit=limit, customer_id=customer)
    if reward["stock"] is not None and not conn.execute(
            "UPDATE rewards SET stock = stock - 1 WHERE id = ? AND stock > 0", (reward["id"],)).rowcount:
        raise OutOfStock("the reward is out of stock", reward=code)
    cost = reward["cost_amount"] if charge else 0
    expires_at_ms = now_ms + reward["valid_days"] * DAY_MS if reward["valid_days"] else None
    issued_id = conn.execute(
        "INSERT INTO customer_rewards (brand_id, reward_id, customer_id, status, redemption_code, source, event_id,"
        " cost_amount, issued_at_ms, expires_at_ms) VALUES (?, ?, ?, 'issued', ?, ?, ?, ?, ?, ?)",
        (brand_id, reward["id"], customer_row_id, secrets.token_urlsafe(REDEMPTION_CODE_BYTES), source, event_id,
         cost, now_ms, expires_at_ms)).lastrowid
    if cost:
        asset = asset_by_id(conn, reward["cost_asset_id"])
        account = find_account(conn, asset, "customer", customer)
        if account is None:  # never credited in this asset: nothing to pay with
            raise insufficient_funds(asset.code, asset.scale, 0, cost, customer)
        revenue = ensure_account(conn, asset, "system", "revenue", now_ms)
        charged = create_transfer(conn, TransferSpec(
            brand_id=brand_id, asset_id=asset.id, debit_account_id=account.id, credit_account_id=revenue.id,
            amount=cost, code="redeem", metadata={"reward": code, "customer_reward_id": str(issued_id)}), now_ms)
        conn.execute("UPDATE customer_rewards SET charge_transfer_id = ? WHERE id = ?", (charged.id, issued_id))
    return _view(conn, issued_id)


def _customer(conn: sqlite3.Connection, brand_id: int, customer_row_id: int) -> str:
    """The brand's own id of a customer row of the brand."""
    row = conn.execute("SELECT external_id FROM customers WHERE id = ? AND brand_id = ?",
                       (customer_row_id, brand_id)).fetchone()
    if row is None:
        raise NotFound("no such customer")
    return row[0]


def _view(conn: sqlite3.Connection, issued_id: int) -> dict:
    return customer_reward_view(conn.execute(_ISSUED + " WHERE cr.id = ?", (issued_id,)).fetchone())


def _open(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, issued_id: int,
          now_ms: int) -> sqlite3.Row:
    """A customer's reward that is still issued and unexpired; NotFound if it is not theirs,
    AlreadyResolved (409) if it was used, cancelled or expired, or is past its expiry but
    not yet swept."""
    row = conn.execute(_ISSUED + " WHERE cr.id = ? AND cr.brand_id = ? AND cr.customer_id = ?",
                       (issued_id, brand_id, customer_row_id)).fetchone()
    if row is None:
        raise NotFound("no such reward of this customer", id=str(issued_id))
    status = row["status"]
    if status == "issued" and row["expires_at_ms"] is not None and row["expires_at_ms"] <= now_ms:
        status = "expired"
    if status != "issued":
        raise AlreadyResolved(f"the reward is {status}", id=str(issued_id), status=status)
    return row


def _resolve(conn: sqlite3.Connection, issued_id: int, status: str, now_ms: int,
             refund_transfer_id: int | None = None) -> None:
    done = conn.execute("UPDATE customer_rewards SET status = ?, resolved_at_ms = ?, refund_transfer_id = ?"
                        " WHERE id = ? AND status = 'issued'", (status, now_ms, refund_transfer_id, issued_id))
    assert done.rowcount == 1, "checked issued in this transaction"


def use_reward(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, issued_id: int, now_ms: int) -> dict:
    """Mark an issued reward used, once."""
    _open(conn, brand_id, customer_row_id, issued_id, now_ms)
    _resolve(conn, issued_id, "used", now_ms)
    return _view(conn, issued_id)


def cancel_reward(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, issued_id: int,
                  now_ms: int) -> dict:
    """Cancel an issued, unused reward: refund what it cost (revenue → customer, a `refund`
    transfer) and give its stock back. For an asset with expiry the refund is a new lot
    that expires `expiry_days` from now, like any credit."""
    row = _open(conn, brand_id, customer_row_id, issued_id, now_ms)
    refund_id = None
    if row["charge_transfer_id"] is not None:
        asset = asset_by_id(conn, row["cost_asset_id"])
        revenue = ensure_account(conn, asset, "system", "revenue", now_ms)
        account = ensure_account(conn, asset, "customer", row["customer"], now_ms, customer_row_id)
        refund_id = create_transfer(conn, TransferSpec(
            brand_id=brand_id, asset_id=asset.id, debit_account_id=revenue.id, credit_account_id=account.id,
            amount=row["cost_amount"], code="refund",
            metadata={"reward": row["reward"], "customer_reward_id": str(issued_id)}), now_ms).id
    conn.execute("UPDATE rewards SET stock = stock + 1 WHERE id = ? AND stock IS NOT NULL", (row["reward_id"],))
    _resolve(conn, issued_id, "cancelled", now_ms, refund_id)
    return _view(conn, issued_id)


def list_customer_rewards(conn: sqlite3.Connection, brand_id: int, customer_row_id: int, status: str | None,
                          after_id: int, limit: int) -> list[tuple[int, dict]]:
    """(row id, view) per reward the customer was issued, oldest first."""
    where, args = ["cr.brand_id = ?", "cr.customer_id = ?", "cr.id > ?"], [brand_id, customer_row_id, after_id]
    if status:
        where.append("cr.status = ?")
        args.append(status)
    rows = conn.execute(_ISSUED + f" WHERE {' AND '.join(where)} ORDER BY cr.id LIMIT ?", (*args, limit)).fetchall()
    return [(row["id"], customer_reward_view(row)) for row in rows]


def expire_due_rewards(conn: sqlite3.Connection, now_ms: int, limit: int) -> SweepResult:
    """Mark issued rewards past their expiry `expired` (at most `limit`). No refund and no
    stock back: the cost was spent and the item handed out; what remains is the holder's loss."""
    rows = conn.execute("SELECT id FROM customer_rewards WHERE status = 'issued' AND expires_at_ms IS NOT NULL"
                        " AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?", (now_ms, limit)).fetchall()
    return _each(conn, rows, lambda r: _resolve(conn, r[0], "expired", now_ms))
