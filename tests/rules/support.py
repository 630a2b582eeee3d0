"""Builders for the rules tests (a brand's assets, a customer's facts) and an in-memory shell."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

from app.rules import effects as fx
from app.rules.engine import run
from app.rules.facts import CustomerSnapshot, EventFacts, Facts
from app.rules.tiers import LoyaltyPoints, next_tier_event, points_after, tier_for

ASSETS = {"POINTS": 0, "CREDITS": 2, "USD": 2}  # a new brand's assets: code → scale
# The brand's zone: five hours behind UTC (a fixed offset keeps the tests off tzdata).
BRAND_TZ = timezone(timedelta(hours=-5))
# Monday 2 March 2026, 10:30 in the brand's zone.
MONDAY_MORNING = datetime(2026, 3, 2, 10, 30, tzinfo=BRAND_TZ)


def facts(event_type: str = "PURCHASE", payload: dict | None = None, *,
          occurred_at: datetime = MONDAY_MORNING, today: date | None = None, **customer) -> Facts:
    customer.setdefault("created_at", datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    return Facts(EventFacts(event_type, occurred_at, payload or {}), CustomerSnapshot(**customer),
                 today or occurred_at.date())


def leaf(fact: str, op: str, *value) -> dict:
    """A leaf condition; `value` left out for `present` with its default."""
    return {"fact": fact, "op": op, **({"value": value[0]} if value else {})}


class MiniShell:
    """The smallest shell around the pure core, in memory: what the service will do in one SQL
    transaction per event (snapshot → run → apply effects → tier event, up to the depth limit).
    Only for telling the rules' story in tests; balances here are plain sums per asset."""

    def __init__(self, rules, tiers=(), bonuses=None, created_at=MONDAY_MORNING):
        self.rules, self.tiers, self.bonuses = list(rules), list(tiers), dict(bonuses or {})
        self.balances: dict = defaultdict(int)
        self.tags: set = set()
        self.status = "active"
        self.points = LoyaltyPoints(0, 0)
        self.counts: Counter = Counter()
        self.awards: set = set()  # (bonus, period_key)
        self.created_at, self.last_event_at = created_at, None
        self.executed: list = []  # (event type, rule code) in the order they ran

    def snapshot(self, today: date) -> CustomerSnapshot:
        held = tier_for(self.tiers, self.points.status_points)
        awarded = {code for code, key in self.awards if key == fx.period_key(self.bonuses[code].period, today)}
        return CustomerSnapshot(created_at=self.created_at, status=self.status, tier=held.code if held else None,
                                tags=tuple(self.tags), status_points=self.points.status_points,
                                lifetime_points=self.points.lifetime_points, last_event_at=self.last_event_at,
                                event_counts=dict(self.counts), bonuses_awarded=frozenset(awarded))

    def ingest(self, event_type: str, payload: dict, at: datetime):
        """Process one event and the tier events it raises; the tier problem, if any."""
        depth = 0
        while True:
            outcome = run(self.rules, Facts(EventFacts(event_type, at, payload), self.snapshot(at.date()), at.date()),
                          ASSETS, now=at, bonuses=self.bonuses)
            assert outcome.ok, outcome.problems
            before = self.points.status_points
            self.apply(outcome.effects)
            self.executed += [(event_type, ex.rule_code) for ex in outcome.executions]
            self.counts[event_type] += 1
            self.last_event_at = at
            step = next_tier_event(self.tiers, before, self.points.status_points, depth)
            if step.event is None:
                return step.problem
            event_type, payload, depth = step.event.type, dict(step.event.payload), step.event.depth

    def apply(self, effects) -> None:
        for effect in effects:
            if isinstance(effect, (fx.Credit, fx.AwardBonus)):
                self.balances[effect.asset] += effect.amount_minor
            if isinstance(effect, fx.AwardBonus):
                self.awards.add((effect.bonus, effect.period_key))
            elif isinstance(effect, fx.Debit):
                self.balances[effect.asset] -= effect.amount_minor
            elif isinstance(effect, fx.AddTag):
                self.tags.add(effect.tag)
            elif isinstance(effect, fx.RemoveTag):
                self.tags.discard(effect.tag)
            elif isinstance(effect, fx.SetStatus):
                self.status = effect.status
        self.points = points_after(self.points, effects, self.tiers)
