"""Tiers: which tier status points buy, how effects move the points, and what runs next.

A brand's tiers are `{code, name, min_status_points}`; a customer holds the highest tier
whose minimum its status points reach, and none below the lowest minimum. The tier is a
function of the points, never stored apart from them, so it cannot drift.

`points_after` applies a run's effects to a customer's points (DESIGN §6a): a credit or a
bonus in the brand's tier asset adds to status and lifetime points; `reset_status_points`
sets status points to 0; `downgrade_tier` (silent in DESIGN) drops status points to the
minimum of the tier below the one held then (to 0 from the lowest tier), so that the tier,
a function of the points, follows; debits and commissions change neither.

A change of tier raises the internal event TIER_UPGRADED or TIER_DOWNGRADED, run through
the rules in the same transaction. Its rules may move points again, and so on: at most
`MAX_TIER_DEPTH` internal events deep. `next_tier_event` returns a `limit_exceeded`
problem past that (a rule loop, e.g. a downgrade that credits points back), never a loop.
A jump over several tiers is one event whose payload names both ends.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

from ..ledger.errors import LimitExceeded
from .effects import AwardBonus, Credit, DowngradeTier, Effect, ResetStatusPoints
from .facts import CODE
from .problems import Problem, item_path, key_path

MAX_TIER_DEPTH = 3
MAX_TIERS = 50
TIER_UPGRADED = "TIER_UPGRADED"
TIER_DOWNGRADED = "TIER_DOWNGRADED"
TIER_ASSET = "POINTS"  # the brand's tier asset (DESIGN §6a)


class Tier(NamedTuple):
    code: str
    name: str
    min_status_points: int


class LoyaltyPoints(NamedTuple):
    status_points: int
    lifetime_points: int


class TierChange(NamedTuple):
    before: Optional[Tier]
    after: Optional[Tier]

    @property
    def direction(self) -> Optional[str]:
        """"upgrade", "downgrade" or None (the same tier, or none both times)."""
        if self.before == self.after:
            return None
        return "upgrade" if _rank(self.after) > _rank(self.before) else "downgrade"

    @property
    def event_type(self) -> Optional[str]:
        return {"upgrade": TIER_UPGRADED, "downgrade": TIER_DOWNGRADED}.get(self.direction or "")


class InternalEvent(NamedTuple):
    type: str        # TIER_UPGRADED | TIER_DOWNGRADED
    depth: int       # 1 for the first internal event after the customer's own event
    payload: Mapping[str, Any]


class TierStep(NamedTuple):
    change: TierChange
    event: Optional[InternalEvent]   # what to run next, if the tier changed within the limit
    problem: Optional[Problem]       # the tier changed past MAX_TIER_DEPTH


class LoyaltyView(NamedTuple):
    tier: Optional[Tier]
    status_points: int
    lifetime_points: int
    next_tier: Optional[Tier]
    points_to_next_tier: Optional[int]


TierLike = Union[Tier, Mapping[str, Any]]


def as_tiers(tiers: Iterable[TierLike]) -> list[Tier]:
    """Tiers (values or their JSON objects), lowest minimum first."""
    values = [t if isinstance(t, Tier) else Tier(t["code"], t["name"], t["min_status_points"]) for t in tiers]
    return sorted(values, key=lambda tier: (tier.min_status_points, tier.code))


def validate_tiers(tiers: Any, path: str = "tiers") -> list[Problem]:
    """Every problem of a brand's tier list: codes, names, minimums, duplicates."""
    if not isinstance(tiers, (list, tuple)) or len(tiers) > MAX_TIERS:
        return [Problem(path, f"tiers are a list of at most {MAX_TIERS} {{code, name, min_status_points}}")]
    problems: list[Problem] = []
    codes: set = set()
    minimums: set = set()
    for index, tier in enumerate(tiers):
        here = item_path(path, index)
        if not isinstance(tier, Mapping) or set(tier) != {"code", "name", "min_status_points"}:
            problems.append(Problem(here, "a tier is {code, name, min_status_points}"))
            continue
        code, name, minimum = tier["code"], tier["name"], tier["min_status_points"]
        if not isinstance(code, str) or not CODE.match(code):
            problems.append(Problem(key_path(here, "code"), "code: 1-64 letters, digits, _ or -"))
        elif code in codes:
            problems.append(Problem(key_path(here, "code"), f"tier {code!r} is listed twice"))
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            problems.append(Problem(key_path(here, "name"), "name: 1-200 characters"))
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
            problems.append(Problem(key_path(here, "min_status_points"), "a whole number ≥ 0"))
        elif minimum in minimums:
            problems.append(Problem(key_path(here, "min_status_points"),
                                    f"two tiers start at {minimum}: which one would the customer hold?"))
        codes.add(code)
        minimums.add(minimum)
    return problems


def tier_for(tiers: Sequence[TierLike], status_points: int) -> Optional[Tier]:
    """The highest tier whose minimum the points reach; None below the lowest."""
    held = None
    for tier in as_tiers(tiers):
        if status_points >= tier.min_status_points:
            held = tier
    return held


def tier_change(tiers: Sequence[TierLike], points_before: int, points_after: int) -> TierChange:
    return TierChange(tier_for(tiers, points_before), tier_for(tiers, points_after))


def next_tier_event(tiers: Sequence[TierLike], points_before: int, points_after: int, depth: int) -> TierStep:
    """What a run at `depth` (0: the customer's own event) leads to: no change; the internal
    event to run next at depth + 1; or, past MAX_TIER_DEPTH, a problem instead of a loop."""
    change = tier_change(tiers, points_before, points_after)
    if change.event_type is None:
        return TierStep(change, None, None)
    if depth + 1 > MAX_TIER_DEPTH:
        return TierStep(change, None, Problem(
            "loyalty.tier", f"the tier changed again after {MAX_TIER_DEPTH} chained tier events"
            f" ({_code(change.before)} → {_code(change.after)}): do rules on {TIER_UPGRADED}/"
            f"{TIER_DOWNGRADED} move points back and forth?", LimitExceeded.code))
    payload = {"from_tier": _code(change.before), "to_tier": _code(change.after), "status_points": points_after}
    return TierStep(change, InternalEvent(change.event_type, depth + 1, payload), None)


def _rank(tier: Optional[Tier]) -> int:
    return -1 if tier is None else tier.min_status_points


def _code(tier: Optional[Tier]) -> Optional[str]:
    return tier.code if tier else None


def points_after(points: LoyaltyPoints, effects: Iterable[Effect], tiers: Sequence[TierLike],
                 tier_asset: str = TIER_ASSET) -> LoyaltyPoints:
    """The customer's points once the effects apply, in their order."""
    status, lifetime = points
    ordered = as_tiers(tiers)
    for effect in effects:
        if isinstance(effect, (Credit, AwardBonus)) and effect.asset == tier_asset:
            status += effect.amount_minor
            lifetime += effect.amount_minor
        elif isinstance(effect, ResetStatusPoints):
            status = 0
        elif isinstance(effect, DowngradeTier):
            status = _downgraded(ordered, status)
    return LoyaltyPoints(status, lifetime)


def _downgraded(ordered: list[Tier], status_points: int) -> int:
    held = tier_for(ordered, status_points)
    if held is None:
        return status_points
    below = [tier for tier in ordered if tier.min_status_points < held.min_status_points]
    return below[-1].min_status_points if below else 0


def loyalty_view(tiers: Sequence[TierLike], points: LoyaltyPoints) -> LoyaltyView:
    """`GET /v1/customers/{id}/loyalty`: the tier held, the next one and how far it is."""
    held = tier_for(tiers, points.status_points)
    above = [tier for tier in as_tiers(tiers) if tier.min_status_points > points.status_points]
    following = above[0] if above else None
    to_next = following.min_status_points - points.status_points if following else None
    return LoyaltyView(held, points.status_points, points.lifetime_points, following, to_next)
