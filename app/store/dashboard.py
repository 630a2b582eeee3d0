"""The staff console's brand-wide reads: per-asset totals, recent events, payouts per status,
customer search.

Totals are read from the accounts' posted counters (no transfer is summed): what the
brand's `issuance` account gave out, what came back to `revenue` (spending, paid
redemptions, net of refunds), what expiry moved to `breakage`, and what the customers
hold (the liability still outstanding). Pending amounts are left out: they have not moved.
"""
from __future__ import annotations

import json
import sqlite3

# Recent events are looked for among the newest this many event rows of all brands: the
# table has no (brand, id) index, and a dashboard must not scan it whole.
RECENT_EVENTS_WINDOW = 5000


def asset_totals(conn: sqlite3.Connection, brand_id: int) -> list[sqlite3.Row]:
    """Per asset of the brand (by code): code, scale, issued, redeemed, expired, outstanding,
    customers (accounts holding a balance), all in minor units."""
    return conn.execute(
        "SELECT s.code, s.scale,"
        " COALESCE(SUM(CASE WHEN a.kind = 'system' AND a.owner = 'issuance'"
        "   THEN a.debits_posted - a.credits_posted END), 0) AS issued,"
        " COALESCE(SUM(CASE WHEN a.kind = 'system' AND a.owner = 'revenue'"
        "   THEN a.credits_posted - a.debits_posted END), 0) AS redeemed,"
        " COALESCE(SUM(CASE WHEN a.kind = 'system' AND a.owner = 'breakage'"
        "   THEN a.credits_posted - a.debits_posted END), 0) AS expired,"
        " COALESCE(SUM(CASE WHEN a.kind = 'customer' THEN a.credits_posted - a.debits_posted END), 0) AS outstanding,"
        " COUNT(CASE WHEN a.kind = 'customer' AND a.credits_posted > a.debits_posted THEN 1 END) AS holders"
        " FROM assets s LEFT JOIN accounts a ON a.asset_id = s.id AND a.brand_id = s.brand_id"
        " WHERE s.brand_id = ? GROUP BY s.id ORDER BY s.code", (brand_id,)).fetchall()


def recent_events(conn: sqlite3.Connection, brand_id: int, limit: int) -> list[dict]:
    """The brand's newest events (their stored answers), newest first."""
    rows = conn.execute(
        "SELECT response FROM events WHERE id > (SELECT COALESCE(MAX(id), 0) FROM events) - ?"
        " AND brand_id = ? ORDER BY id DESC LIMIT ?", (RECENT_EVENTS_WINDOW, brand_id, limit)).fetchall()
    return [json.loads(r[0]) for r in rows]


def search_customers(conn: sqlite3.Connection, brand_id: int, text: str, limit: int) -> list[sqlite3.Row]:
    """Customers of the brand whose id, name or email starts with `text` (case-insensitive
    for ASCII), by id."""
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return conn.execute(
        "SELECT * FROM customers WHERE brand_id = :brand AND (external_id LIKE :like ESCAPE '\\'"
        " OR name LIKE :like ESCAPE '\\' OR email LIKE :like ESCAPE '\\') ORDER BY id LIMIT :limit",
        {"brand": brand_id, "like": like, "limit": limit}).fetchall()


def payout_counts(conn: sqlite3.Connection, brand_id: int) -> dict[str, int]:
    """How many of the brand's payouts are in each status (the payouts_brand index)."""
    return dict(conn.execute("SELECT status, count(*) FROM payouts WHERE brand_id = ? GROUP BY status",
                             (brand_id,)).fetchall())
