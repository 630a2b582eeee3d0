"""Events through the HTTP API (DESIGN §6a): ingestion, replay, refusal, dry run, batches,
rule validation and versions, tiers, bonuses, and the seed documents' flows and bugs."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.conftest import Api


def purchase(api, event_id, customer="alice", amount="100.00", **extra):
    return api.post("/v1/events", json={"event_id": event_id, "event_type": "PURCHASE", "customer_id": customer,
                                        "payload": {"amount": amount, **extra.pop("payload", {})}, **extra})


def balance(api, customer, asset):
    rows = api.get(f"/v1/customers/{customer}/balances").json()["balances"]
    return next((r["balance"] for r in rows if r["asset"] == asset), None)


def rule(api, code, event_type="PURCHASE", actions=(), conditions=None, **fields):
    r = api.post("/v1/rules", json={"code": code, "name": code, "event_type": event_type,
                                    "actions": list(actions), "conditions": conditions, **fields})
    assert r.status_code == 201, r.text
    return r.json()


# -- seed 001: cashback with no setup beyond the brand ---------------------------------------------
def test_new_brand_purchase_of_100_earns_5_cashback_with_no_setup(shop):
    r = purchase(shop, "order-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "processed" and body["customer_id"] == "alice"
    [execution] = body["executions"]
    assert execution["rule"] == "purchase_cashback" and execution["version"] == 1
    [effect] = execution["effects"]
    assert effect["asset"] == "USD" and effect["amount"] == "5.00" and effect["transfer_id"]
    assert body["balances"] == [{"asset": "USD", "balance": "5.00", "available": "5.00", "pending": "0.00"}]
    movement = shop.get("/v1/customers/alice/movements").json()["data"][0]
    assert movement["code"] == "cashback" and movement["metadata"] == {
        "event_id": "order-1", "rule": "purchase_cashback", "rule_version": 1}


def test_three_purchases_of_ten_cents_earn_what_rounding_down_says(shop):
    # 5% of 0.10 is 0.005: rounded down (never over-paid) it is 0.00, three times: exactly 0.
    for n in range(3):
        body = purchase(shop, f"small-{n}", amount="0.10").json()
        assert body["executions"][0]["effects"] == []
    assert balance(shop, "alice", "USD") is None
    # half_even on a rule of our own: 0.30 → 0.015 → 0.02 (one purchase), never 0.015000000000000003
    shop.patch("/v1/rules/purchase_cashback", json={"actions": [
        {"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500, "rounding": "half_even"}]})
    assert purchase(shop, "small-3", amount="0.30").json()["balances"][0]["balance"] == "0.02"


@pytest.mark.parametrize("amount", ["1e2", "NaN", "-5.00", "10.0000000001", "abc", True])
def test_an_unreadable_purchase_amount_is_400_and_stores_nothing(shop, amount):
    r = purchase(shop, "bad-1", amount=amount)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in ("invalid_amount", "invalid_request")
    assert shop.get("/v1/events/bad-1").status_code == 404
    assert purchase(shop, "bad-1").status_code == 201  # the corrected retry runs


def test_seed_004_quick_start_needs_no_customer_first(shop):
    r = shop.post("/v1/events", json={"event_id": "signup-1", "event_type": "SIGNUP", "customer_id": "new@x.io"})
    assert r.status_code == 201 and r.json()["executions"] == []
    assert shop.get("/v1/customers/new@x.io").status_code == 200


# -- idempotency, refusal, dry run ---------------------------------------------------------------
def test_same_event_id_replays_and_another_body_is_409(shop):
    first = purchase(shop, "order-2")
    again = purchase(shop, "order-2")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = purchase(shop, "order-2", amount="99.00")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["details"]["field"] == "payload"
    assert balance(shop, "alice", "USD") == "5.00"
    assert shop.get("/v1/events/order-2").json() == first.json()


def test_concurrent_duplicate_event_ids_give_one_201_and_replays_never_500(live, shop):
    def send(_):
        api = Api(live.url, key=shop.key)
        try:
            return purchase(api, "dup-1").status_code
        finally:
            api.client.close()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, range(32)))
    assert codes.count(201) == 1 and codes.count(200) == 31
    assert balance(shop, "alice", "USD") == "5.00"


def test_an_event_that_cannot_apply_is_422_stores_nothing_and_its_retry_runs(shop):
    # seed 004: a burn beyond the balance reached −99781. Here: 422, nothing stored.
    rule(shop, "burn", "REDEEM_POINTS", [{"type": "debit", "asset": "POINTS", "amount": "100"}]) \
        if shop.post("/v1/event-types", json={"code": "REDEEM_POINTS", "name": "Redeem"}).status_code == 201 else None
    burn = {"event_id": "burn-1", "event_type": "REDEEM_POINTS", "customer_id": "alice"}
    r = shop.post("/v1/events", json=burn)
    assert r.status_code == 422 and r.json()["error"]["code"] == "insufficient_funds"
    assert shop.get("/v1/events/burn-1").status_code == 404
    assert shop.post("/v1/customers/alice/credit", json={"asset": "POINTS", "amount": "150"}).status_code == 201
    r = shop.post("/v1/events", json=burn)
    assert r.status_code == 201, r.text
    assert balance(shop, "alice", "POINTS") == "50"
    assert shop.post("/v1/events", json={**burn, "event_id": "burn-2"}).status_code == 422
    assert balance(shop, "alice", "POINTS") == "50"


def test_dry_run_answers_and_writes_nothing(shop):
    r = shop.post("/v1/events?dry_run=true", json={"event_id": "dry-1", "event_type": "PURCHASE",
                                                    "customer_id": "dry@x.io", "payload": {"amount": "20.00"}})
    assert r.status_code == 200 and r.json()["status"] == "dry_run"
    assert r.json()["balances"][0]["balance"] == "1.00"
    assert shop.get("/v1/events/dry-1").status_code == 404
    assert shop.get("/v1/customers/dry@x.io").status_code == 404
    assert shop.post("/v1/events?dry_run=maybe", json={}).status_code == 400


def test_unknown_and_internal_event_types_are_refused(shop):
    r = shop.post("/v1/events", json={"event_id": "x1", "event_type": "PURCHSE", "customer_id": "a"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "event_type"
    r = shop.post("/v1/events", json={"event_id": "x2", "event_type": "TIER_UPGRADED", "customer_id": "a"})
    assert r.status_code == 400
    r = shop.post("/v1/events", json={"event_id": "x3", "event_type": "PURCHASE", "customer_id": "a", "extra": 1})
    assert r.status_code == 400


def test_batch_runs_each_event_alone_in_one_request(shop):
    events = [{"event_id": f"b-{n}", "event_type": "PURCHASE", "customer_id": f"c{n % 3}",
               "payload": {"amount": "10.00"}} for n in range(9)]
    events.insert(4, {"event_id": "b-bad", "event_type": "PURCHASE", "customer_id": "c0", "payload": {}})
    events.insert(5, "not an event")
    r = shop.post("/v1/events/batch", json={"events": events})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["processed"] == 9 and body["failed"] == 2
    assert body["results"][4]["error"]["code"] == "invalid_amount"
    assert not body["results"][5]["ok"]
    assert balance(shop, "c0", "USD") == "1.50"
    again = shop.post("/v1/events/batch", json={"events": events[:2]}).json()
    assert [x["status"] for x in again["results"]] == [200, 200]
    too_many = shop.post("/v1/events/batch", json={"events": [events[0]] * 1001})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "limit_exceeded"


# -- rules: strict validation, versions -------------------------------------------------------------
@pytest.mark.parametrize("conditions,actions,path", [
    ({"fact": "payload.amount", "op": "gtt", "value": 5}, [], "conditions.op"),
    ({"fact": "customer.tierr", "op": "eq", "value": "gold"}, [], "conditions.fact"),
    ({"all": [{"fact": "event.weekday", "op": "eq", "value": 1}, {"fact": "x", "op": "eq", "value": 1}]}, [],
     "conditions.all[1].fact"),
    (None, [{"type": "credit", "asset": "GOLD", "amount": "1"}], "actions[0].asset"),
    (None, [{"type": "credt", "asset": "POINTS", "amount": "1"}], "actions[0].type"),
    (None, [{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 1.5}], "actions[0].rate_bps"),
    (None, [{"type": "bonus", "bonus": "NOPE", "asset": "POINTS", "amount": "1"}], "actions[0].bonus"),
])
def test_a_rule_with_a_mistake_is_400_naming_its_json_path(shop, conditions, actions, path):
    r = shop.post("/v1/rules", json={"code": "bad", "name": "bad", "event_type": "PURCHASE", "conditions": conditions,
                                     "actions": actions})
    assert r.status_code == 400, r.text
    assert path in [p["path"] for p in r.json()["error"]["details"]["problems"]], r.text
    assert shop.get("/v1/rules/bad").status_code == 404


def test_rule_versions_are_named_by_the_events_that_ran_them(shop):
    rule(shop, "double", actions=[{"type": "credit", "asset": "POINTS", "amount": "10"}])
    assert purchase(shop, "v-1").json()["executions"][0] == {  # priority 0 runs before purchase_cashback's 100
        "rule": "double", "version": 1, "event_type": "PURCHASE",
        "effects": [{"type": "credit", "asset": "POINTS", "amount": "10", "action": "credit", "transfer_id": "1"}]}
    r = shop.patch("/v1/rules/double", json={"actions": [{"type": "credit", "asset": "POINTS", "amount": "20"}]})
    assert r.status_code == 200 and r.json()["version"] == 2
    body = purchase(shop, "v-2").json()
    assert [(e["rule"], e["version"]) for e in body["executions"]] == [("double", 2), ("purchase_cashback", 1)]
    detail = shop.get("/v1/rules/double").json()
    assert [h["version"] for h in detail["history"]] == [1, 2]
    assert detail["history"][0]["definition"]["actions"][0]["amount"] == "10"
    assert shop.patch("/v1/rules/double", json={"actions": [{"type": "nope"}]}).status_code == 400
    assert shop.get("/v1/rules/double").json()["version"] == 2
    assert shop.delete("/v1/rules/double").status_code == 200
    assert [e["rule"] for e in purchase(shop, "v-3").json()["executions"]] == ["purchase_cashback"]
    assert shop.get("/v1/events/v-1").json()["executions"][0]["version"] == 1


def test_priority_stop_after_and_conditions(shop):
    rule(shop, "big_spender", priority=10, stop_after=True,
         conditions={"fact": "payload.amount", "op": "gte", "value": "500"},
         actions=[{"type": "add_tag", "tag": "big"}, {"type": "credit", "asset": "POINTS", "amount": "100"}])
    small = purchase(shop, "p-small", amount="50.00").json()
    assert [e["rule"] for e in small["executions"]] == ["purchase_cashback"]
    big = purchase(shop, "p-big", amount="500.00").json()
    assert [e["rule"] for e in big["executions"]] == ["big_spender"]  # stop_after shields priority 100
    assert shop.get("/v1/customers/alice").json()["tags"] == ["big"]


def test_first_purchase_bonus_and_campaign_window(shop, live):
    rule(shop, "first_purchase", conditions={"fact": "customer.events.PURCHASE", "op": "eq", "value": 0},
         actions=[{"type": "credit", "asset": "POINTS", "amount": "500"}])
    assert len(purchase(shop, "fp-1").json()["executions"]) == 2
    assert len(purchase(shop, "fp-2").json()["executions"]) == 1
    assert balance(shop, "alice", "POINTS") == "500"
    rule(shop, "later", starts_at="2030-01-01T00:00:00Z", actions=[{"type": "add_tag", "tag": "later"}])
    assert [e["rule"] for e in purchase(shop, "fp-3").json()["executions"]] == ["purchase_cashback"]


def test_ui_catalog_comes_from_the_validators(shop):
    catalog = shop.get("/v1/rules/ui-catalog").json()
    assert {"credit", "credit_rate", "bonus", "issue_reward", "commission"} <= {a["type"] for a in catalog["actions"]}
    assert "customer.birthday_today" in {f["fact"] for f in catalog["facts"]}
    credit = next(a for a in catalog["actions"] if a["type"] == "credit")
    assert credit["schema"]["properties"]["asset"]["enum"] == ["CREDITS", "POINTS", "USD"]


# -- tiers ---------------------------------------------------------------------------------------
def tiers_and_points_rule(api):
    for code, minimum in (("silver", 100), ("gold", 500)):
        assert api.post("/v1/tiers", json={"code": code, "name": code.title(),
                                           "min_status_points": minimum}).status_code == 201
    rule(api, "points", actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount",
                                  "rate_bps": 10000}])


def test_tier_upgrade_runs_its_internal_event_in_the_same_transaction(shop):
    tiers_and_points_rule(shop)
    rule(shop, "welcome_gold", "TIER_UPGRADED", conditions={"fact": "payload.to_tier", "op": "eq", "value": "gold"},
         actions=[{"type": "add_tag", "tag": "gold"}, {"type": "credit", "asset": "CREDITS", "amount": "10.00"}])
    body = purchase(shop, "t-1", amount="150").json()
    assert body["loyalty"] == {"tier": "silver", "status_points": 150, "lifetime_points": 150, "next_tier": "gold",
                               "points_to_next_tier": 350}
    assert [x["event_type"] for x in body["executions"]] == ["PURCHASE", "PURCHASE"]
    body = purchase(shop, "t-2", amount="400").json()
    assert [x["rule"] for x in body["executions"]] == ["points", "purchase_cashback", "welcome_gold"]
    assert body["executions"][-1]["event_type"] == "TIER_UPGRADED"
    assert shop.get("/v1/customers/alice").json()["tags"] == ["gold"]
    assert balance(shop, "alice", "CREDITS") == "10.00"
    assert shop.get("/v1/customers/alice/loyalty").json()["tier"] == "gold"
    # spending lowers neither status nor lifetime points
    assert shop.post("/v1/customers/alice/debit", json={"asset": "POINTS", "amount": "500"}).status_code == 201
    assert shop.get("/v1/customers/alice/loyalty").json()["status_points"] == 550


def test_tier_events_that_loop_stop_at_depth_3_with_a_clear_error(shop):
    tiers_and_points_rule(shop)
    rule(shop, "reset", "TIER_UPGRADED", actions=[{"type": "reset_status_points"}])
    rule(shop, "back", "TIER_DOWNGRADED", actions=[{"type": "credit", "asset": "POINTS", "amount": "200"}])
    r = purchase(shop, "loop-1", amount="150")
    assert r.status_code == 422 and r.json()["error"]["code"] == "limit_exceeded", r.text
    assert "TIER_DOWNGRADED" in r.json()["error"]["message"]
    assert shop.get("/v1/events/loop-1").status_code == 404
    assert shop.get("/v1/customers/alice/loyalty").status_code == 404  # nothing stored, not even the customer


def test_points_expiry_lowers_status_points_and_never_goes_negative(admin, live):
    # seed 004: earn 100, burn 80, the lot expires → −80. Here the expiry takes the 20 left.
    assert admin.post("/v1/brands", json={"code": "exp", "name": "Exp", "points_expiry_days": 30}).status_code == 201
    api = Api(live.url, brand="exp")
    rule(api, "points", actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount",
                                  "rate_bps": 10000}])
    purchase(api, "e-1", amount="100")
    assert api.post("/v1/customers/alice/debit", json={"asset": "POINTS", "amount": "80"}).status_code == 201
    live.clock.advance(days=31)
    import asyncio
    asyncio.run_coroutine_threadsafe(live.runtime.ledger.sweep(100), live.loop).result(10)
    assert balance(api, "alice", "POINTS") == "0"
    loyalty = api.get("/v1/customers/alice/loyalty").json()
    assert loyalty["status_points"] == 80 and loyalty["lifetime_points"] == 100


# -- bonuses ---------------------------------------------------------------------------------------
def test_bonus_once_per_period_and_birthday(shop):
    assert shop.post("/v1/bonus-definitions", json={"code": "BDAY", "name": "Birthday", "period": "year"}
                     ).status_code == 201
    rule(shop, "birthday", "BIRTHDAY", conditions={"fact": "customer.birthday_today", "op": "eq", "value": True},
         actions=[{"type": "bonus", "bonus": "BDAY", "asset": "POINTS", "amount": "250"}])
    shop.put("/v1/customers/ann", json={"birthdate": "1990-03-05"})
    day = "2026-03-05T10:00:00Z"
    for n in range(2):
        r = shop.post("/v1/events", json={"event_id": f"bd-{n}", "event_type": "BIRTHDAY", "customer_id": "ann",
                                          "occurred_at": day})
        assert r.status_code == 201
    assert balance(shop, "ann", "POINTS") == "250"
    r = shop.post("/v1/events", json={"event_id": "bd-not", "event_type": "BIRTHDAY", "customer_id": "ann",
                                      "occurred_at": "2026-03-06T10:00:00Z"})
    assert r.json()["executions"] == []
    next_year = shop.post("/v1/events", json={"event_id": "bd-2027", "event_type": "BIRTHDAY", "customer_id": "ann",
                                              "occurred_at": "2027-03-05T10:00:00Z"})
    assert next_year.json()["executions"][0]["effects"][0]["period_key"] == "2027"
    awards = shop.get("/v1/bonus-awards", params={"customer_id": "ann"}).json()["data"]
    assert [(a["period_key"], a["amount"]) for a in awards] == [("2026", "250"), ("2027", "250")]
    assert shop.post("/v1/bonus-definitions", json={"code": "X", "name": "x", "period": "fortnight"}).status_code == 400


def test_max_awards_holds_under_concurrency(live, shop):
    assert shop.post("/v1/bonus-definitions", json={"code": "EARLY", "name": "First 5", "period": "once",
                                                    "max_awards": 5}).status_code == 201
    rule(shop, "early", "SIGNUP", actions=[{"type": "bonus", "bonus": "EARLY", "asset": "POINTS", "amount": "100"}])

    def signup(n):
        api = Api(live.url, key=shop.key)
        try:
            return api.post("/v1/events", json={"event_id": f"s-{n}", "event_type": "SIGNUP",
                                                "customer_id": f"u{n}"}).json()
        finally:
            api.client.close()
    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(signup, range(40)))
    awarded = [b for b in bodies if "skipped" not in b["executions"][0]["effects"][0]]
    assert len(awarded) == 5
    assert shop.get("/v1/bonus-definitions").json()["data"][0]["awarded_count"] == 5
    assert len(shop.get("/v1/bonus-awards").json()["data"]) == 5


def test_customer_events_list_newest_first(shop):
    for n in range(3):
        purchase(shop, f"l-{n}")
    page = shop.get("/v1/customers/alice/events", params={"limit": 2}).json()
    assert [e["event_id"] for e in page["data"]] == ["l-2", "l-1"]
    rest = shop.get("/v1/customers/alice/events", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [e["event_id"] for e in rest["data"]] == ["l-0"] and rest["next_cursor"] is None
    assert shop.get("/v1/customers/nobody/events").status_code == 404


def test_readme_seed_004_quick_start(shop):
    """The README's curl example, call by call (a JSON number amount, as seed 004 sends it)."""
    rule(shop, "points", actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10000}])
    r = shop.post("/v1/events", json={"event_id": "purchase_001", "event_type": "PURCHASE", "customer_id": "p-1",
                                      "payload": {"amount": 120}})
    assert r.status_code == 201, r.text
    assert {b["asset"]: b["balance"] for b in shop.get("/v1/customers/p-1/balances").json()["balances"]} == {
        "POINTS": "120", "USD": "6.00"}
    assert shop.post("/v1/tiers", json={"code": "gold", "name": "Gold", "min_status_points": 100}).status_code == 201
    assert shop.post("/v1/bonus-definitions", json={"code": "BDAY", "name": "Birthday", "period": "year"}
                     ).status_code == 201
    rule(shop, "birthday", "BIRTHDAY", conditions={"fact": "customer.birthday_today", "op": "eq", "value": True},
         actions=[{"type": "bonus", "bonus": "BDAY", "asset": "POINTS", "amount": "250"}])
    rule(shop, "first", conditions={"fact": "customer.events.PURCHASE", "op": "eq", "value": 0},
         actions=[{"type": "credit", "asset": "POINTS", "amount": "500"}])
    assert shop.get("/v1/customers/p-1/loyalty").json()["tier"] == "gold"
    what_if = shop.post("/v1/events?dry_run=true", json={"event_id": "what-if", "event_type": "PURCHASE",
                                                          "customer_id": "p-2", "payload": {"amount": "80.00"}})
    assert what_if.status_code == 200
    assert {b["asset"]: b["balance"] for b in what_if.json()["balances"]} == {"POINTS": "580", "USD": "4.00"}


def test_numbers_in_saved_rules_read_back_exact(shop):
    """A rule saved with JSON numbers with decimals keeps working (they are never floats)."""
    rule(shop, "big_spender", conditions={"fact": "payload.amount", "op": "gte", "value": 49.99},
         actions=[{"type": "add_tag", "tag": "big"}, {"type": "credit", "asset": "USD", "amount": 1.5}])
    body = purchase(shop, "n-1", amount="50.00").json()
    assert [e["rule"] for e in body["executions"]] == ["big_spender", "purchase_cashback"], body
    assert {b["asset"]: b["balance"] for b in body["balances"]} == {"USD": "4.00"}
    assert shop.get("/v1/rules/big_spender").json()["history"][0]["definition"]["conditions"]["value"] == 49.99


def test_facts_naming_an_unknown_bonus_or_event_type_are_400(shop):
    for fact in ("bonus.NOPE.awarded", "customer.events.NOPE"):
        r = shop.post("/v1/rules", json={"code": "t", "name": "t", "event_type": "PURCHASE", "actions": [],
                                         "conditions": {"all": [{"fact": fact, "op": "present"}]}})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["details"]["problems"][0]["path"] == "conditions.all[0].fact"


def test_the_rules_of_one_event_type_have_a_total_budget(shop):
    big = {"any": [{"fact": "payload.sku", "op": "in", "value": [f"s{n}" for n in range(100)]} for _ in range(45)]}
    rule(shop, "first_big", conditions=big, actions=[])
    r = shop.post("/v1/rules", json={"code": "second_big", "name": "x", "event_type": "PURCHASE", "actions": [],
                                     "conditions": big})
    assert r.status_code == 400 and "at most 5000" in r.text
    assert shop.post("/v1/rules", json={"code": "second_big", "name": "x", "event_type": "SIGNUP", "actions": [],
                                        "conditions": big}).status_code == 201  # another type has its own


def test_job_event_ids_are_reserved(shop):
    r = shop.post("/v1/events", json={"event_id": "job-1-202601010900-1", "event_type": "PURCHASE",
                                      "customer_id": "a", "payload": {"amount": "1.00"}})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "event_id"


def test_expiry_lowers_status_points_only_by_points_a_rule_earned(admin, live):
    assert admin.post("/v1/brands", json={"code": "exp2", "name": "Exp", "points_expiry_days": 30}).status_code == 201
    api = Api(live.url, brand="exp2")
    rule(api, "points", actions=[{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount",
                                  "rate_bps": 10000}])
    assert api.post("/v1/customers/alice/credit", json={"asset": "POINTS", "amount": "500"}).status_code == 201
    live.clock.advance(days=10)
    purchase(api, "x-1", amount="150")
    live.clock.advance(days=21)  # the hand-credited lot expires, the earned one not yet
    import asyncio
    asyncio.run_coroutine_threadsafe(live.runtime.ledger.sweep(100), live.loop).result(10)
    assert balance(api, "alice", "POINTS") == "150"
    assert api.get("/v1/customers/alice/loyalty").json()["status_points"] == 150
    live.clock.advance(days=10)
    asyncio.run_coroutine_threadsafe(live.runtime.ledger.sweep(100), live.loop).result(10)
    assert api.get("/v1/customers/alice/loyalty").json()["status_points"] == 0
