"""Customers: the brand's own ids (e.g. an email) mapped to rows; created on first use."""
from __future__ import annotations

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
