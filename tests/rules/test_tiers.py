"""Tiers: the tier points buy, upgrades and downgrades, how effects move the points, the
internal tier events and their depth limit (a rule loop ends in a problem, never a loop)."""
import pytest

from app.rules.effects import AwardBonus, Credit, Debit, DowngradeTier, PayCommission, ResetStatusPoints
from app.rules.engine import Rule
from app.rules.tiers import (MAX_TIER_DEPTH, TIER_DOWNGRADED, TIER_UPGRADED, LoyaltyPoints, Tier, loyalty_view,
                             next_tier_event, points_after, tier_change, tier_for, validate_tiers)
from tests.rules.support import MONDAY_MORNING, MiniShell

BRONZE, SILVER, GOLD = Tier("BRONZE", "Bronze", 0), Tier("SILVER", "Silver", 1000), Tier("GOLD", "Gold", 5000)
TIERS = [GOLD, BRONZE, SILVER]  # any order: the minimum decides


@pytest.mark.parametrize("points,tier", [(0, BRONZE), (999, BRONZE), (1000, SILVER), (4999, SILVER),
                                         (5000, GOLD), (10**9, GOLD)])
def test_the_highest_tier_the_points_reach(points, tier):
    assert tier_for(TIERS, points) == tier


def test_below_the_lowest_minimum_there_is_no_tier():
    assert tier_for([SILVER, GOLD], 999) is None and tier_for([], 10) is None


def test_tiers_from_json_objects():
    assert tier_for([{"code": "SILVER", "name": "Silver", "min_status_points": 1000}], 1000) == SILVER


@pytest.mark.parametrize("before,after,direction,event_type", [
    (0, 999, None, None), (999, 1000, "upgrade", TIER_UPGRADED), (1000, 999, "downgrade", TIER_DOWNGRADED),
    (0, 6000, "upgrade", TIER_UPGRADED),  # a jump over SILVER is one upgrade
    (6000, 0, "downgrade", TIER_DOWNGRADED), (1200, 4000, None, None),
])
def test_tier_changes(before, after, direction, event_type):
    change = tier_change(TIERS, before, after)
    assert (change.direction, change.event_type) == (direction, event_type)


def test_into_and_out_of_having_a_tier():
    assert tier_change([SILVER], 0, 1000).direction == "upgrade"
    assert tier_change([SILVER], 1000, 0).direction == "downgrade"


def test_the_internal_event_to_run_next():
    step = next_tier_event(TIERS, 900, 5200, depth=0)
    assert step.problem is None and step.change == (BRONZE, GOLD)
    assert step.event.type == TIER_UPGRADED and step.event.depth == 1
    assert dict(step.event.payload) == {"from_tier": "BRONZE", "to_tier": "GOLD", "status_points": 5200}
    assert next_tier_event(TIERS, 900, 950, depth=0) == (tier_change(TIERS, 900, 950), None, None)


def test_past_the_depth_limit_a_change_is_a_problem_not_another_event():
    for depth in range(MAX_TIER_DEPTH):
        assert next_tier_event(TIERS, 0, 1000, depth).event.depth == depth + 1
    step = next_tier_event(TIERS, 0, 1000, MAX_TIER_DEPTH)
    assert step.event is None and step.problem.code == "limit_exceeded" and step.problem.path == "loyalty.tier"
    # No change needs no event, at any depth.
    assert next_tier_event(TIERS, 0, 10, MAX_TIER_DEPTH) == (tier_change(TIERS, 0, 10), None, None)


def test_rules_that_bounce_between_tiers_end_in_a_problem():
    bounce = [
        Rule("earn", "PURCHASE", actions=[{"type": "credit", "asset": "POINTS", "amount": "1000"}]),
        Rule("down_again", TIER_UPGRADED, actions=[{"type": "downgrade_tier"}]),
        Rule("up_again", TIER_DOWNGRADED, actions=[{"type": "credit", "asset": "POINTS", "amount": "1000"}]),
    ]
    shell = MiniShell(bounce, TIERS)
    problem = shell.ingest("PURCHASE", {}, MONDAY_MORNING)
    assert problem is not None and problem.code == "limit_exceeded"
    assert [event for event, _ in shell.executed] == ["PURCHASE", TIER_UPGRADED, TIER_DOWNGRADED, TIER_UPGRADED]


# -- points --------------------------------------------------------------------------------------
def test_points_credited_in_the_tier_asset_count_toward_status_and_lifetime():
    effects = [Credit("POINTS", 300, "r"), AwardBonus("B", "POINTS", 50, "once", "once", "r"),
               Credit("USD", 999, "r"), Debit("POINTS", 100, "r"),  # spending lowers neither
               PayCommission("POINTS", 1, 0, 1, "down", None, "r")]  # an ambassador's, not this customer's
    assert points_after(LoyaltyPoints(10, 20), effects, TIERS) == (360, 370)
    assert points_after(LoyaltyPoints(0, 0), [Credit("LP", 5, "r")], TIERS, tier_asset="LP") == (5, 5)


def test_reset_and_downgrade_in_the_order_of_the_effects():
    assert points_after(LoyaltyPoints(4000, 9000), [ResetStatusPoints("r"), Credit("POINTS", 5, "r")], TIERS) == \
        (5, 9005)
    assert points_after(LoyaltyPoints(6000, 9000), [DowngradeTier("r")], TIERS) == (1000, 9000)       # GOLD → SILVER
    assert points_after(LoyaltyPoints(6000, 9000), [DowngradeTier("r")] * 2, TIERS) == (0, 9000)      # → BRONZE
    assert points_after(LoyaltyPoints(500, 500), [DowngradeTier("r")], TIERS) == (0, 500)            # the lowest stays
    assert points_after(LoyaltyPoints(1500, 1500), [DowngradeTier("r")], [SILVER, GOLD]) == (0, 1500)  # out of tiers
    assert points_after(LoyaltyPoints(500, 500), [DowngradeTier("r")], [SILVER]) == (500, 500)        # none held


def test_the_loyalty_view():
    assert loyalty_view(TIERS, LoyaltyPoints(1200, 8000)) == (SILVER, 1200, 8000, GOLD, 3800)
    assert loyalty_view(TIERS, LoyaltyPoints(7000, 8000)) == (GOLD, 7000, 8000, None, None)
    assert loyalty_view([SILVER], LoyaltyPoints(0, 0)) == (None, 0, 0, SILVER, 1000)


@pytest.mark.parametrize("tiers,paths", [
    ([{"code": "A", "name": "A", "min_status_points": 0}, {"code": "B", "name": "B", "min_status_points": 10}], []),
    ([{"code": "A", "name": "A", "min_status_points": 0}, {"code": "A", "name": "B", "min_status_points": 10}],
     ["tiers[1].code"]),
    ([{"code": "A", "name": "A", "min_status_points": 5}, {"code": "B", "name": "B", "min_status_points": 5}],
     ["tiers[1].min_status_points"]),
    ([{"code": "A", "name": "", "min_status_points": -1}], ["tiers[0].name", "tiers[0].min_status_points"]),
    ([{"code": "A B", "name": "A", "min_status_points": True}], ["tiers[0].code", "tiers[0].min_status_points"]),
    ([{"code": "A", "name": "A"}], ["tiers[0]"]),
    ({"code": "A"}, ["tiers"]),
])
def test_validate_tiers(tiers, paths):
    assert [p.path for p in validate_tiers(tiers)] == paths
