"""A brand's loyalty configuration as use cases: event types, rules (validated strictly and
versioned), tiers, bonus definitions and awards, and a customer's loyalty view.

A rule is validated inside the writer command that saves it, against the brand as it is
in that transaction (its event types, assets, bonus definitions and rewards): every
problem is reported with its JSON path (400 `invalid_request`, `details.problems`), and
a rule that saved always ran through the same validators the engine uses.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Mapping, Optional

from ..clock import SystemClock
from ..ledger.errors import LimitExceeded
from ..ledger.json_text import loads_exact
from ..rules.actions import validate_actions
from ..rules.catalog import ui_catalog
from ..rules.conditions import validate_conditions
from ..rules.facts import CODE
from ..rules.problems import InvalidRule, Problem
from ..rules.tiers import LoyaltyPoints, Tier
from ..store import events as event_store
from ..store import rewards as reward_store
from ..store import rules as rule_store
from ..store.customers import get_customer
from ..store.readers import Readers
from ..store.writer import Writer
from ..times import rfc3339
from .events import loyalty_json
from .ledger import check_customer_id

MAX_PRIORITY = 1_000_000
MAX_CONDITION_WEIGHT_PER_EVENT_TYPE = 5_000  # condition nodes + list values over an event type's active rules


def check_rule(conn: sqlite3.Connection, brand_id: int, code: str, fields: dict[str, Any]) -> None:
    """Every problem of a rule's definition against the brand, or nothing."""
    config = rule_store.brand_config(conn, brand_id)
    problems: list[Problem] = []
    if not isinstance(code, str) or not CODE.match(code):
        problems.append(Problem("code", "code: 1-64 letters, digits, _ or - (starting with a letter or digit)"))
    name = fields["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        problems.append(Problem("name", "name: 1-200 characters"))
    event_type = fields["event_type"]
    if event_type not in config.event_types:
        problems.append(Problem("event_type", f"unknown event type {str(event_type)[:64]!r}; event types: "
                                f"{', '.join(sorted(config.event_types))}"))
    priority = fields["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:
        problems.append(Problem("priority", f"priority: a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY}"))
    for flag in ("active", "stop_after"):
        if not isinstance(fields[flag], bool):
            problems.append(Problem(flag, f"{flag}: true or false"))
    starts, ends = fields["starts_at_ms"], fields["ends_at_ms"]
    if starts is not None and ends is not None and starts >= ends:
        problems.append(Problem("ends_at", "ends_at must be after starts_at"))
    if fields["conditions"] is not None:
        found = validate_conditions(fields["conditions"], "conditions")
        problems += found or _unknown_names(fields["conditions"], "conditions", config)
        if not found:
            problems += _over_budget(config, fields, code)
    problems += validate_actions(fields["actions"], config.scales, bonuses=config.bonuses,
                                 rewards=reward_store.reward_codes(conn, brand_id), path="actions")
    if problems:
        raise InvalidRule.of(problems)


def _leaves(node: Any, path: str):
    """(path, leaf) of each leaf of a condition tree that parsed, as the parser names paths."""
    if isinstance(node, dict) and "fact" in node:
        yield path, node
    elif isinstance(node, dict):
        for key in ("all", "any"):
            for index, child in enumerate(node.get(key) or ()):
                yield from _leaves(child, f"{path}.{key}[{index}]")
        if "not" in node:
            yield from _leaves(node["not"], f"{path}.not")


def _unknown_names(conditions: Any, path: str, config) -> list[Problem]:
    """Facts that name a bonus or an event type the brand does not have: a typo there would
    quietly never (or always) hold."""
    problems = []
    for where, leaf in _leaves(conditions, path):
        name = leaf["fact"]
        if name.startswith("bonus.") and name.removeprefix("bonus.").removesuffix(".awarded") not in config.bonuses:
            problems.append(Problem(f"{where}.fact", f"unknown bonus in {name!r}; bonus definitions: "
                                    f"{', '.join(sorted(config.bonuses)) or 'none yet'}"))
        elif name.startswith("customer.events.") and name.removeprefix("customer.events.") not in config.event_types:
            problems.append(Problem(f"{where}.fact", f"unknown event type in {name!r}; event types: "
                                    f"{', '.join(sorted(config.event_types))}"))
    return problems


def _weight(conditions: Any) -> int:
    """What evaluating a condition tree costs: its nodes plus the values of its lists."""
    if isinstance(conditions, Mapping):
        value = conditions.get("value")
        items = len(value) if isinstance(value, (list, tuple)) else 0
        return 1 + items + sum(_weight(child) for key in ("all", "any") for child in (conditions.get(key) or ())) \
            + (_weight(conditions["not"]) if "not" in conditions else 0)
    return 0


def _over_budget(config, fields: dict[str, Any], code: str) -> list[Problem]:
    """Every event of a type evaluates all its active rules in the one writer: their total
    weight is bounded, so no brand can make events (and everyone's writes) slow."""
    if not fields["active"]:
        return []
    total = _weight(fields["conditions"]) + sum(
        _weight(rule.conditions) for rule in config.rules if rule.event_type == fields["event_type"] and rule.code != code)
    if total > MAX_CONDITION_WEIGHT_PER_EVENT_TYPE:
        return [Problem("conditions", f"the active rules of {fields['event_type']} would hold {total} conditions and"
                        f" list values in all; at most {MAX_CONDITION_WEIGHT_PER_EVENT_TYPE} per event type",
                        LimitExceeded.code)]
    return []


class RuleService:
    def __init__(self, writer: Writer, readers: Readers, clock=None) -> None:
        self.writer, self.readers, self.clock = writer, readers, clock or SystemClock()

    # -- event types ----------------------------------------------------------------------------
    async def create_event_type(self, brand_id: int, code: str, name: str, wrap=None) -> sqlite3.Row:
        now = self.clock.now_ms()
        return await self._submit(lambda c: rule_store.create_event_type(c, brand_id, code, name, now), wrap)

    async def event_types(self, brand_id: int) -> list[sqlite3.Row]:
        return await self.readers.read(lambda c: rule_store.list_event_types(c, brand_id))

    # -- rules ----------------------------------------------------------------------------------
    async def create_rule(self, brand_id: int, code: str, fields: dict[str, Any], wrap=None) -> dict:
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            check_rule(conn, brand_id, code, fields)
            return rule_json(rule_store.save_rule(conn, brand_id, code, fields, now, create=True))
        return await self._submit(command, wrap)

    async def patch_rule(self, brand_id: int, code: str, changes: dict[str, Any], wrap=None) -> dict:
        """The next version of a rule: its current definition with `changes` over it."""
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            fields = {**rule_store.definition(rule_store.rule_row(conn, brand_id, code)), **changes}
            check_rule(conn, brand_id, code, fields)
            return rule_json(rule_store.save_rule(conn, brand_id, code, fields, now, create=False))
        return await self._submit(command, wrap)

    async def delete_rule(self, brand_id: int, code: str) -> dict:
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: rule_json(rule_store.delete_rule(c, brand_id, code, now),
                                                            deleted=True))

    async def get_rule(self, brand_id: int, code: str) -> dict:
        def query(conn: sqlite3.Connection) -> dict:
            row = rule_store.rule_row(conn, brand_id, code)
            history = [{"version": v["version"], "definition": loads_exact(v["definition"]),
                        "created_at": rfc3339(v["created_at_ms"])} for v in rule_store.rule_versions(conn, row["id"])]
            return {**rule_json(row), "history": history}
        return await self.readers.read(query)

    async def list_rules(self, brand_id: int, event_type: Optional[str], after_id: int, limit: int) -> list:
        rows = await self.readers.read(lambda c: rule_store.list_rules(c, brand_id, event_type, after_id, limit))
        return [(row["id"], rule_json(row)) for row in rows]

    async def catalog(self, brand_id: int) -> dict:
        scales = await self.readers.read(lambda c: {r[0]: r[1] for r in c.execute(
            "SELECT code, scale FROM assets WHERE brand_id = ?", (brand_id,))})
        return ui_catalog(scales)

    # -- tiers, bonuses, loyalty ------------------------------------------------------------------
    async def create_tier(self, brand_id: int, code: str, name: str, min_status_points: int, wrap=None):
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: rule_store.create_tier(c, brand_id, code, name, min_status_points, now), wrap)

    async def tiers(self, brand_id: int) -> list[sqlite3.Row]:
        return await self.readers.read(lambda c: rule_store.list_tiers(c, brand_id))

    async def create_bonus(self, brand_id: int, code: str, name: str, period: str, max_awards: Optional[int],
                           wrap=None) -> sqlite3.Row:
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: rule_store.create_bonus_definition(c, brand_id, code, name, period, max_awards, now), wrap)

    async def bonuses(self, brand_id: int) -> list[sqlite3.Row]:
        return await self.readers.read(lambda c: rule_store.list_bonus_definitions(c, brand_id))

    async def awards(self, brand_id: int, customer: Optional[str], after_id: int, limit: int) -> list[sqlite3.Row]:
        if customer is not None:
            check_customer_id(customer)
        return await self.readers.read(lambda c: event_store.list_awards(c, brand_id, customer, after_id, limit))

    async def loyalty(self, brand_id: int, customer: str) -> dict:
        check_customer_id(customer)

        def query(conn: sqlite3.Connection) -> dict:
            row = get_customer(conn, brand_id, customer)
            tiers = [Tier(t["code"], t["name"], t["min_status_points"]) for t in rule_store.list_tiers(conn, brand_id)]
            return {"customer_id": customer,
                    **loyalty_json(tiers, LoyaltyPoints(row["status_points"], row["lifetime_points"]))}
        return await self.readers.read(query)

    async def _submit(self, command, wrap) -> Any:
        return await self.writer.submit(wrap(command) if wrap else command)


def rule_json(row: sqlite3.Row, deleted: bool = False) -> dict:
    return {"code": row["code"], "version": row["version"], "name": row["name"], "event_type": row["event_type"],
            "priority": row["priority"], "active": bool(row["active"]) and not deleted,
            "stop_after": bool(row["stop_after"]),
            "conditions": loads_exact(row["conditions"]) if row["conditions"] is not None else None,
            "actions": loads_exact(row["actions"]), "starts_at": rfc3339(row["starts_at_ms"]),
            "ends_at": rfc3339(row["ends_at_ms"]), "deleted": deleted,
            "created_at": rfc3339(row["created_at_ms"]), "updated_at": rfc3339(row["updated_at_ms"])}

