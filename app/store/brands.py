"""Brands and their assets."""
from __future__ import annotations

import sqlite3

from ..ledger.assets import DEFAULT_ASSETS, Asset
from ..ledger.errors import Conflict, NotFound
from .rules import bump, seed_defaults


def create_brand(conn: sqlite3.Connection, code: str, name: str, now_ms: int, time_zone: str = "UTC",
                 points_expiry_days: int | None = None) -> int:
    """A brand with the default assets (POINTS, CREDITS, USD), event types and cashback rule."""
    try:
        brand_id = conn.execute("INSERT INTO brands (code, name, created_at_ms, time_zone) VALUES (?, ?, ?, ?)",
                                (code, name, now_ms, time_zone)).lastrowid
    except sqlite3.IntegrityError:
        raise Conflict("a brand with this code exists", field="code", code=code) from None
    for asset_code, scale, kind in DEFAULT_ASSETS:
        expiry_days = points_expiry_days if asset_code == "POINTS" else None
        create_asset(conn, brand_id, asset_code, scale, kind, expiry_days, now_ms)
    seed_defaults(conn, brand_id, now_ms)
    return brand_id


def brand_by_code(conn: sqlite3.Connection, code: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM brands WHERE code = ?", (code,)).fetchone()
    if row is None:
        raise NotFound("no such brand", brand=code)
    return row


def create_asset(conn: sqlite3.Connection, brand_id: int, code: str, scale: int, kind: str,
                 expiry_days: int | None, now_ms: int) -> Asset:
    try:
        asset_id = conn.execute(
            "INSERT INTO assets (brand_id, code, scale, kind, expiry_days, created_at_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)", (brand_id, code, scale, kind, expiry_days, now_ms)).lastrowid
    except sqlite3.IntegrityError:
        raise Conflict("an asset with this code exists", field="code", code=code) from None
    bump(conn, brand_id)  # rules name assets: the brand's configuration changed
    return Asset(asset_id, brand_id, code, scale, kind, expiry_days)


def _asset(row: sqlite3.Row) -> Asset:
    return Asset(row["id"], row["brand_id"], row["code"], row["scale"], row["kind"], row["expiry_days"])


def asset_by_code(conn: sqlite3.Connection, brand_id: int, code: str) -> Asset:
    row = conn.execute("SELECT * FROM assets WHERE brand_id = ? AND code = ?", (brand_id, code)).fetchone()
    if row is None:
        raise NotFound("no such asset", asset=code)
    return _asset(row)


def asset_by_id(conn: sqlite3.Connection, asset_id: int) -> Asset:
    return _asset(conn.execute("SELECT * FROM assets WHERE id = ?", (asset_id,)).fetchone())


def list_brands(conn: sqlite3.Connection, after_id: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM brands WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)).fetchall()


def brand_by_id(conn: sqlite3.Connection, brand_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM brands WHERE id = ?", (brand_id,)).fetchone()
    if row is None:
        raise NotFound("no such brand")
    return row


def list_assets(conn: sqlite3.Connection, brand_id: int) -> list[Asset]:
    return [_asset(r) for r in conn.execute("SELECT * FROM assets WHERE brand_id = ? ORDER BY code", (brand_id,))]
