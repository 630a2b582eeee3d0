"""The UI catalog is generated from the tables that validate: everything it offers validates,
its JSON Schemas agree with the validators, and nothing is listed twice or left out."""
import json

import pytest

from app.rules.actions import ACTIONS, validate_actions
from app.rules.catalog import ui_catalog
from app.rules.conditions import KIND_OPS, OPS, validate_conditions
from app.rules.facts import FACTS, parse_fact
from tests.rules.support import ASSETS, leaf

jsonschema_rs = pytest.importorskip("jsonschema_rs")  # pinned in requirements-dev.txt (via schemathesis)
CATALOG = ui_catalog(ASSETS)
# A value of each kind, for building a valid leaf of any fact and operator.
SAMPLES = {"number": (5, [1, 9]), "text": ("x", ["x", "y"]), "boolean": (True, [True]),
           "text_list": ("x", ["x"]), "json": ("x", ["x", 1])}


def sample(kind: str, op: str):
    scalar, listed = SAMPLES[kind]
    return {"between": [1, 9], "in": listed, "not_in": listed, "present": True}.get(
        op, 5 if op in ("gt", "gte", "lt", "lte") else scalar)


def test_it_is_json_and_the_same_twice():
    assert json.loads(json.dumps(CATALOG)) == CATALOG
    ui_catalog(ASSETS)["actions"].clear()  # a caller's change never reaches the next caller
    assert ui_catalog(ASSETS) == CATALOG


def test_the_actions_are_the_action_table():
    assert [a["type"] for a in CATALOG["actions"]] == list(ACTIONS)
    for action in CATALOG["actions"]:
        assert action["schema"]["properties"]["type"]["const"] == action["type"]
        assert action["schema"]["examples"] == [action["example"]] and action["description"]


@pytest.mark.parametrize("action", CATALOG["actions"], ids=lambda a: a["type"])
def test_every_action_validates_its_own_example_both_ways(action):
    assert validate_actions([action["example"]], ASSETS) == []
    jsonschema_rs.validate(action["schema"], action["example"])


@pytest.mark.parametrize("action", CATALOG["actions"], ids=lambda a: a["type"])
def test_the_schema_and_the_validator_refuse_the_same_things(action):
    schema, example = action["schema"], action["example"]
    for field in schema.get("required", []):
        if field == "type":
            continue
        incomplete = {k: v for k, v in example.items() if k != field}
        assert not jsonschema_rs.is_valid(schema, incomplete)
        assert [p.path for p in validate_actions([incomplete], ASSETS)] == [f"actions[0].{field}"]
    extra = {**example, "colour": "red"}
    assert not jsonschema_rs.is_valid(schema, extra)
    assert [p.path for p in validate_actions([extra], ASSETS)] == ["actions[0].colour"]
    for field, prop in schema["properties"].items():
        if "enum" in prop:  # the brand's assets, the rounding modes, the statuses
            bad = {**example, field: "NOT_AN_OPTION"}
            assert not jsonschema_rs.is_valid(schema, bad)
            assert [p.path for p in validate_actions([bad], ASSETS)] == [f"actions[0].{field}"]


def test_asset_fields_list_the_brands_assets():
    schemas = {a["type"]: a["schema"] for a in ui_catalog({"USD": 2, "GEMS": 0})["actions"]}
    assert schemas["credit"]["properties"]["asset"]["enum"] == ["GEMS", "USD"]
    assert "enum" not in {a["type"]: a["schema"] for a in ui_catalog()["actions"]}["credit"]["properties"]["asset"]


def test_the_operators_are_the_operator_table():
    assert [o["op"] for o in CATALOG["operators"]] == list(OPS)
    for operator in CATALOG["operators"]:
        assert validate_conditions(operator["example"]) == [], operator
        if operator["value_required"]:
            jsonschema_rs.validate(operator["value_schema"], operator["example"]["value"])


def test_the_facts_are_the_fact_table():
    assert [f["fact"] for f in CATALOG["facts"]] == [spec.name for spec in FACTS]
    for fact in CATALOG["facts"]:
        assert parse_fact(fact["example"]).spec.name == fact["fact"]
        assert fact["operators"] == list(KIND_OPS[fact["kind"]])
        jsonschema_rs.validate({"type": "string", "pattern": fact["pattern"]}, fact["example"])
        assert not jsonschema_rs.is_valid({"type": "string", "pattern": fact["pattern"]}, fact["example"] + " x")


@pytest.mark.parametrize("fact", CATALOG["facts"], ids=lambda f: f["fact"])
def test_every_operator_the_catalog_offers_for_a_fact_validates_and_no_other(fact):
    for op in OPS:
        problems = validate_conditions(leaf(fact["example"], op, sample(fact["kind"], op)))
        if op in fact["operators"]:
            assert problems == [], (op, problems)
        else:
            assert [p.path for p in problems] == ["conditions.op"], op


def test_the_limits_and_choices_are_listed():
    assert CATALOG["rounding"] == ["down", "half_even", "up"]
    assert CATALOG["bonus_periods"] == ["once", "year", "month", "week", "day"]
    assert CATALOG["limits"]["max_rate_bps"] == 1_000_000
