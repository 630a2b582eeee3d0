"""The condition language: every fact, every operator, absent values, composites, and strict
validation whose problems name their JSON path (seed 004 matched everything on a typo)."""
from dataclasses import FrozenInstanceError
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.ledger.money import ExponentNumber
from app.rules.conditions import (KIND_OPS, MAX_CHILDREN, MAX_DEPTH, MAX_NODES, OPS, evaluate, parse_conditions,
                                  validate_conditions)
from app.rules.facts import ABSENT, FACTS, CustomerSnapshot, EventFacts, Facts, parse_fact
from app.rules.problems import InvalidRule
from tests.rules.support import BRAND_TZ, MONDAY_MORNING, facts, leaf

UTC = timezone.utc
SHOP = facts(
    payload={"amount": "100.00", "qty": 3, "price": Decimal("19.99"), "channel": "web", "coupon": None,
             "items": [{"sku": "A1"}, {"sku": "B2"}], "flags": ["gift", "promo"], "note": "happy birthday",
             "express": True, "ratio": 0.5, "big": ExponentNumber("1E+3")},
    status="active", tier="GOLD", tags=("vip", "new"),
    attributes={"city": "Lyon", "kids": 2, "prefs": {"lang": "fr"}},
    status_points=1200, lifetime_points=5000,
    created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),      # 07:00 on 1 January in the brand's zone
    last_event_at=datetime(2026, 2, 23, 3, 0, tzinfo=UTC),  # 22:00 on 22 February in the brand's zone
    birthdate=date(1990, 3, 2), event_counts={"PURCHASE": 4}, bonuses_awarded={"WELCOME"}, referred=True)


def holds(condition, on=SHOP) -> bool:
    return evaluate(condition, on)


# -- every fact -----------------------------------------------------------------------------------
FACT_CASES = [
    ("payload.amount", "eq", 100),
    ("payload.items.1.sku", "eq", "B2"),
    ("event.type", "eq", "PURCHASE"),
    ("event.weekday", "eq", 1),                       # Monday
    ("event.hour", "eq", 10),
    ("customer.status", "eq", "active"),
    ("customer.tier", "eq", "GOLD"),
    ("customer.tags", "contains", "vip"),
    ("customer.attributes.prefs.lang", "eq", "fr"),
    ("customer.status_points", "gte", 1000),
    ("customer.lifetime_points", "eq", 5000),
    ("customer.days_since_created", "eq", 60),        # 1 January → 2 March
    ("customer.days_since_last_event", "eq", 8),      # 22 February local (23 February UTC) → 2 March
    ("customer.birthday_today", "eq", True),
    ("customer.events.PURCHASE", "eq", 4),
    ("customer.referred", "eq", True),
    ("bonus.WELCOME.awarded", "eq", True),
]


@pytest.mark.parametrize("fact,op,value", FACT_CASES)
def test_every_fact_reads_the_snapshot(fact, op, value):
    assert validate_conditions(leaf(fact, op, value)) == []
    assert holds(leaf(fact, op, value))


def test_the_fact_cases_cover_the_fact_table():
    assert {parse_fact(case[0]).spec.name for case in FACT_CASES} == {spec.name for spec in FACTS}


def test_counts_and_bonuses_default_to_none_yet():
    assert holds(leaf("customer.events.SIGNUP", "eq", 0))  # "first signup"
    assert holds(leaf("bonus.BIRTHDAY.awarded", "eq", False))


def test_weekday_and_hour_are_the_brands_local_time():
    # Sunday 23:30 in the brand's zone is already Monday 04:30 in UTC: the brand's day counts.
    late_sunday = facts(occurred_at=datetime(2026, 3, 1, 23, 30, tzinfo=BRAND_TZ))
    assert holds(leaf("event.weekday", "eq", 7), late_sunday)
    assert holds(leaf("event.hour", "eq", 23), late_sunday)
    assert holds(leaf("event.weekday", "between", [6, 7]), late_sunday)


def test_day_counts_never_go_negative_and_absent_before_the_first_event():
    newer = facts(created_at=datetime(2026, 3, 5, tzinfo=UTC), today=date(2026, 3, 2))
    assert holds(leaf("customer.days_since_created", "eq", 0), newer)
    assert holds(leaf("customer.days_since_last_event", "present", False), newer)
    assert not holds(leaf("customer.days_since_last_event", "lte", 10_000), newer)


@pytest.mark.parametrize("today,expected", [
    (date(2027, 2, 28), True), (date(2027, 3, 1), False),   # 2027 has no 29 February
    (date(2028, 2, 28), False), (date(2028, 2, 29), True),
])
def test_a_leap_day_birthday_is_kept_on_28_february_in_other_years(today, expected):
    leapling = facts(birthdate=date(2000, 2, 29), today=today)
    assert holds(leaf("customer.birthday_today", "eq", True), leapling) is expected


def test_no_birthdate_is_no_birthday_and_no_tier_is_absent():
    plain = facts()
    assert holds(leaf("customer.birthday_today", "eq", False), plain)
    assert holds(leaf("customer.tier", "present", False), plain)
    assert not holds(leaf("customer.tier", "ne", "GOLD"), plain)


# -- every operator -------------------------------------------------------------------------------
OPERATOR_CASES = [
    # eq: numbers exactly (decimal strings included), text exactly, booleans only as booleans
    ("payload.amount", "eq", 100, True), ("payload.amount", "eq", Decimal("100.000"), True),
    ("payload.amount", "eq", Decimal("100.01"), False), ("payload.amount", "eq", "100.00", True),
    ("payload.amount", "eq", "100", False), ("payload.channel", "eq", "web", True),
    ("payload.channel", "eq", "WEB", False), ("payload.express", "eq", True, True),
    ("payload.qty", "eq", True, False), ("payload.big", "eq", 1000, True),
    ("payload.ratio", "eq", Decimal("0.5"), False),  # a float is never a number here
    # ne: present and not equal
    ("payload.channel", "ne", "app", True), ("payload.channel", "ne", "web", False),
    ("payload.qty", "ne", "3", True),  # text "3" is not the number 3
    # ordering: numeric only
    ("payload.qty", "gt", 2, True), ("payload.qty", "gt", 3, False), ("payload.price", "gt", "19.98", True),
    ("payload.qty", "gte", 3, True), ("payload.qty", "gte", Decimal("3.01"), False),
    ("payload.price", "lt", 20, True), ("payload.price", "lt", "19.99", False),
    ("payload.price", "lte", "19.99", True), ("payload.price", "lte", "19.98", False),
    ("payload.channel", "gt", 1, False), ("payload.ratio", "gt", 0, False),
    ("payload.qty", "between", [3, 5], True), ("payload.qty", "between", [1, 2], False),
    ("payload.amount", "between", ["99.99", "100.00"], True),  # both ends included
    # in / not_in
    ("payload.channel", "in", ["web", "app"], True), ("payload.qty", "in", [1, 2, 3], True),
    ("payload.qty", "in", ["3"], False), ("payload.channel", "not_in", ["app"], True),
    ("payload.channel", "not_in", ["web", "app"], False),
    # contains: an item of a list, or text within text
    ("payload.flags", "contains", "gift", True), ("payload.flags", "contains", "sale", False),
    ("payload.note", "contains", "birthday", True), ("payload.note", "contains", "xmas", False),
    ("payload.qty", "contains", 3, False), ("customer.tags", "contains", "new", True),
    # present: a value that is not missing and not null
    ("payload.amount", "present", True, True), ("payload.coupon", "present", True, False),
    ("payload.coupon", "present", False, True), ("payload.items.7.sku", "present", True, False),
]


@pytest.mark.parametrize("fact,op,value,expected", OPERATOR_CASES)
def test_every_operator(fact, op, value, expected):
    assert validate_conditions(leaf(fact, op, value)) == []
    assert holds(leaf(fact, op, value)) is expected


def test_the_operator_cases_cover_the_operator_table():
    assert {case[1] for case in OPERATOR_CASES} == set(OPS)
    assert {op for ops in KIND_OPS.values() for op in ops} == set(OPS)


def test_present_defaults_to_true():
    assert holds(leaf("payload.amount", "present"))
    assert not holds(leaf("payload.nothing", "present"))


@pytest.mark.parametrize("op", sorted(OPS))
def test_an_absent_fact_is_false_for_every_operator_but_present(op):
    value = {"between": [1, 2], "in": [1], "not_in": [1], "present": True}.get(op, 1)
    condition = leaf("payload.missing.deeper", op, value)
    assert validate_conditions(condition) == []
    assert holds(condition) is False  # never an exception, ne and not_in included
    assert holds({"not": condition}) is True  # "absent or different" is spelled with not


def test_a_path_through_a_scalar_or_a_null_is_absent():
    assert not holds(leaf("payload.amount.cents", "present"))
    assert not holds(leaf("payload.coupon.code", "eq", "X"))


def test_numbers_are_exact_where_floats_are_not():
    assert 0.1 + 0.2 != 0.3
    tricky = facts(payload={"a": "0.30"})
    assert holds(leaf("payload.a", "eq", Decimal("0.3")), tricky)
    assert holds(leaf("payload.a", "between", ["0.30", "0.30"]), tricky)


# -- composites -----------------------------------------------------------------------------------
def test_composites():
    yes, no = leaf("payload.qty", "eq", 3), leaf("payload.qty", "eq", 4)
    assert holds({"all": []}) and holds(None)
    assert holds({"all": [yes, yes]}) and not holds({"all": [yes, no]})
    assert holds({"any": [no, yes]}) and not holds({"any": [no, no]})
    assert holds({"not": no}) and not holds({"not": yes})
    assert holds({"all": [{"any": [no, {"not": no}]}, {"not": {"all": [yes, no]}}]})


def test_a_parsed_tree_evaluates_without_parsing_again():
    parsed = parse_conditions({"any": [leaf("event.type", "eq", "PURCHASE")]})
    assert parsed.problems == () and holds(parsed.condition)


# -- validation: every problem names its path -----------------------------------------------------
@pytest.mark.parametrize("condition,path", [
    ({"fact": "customer.nope", "op": "eq", "value": 1}, "conditions.fact"),
    ({"fact": 7, "op": "eq", "value": 1}, "conditions.fact"),
    ({"op": "eq", "value": 1}, "conditions.fact"),
    ({"fact": "payload.a", "op": "equals", "value": 1}, "conditions.op"),
    ({"fact": "payload.a", "value": 1}, "conditions.op"),
    ({"fact": "customer.tags", "op": "gt", "value": 1}, "conditions.op"),
    ({"fact": "customer.birthday_today", "op": "in", "value": [True]}, "conditions.op"),
    ({"fact": "payload.a", "op": "eq"}, "conditions.value"),
    ({"fact": "payload.a", "op": "eq", "value": 1, "valeu": 2}, "conditions.valeu"),
    ({"fact": "payload.a", "op": "eq", "value": [1]}, "conditions.value"),
    ({"fact": "payload.a", "op": "eq", "value": None}, "conditions.value"),
    ({"fact": "payload.a", "op": "eq", "value": 1.5}, "conditions.value"),  # a float: never exact
    ({"fact": "payload.a", "op": "gt", "value": "abc"}, "conditions.value"),
    ({"fact": "payload.a", "op": "gt", "value": "NaN"}, "conditions.value"),
    ({"fact": "payload.a", "op": "gt", "value": Decimal("NaN")}, "conditions.value"),
    ({"fact": "payload.a", "op": "gt", "value": True}, "conditions.value"),
    ({"fact": "payload.a", "op": "in", "value": "web"}, "conditions.value"),
    ({"fact": "payload.a", "op": "in", "value": []}, "conditions.value"),
    ({"fact": "payload.a", "op": "in", "value": [{"x": 1}]}, "conditions.value[0]"),
    ({"fact": "payload.a", "op": "not_in", "value": list(range(101))}, "conditions.value"),
    ({"fact": "payload.a", "op": "between", "value": "1..2"}, "conditions.value"),
    ({"fact": "payload.a", "op": "between", "value": [1]}, "conditions.value"),
    ({"fact": "payload.a", "op": "between", "value": [1, "x"]}, "conditions.value[1]"),
    ({"fact": "payload.a", "op": "between", "value": [5, 1]}, "conditions.value"),
    ({"fact": "payload.a", "op": "present", "value": "yes"}, "conditions.value"),
    ({"fact": "payload.a", "op": "eq", "value": "x" * 257}, "conditions.value"),
    ({"fact": "customer.status_points", "op": "eq", "value": "5"}, "conditions.value"),  # text vs a number fact
    ({"fact": "customer.status", "op": "eq", "value": 5}, "conditions.value"),
    ({"fact": "customer.birthday_today", "op": "eq", "value": "yes"}, "conditions.value"),
    ({"fact": "payload.", "op": "present"}, "conditions.fact"),
    ({"fact": "payload.a..b", "op": "present"}, "conditions.fact"),
    ({"fact": "payload." + ".".join("a" * 9), "op": "present"}, "conditions.fact"),  # 9 segments
    ({"fact": "bonus.WELCOME", "op": "eq", "value": True}, "conditions.fact"),
    ({}, "conditions"),
    ({"all": [], "any": []}, "conditions"),
    ({"every": []}, "conditions"),
    ("payload.amount > 5", "conditions"),
    ({"all": {"fact": "payload.a", "op": "present"}}, "conditions.all"),
    ({"any": []}, "conditions.any"),
    ({"not": [leaf("payload.a", "present")]}, "conditions.not"),
])
def test_each_problem_names_its_json_path(condition, path):
    problems = validate_conditions(condition)
    assert [p.path for p in problems] == [path], problems
    assert problems[0].message


def test_a_problem_deep_in_the_tree_names_the_whole_path():
    tree = {"all": [leaf("payload.amount", "gte", "50"), {"not": {"any": [
        leaf("customer.tier", "eq", "GOLD"), leaf("event.type", "eqq", "PURCHASE")]}},
        {"fact": "paylod.amount", "op": "gt", "value": 5}]}
    problems = validate_conditions(tree)
    assert [p.path for p in problems] == ["conditions.all[1].not.any[1].op", "conditions.all[2].fact"]
    assert "eqq" in problems[0].message and "eq, ne" in problems[0].message
    assert "did you mean 'payload.amount'" in problems[1].message


def test_every_problem_is_reported_at_once():
    problems = validate_conditions({"all": [{"fact": "x", "op": "y"}, {"fact": "payload.a", "op": "in", "value": 1}]})
    assert [p.path for p in problems] == ["conditions.all[0].fact", "conditions.all[0].op", "conditions.all[1].value"]


def test_the_path_prefix_is_the_callers():
    assert validate_conditions({"fact": "nope", "op": "eq", "value": 1}, "rules[3].conditions")[0].path == \
        "rules[3].conditions.fact"


def nested(levels: int) -> dict:
    tree = leaf("payload.a", "present")
    for _ in range(levels):
        tree = {"not": tree}
    return tree


def test_depth_is_limited():
    assert validate_conditions(nested(MAX_DEPTH)) == []
    problems = validate_conditions(nested(MAX_DEPTH + 1))
    assert [(p.path, p.code) for p in problems] == [("conditions" + ".not" * MAX_DEPTH, "limit_exceeded")]


def test_size_is_limited():
    wide = {"all": [leaf("payload.a", "present")] * (MAX_CHILDREN + 1)}
    assert [(p.path, p.code) for p in validate_conditions(wide)] == [("conditions.all", "limit_exceeded")]
    groups = MAX_NODES // MAX_CHILDREN + 1
    big = {"all": [{"all": [leaf("payload.a", "present")] * MAX_CHILDREN}] * groups}
    problems = validate_conditions(big)
    assert len(problems) == 1 and problems[0].code == "limit_exceeded" and str(MAX_NODES) in problems[0].message


def test_a_typo_never_matches_everything():
    # Seed 004 read an unknown key as "no condition": every event matched.
    typo = {"all": [{"fcat": "payload.amount", "op": "gt", "value": 1000}]}
    assert validate_conditions(typo)
    with pytest.raises(InvalidRule) as refused:
        evaluate(typo, SHOP)
    assert refused.value.code == "invalid_request"
    assert refused.value.details["problems"][0]["path"] == "conditions.all[0].fcat"


# -- the snapshot -------------------------------------------------------------------------------
def test_facts_are_immutable_all_the_way_down():
    with pytest.raises(FrozenInstanceError):
        SHOP.today = date(2030, 1, 1)
    with pytest.raises(TypeError):
        SHOP.event.payload["amount"] = "1"
    with pytest.raises(TypeError):
        SHOP.event.payload["items"][0]["sku"] = "Z"
    assert SHOP.customer.tags == ("new", "vip")


def test_facts_refuse_naive_times_and_a_datetime_for_today():
    with pytest.raises(ValueError):
        EventFacts("PURCHASE", datetime(2026, 3, 2, 10, 30), {})
    with pytest.raises(ValueError):
        CustomerSnapshot(created_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        Facts(EventFacts("PURCHASE", MONDAY_MORNING), CustomerSnapshot(created_at=MONDAY_MORNING), MONDAY_MORNING)


def test_absent_is_a_value_of_its_own():
    assert parse_fact("payload.nothing").read(SHOP) is ABSENT and not ABSENT and repr(ABSENT) == "ABSENT"
    assert parse_fact("payload.unknown!") is None
