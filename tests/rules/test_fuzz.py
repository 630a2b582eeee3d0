"""No input makes the pure core raise: validators answer problems for any JSON, a valid tree
evaluates on any payload, and a valid action list plans or answers problems."""
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ledger.money import ExponentNumber
from app.rules.actions import ACTIONS, plan, validate_actions
from app.rules.conditions import OPS, compile_condition, evaluate, parse_conditions, validate_conditions
from app.rules.facts import FACTS
from tests.rules.support import ASSETS, facts

scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.text(max_size=12)
           | st.decimals(allow_nan=True, allow_infinity=True, places=None)
           | st.builds(ExponentNumber, st.sampled_from(["1e2", "1E-3", "0e0"])) | st.floats()
           | st.sampled_from(["100.00", "0.10", "-5", "1e2", "NaN", "0", "payload.amount", "USD", "POINTS"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
fact_names = st.sampled_from([spec.example for spec in FACTS] + ["payload.a.b", "nope", "payload."]) | st.text(max_size=20)
leaves = st.fixed_dictionaries({"fact": fact_names, "op": st.sampled_from(list(OPS)) | st.text(max_size=5)},
                               optional={"value": json_values})
trees = st.recursive(leaves | json_values, lambda inner: st.dictionaries(
    st.sampled_from(["all", "any", "not"]), inner | st.lists(inner, max_size=4), min_size=1, max_size=2), max_leaves=12)
actions = st.lists(st.sampled_from([spec.example for spec in ACTIONS.values()]).flatmap(
    lambda example: st.dictionaries(st.sampled_from(sorted(example) + ["min", "max", "of_scale"]), json_values)
    .map(lambda changes: {**example, **changes})) | json_values, max_size=4)
payloads = st.dictionaries(st.sampled_from(["amount", "a", "referral_code", "items"]), json_values, max_size=4)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, payload=payloads)
def test_conditions_never_raise(tree, payload):
    problems = validate_conditions(tree)
    assert all(p.path.startswith("conditions") and p.message for p in problems)
    parsed = parse_conditions(tree)
    if not parsed.problems:
        seen = facts(payload=payload)
        held = evaluate(parsed.condition, seen)
        assert held in (True, False)
        assert compile_condition(parsed.condition)(seen) is held  # what the engine runs


valid_leaves = st.sampled_from([  # (fact, op, value) triples that parse, over the payload's keys
    ("payload.amount", "gt", "10"), ("payload.amount", "eq", 12), ("payload.amount", "between", ["1", "100"]),
    ("payload.a", "present", True), ("payload.a", "present", False), ("payload.a", "eq", "x"),
    ("payload.a", "in", ["x", 1, True]), ("payload.a", "not_in", ["x"]), ("payload.a", "ne", 0),
    ("payload.items", "contains", "x"), ("event.type", "eq", "PURCHASE"), ("customer.tags", "contains", "vip"),
]).map(lambda t: {"fact": t[0], "op": t[1], "value": t[2]})
valid_trees = st.recursive(valid_leaves, lambda inner: st.one_of(
    st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=4)),
    st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=4)),
    st.builds(lambda x: {"not": x}, inner)), max_leaves=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tree=valid_trees, payload=payloads)
def test_the_compiled_condition_answers_what_evaluate_answers(tree, payload):
    parsed = parse_conditions(tree)
    assert not parsed.problems, parsed.problems
    seen = facts(payload=payload)
    assert compile_condition(parsed.condition)(seen) is evaluate(parsed.condition, seen)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(listed=actions, payload=payloads)
def test_actions_never_raise(listed, payload):
    problems = validate_actions(listed, ASSETS)
    assert all(p.path.startswith("actions") and p.message for p in problems)
    result = plan(listed, facts(payload=payload), ASSETS, rule_code="r")
    assert not (result.effects and result.problems)
    for effect in result.effects:
        amount = getattr(effect, "amount_minor", 1)
        assert isinstance(amount, int) and amount > 0


def test_decimal_edge_values_compare_as_nothing():
    for odd in (Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), float("nan"), 1.0):
        assert evaluate({"fact": "payload.a", "op": "gte", "value": 0}, facts(payload={"a": odd})) is False
