"""The rewards catalog over HTTP (DESIGN §6a): a small café's catalog, redemptions paid in
points, use, cancel with refund, expiry through the scheduler, and 64 customers
racing for ten items."""
import asyncio
import time

import httpx

from app.jobs.scheduler import Scheduler
from tests.api.conftest import Api
from tests.api.test_conventions import err


def credit(api, who, amount="100", asset="POINTS"):
    r = api.post(f"/v1/customers/{who}/credit", json={"asset": asset, "amount": amount})
    assert r.status_code == 201, r.text


def balance(api, who, asset="POINTS"):
    found = [b for b in api.get(f"/v1/customers/{who}/balances").json()["balances"] if b["asset"] == asset]
    return found[0]["balance"] if found else None


def add_reward(api, code="COFFEE", cost="30", **kw):
    r = api.post("/v1/rewards", json={"code": code, "name": kw.pop("name", "Free coffee"), "cost_asset": "POINTS",
                                      "cost_amount": cost, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def redeem(api, who, reward="COFFEE", **kw):
    return api.post(f"/v1/customers/{who}/rewards", json={"reward": reward}, **kw)


def stock(api, code):
    return next(r["stock"] for r in api.get("/v1/rewards").json()["data"] if r["code"] == code)


def db(live, sql, *args):
    return live.runtime.readers.read_sync(lambda c: c.execute(sql, args).fetchall())


def on_server(live, coro):
    return asyncio.run_coroutine_threadsafe(coro, live.loop).result(30)


# -- the catalog ---------------------------------------------------------------------------------
def test_catalog_create_and_list_with_cursor(shop):
    made = add_reward(shop, stock=5, per_customer_limit=2, valid_days=30)
    assert made == {"code": "COFFEE", "name": "Free coffee", "cost_asset": "POINTS", "cost_amount": "30",
                    "stock": 5, "per_customer_limit": 2, "valid_days": 30, "active": True,
                    "created_at": made["created_at"]}
    assert made["created_at"].endswith("Z")
    usd = shop.post("/v1/rewards", json={"code": "tote-bag", "name": "Tote", "cost_asset": "USD",
                                         "cost_amount": "12.50"}).json()
    assert (usd["cost_amount"], usd["stock"], usd["valid_days"]) == ("12.50", None, None)
    add_reward(shop, "STICKER", "0", name="Sticker")
    first = shop.get("/v1/rewards", params={"limit": 2}).json()
    assert [r["code"] for r in first["data"]] == ["COFFEE", "tote-bag"] and first["next_cursor"]
    rest = shop.get("/v1/rewards", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["code"] for r in rest["data"]] == ["STICKER"] and rest["next_cursor"] is None
    assert rest["data"][0]["cost_amount"] == "0"


def test_catalog_validation(shop):
    base = {"code": "MUG", "name": "Mug", "cost_asset": "POINTS", "cost_amount": "10"}
    e = err(shop.post("/v1/rewards", json={**base, "cost_asset": "GOLD"}), 404, "not_found")
    assert e["details"]["field"] == "cost_asset"
    e = err(shop.post("/v1/rewards", json={**base, "cost_asset": "USD", "cost_amount": "1.001"}), 400,
            "invalid_amount")
    assert e["details"]["field"] == "cost_amount"
    err(shop.post("/v1/rewards", json={**base, "cost_amount": "0.0"}), 400, "invalid_amount")  # POINTS: scale 0
    err(shop.post("/v1/rewards", json={**base, "cost_amount": "-5"}), 400, "invalid_amount")
    err(shop.post("/v1/rewards", json={**base, "cost_amount": 1.5}), 400, "invalid_amount")
    err(shop.post("/v1/rewards", json={**base, "cost_amount": True}), 400, "invalid_request")
    for bad in ({"stock": -1}, {"per_customer_limit": 0}, {"valid_days": 0}, {"stock": "5"}, {"code": "a b"},
                {"code": ""}, {"name": ""}, {"colour": "red"}, {"active": "yes"}):
        err(shop.post("/v1/rewards", json={**base, **bad}), 400, "invalid_request")
    assert shop.post("/v1/rewards", json=base).status_code == 201
    e = err(shop.post("/v1/rewards", json={**base, "name": "Another mug"}), 409, "conflict")
    assert e["details"]["field"] == "code"
    assert [r["code"] for r in shop.get("/v1/rewards").json()["data"]] == ["MUG"]
    err(shop.get("/v1/rewards", params={"cursor": "nope!"}), 400, "invalid_request")


# -- redeeming ----------------------------------------------------------------------------------------
def test_redeem_debits_exactly_the_cost_into_revenue(live, shop):
    credit(shop, "ann", "100")
    add_reward(shop, stock=3, valid_days=30)
    r = redeem(shop, "ann")
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["reward"], got["status"], got["customer_id"], got["cost_amount"]) == ("COFFEE", "issued", "ann", "30")
    assert got["expires_at"] == "2026-01-31T00:00:00.000Z" and got["resolved_at"] is None
    assert len(got["redemption_code"]) >= 20 and got["charge_transfer_id"]
    assert balance(shop, "ann") == "70"
    assert stock(shop, "COFFEE") == 2
    transfer = shop.get(f"/v1/transfers/{got['charge_transfer_id']}").json()
    assert (transfer["code"], transfer["amount"], transfer["credit_account"]) == (
        "redeem", "30", {"kind": "system", "owner": "revenue"})
    assert transfer["metadata"] == {"reward": "COFFEE", "customer_reward_id": got["id"]}
    listed = shop.get("/v1/customers/ann/rewards").json()
    assert listed == {"data": [got], "next_cursor": None}
    assert shop.get("/v1/customers/ann/rewards", params={"status": "used"}).json()["data"] == []
    err(shop.get("/v1/customers/ann/rewards", params={"status": "lost"}), 400, "invalid_request")
    second = redeem(shop, "ann").json()
    assert second["redemption_code"] != got["redemption_code"] and balance(shop, "ann") == "40"


def test_insufficient_funds_writes_nothing(live, shop):
    credit(shop, "ben", "29")
    add_reward(shop, stock=3)
    e = err(redeem(shop, "ben"), 422, "insufficient_funds")
    assert e["details"]["requested"] == "30" and e["details"]["available"] == "29"
    assert balance(shop, "ben") == "29" and stock(shop, "COFFEE") == 3
    assert db(live, "SELECT count(*) FROM customer_rewards")[0][0] == 0
    shop.put("/v1/customers/cal", json={"name": "Cal"})  # exists, but never had points
    err(redeem(shop, "cal"), 422, "insufficient_funds")
    assert db(live, "SELECT count(*) FROM customer_rewards")[0][0] == 0


def test_unknown_reward_and_customer(shop):
    add_reward(shop)
    add_reward(shop, "RETIRED", active=False)
    credit(shop, "dee")
    e = err(redeem(shop, "dee", "NOPE"), 404, "not_found")
    assert e["details"]["field"] == "reward"
    err(redeem(shop, "dee", "RETIRED"), 404, "not_found")
    err(redeem(shop, "nobody"), 404, "not_found")  # a paid reward needs a customer with funds
    err(redeem(shop, "dee", "bad code!"), 400, "invalid_request")
    err(shop.get("/v1/customers/nobody/rewards"), 404, "not_found")
    err(shop.post("/v1/customers/dee/rewards/999/use", json={}), 404, "not_found")
    err(shop.post("/v1/customers/dee/rewards/abc/use", json={}), 404, "not_found")


def test_free_reward_creates_the_customer_and_moves_nothing(live, shop):
    add_reward(shop, "STICKER", "0", stock=1)
    got = redeem(shop, "newbie", "STICKER").json()
    assert (got["status"], got["cost_amount"], got["charge_transfer_id"]) == ("issued", "0", None)
    assert shop.get("/v1/customers/newbie").status_code == 200
    assert db(live, "SELECT count(*) FROM transfers")[0][0] == 0
    err(redeem(shop, "newbie", "STICKER"), 422, "out_of_stock")
    assert stock(shop, "STICKER") == 0


def test_out_of_stock_and_per_customer_limit(live, shop):
    for who in ("eve", "fay"):
        credit(shop, who, "100")
    add_reward(shop, "MUG", "10", stock=2, per_customer_limit=1)
    assert redeem(shop, "eve", "MUG").status_code == 201
    e = err(redeem(shop, "eve", "MUG"), 422, "limit_exceeded")
    assert e["details"]["per_customer_limit"] == 1
    assert redeem(shop, "fay", "MUG").status_code == 201
    credit(shop, "gus", "100")
    err(redeem(shop, "gus", "MUG"), 422, "out_of_stock")
    assert balance(shop, "gus") == "100" and stock(shop, "MUG") == 0
    assert balance(shop, "eve") == balance(shop, "fay") == "90"


def test_cancelled_rewards_do_not_count_towards_the_limit(shop):
    credit(shop, "hal", "100")
    add_reward(shop, "MUG", "10", per_customer_limit=1)
    first = redeem(shop, "hal", "MUG").json()
    assert shop.post(f"/v1/customers/hal/rewards/{first['id']}/cancel", json={}).status_code == 200
    assert redeem(shop, "hal", "MUG").status_code == 201


# -- use and cancel --------------------------------------------------------------------------------
def test_use_once(shop, live):
    credit(shop, "ivy")
    add_reward(shop)
    got = redeem(shop, "ivy").json()
    used = shop.post(f"/v1/customers/ivy/rewards/{got['id']}/use", json={})
    assert used.status_code == 200, used.text
    assert (used.json()["status"], used.json()["resolved_at"]) == ("used", "2026-01-01T00:00:00.000Z")
    e = err(shop.post(f"/v1/customers/ivy/rewards/{got['id']}/use", json={}), 409, "already_resolved")
    assert e["details"]["status"] == "used"
    e = err(shop.post(f"/v1/customers/ivy/rewards/{got['id']}/cancel", json={}), 409, "already_resolved")
    assert balance(shop, "ivy") == "70"  # no refund after use
    err(shop.post(f"/v1/customers/ivy/rewards/{got['id']}/use", json={"x": 1}), 400, "invalid_request")
    credit(shop, "jay")
    err(shop.post(f"/v1/customers/jay/rewards/{got['id']}/use", json={}), 404, "not_found")  # not jay's
    assert [r["status"] for r in shop.get("/v1/customers/ivy/rewards", params={"status": "used"}).json()["data"]] == [
        "used"]


def test_cancel_refunds_and_restores_stock(live, shop):
    credit(shop, "kim", "100")
    add_reward(shop, stock=1)
    got = redeem(shop, "kim").json()
    assert stock(shop, "COFFEE") == 0 and balance(shop, "kim") == "70"
    r = shop.post(f"/v1/customers/kim/rewards/{got['id']}/cancel", json={})
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "cancelled" and cancelled["refund_transfer_id"]
    assert balance(shop, "kim") == "100" and stock(shop, "COFFEE") == 1
    refund = shop.get(f"/v1/transfers/{cancelled['refund_transfer_id']}").json()
    assert (refund["code"], refund["amount"], refund["debit_account"]) == (
        "refund", "30", {"kind": "system", "owner": "revenue"})
    err(shop.post(f"/v1/customers/kim/rewards/{got['id']}/cancel", json={}), 409, "already_resolved")
    err(shop.post(f"/v1/customers/kim/rewards/{got['id']}/use", json={}), 409, "already_resolved")
    revenue = db(live, "SELECT credits_posted - debits_posted FROM accounts WHERE kind = 'system' AND owner = 'revenue'")
    assert revenue[0][0] == 0


# -- expiry ---------------------------------------------------------------------------------------
def test_unused_rewards_expire_through_the_background_sweep(live, shop, clock):
    credit(shop, "lea", "100")
    add_reward(shop, stock=5, valid_days=7)
    soon, used = redeem(shop, "lea").json(), redeem(shop, "lea").json()
    add_reward(shop, "FOREVER", "10")
    forever = redeem(shop, "lea", "FOREVER").json()
    assert forever["expires_at"] is None
    shop.post(f"/v1/customers/lea/rewards/{used['id']}/use", json={})
    clock.advance(days=7)
    # Past expiry but not yet swept: it can no longer be used, nor cancelled for a refund.
    e = err(shop.post(f"/v1/customers/lea/rewards/{soon['id']}/use", json={}), 409, "already_resolved")
    assert e["details"]["status"] == "expired"
    err(shop.post(f"/v1/customers/lea/rewards/{soon['id']}/cancel", json={}), 409, "already_resolved")

    scheduler = on_server(live, _start_scheduler(live.runtime))
    try:
        deadline = time.monotonic() + 10
        while shop.get("/v1/customers/lea/rewards", params={"status": "expired"}).json()["data"] == []:
            assert time.monotonic() < deadline, "the sweep did not expire the reward"
            time.sleep(0.02)
    finally:
        on_server(live, scheduler.stop())
    statuses = {r["id"]: r["status"] for r in shop.get("/v1/customers/lea/rewards").json()["data"]}
    assert statuses == {soon["id"]: "expired", used["id"]: "used", forever["id"]: "issued"}
    assert balance(shop, "lea") == "30"  # no refund on expiry: the cost was spent
    assert stock(shop, "COFFEE") == 3
    err(shop.post(f"/v1/customers/lea/rewards/{soon['id']}/use", json={}), 409, "already_resolved")
    assert on_server(live, live.runtime.rewards.expire_due(100)).done == 0  # nothing left to expire


async def _start_scheduler(runtime) -> Scheduler:
    """The service's scheduler, ticking on the server's loop (as `serve` runs it)."""
    scheduler = Scheduler(runtime)
    scheduler.start()
    return scheduler


# -- idempotency and isolation -----------------------------------------------------------------------
def test_idempotent_redemption_issues_once(live, shop):
    credit(shop, "max")
    add_reward(shop, stock=5)
    key = {"Idempotency-Key": "redeem-max-1"}
    first = redeem(shop, "max", headers=key)
    again = redeem(shop, "max", headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    assert balance(shop, "max") == "70" and stock(shop, "COFFEE") == 4
    assert db(live, "SELECT count(*) FROM customer_rewards")[0][0] == 1
    add_reward(shop, "TEA", "5")
    err(redeem(shop, "max", "TEA", headers=key), 409, "idempotency_key_reused")
    use_key = {"Idempotency-Key": "use-1"}
    path = f"/v1/customers/max/rewards/{first.json()['id']}/use"
    assert shop.post(path, json={}, headers=use_key).status_code == 200
    replay = shop.post(path, json={}, headers=use_key)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"


def test_brand_isolation(live, admin, shop):
    credit(shop, "ned")
    add_reward(shop)
    got = redeem(shop, "ned").json()
    assert admin.post("/v1/brands", json={"code": "other", "name": "Other"}).status_code == 201
    other = Api(live.url, key=admin.post("/v1/api-keys", json={"role": "brand", "brand": "other"}).json()["key"])
    try:
        assert other.get("/v1/rewards").json()["data"] == []
        credit(other, "ned")
        err(redeem(other, "ned"), 404, "not_found")
        assert other.get("/v1/customers/ned/rewards").json()["data"] == []
        err(other.post(f"/v1/customers/ned/rewards/{got['id']}/use", json={}), 404, "not_found")
        err(other.post(f"/v1/customers/ned/rewards/{got['id']}/cancel", json={}), 404, "not_found")
        add_reward(other)  # the same code in another brand is another reward
        assert redeem(other, "ned").status_code == 201
    finally:
        other.client.close()
    assert admin.get("/v1/rewards", brand="shop").json()["data"][0]["code"] == "COFFEE"
    assert shop.get("/v1/customers/ned/rewards").json()["data"][0]["status"] == "issued"
    readonly = Api(live.url, key=admin.post("/v1/api-keys", json={"role": "readonly", "brand": "shop"}).json()["key"])
    try:
        assert readonly.get("/v1/rewards").status_code == 200
        err(redeem(readonly, "ned"), 403, "forbidden")
    finally:
        readonly.client.close()


# -- concurrency ----------------------------------------------------------------------------------
def test_64_concurrent_redemptions_of_ten_items(live, shop):
    customers = [f"r{i}" for i in range(64)]
    for who in customers:
        credit(shop, who, "50")
    add_reward(shop, "LIMITED", "30", stock=10)

    async def main():
        async with httpx.AsyncClient(base_url=live.url, headers={"X-API-Key": shop.key}, timeout=60) as c:
            return await asyncio.gather(*(c.post(f"/v1/customers/{who}/rewards", json={"reward": "LIMITED"})
                                          for who in customers))
    answers = asyncio.run(main())
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 10 + [422] * 54, statuses
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 422} == {"out_of_stock"}
    assert stock(shop, "LIMITED") == 0
    assert db(live, "SELECT count(*) FROM customer_rewards WHERE status = 'issued'")[0][0] == 10
    assert db(live, "SELECT count(*), sum(amount) FROM transfers WHERE code = 'redeem'")[0][:] == (10, 300)
    winners = {r.json()["customer_id"] for r in answers if r.status_code == 201}
    for who in customers:
        assert balance(shop, who) == ("20" if who in winners else "50")
    assert db(live, "SELECT count(*) FROM accounts WHERE credits_posted - debits_posted - debits_pending < 0"
                    " AND no_overdraft = 1")[0][0] == 0
