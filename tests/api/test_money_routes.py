"""Credits, debits, transfers, holds, batches, history and balances over HTTP."""
from tests.api.test_conventions import err


def credit(api, who, amount, asset="CREDITS", **kw):
    r = api.post(f"/v1/customers/{who}/credit", json={"asset": asset, "amount": amount, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def test_transfer_hold_post_void(shop):
    credit(shop, "ann", "50.00")
    shop.put("/v1/customers/ben", json={"name": "Ben"})
    r = shop.post("/v1/transfers", json={"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS",
                                         "amount": "20.00", "pending": True, "timeout_s": 3600})
    assert r.status_code == 201
    hold = r.json()
    assert hold["status"] == "pending" and hold["timeout_at"].endswith("Z")
    assert hold["debit_account"] == {"kind": "customer", "owner": "ann"}
    ann = shop.get("/v1/customers/ann/balances").json()["balances"][0]
    assert (ann["balance"], ann["available"]) == ("50.00", "30.00")
    err(shop.post(f"/v1/transfers/{hold['transfer_id']}/post", json={"amount": "20.01"}), 400, "invalid_request")
    err(shop.post(f"/v1/transfers/{hold['transfer_id']}/post", json={"amount": "1.001"}), 400, "invalid_amount")
    posted = shop.post(f"/v1/transfers/{hold['transfer_id']}/post", json={"amount": "12.50"}).json()
    assert (posted["kind"], posted["amount"], posted["pending_id"]) == ("post_pending", "12.50", hold["transfer_id"])
    assert shop.get("/v1/customers/ann/balances").json()["balances"][0]["available"] == "37.50"
    assert shop.get("/v1/customers/ben/balances").json()["balances"][0]["balance"] == "12.50"
    err(shop.post(f"/v1/transfers/{hold['transfer_id']}/void", json={}), 409, "already_resolved")
    second = shop.post("/v1/transfers", json={"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS",
                                              "amount": "5.00", "pending": True}).json()
    voided = shop.post(f"/v1/transfers/{second['transfer_id']}/void", json={}).json()
    assert voided["status"] == "voided"
    assert shop.get(f"/v1/transfers/{second['transfer_id']}").json()["status"] == "voided"
    err(shop.post("/v1/transfers", json={"from_customer": "ann", "to_customer": "nobody", "asset": "CREDITS",
                                         "amount": "1.00"}), 404, "not_found")
    err(shop.post("/v1/transfers", json={"from_customer": "ann", "to_customer": "ann", "asset": "CREDITS",
                                         "amount": "1.00"}), 400, "invalid_request")
    err(shop.post("/v1/transfers", json={"from_customer": "ben", "to_customer": "ann", "asset": "CREDITS",
                                         "amount": "12.51"}), 422, "insufficient_funds")


def test_hold_times_out_through_the_sweep(live, shop, clock):
    credit(shop, "t1", "10.00")
    hold = shop.post("/v1/customers/t1/debit", json={"asset": "CREDITS", "amount": "4.00", "pending": True,
                                                     "timeout_s": 60}).json()
    clock.advance(s=61)
    import asyncio
    asyncio.run_coroutine_threadsafe(live.runtime.ledger.sweep(100), live.loop).result(10)
    assert shop.get(f"/v1/transfers/{hold['transfer_id']}").json()["status"] == "expired"
    assert shop.get("/v1/customers/t1/balances").json()["balances"][0]["available"] == "10.00"


def test_batch_atomic_and_not(shop):
    for who in ("b1", "b2", "b3"):
        credit(shop, who, "10.00")
    items = [{"from_customer": "b1", "to_customer": "b2", "asset": "CREDITS", "amount": "6.00"},
             {"from_customer": "b1", "to_customer": "b3", "asset": "CREDITS", "amount": "6.00"}]
    e = err(shop.post("/v1/transfers/batch", json={"atomic": True, "transfers": items}), 422, "batch_failed")
    assert e["details"]["items"][0]["index"] == 1 and e["details"]["items"][0]["code"] == "insufficient_funds"
    assert shop.get("/v1/customers/b1/balances").json()["balances"][0]["balance"] == "10.00"
    r = shop.post("/v1/transfers/batch", json={"atomic": False, "transfers": items}).json()
    assert r["applied"] == 1 and [x["ok"] for x in r["results"]] == [True, False]
    assert r["results"][1]["error"]["code"] == "insufficient_funds"
    assert shop.get("/v1/customers/b1/balances").json()["balances"][0]["balance"] == "4.00"


def test_batch_limit(live, shop):
    limit = live.config.batch_max_transfers
    items = [{"from_customer": "x", "to_customer": "y", "asset": "CREDITS", "amount": "1"}] * (limit + 1)
    err(shop.post("/v1/transfers/batch", json={"transfers": items}), 422, "limit_exceeded")


def test_movements_newest_first_with_cursor_across_assets(shop):
    for i in range(1, 6):
        credit(shop, "h", f"{i}.00")
        credit(shop, "h", str(i), asset="POINTS")
    shop.post("/v1/customers/h/debit", json={"asset": "CREDITS", "amount": "2.50"})
    seen, cursor = [], None
    while True:
        page = shop.get("/v1/customers/h/movements", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 11
    ids = [int(m["transfer_id"]) for m in seen]
    assert ids == sorted(ids, reverse=True)
    assert seen[0]["amount"] == "-2.50" and seen[0]["balance_after"] == "12.50"
    assert seen[0]["counterparty"] == "system:revenue"
    points = shop.get("/v1/customers/h/movements", params={"asset": "POINTS", "limit": 2}).json()
    assert [m["amount"] for m in points["data"]] == ["5", "4"]
    more = shop.get("/v1/customers/h/movements", params={"asset": "POINTS", "cursor": points["next_cursor"]}).json()
    assert [m["amount"] for m in more["data"]] == ["3", "2", "1"] and more["next_cursor"] is None
    err(shop.get("/v1/customers/h/movements", params={"cursor": "!!"}), 400, "invalid_request")
    err(shop.get("/v1/customers/h/movements", params={"limit": "0"}), 400, "invalid_request")


def test_balances_as_of(shop, clock):
    credit(shop, "asof", "10.00")
    clock.advance(s=60)
    from app.web.base import rfc3339
    middle = rfc3339(clock.now_ms())
    clock.advance(s=60)
    credit(shop, "asof", "5.00")
    now = shop.get("/v1/customers/asof/balances").json()["balances"][0]["balance"]
    then = shop.get("/v1/customers/asof/balances", params={"as_of": middle}).json()
    assert now == "15.00" and then["balances"][0]["balance"] == "10.00" and then["as_of"] == middle
    early = shop.get("/v1/customers/asof/balances", params={"as_of": "2000-01-01T00:00:00Z"}).json()
    assert early["balances"][0]["balance"] == "0.00"
    err(shop.get("/v1/customers/asof/balances", params={"as_of": "yesterday"}), 400, "invalid_request")
    err(shop.get("/v1/customers/asof/balances", params={"as_of": "2026-01-01T00:00:00"}), 400, "invalid_request")


def test_customers_upsert_list_filters(shop):
    assert shop.put("/v1/customers/c1", json={"name": "One", "tags": ["vip"], "status": "active"}).status_code == 201
    r = shop.put("/v1/customers/c1", json={"name": "Uno", "tags": ["vip", "new"], "birthdate": "1990-05-01",
                                           "attributes": {"city": "Lyon"}})
    assert r.status_code == 200 and r.json()["name"] == "Uno" and r.json()["tags"] == ["new", "vip"]
    shop.put("/v1/customers/c2", json={"status": "blocked"})
    shop.put("/v1/customers/c3", json={"tags": ["vip"]})
    vip = shop.get("/v1/customers", params={"tag": "vip"}).json()["data"]
    assert [c["customer_id"] for c in vip] == ["c1", "c3"]
    blocked = shop.get("/v1/customers", params={"status": "blocked"}).json()["data"]
    assert [c["customer_id"] for c in blocked] == ["c2"]
    first = shop.get("/v1/customers", params={"limit": 2}).json()
    rest = shop.get("/v1/customers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["customer_id"] for c in first["data"] + rest["data"]] == ["c1", "c2", "c3"]
    err(shop.put("/v1/customers/c4", json={"birthdate": "1990-02-31"}), 400, "invalid_request")
    err(shop.put("/v1/customers/c4", json={"email": "not-an-email"}), 400, "invalid_request")
    err(shop.get("/v1/customers", params={"status": "gone"}), 400, "invalid_request")
    err(shop.get("/v1/customers/nobody"), 404, "not_found")


def test_assets(shop):
    r = shop.post("/v1/assets", json={"code": "STARS", "scale": 0, "kind": "points", "expiry_days": 365})
    assert r.status_code == 201 and r.json()["expiry_days"] == 365
    err(shop.post("/v1/assets", json={"code": "STARS", "scale": 0, "kind": "points"}), 409, "conflict")
    err(shop.post("/v1/assets", json={"code": "X", "scale": 19, "kind": "points"}), 400, "invalid_request")
    assert credit(shop, "s", "7", asset="STARS")["balance"] == "7"
    err(shop.post("/v1/customers/s/credit", json={"asset": "STARS", "amount": "7.5"}), 400, "invalid_amount")


def test_batch_touching_the_same_accounts_many_times(shop):
    for who in ("r1", "r2", "r3"):
        credit(shop, who, "1.00")
    ring = ["r1", "r2", "r3"]
    items = [{"from_customer": ring[i % 3], "to_customer": ring[(i + 1) % 3], "asset": "CREDITS",
              "amount": "0.10"} for i in range(60)]
    items.insert(30, {"from_customer": "r1", "to_customer": "r2", "asset": "CREDITS", "amount": "9.00"})
    r = shop.post("/v1/transfers/batch", json={"atomic": False, "transfers": items}).json()
    assert r["applied"] == 60 and not r["results"][30]["ok"]
    assert [b["balances"][0]["balance"] for b in (shop.get(f"/v1/customers/{w}/balances").json() for w in ring)] \
        == ["1.00", "1.00", "1.00"]
    moves = shop.get("/v1/customers/r2/movements", params={"limit": 200}).json()["data"]
    assert len(moves) == 41 and moves[0]["balance_after"] == "1.00"
