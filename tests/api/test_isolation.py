"""Brand isolation: brand A's key walks every route against brand B's resources and gets
404 (or 403 for admin routes), never B's data; nothing of B changes."""
from app.web.routes import API
from tests.api.conftest import Api


def setup_brand_b(admin):
    assert admin.post("/v1/brands", json={"code": "bee", "name": "B"}).status_code == 201
    b = {"brand": "bee"}
    admin.put("/v1/customers/bob@b.example", json={"name": "Bob"}, **b)
    admin.put("/v1/customers/pat@b.example", json={}, **b)
    admin.post("/v1/customers/bob@b.example/credit", json={"asset": "CREDITS", "amount": "50.00"}, **b)
    pending = admin.post("/v1/transfers", json={"from_customer": "bob@b.example", "to_customer": "pat@b.example",
                                                "asset": "CREDITS", "amount": "5.00", "pending": True}, **b).json()
    assert admin.post("/v1/rules", json={"code": "bee_rule", "name": "B's", "event_type": "SIGNUP", "actions": [
        {"type": "credit", "asset": "POINTS", "amount": "10"}]}, **b).status_code == 201
    assert admin.post("/v1/events", json={"event_id": "bee-ev-1", "event_type": "SIGNUP",
                                          "customer_id": "bob@b.example"}, **b).status_code == 201
    assert admin.post("/v1/rewards", json={"code": "BEE_MUG", "name": "Mug", "cost_asset": "POINTS",
                                           "cost_amount": "5"}, **b).status_code == 201
    assert admin.post("/v1/jobs", json={"code": "bee_rule", "name": "B's job", "cron": "0 9 * * *",
                                        "selector": {"all": []}, "event_type": "SIGNUP"}, **b).status_code == 201
    issued = admin.post("/v1/customers/bob@b.example/rewards", json={"reward": "BEE_MUG"}, **b)
    assert issued.status_code == 201, issued.text
    return pending["transfer_id"]


def setup_referrals_b(admin):
    """B's ambassador, QR code and gift card: (ambassador id, QR code, card code, card id)."""
    b = {"brand": "bee"}
    group = admin.post("/v1/groups", json={"code": "bees", "name": "Bees", "commission_bps": 800}, **b)
    assert group.status_code == 201, group.text
    amb = admin.post("/v1/ambassadors", json={"customer_id": "bob@b.example", "group": "bees"}, **b).json()
    qr = admin.post("/v1/qrcodes", json={"ambassador_id": amb["id"]}, **b).json()
    card = admin.post("/v1/gift-cards", json={"asset": "USD", "amount": "20.00"}, **b).json()
    return amb["id"], qr["code"], card["code"], card["id"]


# Every brand route, and what brand A's key gets when it names brand B's resources.
CALLS = {
    ("/v1/brands", "get"): 403, ("/v1/brands", "post"): 403, ("/v1/api-keys", "get"): 403,
    ("/v1/api-keys", "post"): 403, ("/v1/api-keys/{key_id}", "delete"): 403,
    ("/v1/customers/{customer_id}", "get"): 404,
    ("/v1/customers/{customer_id}/balances", "get"): 404,
    ("/v1/customers/{customer_id}/movements", "get"): 404,
    ("/v1/customers/{customer_id}/debit", "post"): 404,
    ("/v1/transfers/{transfer_id}", "get"): 404,
    ("/v1/transfers/{transfer_id}/post", "post"): 404,
    ("/v1/transfers/{transfer_id}/void", "post"): 404,
    ("/v1/transfers", "post"): 404, ("/v1/transfers/batch", "post"): 422,
    ("/v1/rules/{code}", "get"): 404, ("/v1/rules/{code}", "patch"): 404, ("/v1/rules/{code}", "delete"): 404,
    ("/v1/customers/{customer_id}/loyalty", "get"): 404,
    ("/v1/events/{event_id}", "get"): 404,
    ("/v1/customers/{customer_id}/events", "get"): 404,
    ("/v1/customers/{customer_id}/rewards", "get"): 404, ("/v1/customers/{customer_id}/rewards", "post"): 404,
    ("/v1/customers/{customer_id}/rewards/{reward_id}/use", "post"): 404,
    ("/v1/customers/{customer_id}/rewards/{reward_id}/cancel", "post"): 404,
    ("/v1/jobs/{code}", "get"): 404, ("/v1/jobs/{code}", "patch"): 404, ("/v1/jobs/{code}", "delete"): 404,
    ("/v1/jobs/{code}/preview", "post"): 404, ("/v1/jobs/{code}/run", "post"): 404,
    ("/v1/jobs/{code}/runs", "get"): 404,
    ("/v1/customers/{customer_id}/portal-link", "post"): 404,
    ("/v1/qrcodes", "post"): 404, ("/v1/qrcodes/{code}", "get"): 404, ("/v1/qrcodes/{code}.svg", "get"): 404,
    ("/v1/qrcodes/{code}.png", "get"): 404,
    ("/v1/gift-cards/{code}", "get"): 404, ("/v1/gift-cards/{code}/redeem", "post"): 404,
    ("/v1/gift-cards/{card_id}/void", "post"): 404,
    ("/v1/payouts/{payout_id}", "get"): 404, ("/v1/payouts/{payout_id}/cancel", "post"): 404,
    ("/v1/wallets/{wallet_id}", "get"): 404, ("/v1/wallets/{wallet_id}/withdraw", "post"): 404,
}
# Routes that only ever act on the caller's own brand (lists, creations, upserts).
OWN_BRAND_ONLY = {
    ("/v1/assets", "get"), ("/v1/assets", "post"), ("/v1/customers", "get"),
    ("/v1/customers/{customer_id}", "put"), ("/v1/customers/{customer_id}/credit", "post"),
    ("/v1/event-types", "get"), ("/v1/event-types", "post"), ("/v1/rules", "get"), ("/v1/rules", "post"),
    ("/v1/rules/ui-catalog", "get"), ("/v1/tiers", "get"), ("/v1/tiers", "post"),
    ("/v1/bonus-definitions", "get"), ("/v1/bonus-definitions", "post"), ("/v1/bonus-awards", "get"),
    ("/v1/events", "post"), ("/v1/events/batch", "post"), ("/v1/rewards", "get"), ("/v1/rewards", "post"),
    ("/v1/jobs", "get"), ("/v1/jobs", "post"),
    ("/v1/imports/customers", "post"), ("/v1/imports/events", "post"),
    ("/v1/groups", "get"), ("/v1/groups", "post"), ("/v1/ambassadors", "get"), ("/v1/ambassadors", "post"),
    ("/v1/gift-cards", "get"), ("/v1/gift-cards", "post"),
    ("/v1/payouts", "get"), ("/v1/payouts", "post"), ("/v1/wallets", "get"), ("/v1/wallets", "post"),
}


def test_every_route_isolates_brands(live, admin, shop):
    tid = setup_brand_b(admin)
    amb_id, qr_code, card_code, card_id = setup_referrals_b(admin)
    issued_id = admin.get("/v1/customers/bob@b.example/rewards", brand="bee").json()["data"][0]["id"]
    payout_id = admin.post("/v1/payouts", brand="bee", headers={"Idempotency-Key": "bee-payout"}, json={
        "customer_id": "bob@b.example", "asset": "CREDITS", "amount": "2.00", "rail": "chain",
        "destination": {"address": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"}}).json()["id"]
    wallet_id = admin.post("/v1/wallets", brand="bee", json={"name": "B's", "asset": "CREDITS"}).json()["id"]
    before = admin.get("/v1/customers/bob@b.example/balances", brand="bee").json()
    bob = "bob@b.example"
    calls = CALLS
    bodies = {"/v1/customers/{customer_id}/debit": {"asset": "CREDITS", "amount": "1.00"},
              "/v1/transfers": {"from_customer": bob, "to_customer": "pat@b.example", "asset": "CREDITS",
                                "amount": "1.00"},
              "/v1/transfers/batch": {"atomic": True, "transfers": [
                  {"from_customer": bob, "to_customer": "pat@b.example", "asset": "CREDITS", "amount": "1.00"}]},
              "/v1/brands": {"code": "x", "name": "x"}, "/v1/api-keys": {"role": "admin"},
              "/v1/customers/{customer_id}/rewards": {"reward": "BEE_MUG"},
              "/v1/qrcodes": {"ambassador_id": amb_id},
              "/v1/gift-cards/{code}/redeem": {"customer_id": bob, "amount": "1.00"},
              "/v1/wallets/{wallet_id}/withdraw": {"address": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
                                                   "amount": "1.00"}}
    codes = {"/v1/qrcodes/": qr_code, "/v1/gift-cards/": card_code}  # {code} of these routes: B's
    walked = set()
    for template, handler in API:
        for method, op in handler.OPS.items():
            if op.access == "public" or (template, method) not in calls:
                continue
            code = next((c for prefix, c in codes.items() if template.startswith(prefix)), "bee_rule")
            path = template.format(customer_id=bob, transfer_id=tid, key_id=1, code=code, event_id="bee-ev-1",
                                   reward_id=issued_id, card_id=card_id, payout_id=payout_id, wallet_id=wallet_id)
            kw = {"json": bodies.get(template, {})} if method in ("post", "put", "patch") else {}
            if template.endswith("/withdraw"):  # past the Idempotency-Key check, to the wallet's lookup
                kw["headers"] = {"Idempotency-Key": "walk-withdraw"}
            r = shop.request(method.upper(), path, **kw)
            assert r.status_code == calls[(template, method)], (template, method, r.text)
            assert "bob" not in r.text.replace(bob, "") or r.status_code == 422
            walked.add((template, method))
    assert walked == set(calls)
    # Brand-wide lists and creations of A never show or touch B.
    assert shop.get("/v1/customers").json()["data"] == []
    assert shop.put(f"/v1/customers/{bob}", json={"name": "A's own Bob"}).status_code == 201
    assert admin.get(f"/v1/customers/{bob}", brand="bee").json()["name"] == "Bob"
    assert admin.get("/v1/customers/bob@b.example/balances", brand="bee").json() == before
    assert admin.get(f"/v1/transfers/{tid}", brand="bee").json()["status"] == "pending"
    assert admin.get(f"/v1/payouts/{payout_id}", brand="bee").json()["status"] == "pending"
    assert shop.get("/v1/payouts").json()["data"] == []
    assert shop.get("/v1/wallets").json()["data"] == []
    assert admin.get(f"/v1/payouts?wallet_id={wallet_id}", brand="bee").json()["data"] == []
    assert admin.get("/v1/rules/bee_rule", brand="bee").json()["version"] == 1
    assert shop.get("/v1/bonus-awards", params={"customer_id": bob}).json()["data"] == []
    assert [shop.get(path).json()["data"] for path in ("/v1/groups", "/v1/ambassadors", "/v1/gift-cards")] == [[]] * 3
    card = admin.get(f"/v1/gift-cards/{card_code}", brand="bee").json()
    assert (card["status"], card["balance"]) == ("active", "20.00")
    assert admin.get(f"/v1/qrcodes/{qr_code}", brand="bee").json()["scans"] == 0


def test_every_brand_route_is_covered_by_the_walk():
    brand_routes = {(t, m) for t, h in API for m, op in h.OPS.items() if op.access != "public"}
    assert brand_routes == set(CALLS) | OWN_BRAND_ONLY
