"""The action table: every action plans its effect, validation names each problem's path, and
credit_rate earns exact minor units (each rounding mode, min/max, scale 0 and 2)."""
from dataclasses import FrozenInstanceError
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ledger.money import ExponentNumber
from app.rules.actions import ACTIONS, MAX_ACTIONS, BonusDefinition, plan, validate_actions
from app.rules.effects import (AddTag, AwardBonus, Credit, Debit, DowngradeTier, IssueReward, PayCommission,
                               RemoveTag, ResetStatusPoints, SetStatus, describe, period_key)
from tests.rules.support import ASSETS, facts

BONUSES = {"BIRTHDAY": BonusDefinition("BIRTHDAY", "year"), "WEEKLY": BonusDefinition("WEEKLY", "week", 100)}
PURCHASE = facts(payload={"amount": "100.00", "referral_code": "AMB-7"})


def planned(actions, on=PURCHASE, **kwargs):
    result = plan(actions, on, ASSETS, bonuses=BONUSES, rule_code="r1", **kwargs)
    assert result.problems == (), result.problems
    return list(result.effects)


def problems(actions, on=PURCHASE):
    result = plan(actions, on, ASSETS, bonuses=BONUSES, rule_code="r1")
    assert result.effects == ()  # never a partial plan
    return [(p.path, p.code) for p in result.problems]


def rate(amount="100.00", **action):
    """Effects of one credit_rate action on a purchase of `amount`."""
    body = {"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500, **action}
    return planned([body], facts(payload={"amount": amount}))


# -- every action -----------------------------------------------------------------------------------
EXPECTED = {
    "credit": [Credit("POINTS", 50, "r1", "credit")],
    "debit": [Debit("CREDITS", 100, "r1", "debit")],
    "credit_rate": [Credit("USD", 500, "r1", "credit_rate")],
    "bonus": [AwardBonus("BIRTHDAY", "POINTS", 100, "year", "2026", "r1")],
    "issue_reward": [IssueReward("FREE_COFFEE", "r1")],
    "set_status": [SetStatus("inactive", "r1")],
    "add_tag": [AddTag("vip", "r1")],
    "remove_tag": [RemoveTag("new", "r1")],
    "reset_status_points": [ResetStatusPoints("r1")],
    "downgrade_tier": [DowngradeTier("r1")],
    "commission": [PayCommission("USD", 10000, 2, 1000, "down", "AMB-7", "r1")],
}


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_every_action_plans_its_effect(kind):
    example = ACTIONS[kind].example
    assert validate_actions([example], ASSETS, bonuses=BONUSES) == []
    effects = planned([example])
    assert effects == EXPECTED[kind]
    assert all(effect.type == (kind if kind != "credit_rate" else "credit") for effect in effects)


def test_the_expectations_cover_the_table():
    assert set(EXPECTED) == set(ACTIONS)


def test_effects_keep_the_actions_order_and_are_immutable():
    effects = planned([{"type": "add_tag", "tag": "a"}, {"type": "credit", "asset": "USD", "amount": "1.5"},
                       {"type": "remove_tag", "tag": "b"}])
    assert effects == [AddTag("a", "r1"), Credit("USD", 150, "r1"), RemoveTag("b", "r1")]
    with pytest.raises(FrozenInstanceError):
        effects[1].amount_minor = 1


def test_an_empty_action_list_plans_nothing():
    assert planned([]) == []


# -- credit_rate: exact money -------------------------------------------------------------------------
def test_credit_rate_into_scale_2_and_scale_0():
    assert rate() == [Credit("USD", 500, "r1", "credit_rate")]                      # "5.00"
    assert rate(asset="POINTS", rate_bps=10_000) == [Credit("POINTS", 100, "r1", "credit_rate")]
    assert rate("19.99", asset="POINTS", rate_bps=10_000) == [Credit("POINTS", 19, "r1", "credit_rate")]
    assert rate("19.99", asset="POINTS", rate_bps=10_000, rounding="half_even")[0].amount_minor == 20


@pytest.mark.parametrize("rounding,cents", [("down", 0), ("half_even", 0), ("up", 1)])
def test_ten_cents_at_five_percent_three_times(rounding, cents):
    # 0.10 × 5% is exactly half a cent; seed 001's floats made three of them 0.015000000000000003.
    earned = [rate("0.10", rounding=rounding) for _ in range(3)]
    assert earned == [[Credit("USD", cents, "r1", "credit_rate")] if cents else []] * 3


@pytest.mark.parametrize("amount,rounding,cents", [
    ("0.30", "down", 1), ("0.30", "half_even", 2), ("0.30", "up", 2),       # 1.5 cents
    ("0.50", "down", 2), ("0.50", "half_even", 2), ("0.50", "up", 3),       # 2.5 cents
    ("0.15", "down", 0), ("0.15", "half_even", 1), ("0.15", "up", 1),       # 0.75 of a cent
])
def test_credit_rate_rounding_modes(amount, rounding, cents):
    assert [e.amount_minor for e in rate(amount, rounding=rounding)] == ([cents] if cents else [])


def test_min_and_max_bound_a_positive_earning_after_rounding():
    assert rate("0.10", min="0.25") == [Credit("USD", 25, "r1", "credit_rate")]       # 0 → the floor
    assert rate("1000.00", max="20.00") == [Credit("USD", 2000, "r1", "credit_rate")]  # 50.00 → the cap
    assert rate("100.00", min="1", max="20") == [Credit("USD", 500, "r1", "credit_rate")]
    assert rate("0", min="0.25") == []  # a zero purchase earns nothing, not the floor
    assert rate("50.00", asset="POINTS", rate_bps=10_000, max="10") == [Credit("POINTS", 10, "r1", "credit_rate")]


def test_a_zero_rate_or_a_zero_source_earns_nothing():
    assert rate("100.00", rate_bps=0) == [] and rate("0.00") == [] and rate(0) == []


def test_source_numbers_parsed_as_decimal_are_exact():
    assert rate(Decimal("100.00")) == rate(100) == rate("100") == [Credit("USD", 500, "r1", "credit_rate")]


def test_of_scale_makes_the_source_precision_strict():
    assert rate("100.005") == [Credit("USD", 500, "r1", "credit_rate")]  # up to 9 decimals by default
    assert problems([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500,
                      "of_scale": 2}], facts(payload={"amount": "100.005"})) == [("actions[0].of", "invalid_amount")]


@pytest.mark.parametrize("amount", [
    "1.0000000001", "-5.00", "1e2", ExponentNumber("1E+2"), "NaN", Decimal("NaN"), 0.5, True, "abc", [1],
    {"value": 1},
])
def test_a_bad_source_amount_is_a_clear_error_value(amount):
    action = {"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500}
    result = plan([action], facts(payload={"amount": amount}), ASSETS, rule_code="r1")
    assert result.effects == ()
    [problem] = result.problems
    assert (problem.path, problem.code) == ("actions[0].of", "invalid_amount")
    assert problem.message.startswith("payload.amount: ")


def test_a_missing_source_is_a_problem_not_a_silent_nothing():
    action = {"type": "credit_rate", "asset": "USD", "of": "payload.total", "rate_bps": 500}
    result = plan([action], PURCHASE, ASSETS, rule_code="r1")
    assert [(p.path, p.message) for p in result.problems] == [
        ("actions[0].of", "payload.total is missing from the event's payload")]


def test_an_earning_past_the_maximum_amount_is_limit_exceeded():
    action = {"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 1_000_000}
    assert problems([action], facts(payload={"amount": "100000000000000000"})) == [("actions[0].of", "limit_exceeded")]


@given(cents=st.integers(0, 10**12), rate_bps=st.integers(0, 1_000_000))
def test_credit_rate_modes_are_ordered(cents, rate_bps):
    amount = f"{cents // 100}.{cents % 100:02d}"
    earned = {mode: sum(e.amount_minor for e in rate(amount, rate_bps=rate_bps, rounding=mode))
              for mode in ("down", "half_even", "up")}
    assert earned["down"] <= earned["half_even"] <= earned["up"] <= earned["down"] + 1
    assert earned["down"] == cents * rate_bps // 10_000  # into the same scale: floor(cents × rate)


# -- bonus, commission ------------------------------------------------------------------------------
def test_a_bonus_awarded_in_its_period_is_skipped_not_an_error():
    action = {"type": "bonus", "bonus": "BIRTHDAY", "asset": "POINTS", "amount": "100"}
    assert planned([action], facts(bonuses_awarded={"BIRTHDAY"})) == []
    assert planned([action], facts(bonuses_awarded={"WEEKLY"}))[0].bonus == "BIRTHDAY"


def test_a_bonus_with_no_definition_is_a_problem():
    action = {"type": "bonus", "bonus": "GHOST", "asset": "POINTS", "amount": "100"}
    assert problems([action]) == [("actions[0].bonus", "invalid_request")]
    assert validate_actions([action], ASSETS) == []  # definitions not given: not checked


def test_bonus_periods_are_keyed_by_the_brands_today():
    day = date(2026, 12, 31)  # a Thursday of ISO week 53 of 2026
    assert [period_key(p, day) for p in ("once", "year", "month", "week", "day")] == \
        ["once", "2026", "2026-12", "2026-W53", "2026-12-31"]
    assert period_key("week", date(2027, 1, 1)) == "2026-W53"  # the same ISO week
    action = {"type": "bonus", "bonus": "WEEKLY", "asset": "CREDITS", "amount": "2.50"}
    assert planned([action], facts(today=day)) == [AwardBonus("WEEKLY", "CREDITS", 250, "week", "2026-W53", "r1")]


def test_commission_carries_what_the_shell_needs_to_pay_the_ambassador():
    action = {"type": "commission", "asset": "USD", "rate_bps": 1000, "of": "payload.amount", "of_scale": 2}
    [paid] = planned([action])
    assert (paid.referral_code, paid.source_minor, paid.source_scale, paid.default_rate_bps) == \
        ("AMB-7", 10000, 2, 1000)
    assert paid.amount_minor(1000, 2) == 1000      # the action's 10%: "10.00"
    assert paid.amount_minor(250, 2) == 250        # the ambassador's own 2.5%: "2.50"
    [no_code] = planned([action], facts(payload={"amount": "100.00"}))
    assert no_code.referral_code is None           # the customer's referrer, if any, is the shell's to find
    assert planned([action], facts(payload={"amount": "0.00"})) == []


def test_describe_shows_amounts_in_units_of_the_asset():
    assert describe(Credit("USD", 500, "r1", "credit_rate"), ASSETS) == \
        {"type": "credit", "asset": "USD", "amount": "5.00", "action": "credit_rate"}
    assert describe(AwardBonus("B", "POINTS", 100, "year", "2026", "r1"), ASSETS) == \
        {"type": "bonus", "bonus": "B", "asset": "POINTS", "amount": "100", "period": "year", "period_key": "2026"}
    assert describe(PayCommission("USD", 10000, 2, 1000, "down", None, "r1"), ASSETS)["source_amount"] == "100.00"
    assert describe(AddTag("vip", "r1"), ASSETS) == {"type": "add_tag", "tag": "vip"}


# -- validation: every problem names its path ---------------------------------------------------------
@pytest.mark.parametrize("actions,paths", [
    ([{"type": "credit", "asset": "EUR", "amount": "1"}], ["actions[0].asset"]),
    ([{"type": "frobnicate"}], ["actions[0].type"]),
    ([{"asset": "USD", "amount": "1"}], ["actions[0].type"]),
    ([{"type": 5}], ["actions[0].type"]),
    (["credit"], ["actions[0]"]),
    ([{"type": "credit", "asset": "USD", "amount": "1.001"}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "POINTS", "amount": "1.5"}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD", "amount": "0"}], ["actions[0].amount"]),
    ([{"type": "debit", "asset": "USD", "amount": "-1"}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD", "amount": 1.5}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD", "amount": True}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD", "amount": "1e2"}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD"}], ["actions[0].amount"]),
    ([{"type": "credit", "asset": "USD", "amount": "1", "note": "x"}], ["actions[0].note"]),
    ([{"type": "add_tag", "tag": "ok"}, {"type": "credit_rate", "asset": "USD", "of": "payload.amount",
                                         "rate_bps": 1_000_001}], ["actions[1].rate_bps"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": -1}], ["actions[0].rate_bps"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": "500"}], ["actions[0].rate_bps"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 5.0}], ["actions[0].rate_bps"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "customer.status_points", "rate_bps": 5}], ["actions[0].of"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.", "rate_bps": 5}], ["actions[0].of"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 5, "rounding": "nearest"}],
     ["actions[0].rounding"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 5, "of_scale": 10}],
     ["actions[0].of_scale"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 5, "min": "0.001"}],
     ["actions[0].min"]),
    ([{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 5, "min": "5", "max": "1"}],
     ["actions[0].max"]),
    ([{"type": "set_status", "status": "vip"}], ["actions[0].status"]),
    ([{"type": "add_tag", "tag": ""}], ["actions[0].tag"]),
    ([{"type": "add_tag", "tag": "x" * 65}], ["actions[0].tag"]),
    ([{"type": "issue_reward", "reward": "no spaces"}], ["actions[0].reward"]),
    ([{"type": "reset_status_points", "asset": "POINTS"}], ["actions[0].asset"]),
    ([{"type": "commission", "asset": "GBP", "rate_bps": 5, "of": "payload.amount"}], ["actions[0].asset"]),
    ([{"type": "bonus", "bonus": "BIRTHDAY", "asset": "USD"}], ["actions[0].amount"]),
    ({"type": "credit"}, ["actions"]),
    ([{"type": "add_tag", "tag": "t"}] * (MAX_ACTIONS + 1), ["actions"]),
])
def test_each_problem_names_its_json_path(actions, paths):
    found = validate_actions(actions, ASSETS)
    assert [p.path for p in found] == paths, found
    assert all(p.message for p in found)


def test_messages_say_what_is_known():
    [unknown_type] = validate_actions([{"type": "frobnicate"}], ASSETS)
    assert "unknown action type 'frobnicate'" in unknown_type.message and "credit_rate" in unknown_type.message
    [unknown_asset] = validate_actions([{"type": "credit", "asset": "EUR", "amount": "1"}], ASSETS)
    assert unknown_asset.message == "unknown asset 'EUR'; the brand's assets: CREDITS, POINTS, USD"
    [decimals] = validate_actions([{"type": "credit", "asset": "USD", "amount": "1.001"}], ASSETS)
    assert "2 decimal places" in decimals.message


def test_known_bonuses_and_rewards_are_checked_when_given():
    actions = [{"type": "bonus", "bonus": "GHOST", "asset": "POINTS", "amount": "1"},
               {"type": "issue_reward", "reward": "NOPE"}]
    assert validate_actions(actions, ASSETS) == []
    found = validate_actions(actions, ASSETS, bonuses=BONUSES, rewards={"FREE_COFFEE"})
    assert [(p.path, p.message) for p in found] == [("actions[0].bonus", "unknown bonus 'GHOST'"),
                                                   ("actions[1].reward", "unknown reward 'NOPE'")]


def test_the_path_prefix_is_the_callers():
    assert validate_actions([{"type": "x"}], ASSETS, path="rules[cashback].actions")[0].path == \
        "rules[cashback].actions[0].type"
