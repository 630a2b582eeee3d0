"""A brand's loyalty configuration: event types, versioned rules, tiers, bonus definitions.

Every change here bumps `brands.config_version` in its transaction. `brand_config` serves
the whole configuration as immutable values (`BrandConfig`) from a per-connection cache
checked against that version: one small query per event, never one per rule. The cache
lives on the writer's connection and is forgotten on every rollback (see `sqlite`).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

from ..ledger.assets import Asset
from ..ledger.errors import Conflict, LimitExceeded, NotFound
from ..ledger.json_text import exact_json, loads_exact
from ..rules.actions import BonusDefinition
from ..rules.engine import Rule
from ..rules.tiers import TIER_DOWNGRADED, TIER_UPGRADED, Tier

# What a new brand starts with (DESIGN §6a).
DEFAULT_EVENT_TYPES = (("PURCHASE", "Purchase", 0), ("SIGNUP", "Sign-up", 0), ("BIRTHDAY", "Birthday", 0),
                       (TIER_UPGRADED, "Tier upgraded (internal)", 1),
                       (TIER_DOWNGRADED, "Tier downgraded (internal)", 1))
DEFAULT_RULE = {"code": "purchase_cashback", "name": "5% cashback on purchases", "event_type": "PURCHASE",
                "priority": 100, "active": True, "stop_after": False, "conditions": None,
                "actions": [{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500,
                             "rounding": "down"}],
                "starts_at_ms": None, "ends_at_ms": None}
# Seed 001's ambassador commission, beside the cashback: it matches only for a customer an
# ambassador referred (a PURCHASE naming a referral code links it first), and pays that
# ambassador at its own rate, else its group's, else 5%.
DEFAULT_COMMISSION_RULE = {
    "code": "referral_commission", "name": "Commission to the referring ambassador", "event_type": "PURCHASE",
    "priority": 110, "active": True, "stop_after": False,
    "conditions": {"fact": "customer.referred", "op": "eq", "value": True},
    "actions": [{"type": "commission", "asset": "USD", "of": "payload.amount", "rate_bps": 500, "rounding": "down"}],
    "starts_at_ms": None, "ends_at_ms": None}
MAX_RULES_PER_BRAND = 500
MAX_EVENT_TYPES_PER_BRAND = 200
MAX_BONUS_DEFINITIONS_PER_BRAND = 500


@dataclass(frozen=True)
class BrandConfig:
    """Everything the rules need about a brand, as of one `config_version`."""

    version: int
    zone: tzinfo
    rules: tuple[Rule, ...]
    tiers: tuple[Tier, ...]
    bonuses: Mapping[str, BonusDefinition]
    bonus_ids: Mapping[str, int]
    event_types: Mapping[str, bool]      # code → internal
    scales: Mapping[str, int]            # asset code → scale
    assets: Mapping[str, Asset]
    rule_names: Mapping[str, str]        # rule code → name: the description of its transfers

    @cached_property
    def assets_by_id(self) -> Mapping[int, Asset]:
        return {asset.id: asset for asset in self.assets.values()}


def _ms_time(ms: Optional[int]) -> Optional[datetime]:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def zone_of(name: str) -> tzinfo:
    return timezone.utc if name == "UTC" else ZoneInfo(name)


def bump(conn: sqlite3.Connection, brand_id: int) -> None:
    conn.execute("UPDATE brands SET config_version = config_version + 1 WHERE id = ?", (brand_id,))


def brand_config(conn: sqlite3.Connection, brand_id: int) -> BrandConfig:
    """The brand's configuration, from the connection's cache when still current."""
    row = conn.execute("SELECT config_version, time_zone FROM brands WHERE id = ?", (brand_id,)).fetchone()
    if row is None:
        raise NotFound("no such brand")
    cache: dict = conn.loyalty_configs
    found = cache.get(brand_id)
    if found is not None and found.version == row[0]:
        return found
    config = _load(conn, brand_id, row[0], row[1])
    if len(cache) > 1000:
        cache.clear()
    cache[brand_id] = config
    return config


def _load(conn: sqlite3.Connection, brand_id: int, version: int, zone_name: str) -> BrandConfig:
    rows = conn.execute("SELECT * FROM rules WHERE brand_id = ? AND deleted_at_ms IS NULL AND active = 1",
                        (brand_id,)).fetchall()
    tiers = tuple(Tier(r["code"], r["name"], r["min_status_points"]) for r in conn.execute(
        "SELECT code, name, min_status_points FROM tiers WHERE brand_id = ? ORDER BY min_status_points",
        (brand_id,)))
    bonus_rows = conn.execute("SELECT id, code, period, max_awards FROM bonus_definitions WHERE brand_id = ?",
                              (brand_id,)).fetchall()
    types = {r[0]: bool(r[1]) for r in conn.execute(
        "SELECT code, internal FROM event_types WHERE brand_id = ?", (brand_id,))}
    assets = {r["code"]: Asset(r["id"], brand_id, r["code"], r["scale"], r["kind"], r["expiry_days"])
              for r in conn.execute("SELECT * FROM assets WHERE brand_id = ?", (brand_id,))}
    return BrandConfig(version, zone_of(zone_name), tuple(rule_value(r) for r in rows), tiers,
                       {r["code"]: BonusDefinition(r["code"], r["period"], r["max_awards"]) for r in bonus_rows},
                       {r["code"]: r["id"] for r in bonus_rows}, types,
                       {code: a.scale for code, a in assets.items()}, assets, {r["code"]: r["name"] for r in rows})


def rule_value(row: sqlite3.Row) -> Rule:
    return Rule(code=row["code"], event_type=row["event_type"],
                conditions=loads_exact(row["conditions"]) if row["conditions"] is not None else None,
                actions=loads_exact(row["actions"]), priority=row["priority"], active=bool(row["active"]),
                version=row["version"], starts_at=_ms_time(row["starts_at_ms"]),
                ends_at=_ms_time(row["ends_at_ms"]), stop_after=bool(row["stop_after"]))


# -- event types ------------------------------------------------------------------------------
def create_event_type(conn: sqlite3.Connection, brand_id: int, code: str, name: str, now_ms: int,
                      internal: bool = False) -> sqlite3.Row:
    count = conn.execute("SELECT count(*) FROM event_types WHERE brand_id = ?", (brand_id,)).fetchone()[0]
    if count >= MAX_EVENT_TYPES_PER_BRAND:
        raise LimitExceeded(f"a brand has at most {MAX_EVENT_TYPES_PER_BRAND} event types")
    try:
        row = conn.execute("INSERT INTO event_types (brand_id, code, name, internal, created_at_ms)"
                           " VALUES (?, ?, ?, ?, ?) RETURNING *", (brand_id, code, name, int(internal), now_ms)
                           ).fetchone()
    except sqlite3.IntegrityError:
        raise Conflict("an event type with this code exists", field="code", code=code) from None
    bump(conn, brand_id)
    return row


def list_event_types(conn: sqlite3.Connection, brand_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM event_types WHERE brand_id = ? ORDER BY id", (brand_id,)).fetchall()


# -- rules --------------------------------------------------------------------------------------
RULE_FIELDS = ("name", "event_type", "priority", "active", "stop_after", "conditions", "actions",
               "starts_at_ms", "ends_at_ms")


def rule_row(conn: sqlite3.Connection, brand_id: int, code: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM rules WHERE brand_id = ? AND code = ? AND deleted_at_ms IS NULL",
                       (brand_id, code)).fetchone()
    if row is None:
        raise NotFound("no such rule", rule=code)
    return row


def list_rules(conn: sqlite3.Connection, brand_id: int, event_type: Optional[str], after_id: int,
               limit: int) -> list[sqlite3.Row]:
    where, args = "brand_id = ? AND deleted_at_ms IS NULL AND id > ?", [brand_id, after_id]
    if event_type:
        where += " AND event_type = ?"
        args.append(event_type)
    return conn.execute(f"SELECT * FROM rules WHERE {where} ORDER BY id LIMIT ?", (*args, limit)).fetchall()


def definition(row: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's definition as stored in its version history (amounts stay as written)."""
    return {"code": row["code"], **{name: _field(row, name) for name in RULE_FIELDS}}


def _field(row: Mapping[str, Any], name: str) -> Any:
    value = row[name]
    if name in ("conditions", "actions") and isinstance(value, str):
        return loads_exact(value)
    if name in ("active", "stop_after"):
        return bool(value)
    return value


def save_rule(conn: sqlite3.Connection, brand_id: int, code: str, fields: Mapping[str, Any], now_ms: int,
              *, create: bool) -> sqlite3.Row:
    """Create a rule (`create`; 409 when the code is taken) or write its next version."""
    current = conn.execute("SELECT * FROM rules WHERE brand_id = ? AND code = ?", (brand_id, code)).fetchone()
    values = (fields["name"], fields["event_type"], fields["priority"], int(fields["active"]),
              int(fields["stop_after"]),
              None if fields["conditions"] is None else exact_json(fields["conditions"]),
              exact_json(fields["actions"]), fields["starts_at_ms"], fields["ends_at_ms"])
    if current is None:
        if not create:
            raise NotFound("no such rule", rule=code)
        count = conn.execute("SELECT count(*) FROM rules WHERE brand_id = ? AND deleted_at_ms IS NULL",
                             (brand_id,)).fetchone()[0]
        if count >= MAX_RULES_PER_BRAND:
                raise LimitExceeded(f"a brand has at most {MAX_RULES_PER_BRAND} rules")
        row = conn.execute(
            "INSERT INTO rules (brand_id, code, version, name, event_type, priority, active, stop_after,"
            " conditions, actions, starts_at_ms, ends_at_ms, created_at_ms, updated_at_ms)"
            " VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (brand_id, code, *values, now_ms, now_ms)).fetchone()
    else:
        if create and current["deleted_at_ms"] is None:
            raise Conflict("a rule with this code exists; PATCH /v1/rules/{code} changes it", field="code",
                           code=code)
        if not create and current["deleted_at_ms"] is not None:
            raise NotFound("no such rule", rule=code)
        row = conn.execute(
            "UPDATE rules SET version = version + 1, name = ?, event_type = ?, priority = ?, active = ?,"
            " stop_after = ?, conditions = ?, actions = ?, starts_at_ms = ?, ends_at_ms = ?,"
            " deleted_at_ms = NULL, updated_at_ms = ? WHERE id = ? RETURNING *",
            (*values, now_ms, current["id"])).fetchone()
    conn.execute("INSERT INTO rule_versions (rule_id, version, definition, created_at_ms) VALUES (?, ?, ?, ?)",
                 (row["id"], row["version"], exact_json(definition(row)), now_ms))
    bump(conn, brand_id)
    return row


def delete_rule(conn: sqlite3.Connection, brand_id: int, code: str, now_ms: int) -> sqlite3.Row:
    """Retire a rule: it stops running; its versions stay for the events that name them."""
    row = rule_row(conn, brand_id, code)
    conn.execute("UPDATE rules SET deleted_at_ms = ?, active = 0, updated_at_ms = ? WHERE id = ?",
                 (now_ms, now_ms, row["id"]))
    bump(conn, brand_id)
    return row


def rule_versions(conn: sqlite3.Connection, rule_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT version, definition, created_at_ms FROM rule_versions WHERE rule_id = ?"
                        " ORDER BY version", (rule_id,)).fetchall()


# -- tiers and bonus definitions -----------------------------------------------------------------
def create_tier(conn: sqlite3.Connection, brand_id: int, code: str, name: str, min_status_points: int,
                now_ms: int) -> sqlite3.Row:
    try:
        row = conn.execute("INSERT INTO tiers (brand_id, code, name, min_status_points, created_at_ms)"
                           " VALUES (?, ?, ?, ?, ?) RETURNING *",
                           (brand_id, code, name, min_status_points, now_ms)).fetchone()
    except sqlite3.IntegrityError:
        raise Conflict("a tier with this code or this min_status_points exists: which one would a customer"
                       " hold?", field="code", code=code, min_status_points=min_status_points) from None
    bump(conn, brand_id)
    return row


def list_tiers(conn: sqlite3.Connection, brand_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM tiers WHERE brand_id = ? ORDER BY min_status_points",
                        (brand_id,)).fetchall()


def create_bonus_definition(conn: sqlite3.Connection, brand_id: int, code: str, name: str, period: str,
                            max_awards: Optional[int], now_ms: int) -> sqlite3.Row:
    count = conn.execute("SELECT count(*) FROM bonus_definitions WHERE brand_id = ?", (brand_id,)).fetchone()[0]
    if count >= MAX_BONUS_DEFINITIONS_PER_BRAND:
        raise LimitExceeded(f"a brand has at most {MAX_BONUS_DEFINITIONS_PER_BRAND} bonus definitions")
    try:
        row = conn.execute("INSERT INTO bonus_definitions (brand_id, code, name, period, max_awards, created_at_ms)"
                           " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                           (brand_id, code, name, period, max_awards, now_ms)).fetchone()
    except sqlite3.IntegrityError:
        raise Conflict("a bonus definition with this code exists", field="code", code=code) from None
    bump(conn, brand_id)
    return row


def list_bonus_definitions(conn: sqlite3.Connection, brand_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM bonus_definitions WHERE brand_id = ? ORDER BY id", (brand_id,)).fetchall()


def seed_defaults(conn: sqlite3.Connection, brand_id: int, now_ms: int) -> None:
    """A new brand's event types, its `purchase_cashback` rule (DESIGN §6a) and its
    `referral_commission` rule (seed 001)."""
    for code, name, internal in DEFAULT_EVENT_TYPES:
        create_event_type(conn, brand_id, code, name, now_ms, internal=bool(internal))
    for rule in (DEFAULT_RULE, DEFAULT_COMMISSION_RULE):
        save_rule(conn, brand_id, rule["code"], rule, now_ms, create=True)
