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
    return pending["transfer_id"]


def test_every_route_isolates_brands(live, admin, shop):
    tid = setup_brand_b(admin)
    before = admin.get("/v1/customers/bob@b.example/balances", brand="bee").json()
    bob = "bob@b.example"
    calls = {
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
    }
    bodies = {"/v1/customers/{customer_id}/debit": {"asset": "CREDITS", "amount": "1.00"},
              "/v1/transfers": {"from_customer": bob, "to_customer": "pat@b.example", "asset": "CREDITS",
                                "amount": "1.00"},
              "/v1/transfers/batch": {"atomic": True, "transfers": [
                  {"from_customer": bob, "to_customer": "pat@b.example", "asset": "CREDITS", "amount": "1.00"}]},
              "/v1/brands": {"code": "x", "name": "x"}, "/v1/api-keys": {"role": "admin"}}
    walked = set()
    for template, handler in API:
        for method, op in handler.OPS.items():
            if op.access == "public" or (template, method) not in calls:
                continue
            path = template.format(customer_id=bob, transfer_id=tid, key_id=1)
            kw = {"json": bodies.get(template, {})} if method in ("post", "put") else {}
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


def test_every_brand_route_is_covered_by_the_walk():
    brand_routes = {(t, m) for t, h in API for m, op in h.OPS.items() if op.access != "public"}
    # Routes that only ever act on the caller's own brand (lists, creations, upserts).
    own_brand_only = {("/v1/assets", "get"), ("/v1/assets", "post"), ("/v1/customers", "get"),
                      ("/v1/customers/{customer_id}", "put"), ("/v1/customers/{customer_id}/credit", "post")}
    walked = 14
    assert len(brand_routes) == walked + len(own_brand_only)
