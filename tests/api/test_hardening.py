"""Core hardening: each break found by trying the service as an attacker and as a new user.

Each test here failed before its fix: the money range, overflow-proof verify, errors in the
asset's units, bounded JSON numbers, forged cursors, RFC 3339 times, brand keys naming
another brand, and batches that cannot apply twice after the idempotency TTL.
"""
import asyncio
import base64
import sqlite3

import pytest

from app.store.sqlite import connect
from app.store.verify import near_limit_warnings, verify
from tests.api.conftest import Api, serving
from tests.api.test_conventions import err
from tests.api.test_money_routes import credit

BIG = "1000000000000000000"  # 10^18: the largest amount one transfer moves


def transfers_count(live) -> int:
    conn = connect(live.runtime.db, readonly=True)
    try:
        return conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
    finally:
        conn.close()


# -- money range ---------------------------------------------------------------------------
def test_asset_scale_is_limited_so_counters_hold_realistic_volume(shop, live):
    r = shop.post("/v1/assets", json={"code": "ETH", "scale": 18, "kind": "crypto"})
    assert err(r, 400, "invalid_request")["details"]["errors"][0]["field"] == "scale"
    made = shop.post("/v1/assets", json={"code": "ETH", "scale": 9, "kind": "crypto"})
    assert made.status_code == 201 and made.json()["scale"] == 9
    # 9.2 billion ETH pass through one account in its life; far more than any brand issues.
    for i in range(9):
        credit(shop, f"whale{i}", "1000000000.000000000", asset="ETH")
    # The rule is restated in SQL: no write path can create a wider asset.
    conn = connect(live.runtime.db)
    with pytest.raises(sqlite3.IntegrityError, match="scale"):
        conn.execute("INSERT INTO assets (brand_id, code, scale, kind, created_at_ms) VALUES (1, 'WEI', 18, 'crypto', 0)")
    conn.close()


def test_ledger_past_the_sum_range_verifies_backs_up_and_warns(shop, live, tmp_path):
    """Nine credits of 10^18 POINTS and their debits: every SQL sum() over it would overflow."""
    for i in range(9):
        credit(shop, "big", BIG, asset="POINTS")
    full = shop.post("/v1/customers/other/credit", json={"asset": "POINTS", "amount": BIG})
    details = err(full, 422, "limit_exceeded")["details"]
    assert details["asset"] == "POINTS" and details["account"] == "system:issuance"
    assert "account_id" not in details
    for i in range(9):
        assert shop.post("/v1/customers/big/debit", json={"asset": "POINTS", "amount": BIG}).status_code == 201
    # The customer has received and spent 9 x 10^18: asking for more is about funds.
    short = shop.post("/v1/customers/big/debit", json={"asset": "POINTS", "amount": BIG})
    assert err(short, 422, "insufficient_funds")["details"] == {
        "asset": "POINTS", "available": "0", "requested": BIG, "customer_id": "big"}

    conn = connect(live.runtime.db, readonly=True)
    assert verify(conn) == []
    warnings = near_limit_warnings(conn)
    conn.close()
    assert any("system:issuance" in w and "POINTS" in w for w in warnings)
    assert any("system:revenue" in w for w in warnings)
    metrics = live_get(live, "/metrics")
    assert "ledger_accounts_near_counter_limit 3.0" in metrics  # issuance, revenue and the customer
    from app.store.backup import backup
    assert backup(live.runtime.db, str(tmp_path / "copy.db")) == []


def live_get(live, path: str) -> str:
    import httpx
    return httpx.get(live.url + path, timeout=10).text


def test_insufficient_funds_speaks_in_the_assets_units(shop):
    credit(shop, "ann", "37.66")
    details = err(shop.post("/v1/customers/ann/debit", json={"asset": "CREDITS", "amount": "50.00"}),
                  422, "insufficient_funds")["details"]
    assert details == {"asset": "CREDITS", "available": "37.66", "requested": "50.00", "customer_id": "ann"}
    shop.put("/v1/customers/new", json={})  # a customer that never held CREDITS
    new = err(shop.post("/v1/customers/new/debit", json={"asset": "CREDITS", "amount": "1.00"}),
              422, "insufficient_funds")["details"]
    assert new == {"asset": "CREDITS", "available": "0.00", "requested": "1.00", "customer_id": "new"}


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":1e1000000}}',
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":1e5000}}',
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":1e999999999999999999}}',
    b'{"asset":"CREDITS","amount":1e1000000}',
    b'{"asset":"CREDITS","amount":1e999999999999999999}',
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":' + b"9" * 10000 + b"}}",
])
def test_huge_json_numbers_are_a_fast_400_and_nothing_is_written(shop, live, body):
    before = transfers_count(live)
    r = shop.post("/v1/customers/ann/credit", content=body, headers={"Content-Type": "application/json"})
    assert err(r, 400, "invalid_request")["message"].startswith("request body has a number out of range")
    assert shop.get("/livez").status_code == 200
    assert transfers_count(live) == before


def test_a_body_full_of_numbers_is_refused_at_the_parser(shop, live):
    """A megabyte of 1e300s once held the event loop and the writer for seconds each."""
    many = b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":[' + b",".join([b"1e300"] * 10_001) + b"]}}"
    r = shop.post("/v1/customers/ann/credit", content=many)
    assert "more than 10000 numbers" in err(r, 400, "invalid_request")["message"]
    # Within the budget, free-form JSON past 4096 bytes is refused on arrival, by the model.
    some = b'{"attributes":{"x":[' + b",".join([b"1e300"] * 5000) + b"]}}"
    r = shop.put("/v1/customers/w3", content=some)
    assert err(r, 400, "invalid_request")["details"]["errors"][0]["field"] == "attributes"
    big = b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":[' + b",".join([b"1e300"] * 5000) + b"]}}"
    assert err(shop.post("/v1/customers/ann/credit", content=big), 400, "invalid_request")["details"]["errors"][0]["field"] == "metadata"
    assert transfers_count(live) == 0


def test_huge_numbers_in_customer_attributes_are_refused(shop):
    r = shop.put("/v1/customers/ann", content=b'{"attributes":{"n":1e5000}}')
    err(r, 400, "invalid_request")


@pytest.mark.parametrize("body", [
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":"\\ud800"}}',
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"\\udfff":1}}',
    b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":["ok","\\udc00z"]}}',
])
def test_lone_surrogate_escapes_are_a_400_not_a_500(shop, live, body):
    before = transfers_count(live)
    r = shop.post("/v1/customers/ann/credit", content=body)
    assert err(r, 400, "invalid_request")["message"].startswith("request body is not Unicode text")
    assert transfers_count(live) == before
    # A proper pair (an emoji) is Unicode and is kept.
    ok = shop.post("/v1/customers/ann/credit", content=b'{"asset":"CREDITS","amount":"1.00","metadata":{"x":"\\ud83d\\ude00"}}')
    assert ok.status_code == 201 and ok.json()["metadata"] == {"x": "\U0001F600"}


def test_metadata_numbers_within_range_are_kept(shop):
    body = credit(shop, "ann", "1.00", metadata={"ratio": 0.25, "big": 12345678901234567890})
    assert body["metadata"] == {"ratio": 0.25, "big": 12345678901234567890}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    _b64(str(2**63)), _b64(str(2**64 + 5)), _b64("-5"), _b64(" 5 "), _b64("1_0"), _b64("٥"), _b64("0"),
    _b64("5") + "==", "not a cursor", "%00", _b64("05"),
])
def test_only_cursors_the_service_gave_out_are_taken(shop, cursor):
    for path in ("/v1/customers", "/v1/customers/ann/movements"):
        credit(shop, "ann", "1.00")
        err(shop.get(path, params={"cursor": cursor}), 400, "invalid_request")


def test_issued_cursors_page_through(shop):
    for i in range(5):
        shop.put(f"/v1/customers/c{i}", json={})
    seen, cursor = [], None
    while True:
        page = shop.get("/v1/customers", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [c["customer_id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"c{i}" for i in range(5)]


@pytest.mark.parametrize("as_of", [
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0999-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
    "2026-W01-1T00:00:00Z", "2026-001T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01", "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+24:00", "20260101T000000Z",
    "2026-01-01T00:00:00.Z", "２０２６-01-01T00:00:00Z",
])
def test_as_of_accepts_rfc3339_within_the_documented_range_only(shop, as_of):
    credit(shop, "ann", "1.00")
    err(shop.get("/v1/customers/ann/balances", params={"as_of": as_of}), 400, "invalid_request")


def test_as_of_at_the_ends_of_the_range(shop):
    credit(shop, "ann", "1.00")
    late = shop.get("/v1/customers/ann/balances", params={"as_of": "9999-12-31T23:59:59.999Z"}).json()
    assert late["as_of"] == "9999-12-31T23:59:59.999Z" and late["balances"][0]["balance"] == "1.00"
    early = shop.get("/v1/customers/ann/balances", params={"as_of": "1970-01-01T00:00:00+00:00"}).json()
    assert early["as_of"] == "1970-01-01T00:00:00.000Z" and early["balances"][0]["balance"] == "0.00"
    offset = shop.get("/v1/customers/ann/balances", params={"as_of": "2030-06-01T12:00:00.5+05:30"}).json()
    assert offset["as_of"] == "2030-06-01T06:30:00.500Z"


# -- auth ----------------------------------------------------------------------------------
def test_brand_key_naming_another_brand_is_refused(shop, admin):
    admin.post("/v1/brands", json={"code": "other", "name": "Other"})
    assert shop.get("/v1/assets", brand="shop").status_code == 200  # its own brand: fine
    r = shop.get("/v1/assets", brand="other")
    assert err(r, 403, "forbidden")["details"] == {"field": "X-Brand"}
    err(shop.post("/v1/customers/ann/credit", brand="other", json={"asset": "CREDITS", "amount": "1.00"}),
        403, "forbidden")


# -- idempotency ---------------------------------------------------------------------------
@pytest.fixture
def short_ttl(tmp_path, clock):
    """A live server whose stored responses last IDEMPOTENCY_TTL_S = 60, the setting's minimum."""
    yield from serving(tmp_path, clock, idempotency_ttl_s=60)


@pytest.fixture
def short_ttl_shop(short_ttl):
    admin = Api(short_ttl.url)
    admin.post("/v1/brands", json={"code": "shop", "name": "Shop"})
    api = Api(short_ttl.url, key=admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"])
    yield api
    api.client.close()
    admin.client.close()


def _purge_after_ttl(live) -> None:
    live.clock.advance(s=live.config.idempotency_ttl_s + 1)
    asyncio.run_coroutine_threadsafe(live.runtime.purge_idempotency(), live.loop).result(10)


@pytest.mark.parametrize("atomic", [True, False])
def test_batch_retried_after_the_ttl_does_not_move_money_again(short_ttl_shop, short_ttl, atomic):
    shop, live = short_ttl_shop, short_ttl
    assert live.config.idempotency_ttl_s == 60  # the minimum the setting allows
    credit(shop, "ann", "10.00")
    shop.put("/v1/customers/ben", json={})
    body = {"atomic": atomic, "transfers": [
        {"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "3.00"},
        {"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "4.00"}]}
    first = shop.post("/v1/transfers/batch", json=body, headers={"Idempotency-Key": "payroll-7"})
    assert first.status_code == 201 and first.json()["applied"] == 2
    _purge_after_ttl(live)
    before = transfers_count(live)
    again = shop.post("/v1/transfers/batch", json=body, headers={"Idempotency-Key": "payroll-7"})
    assert again.status_code == 201, again.text
    assert [r["transfer_id"] for r in again.json()["results"]] == [r["transfer_id"] for r in first.json()["results"]]
    assert transfers_count(live) == before
    assert shop.get("/v1/customers/ben/balances").json()["balances"][0]["balance"] == "7.00"
    # The same key with another batch is refused, naming what differs, even after the TTL
    # (the retry stored its response anew: let that one expire too).
    _purge_after_ttl(live)
    body["transfers"][1]["amount"] = "5.00"
    changed = shop.post("/v1/transfers/batch", json=body, headers={"Idempotency-Key": "payroll-7"})
    if atomic:
        items = err(changed, 422, "batch_failed")["details"]["items"]
        assert [(i["index"], i["code"], i["details"]["field"]) for i in items] == [(1, "idempotency_key_reused", "amount")]
    else:
        results = changed.json()["results"]
        assert results[0]["ok"] and results[1]["error"]["code"] == "idempotency_key_reused"
    assert shop.get("/v1/customers/ben/balances").json()["balances"][0]["balance"] == "7.00"


def test_atomic_batch_failed_lists_every_failing_item(shop):
    credit(shop, "ann", "5.00")
    shop.put("/v1/customers/ben", json={})
    r = shop.post("/v1/transfers/batch", json={"atomic": True, "transfers": [
        {"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "4.00"},
        {"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "4.00"},
        {"from_customer": "ben", "to_customer": "nobody", "asset": "CREDITS", "amount": "1.00"},
        {"from_customer": "ghost", "to_customer": "ben", "asset": "CREDITS", "amount": "1.00"}]})
    items = err(r, 422, "batch_failed")["details"]["items"]
    assert [(i["index"], i["code"]) for i in items] == [(1, "insufficient_funds"), (2, "not_found"),
                                                        (3, "not_found")]
    assert items[0]["details"] == {"asset": "CREDITS", "available": "1.00", "requested": "4.00", "customer_id": "ann"}
    assert shop.get("/v1/customers/ann/balances").json()["balances"][0]["balance"] == "5.00"


def test_idempotent_requests_are_compared_exactly(shop):
    """1 is not true, and a decimal that differs in its last digit is another amount."""
    shop.post("/v1/assets", json={"code": "T9", "scale": 9, "kind": "crypto"})

    def send(body: bytes, key: str):
        return shop.post("/v1/customers/ann/credit", content=body, headers={"Idempotency-Key": key})
    first = send(b'{"asset":"T9","amount":123456789.123456789}', "exact-1")
    assert first.status_code == 201 and first.json()["amount"] == "123456789.123456789"
    other = send(b'{"asset":"T9","amount":123456789.123456788}', "exact-1")
    assert err(other, 409, "idempotency_key_reused")["details"]["field"] == "amount"
    same = send(b'{"amount":123456789.123456789, "asset":"T9"}', "exact-1")  # same request, other text
    assert same.status_code == 201 and same.headers["Idempotent-Replayed"] == "true"
    assert send(b'{"asset":"T9","amount":"1","metadata":{"n":1}}', "exact-2").status_code == 201
    flipped = send(b'{"asset":"T9","amount":"1","metadata":{"n":true}}', "exact-2")
    assert err(flipped, 409, "idempotency_key_reused")["details"]["field"] == "metadata"


def test_the_last_admin_key_cannot_be_revoked(admin):
    keys = admin.get("/v1/api-keys").json()["data"]
    only = [k for k in keys if k["role"] == "admin" and k["revoked_at"] is None]
    assert len(only) == 1
    err(admin.delete(f"/v1/api-keys/{only[0]['id']}"), 409, "conflict")
    assert admin.get("/v1/brands").status_code == 200  # still in
    second = admin.post("/v1/api-keys", json={"role": "admin"}).json()
    assert admin.delete(f"/v1/api-keys/{only[0]['id']}").status_code == 204  # another admin exists
    assert admin.get("/v1/brands", key=second["key"]).status_code == 200


def test_two_different_keys_in_one_request_are_refused(shop, admin):
    r = shop.get("/v1/assets", headers={"Authorization": f"Bearer {admin.key}"})
    err(r, 400, "invalid_request")
    same = shop.get("/v1/assets", headers={"Authorization": f"Bearer {shop.key}"})
    assert same.status_code == 200


@pytest.mark.parametrize("query", ["cursor=MQ%00", "cursor=%00MQ", "cursor=%0AMQ", "cursor=MQ%09", "cursor=MQ%C2%A0",
                                   "cursor=MQ&cursor=Mg", "limit=5&limit=6", "limit=%205", "status=active%00"])
def test_query_parameters_are_taken_exactly_as_sent(shop, query):
    err(shop.get(f"/v1/customers?{query}"), 400, "invalid_request")


def test_as_of_with_a_trailing_control_character_is_refused(shop):
    credit(shop, "ann", "1.00")
    err(shop.get("/v1/customers/ann/balances?as_of=2026-01-01T00:00:00Z%00"), 400, "invalid_request")
    err(shop.get("/v1/customers/ann/balances?as_of=%202026-01-01T00:00:00Z"), 400, "invalid_request")


def test_resolution_errors_speak_plainly_and_in_the_assets_units(shop):
    credit(shop, "ann", "5.00")
    shop.put("/v1/customers/ben", json={})
    hold = shop.post("/v1/transfers", json={"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS",
                                            "amount": "1.00", "pending": True}).json()
    too_much = err(shop.post(f"/v1/transfers/{hold['transfer_id']}/post", json={"amount": "1.01"}), 400, "invalid_request")
    assert too_much["details"] == {"field": "amount", "asset": "CREDITS", "pending_amount": "1.00"}
    shop.post(f"/v1/transfers/{hold['transfer_id']}/void", json={})
    again = err(shop.post(f"/v1/transfers/{hold['transfer_id']}/post", json={}), 409, "already_resolved")
    assert again["message"] == "transfer was already voided"


def test_a_batch_item_with_an_unknown_asset_or_bad_amount_fails_as_that_item(shop):
    credit(shop, "ann", "5.00")
    shop.put("/v1/customers/ben", json={})
    items = [{"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "1.00"},
             {"from_customer": "ann", "to_customer": "ben", "asset": "NOPE", "amount": "1.00"},
             {"from_customer": "ann", "to_customer": "ben", "asset": "CREDITS", "amount": "1.001"}]
    failed = err(shop.post("/v1/transfers/batch", json={"atomic": True, "transfers": items}), 422, "batch_failed")
    assert [(i["index"], i["code"]) for i in failed["details"]["items"]] == [(1, "not_found"), (2, "invalid_amount")]
    partial = shop.post("/v1/transfers/batch", json={"atomic": False, "transfers": items}).json()
    assert [r["ok"] for r in partial["results"]] == [True, False, False] and partial["applied"] == 1
    assert shop.get("/v1/customers/ben/balances").json()["balances"][0]["balance"] == "1.00"
