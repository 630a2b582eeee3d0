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
from tests.api.conftest import Api, LiveServer
from tests.api.test_conventions import err
from tests.conftest import assert_verified
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
    server = LiveServer(tmp_path, clock, idempotency_ttl_s=60)
    yield server
    server.stop()
    assert_verified(server.runtime.db)


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
