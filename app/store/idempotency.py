"""Stored HTTP responses for Idempotency-Key replays."""
from __future__ import annotations

import sqlite3


def find(conn: sqlite3.Connection, scope: str, key: str) -> sqlite3.Row | None:
    return conn.execute("SELECT method, path, request, status, response FROM idempotency_keys"
                        " WHERE scope = ? AND key = ?", (scope, key)).fetchone()


def insert(conn: sqlite3.Connection, scope: str, key: str, method: str, path: str, request: str,
           status: int, response: str, now_ms: int) -> None:
    conn.execute("INSERT INTO idempotency_keys (scope, key, method, path, request, status, response,"
                 " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (scope, key, method, path, request, status, response, now_ms))


def purge_older_than(conn: sqlite3.Connection, cutoff_ms: int, limit: int) -> int:
    return conn.execute("DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys"
                        " WHERE created_at_ms < ? LIMIT ?)", (cutoff_ms, limit)).rowcount
