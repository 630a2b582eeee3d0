"""Every condition fact, every operator and every action of DESIGN §6a, through the HTTP API
on a real server (the pure core's own tests cover their edge cases in tests/rules)."""
from __future__ import annotations

import pytest

from app.rules.actions import ACTIONS
from app.rules.conditions import OPS


def rule(api, code, event_type="PURCHASE", actions=(), conditions=None, **fields):
    r = api.post("/v1/rules", json={"code": code, "name": f"Rule {code}", "event_type": event_type,
                                    "actions": list(actions), "conditions": conditions, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def matches(api, conditions, event_type="PURCHASE", payload=None, customer="vera", occurred_at=None):
    """Does a rule with `conditions` match this event? (A dry run: nothing is stored.)"""
    api.patch("/v1/rules/probe", json={"conditions": conditions, "event_type": event_type})
    body = {"event_id": "probe", "event_type": event_type, "customer_id": customer, "payload": payload or {}}
    if occurred_at:
        body["occurred_at"] = occurred_at
    r = api.post("/v1/events?dry_run=true", json=body)
    assert r.status_code == 200, r.text
    return "probe" in [x["rule"] for x in r.json()["executions"]]


@pytest.fixture
def probe(shop):
    shop.patch("/v1/rules/purchase_cashback", json={"active": False})
    rule(shop, "probe", actions=[{"type": "add_tag", "tag": "probed"}])
    shop.put("/v1/customers/vera", json={"name": "Vera", "status": "active", "tags": ["vip", "new"],
                                         "attributes": {"city": "Lyon", "age": 41}, "birthdate": "1985-01-01"})
    return shop


# (fact, op, value, payload, expected): 2026-01-01 is a Thursday (ISO weekday 4), 10:30 UTC.
FACT_CASES = [
    ("payload.amount", "gt", "99.99", {"amount": "100.00"}, True),
    ("payload.items.0.sku", "eq", "A1", {"items": [{"sku": "A1"}]}, True),
    ("payload.channel", "in", ["web", "app"], {"channel": "shop"}, False),
    ("payload.channel", "not_in", ["web", "app"], {"channel": "shop"}, True),
    ("payload.coupon", "present", True, {}, False),
    ("payload.amount", "between", ["10", "20"], {"amount": 15}, True),
    ("payload.amount", "lte", 15, {"amount": "15.000"}, True),
    ("payload.amount", "lt", 15, {"amount": "15"}, False),
    ("payload.amount", "gte", "15.01", {"amount": "15"}, False),
    ("payload.name", "ne", "x", {"name": "y"}, True),
    ("event.type", "eq", "PURCHASE", {}, True),
    ("event.weekday", "eq", 4, {}, True),
    ("event.hour", "eq", 10, {}, True),
    ("customer.status", "eq", "active", {}, True),
    ("customer.tier", "present", True, {}, False),
    ("customer.tags", "contains", "vip", {}, True),
    ("customer.attributes.city", "eq", "Lyon", {}, True),
    ("customer.attributes.age", "gte", 40, {}, True),
    ("customer.status_points", "eq", 0, {}, True),
    ("customer.lifetime_points", "eq", 0, {}, True),
    ("customer.days_since_created", "eq", 0, {}, True),
    ("customer.days_since_last_event", "present", True, {}, False),
    ("customer.birthday_today", "eq", True, {}, True),
    ("customer.events.PURCHASE", "eq", 0, {}, True),
    ("bonus.WELCOME.awarded", "eq", False, {}, True),
]


def test_every_fact_and_operator_is_exercised():
    assert {case[1] for case in FACT_CASES} == set(OPS)


@pytest.mark.parametrize("fact,op,value,payload,expected", FACT_CASES)
def test_a_fact_and_an_operator_decide_a_match(probe, fact, op, value, payload, expected):
    if fact.startswith("bonus."):
        probe.post("/v1/bonus-definitions", json={"code": "WELCOME", "name": "Welcome", "period": "once"})
    condition = {"fact": fact, "op": op, **({} if op == "present" and value is True else {"value": value})}
    assert matches(probe, condition, payload=payload, occurred_at="2026-01-01T10:30:00Z") is expected
    assert matches(probe, {"not": condition}, payload=payload, occurred_at="2026-01-01T10:30:00Z") is not expected


def test_weekday_and_hour_read_in_the_brands_time_zone(admin, live):
    from tests.api.conftest import Api
    assert admin.post("/v1/brands", json={"code": "tokyo", "name": "Tokyo", "time_zone": "Asia/Tokyo"}
                      ).json()["time_zone"] == "Asia/Tokyo"
    api = Api(live.url, brand="tokyo")
    api.patch("/v1/rules/purchase_cashback", json={"active": False})
    rule(api, "probe", actions=[])
    # 2026-01-01T20:00Z is Friday 05:00 in Tokyo
    assert matches(api, {"all": [{"fact": "event.weekday", "op": "eq", "value": 5},
                                 {"fact": "event.hour", "op": "eq", "value": 5}]},
                   occurred_at="2026-01-01T20:00:00Z")
    assert admin.post("/v1/brands", json={"code": "nowhere", "name": "x", "time_zone": "Mars/Base"}).status_code == 400


def test_every_action_applies_end_to_end(shop):
    shop.post("/v1/bonus-definitions", json={"code": "WELCOME", "name": "Welcome", "period": "once"})
    assert shop.post("/v1/rewards", json={"code": "MUG", "name": "Mug", "cost_asset": "POINTS",
                                          "cost_amount": "0", "stock": 1}).status_code == 201
    shop.post("/v1/tiers", json={"code": "silver", "name": "Silver", "min_status_points": 100})
    shop.post("/v1/tiers", json={"code": "gold", "name": "Gold", "min_status_points": 1000})
    shop.put("/v1/customers/ada", json={"tags": ["new"]})
    shop.post("/v1/customers/ada/credit", json={"asset": "CREDITS", "amount": "5.00"})
    actions = [
        {"type": "credit", "asset": "POINTS", "amount": "1000"},
        {"type": "debit", "asset": "CREDITS", "amount": "1.00"},
        {"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10000, "rounding": "down"},
        {"type": "bonus", "bonus": "WELCOME", "asset": "POINTS", "amount": "50"},
        {"type": "issue_reward", "reward": "MUG"},
        {"type": "set_status", "status": "inactive"},
        {"type": "add_tag", "tag": "buyer"},
        {"type": "remove_tag", "tag": "new"},
        {"type": "commission", "asset": "USD", "rate_bps": 1000, "of": "payload.amount"},
    ]
    rule(shop, "everything", actions=actions, priority=1)
    r = shop.post("/v1/events", json={"event_id": "all-1", "event_type": "PURCHASE", "customer_id": "ada",
                                      "payload": {"amount": "20.00"}})
    assert r.status_code == 201, r.text
    body = r.json()
    effects = body["executions"][0]["effects"]
    assert [e["type"] for e in effects] == ["credit", "debit", "credit", "bonus", "issue_reward", "set_status",
                                            "add_tag", "remove_tag"]  # no ambassador: no commission
    assert effects[4]["customer_reward"]["status"] == "issued"
    assert body["loyalty"]["status_points"] == 1070 and body["loyalty"]["tier"] == "gold"
    customer = shop.get("/v1/customers/ada").json()
    assert customer["status"] == "inactive" and customer["tags"] == ["buyer"]
    balances = {b["asset"]: b["balance"] for b in body["balances"]}
    assert balances == {"POINTS": "1070", "CREDITS": "4.00", "USD": "1.00"}
    moves = shop.get("/v1/customers/ada/movements", params={"asset": "POINTS"}).json()["data"]
    assert {m["description"] for m in moves} == {"Rule everything"}
    # reset_status_points and downgrade_tier: status points move, lifetime points never drop
    rule(shop, "downgrade", "SIGNUP", actions=[{"type": "downgrade_tier"}])
    body = shop.post("/v1/events", json={"event_id": "all-2", "event_type": "SIGNUP", "customer_id": "ada"}).json()
    assert (body["loyalty"]["tier"], body["loyalty"]["status_points"]) == ("silver", 100)
    assert [x["event_type"] for x in body["executions"]] == ["SIGNUP"]
    shop.patch("/v1/rules/downgrade", json={"actions": [{"type": "reset_status_points"}]})
    body = shop.post("/v1/events", json={"event_id": "all-3", "event_type": "SIGNUP", "customer_id": "ada"}).json()
    assert body["loyalty"] == {"tier": None, "status_points": 0, "lifetime_points": 1070, "next_tier": "silver",
                               "points_to_next_tier": 100}
    # the one MUG in stock is gone: the next event that would issue one is refused whole
    r = shop.post("/v1/events", json={"event_id": "all-4", "event_type": "PURCHASE", "customer_id": "ada",
                                      "payload": {"amount": "1.00"}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "out_of_stock"
    assert shop.get("/v1/events/all-4").status_code == 404


def test_every_action_type_is_in_the_end_to_end_test():
    covered = {"credit", "debit", "credit_rate", "bonus", "issue_reward", "set_status", "add_tag", "remove_tag",
               "commission", "downgrade_tier", "reset_status_points"}
    assert covered == set(ACTIONS)


def test_a_rule_naming_an_unknown_reward_is_400(shop):
    r = shop.post("/v1/rules", json={"code": "r", "name": "r", "event_type": "PURCHASE",
                                     "actions": [{"type": "issue_reward", "reward": "NOPE"}]})
    assert r.status_code == 400 and r.json()["error"]["details"]["problems"][0]["path"] == "actions[0].reward"


def test_seed_002_bill_with_a_description(shop):
    shop.post("/v1/customers/john@example.com/credit", json={"asset": "CREDITS", "amount": "10.00"})
    r = shop.post("/v1/customers/john@example.com/debit", json={"asset": "CREDITS", "amount": "0.25",
                                                               "reason": "bill", "description": "Gemini API call"})
    assert r.status_code == 201 and r.json()["description"] == "Gemini API call"
    assert shop.get("/v1/customers/john@example.com/movements").json()["data"][0]["description"] == "Gemini API call"
    too_long = shop.post("/v1/customers/john@example.com/debit", json={"asset": "CREDITS", "amount": "0.25",
                                                                      "description": "x" * 501})
    assert too_long.status_code == 400
