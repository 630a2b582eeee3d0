"""Customers: the brand's own ids (e.g. an email) mapped to rows; created on first use."""
from __future__ import annotations

import json
import sqlite3

from ..ledger.errors import NotFound


def ensure_customer(conn: sqlite3.Connection, brand_id: int, external_id: str, now_ms: int) -> int:
    row = conn.execute("SELECT id FROM customers WHERE brand_id = ? AND external_id = ?",
                       (brand_id, external_id)).fetchone()
    if row:
        return row[0]
    return conn.execute("INSERT INTO customers (brand_id, external_id, created_at_ms, updated_at_ms)"
                        " VALUES (?, ?, ?, ?)", (brand_id, external_id, now_ms, now_ms)).lastrowid


def customer_id_of(conn: sqlite3.Connection, brand_id: int, external_id: str) -> int:
    row = conn.execute("SELECT id FROM customers WHERE brand_id = ? AND external_id = ?",
                       (brand_id, external_id)).fetchone()
    if row is None:
        raise NotFound("no such customer", customer_id=external_id)
    return row[0]


_FIELDS = ("name", "email", "status", "tags", "attributes", "birthdate")


def upsert_customer(conn: sqlite3.Connection, brand_id: int, external_id: str, fields: dict,
                    now_ms: int) -> bool:
    """Create or replace the customer's profile; True when it was created."""
    values = [fields[name] for name in _FIELDS]
    created = conn.execute(
        "INSERT INTO customers (brand_id, external_id, name, email, status, tags, attributes, birthdate,"
        " created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (brand_id, external_id) DO NOTHING",
        (brand_id, external_id, *values, now_ms, now_ms)).rowcount
    if not created:
        conn.execute("UPDATE customers SET name = ?, email = ?, status = ?, tags = ?, attributes = ?,"
                     " birthdate = ?, updated_at_ms = ? WHERE brand_id = ? AND external_id = ?",
                     (*values, now_ms, brand_id, external_id))
    return bool(created)


def get_customer(conn: sqlite3.Connection, brand_id: int, external_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM customers WHERE brand_id = ? AND external_id = ?",
                       (brand_id, external_id)).fetchone()
    if row is None:
        raise NotFound("no such customer", customer_id=external_id)
    return row


def list_customers(conn: sqlite3.Connection, brand_id: int, status: str | None, tag: str | None,
                   after_id: int, limit: int) -> list[sqlite3.Row]:
    where, args = ["brand_id = ?", "id > ?"], [brand_id, after_id]
    if status:
        where.append("status = ?")
        args.append(status)
    if tag:
        where.append("EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE value = ?)")
        args.append(tag)
    return conn.execute(f"SELECT * FROM customers WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
                        (*args, limit)).fetchall()


def accounts_of_customers(conn: sqlite3.Connection, brand_id: int, asset_id: int,
                          names: list[str]) -> dict[str, tuple[int, int | None]]:
    """name → (customer row id, its account id for the asset or None), in one query."""
    return {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT c.external_id, c.id, a.id FROM customers c LEFT JOIN accounts a"
        " ON a.customer_id = c.id AND a.asset_id = ? AND a.kind = 'customer'"
        " WHERE c.brand_id = ? AND c.external_id IN (SELECT value FROM json_each(?))",
        (asset_id, brand_id, json.dumps(names)))}
