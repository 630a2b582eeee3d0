"""Conventions every route shares: auth and roles, the error envelope, limits, idempotency."""
import json
import threading

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, Api


def err(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


# -- auth ---------------------------------------------------------------------------------------
def test_missing_and_wrong_keys_are_401(live, shop):
    with httpx.Client(base_url=live.url) as c:
        err(c.get("/v1/assets"), 401, "unauthenticated")
        err(c.get("/v1/assets", headers={"X-API-Key": "nope"}), 401, "unauthenticated")
        err(c.get("/v1/assets", headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")
        ok = c.get("/v1/assets", headers={"Authorization": f"Bearer {shop.key}"})
        assert ok.status_code == 200 and {a["code"] for a in ok.json()["data"]} == {"POINTS", "CREDITS", "USD"}


def test_roles(live, admin, shop):
    ro = admin.post("/v1/api-keys", json={"role": "readonly", "brand": "shop"}).json()["key"]
    reader = Api(live.url, key=ro)
    assert reader.get("/v1/assets").status_code == 200
    err(reader.post("/v1/customers/a/credit", json={"asset": "CREDITS", "amount": "1"}), 403, "forbidden")
    err(shop.get("/v1/brands"), 403, "forbidden")
    err(shop.post("/v1/api-keys", json={"role": "admin"}), 403, "forbidden")
    err(admin.get("/v1/assets"), 400, "invalid_request")  # admin must name the brand
    assert admin.get("/v1/assets", brand="shop").status_code == 200
    err(admin.get("/v1/assets", brand="ghost"), 404, "not_found")


def test_key_shown_once_stored_hashed_and_revocable(live, admin, shop):
    made = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop", "name": "ci"}).json()
    assert made["key"].startswith("rl_")
    listed = admin.get("/v1/api-keys").json()["data"]
    assert all(k["key"] is None for k in listed) and made["id"] in [k["id"] for k in listed]
    stored = live.runtime.readers.read_sync(lambda c: [r[0] for r in c.execute("SELECT key_hash FROM api_keys")])
    assert made["key"] not in json.dumps(stored)
    user = Api(live.url, key=made["key"])
    assert user.get("/v1/assets").status_code == 200
    assert admin.delete(f"/v1/api-keys/{made['id']}").status_code == 204
    err(user.get("/v1/assets"), 401, "unauthenticated")
    err(admin.delete("/v1/api-keys/999999"), 404, "not_found")


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("content,code", [
    (b"{not json", "invalid_json"), (b"\xff\xfe{}", "invalid_json"), (b"[1,2]", "invalid_request"),
    (b'{"asset":"CREDITS","amount":NaN}', "invalid_json"), (b'{"asset":"CREDITS"}', "invalid_request"),
    (b'{"asset":"CREDITS","amount":"1","colour":"red"}', "invalid_request"),
    (b'{"asset":"CREDITS","amount":1.5e400}', "invalid_request"),  # refused by the parser, unconverted
    (b'{"asset":"CREDITS","amount":1e2}', "invalid_amount"),  # amounts are written out, never 1e2
    (b'{"asset":"CREDITS","amount":"1.001"}', "invalid_amount"),
    (b'{"asset":"CREDITS","amount":"-5"}', "invalid_amount"),
    (b'{"asset":"CREDITS","amount":"99999999999999999999999"}', "invalid_amount"),
    (b'{"asset":"CREDITS","amount":true}', "invalid_request"),
    (b'{"asset":"CREDITS","amount":"1","pending":"yes"}', "invalid_request"),
    (b'{"asset":"CREDITS","amount":"1","metadata":[]}', "invalid_request"),
    (b'{"asset":"credits","amount":"1"}', "invalid_request"),
    (b'{"asset":"NOPE","amount":"1"}', "not_found"),
    (b'{"asset":"CREDITS","amount":' + b"1" * 5000 + b"}", "invalid_request"),
    (b"[" * 100000 + b"]" * 100000, "invalid_json"),
])
def test_bad_bodies_get_clear_4xx(shop, content, code):
    r = shop.post("/v1/customers/a/credit", content=content, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == code, r.text


def test_validation_errors_name_the_field(shop):
    e = err(shop.post("/v1/customers/a/credit", json={"asset": "CREDITS", "amount": "1", "extra": 1}),
            400, "invalid_request")
    assert e["details"]["errors"][0]["field"] == "extra"


def test_huge_body_is_413(shop):
    r = shop.post("/v1/customers/a/credit", content=b'{"metadata":"' + b"x" * 1_100_000 + b'"}')
    err(r, 413, "body_too_large")


@pytest.mark.parametrize("path", ["/v1/customers/..%2F..%2Fetc%2Fpasswd", "/v1/customers/%00",
                                  "/v1/customers/a%20b", "/v1/customers/" + "x" * 200])
def test_path_traversal_and_odd_ids_are_refused(shop, path):
    r = shop.get(path)
    assert r.status_code in (400, 404) and "error" in r.json()


def test_unknown_route_and_method(shop):
    err(shop.get("/v1/nothing"), 404, "not_found")
    r = shop.request("DELETE", "/v1/transfers")
    err(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    err(shop.get("/v1/transfers/abc"), 404, "not_found")
    err(shop.get("/v1/transfers/99999999"), 404, "not_found")


# -- idempotency --------------------------------------------------------------------------------
def test_replay_returns_the_stored_response(shop):
    body = {"asset": "CREDITS", "amount": "5.00"}
    first = shop.post("/v1/customers/i/credit", json=body, headers={"Idempotency-Key": "k-1"})
    again = shop.post("/v1/customers/i/credit", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert shop.get("/v1/customers/i/balances").json()["balances"][0]["balance"] == "5.00"


def test_same_key_other_body_is_409_naming_the_field(shop):
    shop.post("/v1/customers/i/credit", json={"asset": "CREDITS", "amount": "5.00"}, headers={"Idempotency-Key": "k-2"})
    e = err(shop.post("/v1/customers/i/credit", json={"asset": "CREDITS", "amount": "6.00"},
                      headers={"Idempotency-Key": "k-2"}), 409, "idempotency_key_reused")
    assert e["details"]["field"] == "amount"
    e = err(shop.post("/v1/customers/j/credit", json={"asset": "CREDITS", "amount": "5.00"},
                      headers={"Idempotency-Key": "k-2"}), 409, "idempotency_key_reused")
    assert e["details"]["field"] == "path"


def test_a_failed_request_stores_nothing_and_can_be_retried(shop):
    shop.put("/v1/customers/r", json={})
    h = {"Idempotency-Key": "k-3"}
    err(shop.post("/v1/customers/r/debit", json={"asset": "CREDITS", "amount": "1.00"}, headers=h), 422,
        "insufficient_funds")
    shop.post("/v1/customers/r/credit", json={"asset": "CREDITS", "amount": "2.00"})
    assert shop.post("/v1/customers/r/debit", json={"asset": "CREDITS", "amount": "1.00"}, headers=h).status_code == 201


def test_concurrent_requests_with_one_key_apply_once(live, shop):
    results = []

    def go():
        with httpx.Client(base_url=live.url, timeout=30) as c:
            results.append(c.post("/v1/customers/cc/credit", json={"asset": "CREDITS", "amount": "1.00"},
                                  headers={"X-API-Key": shop.key, "Idempotency-Key": "same"}))
    threads = [threading.Thread(target=go) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(r.status_code == 201 for r in results)
    assert len({r.json()["transfer_id"] for r in results}) == 1
    assert sum(1 for r in results if r.headers.get("Idempotent-Replayed")) == 15
    assert shop.get("/v1/customers/cc/balances").json()["balances"][0]["balance"] == "1.00"


def test_bad_idempotency_key_header(shop):
    err(shop.post("/v1/customers/a/credit", json={"asset": "CREDITS", "amount": "1"},
                  headers={"Idempotency-Key": "x" * 201}), 400, "invalid_request")


# -- rate limit ---------------------------------------------------------------------------------
def test_rate_limit_is_per_key_with_retry_after(tmp_path):
    from tests.api.conftest import LiveServer
    server = LiveServer(tmp_path, rate_limit_per_s=1, rate_limit_burst=3)
    try:
        api = Api(server.url, brand=None)
        codes = [api.get("/v1/brands").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = api.get("/v1/brands")
        err(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert httpx.get(server.url + "/health").status_code == 200  # ops routes are not limited
    finally:
        server.stop()
