"""Selectors: which of a brand's customers a job raises its event for (seed 004's keys).

A selector is `{"all": [leaf, …]}` (every leaf holds; an empty list selects everyone) or
`{"any": [leaf, …]}` (at least one), or one leaf alone. A leaf has exactly one key:

- `birthday_today: true`, `created_anniversary_today: true` (in the job's time zone, the
  brand's by default; the day the customer was created is not its anniversary);
- `inactive_days_gte: N` (no event for N days or more; a customer with none counts from
  its creation);
- `status_in`, `tier_in`, `tag_in`: lists; `lifetime_points_gte: N`; `customer_ids`: a list.

Checked strictly when a job is saved (seed 004 selects everyone on a typo and applies only
the first key): an unknown key, two keys in one leaf, a wrong value is 400 naming its path,
and every leaf applies. Pure: `parse` once, then `matches` per customer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

from ..rules.actions import STATUSES
from ..rules.facts import CODE, is_anniversary
from ..rules.problems import InvalidRule, Problem, item_path, key_path
from ..rules.tiers import Tier, tier_for

MAX_LEAVES = 20
MAX_LIST_ITEMS = 1000
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class CustomerRow:
    """What a selector reads of a customer (a row of the customers table)."""

    external_id: str
    status: str
    tags: tuple[str, ...]
    birthdate: Optional[date]
    created_at_ms: int
    last_event_at_ms: Optional[int]
    status_points: int
    lifetime_points: int


class Context(NamedTuple):
    today: date          # the brand-local date of the occurrence
    now_ms: int          # the occurrence's moment
    zone: tzinfo
    tiers: Sequence[Tier]


Test = Callable[[CustomerRow, Context], bool]


def _local_date(ms: int, zone: tzinfo) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(zone).date()


def _anniversary(c: CustomerRow, ctx: Context) -> bool:
    created = _local_date(c.created_at_ms, ctx.zone)
    return created < ctx.today and is_anniversary(created, ctx.today)


def _inactive(days: int) -> Test:
    return lambda c, ctx: ctx.now_ms - (c.last_event_at_ms or c.created_at_ms) >= days * _DAY_MS


def _tier_in(codes: frozenset) -> Test:
    def test(c: CustomerRow, ctx: Context) -> bool:
        held = tier_for(ctx.tiers, c.status_points)
        return (held.code if held else None) in codes
    return test


def _flag(name: str, value: Any, path: str) -> tuple[Optional[bool], list[Problem]]:
    if value is not True:
        return None, [Problem(path, f"{name} takes true")]
    return True, []


def _count(name: str, value: Any, path: str, low: int) -> tuple[Optional[int], list[Problem]]:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 10**12:
        return None, [Problem(path, f"{name} takes a whole number ≥ {low}")]
    return value, []


def _texts(name: str, value: Any, path: str, allowed: Optional[Sequence[str]] = None,
           pattern=None) -> tuple[Optional[frozenset], list[Problem]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_ITEMS:
        return None, [Problem(path, f"{name} takes a list of 1-{MAX_LIST_ITEMS} strings")]
    problems = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not 1 <= len(item) <= 128 or (pattern and not pattern.match(item)):
            problems.append(Problem(item_path(path, index), "not a valid value"))
        elif allowed is not None and item not in allowed:
            problems.append(Problem(item_path(path, index), f"{item!r} is not one of {', '.join(allowed)}"))
    return (None, problems) if problems else (frozenset(value), [])


def _leaf(node: Any, path: str, tier_codes: Optional[Sequence[str]]) -> tuple[Optional[Test], list[Problem]]:
    if not isinstance(node, Mapping) or len(node) != 1:
        return None, [Problem(path, f"a selector leaf is an object with exactly one of: {', '.join(KEYS)}")]
    [(key, value)] = node.items()
    here = key_path(path, str(key))
    if key == "birthday_today":
        ok, problems = _flag(key, value, here)
        return (lambda c, ctx: is_anniversary(c.birthdate, ctx.today)) if ok else None, problems
    if key == "created_anniversary_today":
        ok, problems = _flag(key, value, here)
        return _anniversary if ok else None, problems
    if key == "inactive_days_gte":
        days, problems = _count(key, value, here, 1)
        return _inactive(days) if days is not None else None, problems
    if key == "lifetime_points_gte":
        points, problems = _count(key, value, here, 0)
        return (lambda c, ctx: c.lifetime_points >= points) if points is not None else None, problems
    if key == "status_in":
        values, problems = _texts(key, value, here, STATUSES)
        return (lambda c, ctx: c.status in values) if values else None, problems
    if key == "tier_in":
        values, problems = _texts(key, value, here, tier_codes, CODE)
        return _tier_in(values) if values else None, problems
    if key == "tag_in":
        values, problems = _texts(key, value, here)
        return (lambda c, ctx: not values.isdisjoint(c.tags)) if values else None, problems
    if key == "customer_ids":
        values, problems = _texts(key, value, here)
        return (lambda c, ctx: c.external_id in values) if values else None, problems
    return None, [Problem(here, f"unknown selector key {str(key)[:40]!r}; keys: {', '.join(KEYS)}")]


KEYS = ("birthday_today", "created_anniversary_today", "inactive_days_gte", "status_in", "tier_in",
        "lifetime_points_gte", "tag_in", "customer_ids")


class Selector(NamedTuple):
    mode: str                 # all | any
    tests: tuple[Test, ...]

    def matches(self, customer: CustomerRow, ctx: Context) -> bool:
        if self.mode == "all":
            return all(test(customer, ctx) for test in self.tests)
        return any(test(customer, ctx) for test in self.tests)


def parse(selector: Any, tier_codes: Optional[Sequence[str]] = None, path: str = "selector") -> Selector:
    """The selector, or InvalidRule (400) listing every problem with its JSON path. Tier
    codes are checked against `tier_codes` when given."""
    problems: list[Problem] = []
    if isinstance(selector, Mapping) and len(selector) == 1 and next(iter(selector)) in ("all", "any"):
        [(mode, leaves)] = selector.items()
        if not isinstance(leaves, list) or len(leaves) > MAX_LEAVES or (mode == "any" and not leaves):
            raise InvalidRule.of([Problem(key_path(path, mode), f"{mode} takes a list of at most {MAX_LEAVES}"
                                          " selector leaves" + (" (at least one)" if mode == "any" else ""))])
        nodes = [(leaf, item_path(key_path(path, mode), index)) for index, leaf in enumerate(leaves)]
    else:
        mode, nodes = "all", [(selector, path)]
    tests = []
    for node, where in nodes:
        test, found = _leaf(node, where, tier_codes)
        problems += found
        if test is not None:
            tests.append(test)
    if problems:
        raise InvalidRule.of(problems)
    return Selector(mode, tuple(tests))
