"""Rendering domain values as the JSON bodies the models in `models` describe.

Pure functions: they also run inside the writer's transaction, where an idempotent
request's response is rendered and stored beside its effect.
"""
from __future__ import annotations

import json
import sqlite3

from ..ledger.accounts import Counters
from ..ledger.money import format_amount
from ..store.transfers import TransferView
from .base import rfc3339


def transfer(view: TransferView) -> dict:
    r = view.record
    return {
        "transfer_id": str(r.id), "kind": r.kind, "status": view.status, "asset": view.asset_code,
        "amount": format_amount(r.amount, view.scale), "code": r.code,
        "debit_account": {"kind": view.debit[0], "owner": view.debit[1]},
        "credit_account": {"kind": view.credit[0], "owner": view.credit[1]},
        "pending_id": str(r.pending_id) if r.pending_id else None,
        "timeout_at": rfc3339(r.timeout_at_ms), "metadata": r.metadata, "description": r.description,
        "created_at": rfc3339(r.created_at_ms),
    }


def customer_transfer(view: TransferView, customer: str) -> dict:
    """A transfer plus the customer's balances right after it."""
    r = view.record
    after = r.cr_after if view.credit == ("customer", customer) else r.dr_after
    return {**transfer(view), "customer_id": customer, **balance_fields(after, view.scale)}


def balance_fields(c: Counters, scale: int) -> dict:
    return {"balance": format_amount(c.balance, scale), "available": format_amount(c.available, scale),
            "pending": format_amount(c.pending, scale)}


def customer(row: sqlite3.Row) -> dict:
    return {"customer_id": row["external_id"], "name": row["name"], "email": row["email"],
            "status": row["status"], "tags": json.loads(row["tags"]),
            "attributes": json.loads(row["attributes"]), "birthdate": row["birthdate"],
            "created_at": rfc3339(row["created_at_ms"]), "updated_at": rfc3339(row["updated_at_ms"])}


def movement(row: sqlite3.Row) -> dict:
    sign = 1 if row["incoming"] else -1
    return {"transfer_id": str(row["id"]), "asset": row["asset"],
            "amount": format_amount(sign * row["amount"], row["scale"]), "kind": row["kind"],
            "code": row["code"], "counterparty": f"{row['other_kind']}:{row['other_owner']}",
            "balance_after": format_amount(row["balance_after"], row["scale"]),
            "metadata": json.loads(row["metadata"]), "description": row["description"],
            "created_at": rfc3339(row["created_at_ms"])}


def asset(a) -> dict:
    return {"code": a.code, "scale": a.scale, "kind": a.kind, "expiry_days": a.expiry_days}


def api_key(row, key: str | None = None) -> dict:
    return {"id": row["id"], "role": row["role"], "brand": row["brand"], "name": row["name"],
            "prefix": row["prefix"], "created_at": rfc3339(row["created_at_ms"]),
            "revoked_at": rfc3339(row["revoked_at_ms"]), "key": key}
