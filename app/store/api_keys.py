"""API keys: stored as SHA-256 hashes of high-entropy random keys; never the key itself."""
from __future__ import annotations

import sqlite3

from ..ledger.errors import NotFound


# What a key's description shows (never its hash).
_DESCRIBE = ("SELECT k.id, k.role, k.name, k.prefix, k.created_at_ms, k.revoked_at_ms, b.code AS brand"
             " FROM api_keys k LEFT JOIN brands b ON b.id = k.brand_id")


def insert_key(conn: sqlite3.Connection, brand_id: int | None, role: str, name: str, prefix: str,
               key_hash: str, now_ms: int) -> int:
    return conn.execute("INSERT INTO api_keys (brand_id, role, name, prefix, key_hash, created_at_ms)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (brand_id, role, name, prefix, key_hash, now_ms)).lastrowid


def key_by_hash(conn: sqlite3.Connection, key_hash: str) -> sqlite3.Row | None:
    return conn.execute("SELECT k.id, k.brand_id, k.role, k.key_hash, b.code AS brand_code FROM api_keys k"
                        " LEFT JOIN brands b ON b.id = k.brand_id"
                        " WHERE k.key_hash = ? AND k.revoked_at_ms IS NULL", (key_hash,)).fetchone()


def list_keys(conn: sqlite3.Connection, brand_id: int | None, after_id: int, limit: int) -> list[sqlite3.Row]:
    where = "k.id > ?" + ("" if brand_id is None else " AND k.brand_id = ?")
    args = (after_id,) if brand_id is None else (after_id, brand_id)
    return conn.execute(f"{_DESCRIBE} WHERE {where} ORDER BY k.id LIMIT ?", (*args, limit)).fetchall()


def revoke_key(conn: sqlite3.Connection, key_id: int, now_ms: int) -> None:
    updated = conn.execute("UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?) WHERE id = ?",
                           (now_ms, key_id)).rowcount
    if not updated:
        raise NotFound("no such API key", key_id=str(key_id))


def count_admin_keys(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL").fetchone()[0]


def key_row(conn: sqlite3.Connection, key_id: int) -> sqlite3.Row:
    return conn.execute(f"{_DESCRIBE} WHERE k.id = ?", (key_id,)).fetchone()


def revoke_named_except(conn: sqlite3.Connection, name: str, keep_hash: str, now_ms: int) -> int:
    return conn.execute("UPDATE api_keys SET revoked_at_ms = ? WHERE name = ? AND key_hash <> ?"
                        " AND revoked_at_ms IS NULL", (now_ms, name, keep_hash)).rowcount


def is_revoked_hash(conn: sqlite3.Connection, key_hash: str) -> bool:
    return conn.execute("SELECT 1 FROM api_keys WHERE key_hash = ? AND revoked_at_ms IS NOT NULL",
                        (key_hash,)).fetchone() is not None
