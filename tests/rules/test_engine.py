"""The engine: which rules run (type, active, window), in which order (priority, then code),
stop_after, one snapshot for all, problems that refuse the whole event; and a month at a
small café told through the pure core with every balance asserted."""
from dataclasses import FrozenInstanceError, replace
from datetime import datetime, timedelta

import pytest

from app.rules.actions import BonusDefinition
from app.rules.effects import AddTag, AwardBonus, Credit
from app.rules.engine import Execution, Rule, applicable, run
from app.rules.tiers import Tier, tier_for
from tests.rules.support import ASSETS, BRAND_TZ, MONDAY_MORNING, MiniShell, facts, leaf

NOW = MONDAY_MORNING
CASHBACK = Rule("purchase_cashback", "PURCHASE", actions=[
    {"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500}])


def credit(points: int) -> list:
    return [{"type": "credit", "asset": "POINTS", "amount": str(points)}]


def ran(outcome) -> list:
    assert outcome.ok, outcome.problems
    return [execution.rule_code for execution in outcome.executions]


def test_a_new_brands_cashback_rule_pays_five_percent():
    outcome = run([CASHBACK], facts(payload={"amount": "100.00"}), ASSETS, now=NOW)
    assert outcome.executions == (Execution("purchase_cashback", 1, (Credit("USD", 500, "purchase_cashback",
                                                                            "credit_rate"),)),)
    assert outcome.effects == outcome.executions[0].effects and outcome.problems == ()


def test_lower_priority_first_then_by_code_whatever_the_stored_order():
    rules = [Rule("c", "PURCHASE", priority=20, actions=credit(3)),
             Rule("b", "PURCHASE", priority=10, actions=credit(2)),
             Rule("a", "PURCHASE", priority=10, actions=credit(1)),
             Rule("z", "PURCHASE", priority=-5, actions=credit(4))]
    outcome = run(rules, facts(), ASSETS, now=NOW)
    assert ran(outcome) == ["z", "a", "b", "c"]
    assert [e.amount_minor for e in outcome.effects] == [4, 1, 2, 3]


def test_stop_after_stops_later_rules_once_it_matched():
    vip_only = Rule("vip_double", "PURCHASE", priority=1, stop_after=True,
                    conditions=leaf("customer.tags", "contains", "vip"), actions=credit(20))
    rules = [vip_only, Rule("standard", "PURCHASE", priority=2, actions=credit(10)),
             Rule("zz_same_priority", "PURCHASE", priority=1, actions=credit(1))]
    assert ran(run(rules, facts(tags=("vip",)), ASSETS, now=NOW)) == ["vip_double"]
    # Not matched: it stops nothing.
    assert ran(run(rules, facts(), ASSETS, now=NOW)) == ["zz_same_priority", "standard"]


def test_a_rule_with_no_action_and_stop_after_shields_the_rest():
    guard = Rule("blocked_earn_nothing", "PURCHASE", priority=0, stop_after=True,
                 conditions=leaf("customer.status", "eq", "blocked"))
    outcome = run([guard, CASHBACK], facts(payload={"amount": "10"}, status="blocked"), ASSETS, now=NOW)
    assert ran(outcome) == ["blocked_earn_nothing"] and outcome.effects == ()


def test_only_active_rules_of_the_event_type_within_their_window():
    hour = timedelta(hours=1)
    rules = [Rule("inactive", "PURCHASE", active=False), Rule("signup", "SIGNUP"),
             Rule("not_yet", "PURCHASE", starts_at=NOW + hour), Rule("ended", "PURCHASE", ends_at=NOW),
             Rule("starts_now", "PURCHASE", starts_at=NOW), Rule("open", "PURCHASE", ends_at=NOW + hour),
             Rule("always", "PURCHASE")]
    assert [r.code for r in applicable(rules, "PURCHASE", NOW)] == ["always", "open", "starts_now"]
    assert ran(run(rules, facts(), ASSETS, now=NOW)) == ["always", "open", "starts_now"]


def test_unmatched_rules_leave_no_execution():
    big = Rule("big_spender", "PURCHASE", conditions=leaf("payload.amount", "gte", "500.00"), actions=credit(100))
    assert ran(run([big, CASHBACK], facts(payload={"amount": "100.00"}), ASSETS, now=NOW)) == ["purchase_cashback"]


def test_executions_carry_the_rule_version():
    outcome = run([Rule("r", "PURCHASE", version=7, actions=credit(1))], facts(), ASSETS, now=NOW)
    assert outcome.executions[0].rule_version == 7


def test_every_rule_sees_the_customer_as_before_the_event():
    tagger = Rule("tag_vip", "PURCHASE", priority=1, actions=[{"type": "add_tag", "tag": "vip"}])
    vip_bonus = Rule("vip_bonus", "PURCHASE", priority=2, conditions=leaf("customer.tags", "contains", "vip"),
                     actions=credit(5))
    outcome = run([tagger, vip_bonus], facts(), ASSETS, now=NOW)
    assert ran(outcome) == ["tag_vip"] and outcome.effects == (AddTag("vip", "tag_vip"),)


def test_one_bonus_is_awarded_once_per_event_even_by_two_rules():
    bonuses = {"WELCOME": BonusDefinition("WELCOME", "once")}
    award = [{"type": "bonus", "bonus": "WELCOME", "asset": "POINTS", "amount": "50"}]
    rules = [Rule("a", "SIGNUP", actions=award), Rule("b", "SIGNUP", actions=award + credit(1))]
    outcome = run(rules, facts("SIGNUP"), ASSETS, now=NOW, bonuses=bonuses)
    assert outcome.effects == (AwardBonus("WELCOME", "POINTS", 50, "once", "once", "a"), Credit("POINTS", 1, "b"))
    assert ran(outcome) == ["a", "b"]


def test_a_problem_anywhere_refuses_the_whole_event():
    stale = Rule("stale", "PURCHASE", priority=5, conditions={"fact": "payload.amount", "op": "greater", "value": 1})
    outcome = run([CASHBACK, stale], facts(payload={"amount": "100.00"}), ASSETS, now=NOW)
    assert (outcome.executions, outcome.effects, outcome.ok) == ((), (), False)
    assert [p.path for p in outcome.problems] == ["rules[stale].conditions.op"]
    missing = run([CASHBACK], facts(payload={"total": "100.00"}), ASSETS, now=NOW)
    assert [(p.path, p.code) for p in missing.problems] == \
        [("rules[purchase_cashback].actions[0].of", "invalid_amount")]


def test_rules_are_immutable_values_and_now_must_be_aware():
    rule = Rule("r", "PURCHASE", conditions={"all": [leaf("payload.a", "present")]}, actions=credit(1))
    with pytest.raises(FrozenInstanceError):
        rule.priority = 3
    with pytest.raises(TypeError):
        rule.conditions["all"] = []
    with pytest.raises(ValueError):
        run([rule], facts(), ASSETS, now=datetime(2026, 3, 2))


# -- a month at a small café ----------------------------------------------------------------------
TIERS = [Tier("SILVER", "Silver", 100), Tier("GOLD", "Gold", 300)]
BONUSES = {"WELCOME": BonusDefinition("WELCOME", "once")}
CAFE_RULES = [
    Rule("blocked_earn_nothing", "PURCHASE", priority=0, stop_after=True,
         conditions=leaf("customer.status", "eq", "blocked")),
    Rule("first_purchase", "PURCHASE", priority=10, conditions=leaf("customer.events.PURCHASE", "eq", 0),
         actions=[{"type": "bonus", "bonus": "WELCOME", "asset": "POINTS", "amount": "50"}]),
    Rule("weekend_double_points", "PURCHASE", priority=50, conditions=leaf("event.weekday", "between", [6, 7]),
         actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10_000}]),
    replace(CASHBACK, priority=100),
    Rule("points_per_unit", "PURCHASE", priority=100,
         actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10_000}]),
    Rule("silver_welcome", "TIER_UPGRADED", conditions=leaf("payload.to_tier", "eq", "SILVER"),
         actions=[{"type": "add_tag", "tag": "silver"}, {"type": "credit", "asset": "CREDITS", "amount": "5.00"}]),
    Rule("gold_welcome", "TIER_UPGRADED", conditions=leaf("payload.to_tier", "eq", "GOLD"),
         actions=[{"type": "add_tag", "tag": "gold"}]),
]


def day(n: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, n, hour, tzinfo=BRAND_TZ)  # 2 March 2026 is a Monday


def test_a_month_at_a_small_cafe():
    cafe = MiniShell(CAFE_RULES, TIERS, BONUSES)

    # Mon 2: the first purchase earns the welcome bonus, a point per unit and 5% back.
    assert cafe.ingest("PURCHASE", {"amount": "40.00"}, day(2)) is None
    assert dict(cafe.balances) == {"POINTS": 90, "USD": 200}
    assert tier_for(TIERS, cafe.points.status_points) is None

    # Sat 7: weekend points double; 140 points reach SILVER, whose upgrade event runs at once.
    assert cafe.ingest("PURCHASE", {"amount": "25.50"}, day(7)) is None
    assert cafe.balances == {"POINTS": 140, "USD": 200 + 127, "CREDITS": 500}  # 1.275 rounds down to 1.27
    assert cafe.tags == {"silver"} and cafe.executed[-1] == ("TIER_UPGRADED", "silver_welcome")

    # Tue 10: three coffees at 0.10 earn nothing: half a cent and a tenth of a point each, never
    # rounded up (seed 001's floats had 0.015000000000000003 for the three).
    for _ in range(3):
        cafe.ingest("PURCHASE", {"amount": "0.10"}, day(10))
    assert cafe.balances["USD"] == 327 and cafe.balances["POINTS"] == 140

    # Sun 15: a weekend purchase of 80.00 brings 160 points: GOLD; no second welcome bonus.
    cafe.ingest("PURCHASE", {"amount": "80.00"}, day(15))
    assert cafe.balances == {"POINTS": 300, "USD": 727, "CREDITS": 500}
    assert tier_for(TIERS, cafe.points.status_points).code == "GOLD" and cafe.tags == {"silver", "gold"}
    assert ("WELCOME", "once") in cafe.awards and cafe.points == (300, 300)

    # Fri 20: the customer is blocked: the guard rule stops every earning rule.
    cafe.status = "blocked"
    cafe.ingest("PURCHASE", {"amount": "60.00"}, day(20))
    assert cafe.balances == {"POINTS": 300, "USD": 727, "CREDITS": 500}
    assert cafe.executed[-1] == ("PURCHASE", "blocked_earn_nothing")
    assert cafe.counts == {"PURCHASE": 7, "TIER_UPGRADED": 2}
