"""Events and the customer state the rules read and change: the stored event rows, event
counts, status and lifetime points, tags and status, and bonus awards.

All functions run inside the writer's transaction (except the `list_`/`get_` reads).
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from typing import Iterable, Optional

from ..ledger.errors import NotFound
from ..ledger.json_text import canonical_json
from ..rules.effects import period_key
from ..rules.facts import CustomerSnapshot
from ..rules.tiers import LoyaltyPoints, tier_for
from .rules import BrandConfig


def find_event(conn: sqlite3.Connection, brand_id: int, event_id: str) -> Optional[sqlite3.Row]:
    return conn.execute("SELECT request, response FROM events WHERE brand_id = ? AND event_id = ?",
                        (brand_id, event_id)).fetchone()


def insert_event(conn: sqlite3.Connection, brand_id: int, event_id: str, event_type: str, customer_row: int,
                 occurred_at_ms: int, request: str, response: dict, now_ms: int) -> None:
    conn.execute("INSERT INTO events (brand_id, event_id, event_type, customer_id, occurred_at_ms, request,"
                 " response, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (brand_id, event_id, event_type, customer_row, occurred_at_ms, request,
                  canonical_json(response), now_ms))


def get_event(conn: sqlite3.Connection, brand_id: int, event_id: str) -> dict:
    row = conn.execute("SELECT response FROM events WHERE brand_id = ? AND event_id = ?",
                       (brand_id, event_id)).fetchone()
    if row is None:
        raise NotFound("no such event", event_id=event_id)
    return json.loads(row[0])


def list_customer_events(conn: sqlite3.Connection, brand_id: int, customer_row: int, before_id: int,
                         limit: int) -> list[tuple[int, dict]]:
    """(row id, stored answer) of the customer's events below `before_id` (0: from the
    newest), newest first."""
    rows = conn.execute("SELECT id, response FROM events WHERE customer_id = ? AND brand_id = ? AND id < ?"
                        " ORDER BY id DESC LIMIT ?", (customer_row, brand_id, before_id or 2**63 - 1,
                                                      limit)).fetchall()
    return [(r[0], json.loads(r[1])) for r in rows]


# -- the customer as the rules see it ----------------------------------------------------------
def _time(ms: Optional[int]) -> Optional[datetime]:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


# The customer as the rules see it, with its event counts and whether it was referred: one read.
_SNAPSHOT = ("SELECT id, created_at_ms, status, tags, attributes, birthdate, status_points, lifetime_points,"
             " last_event_at_ms, EXISTS (SELECT 1 FROM referrals r WHERE r.customer_id = customers.id) AS referred,"
             " (SELECT json_group_object(e.event_type, e.count) FROM customer_event_counts e"
             " WHERE e.customer_id = customers.id) AS counts FROM customers")


def customer_snapshot(conn: sqlite3.Connection, customer_row: int, config: BrandConfig,
                      today: date) -> tuple[CustomerSnapshot, LoyaltyPoints]:
    """The customer before the event: its profile, points, tier, event counts, the
    bonuses awarded in their current period, and whether an ambassador referred it."""
    c = conn.execute(_SNAPSHOT + " WHERE id = ?", (customer_row,)).fetchone()
    return _snapshot(conn, c, config, today)


def find_customer_snapshot(conn: sqlite3.Connection, brand_id: int, external_id: str, config: BrandConfig,
                           today: date) -> Optional[tuple[int, CustomerSnapshot, LoyaltyPoints]]:
    """(row id, snapshot, points) of the customer by its brand's id; None when it does not exist."""
    c = conn.execute(_SNAPSHOT + " WHERE brand_id = ? AND external_id = ?", (brand_id, external_id)).fetchone()
    return None if c is None else (c["id"], *_snapshot(conn, c, config, today))


def _snapshot(conn: sqlite3.Connection, c: sqlite3.Row, config: BrandConfig,
              today: date) -> tuple[CustomerSnapshot, LoyaltyPoints]:
    awarded = frozenset()
    if config.bonuses:
        wanted = [(config.bonus_ids[code], period_key(d.period, today)) for code, d in config.bonuses.items()]
        codes = {v: k for k, v in config.bonus_ids.items()}
        awarded = frozenset(codes[r[0]] for r in conn.execute(
            "SELECT definition_id FROM bonus_awards WHERE customer_id = ? AND (definition_id, period_key) IN"
            " (SELECT value ->> 0, value ->> 1 FROM json_each(?))", (c["id"], json.dumps(wanted))))
    held = tier_for(config.tiers, c["status_points"])
    birthdate = date.fromisoformat(c["birthdate"]) if c["birthdate"] else None
    snapshot = CustomerSnapshot(
        created_at=_time(c["created_at_ms"]), status=c["status"], tier=held.code if held else None,
        tags=tuple(json.loads(c["tags"])), attributes=json.loads(c["attributes"]),
        status_points=c["status_points"], lifetime_points=c["lifetime_points"],
        last_event_at=_time(c["last_event_at_ms"]), birthdate=birthdate, event_counts=json.loads(c["counts"]),
        bonuses_awarded=awarded, referred=bool(c["referred"]))
    return snapshot, LoyaltyPoints(c["status_points"], c["lifetime_points"])


def count_event(conn: sqlite3.Connection, customer_row: int, event_type: str) -> None:
    conn.execute("INSERT INTO customer_event_counts (customer_id, event_type, count) VALUES (?, ?, 1)"
                 " ON CONFLICT (customer_id, event_type) DO UPDATE SET count = count + 1",
                 (customer_row, event_type))


def save_points(conn: sqlite3.Connection, customer_row: int, points: LoyaltyPoints,
                last_event_at_ms: Optional[int], now_ms: int) -> None:
    conn.execute("UPDATE customers SET status_points = ?, lifetime_points = ?,"
                 " last_event_at_ms = max(coalesce(last_event_at_ms, ?), ?), updated_at_ms = ? WHERE id = ?",
                 (points.status_points, points.lifetime_points, last_event_at_ms, last_event_at_ms, now_ms,
                  customer_row))


def lower_status_points(conn: sqlite3.Connection, brand_id: int, customer: str, amount: int) -> None:
    """Expiry of tier-asset points lowers status points, never below zero."""
    conn.execute("UPDATE customers SET status_points = max(0, status_points - ?) WHERE brand_id = ?"
                 " AND external_id = ?", (amount, brand_id, customer))


def set_status(conn: sqlite3.Connection, customer_row: int, status: str, now_ms: int) -> None:
    conn.execute("UPDATE customers SET status = ?, updated_at_ms = ? WHERE id = ? AND status <> ?",
                 (status, now_ms, customer_row, status))


def save_tags(conn: sqlite3.Connection, customer_row: int, tags: Iterable[str], now_ms: int) -> None:
    """The customer's tags, as the caller changed them (it holds them: no read here)."""
    conn.execute("UPDATE customers SET tags = ?, updated_at_ms = ? WHERE id = ?",
                 (json.dumps(sorted(tags)), now_ms, customer_row))


# -- bonuses -------------------------------------------------------------------------------------
def take_bonus_budget(conn: sqlite3.Connection, definition_id: int) -> bool:
    """Count one award against `max_awards`; False when the budget is spent."""
    return conn.execute("UPDATE bonus_definitions SET awarded_count = awarded_count + 1 WHERE id = ?"
                        " AND (max_awards IS NULL OR awarded_count < max_awards)", (definition_id,)).rowcount == 1


def record_award(conn: sqlite3.Connection, brand_id: int, definition_id: int, customer_row: int, key: str,
                 amount: int, asset_id: int, transfer_id: int, event_id: str, now_ms: int) -> None:
    conn.execute("INSERT INTO bonus_awards (brand_id, definition_id, customer_id, period_key, amount, asset_id,"
                 " transfer_id, event_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (brand_id, definition_id, customer_row, key, amount, asset_id, transfer_id, event_id, now_ms))


def list_awards(conn: sqlite3.Connection, brand_id: int, customer: Optional[str], after_id: int,
                limit: int) -> list[sqlite3.Row]:
    where, args = "a.brand_id = ? AND a.id > ?", [brand_id, after_id]
    if customer is not None:
        where += " AND c.external_id = ?"
        args.append(customer)
    return conn.execute(
        "SELECT a.id, d.code AS bonus, c.external_id AS customer_id, a.period_key, a.amount, s.code AS asset,"
        " s.scale, a.transfer_id, a.event_id, a.created_at_ms FROM bonus_awards a"
        " JOIN bonus_definitions d ON d.id = a.definition_id JOIN customers c ON c.id = a.customer_id"
        f" JOIN assets s ON s.id = a.asset_id WHERE {where} ORDER BY a.id LIMIT ?", (*args, limit)).fetchall()
