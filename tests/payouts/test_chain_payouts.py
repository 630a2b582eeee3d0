"""Chain payouts end to end: a real listening server over a real SQLite file, the drain run as
the scheduler runs it, and the real EVM (the embedded eth-tester / py-evm dev chain)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import uuid

import pytest

from app.jobs.scheduler import Scheduler
from app.payouts.chain import libs
from app.payouts.conversion import parse_payout_limits
from tests.api.conftest import Api, admin, serving, shop  # noqa: F401 - fixtures

DEST = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
LIMITS = parse_payout_limits("CREDITS=1.00:500.00:800.00,ETH=0.000000001:-:-")


@pytest.fixture
def live(tmp_path, clock):
    yield from serving(tmp_path, clock, chain_confirmations=3, payout_poll_interval_ms=0, payout_retry_max_ms=0,
                       payout_limits=LIMITS)


def on_server(live, coro):
    return asyncio.run_coroutine_threadsafe(coro, live.loop).result(120)


def drain(live, times: int = 1) -> None:
    for _ in range(times):
        on_server(live, live.runtime.payout_drain.run())


def chain(live):
    return live.runtime.rails.get("chain")


def new_address() -> str:
    return libs().Account.create().address  # through libs(): it keeps the recursion limit


def earn(shop, customer: str, amount: str, asset: str = "CREDITS") -> None:
    r = shop.post(f"/v1/customers/{customer}/credit", json={"asset": asset, "amount": amount})
    assert r.status_code == 201, r.text


def request(shop, customer: str, amount: str, address: str, asset: str = "CREDITS", key: str | None = None):
    return shop.post("/v1/payouts", json={"customer_id": customer, "asset": asset, "amount": amount, "rail": "chain",
                                          "destination": {"address": address}},
                     headers={"Idempotency-Key": key or str(uuid.uuid4())})


def balance(shop, customer: str, asset: str = "CREDITS") -> dict:
    found = shop.get(f"/v1/customers/{customer}/balances").json()["balances"]
    return next(b for b in found if b["asset"] == asset)


def settle(live, shop, payout_id: str, rounds: int = 5) -> dict:
    for _ in range(rounds):
        drain(live)
        body = shop.get(f"/v1/payouts/{payout_id}").json()
        if body["status"] in ("confirmed", "failed", "canceled"):
            return body
    return body


def test_a_payout_end_to_end(live, shop):
    earn(shop, "ann", "100.00")
    dest = new_address()
    r = request(shop, "ann", "40.00", dest)
    assert r.status_code == 202, r.text
    p = r.json()
    assert p["status"] == "pending" and p["amount"] == "40.00" and p["destination"] == {"address": dest}
    assert p["customer_id"] == "ann" and p["rail"] == "chain" and p["tx_hash"] is None
    assert balance(shop, "ann") == {"asset": "CREDITS", "balance": "100.00", "available": "60.00", "pending": "0.00"}
    hold = shop.get(f"/v1/transfers/{p['hold_transfer_id']}").json()
    assert (hold["status"], hold["code"], hold["credit_account"]) == ("pending", "payout",
                                                                       {"kind": "system", "owner": "payout_clearing"})
    drain(live)  # claimed, signed, stored, broadcast
    mid = shop.get(f"/v1/payouts/{p['id']}").json()
    assert mid["status"] == "submitted" and mid["tx_hash"].startswith("0x") and len(mid["tx_hash"]) == 66
    assert shop.post(f"/v1/payouts/{p['id']}/cancel", json={}).status_code == 409
    done = settle(live, shop, p["id"])
    assert done["status"] == "confirmed" and done["tx_hash"] == mid["tx_hash"] and done["last_error"] is None
    assert done["attempts"] >= 2
    assert balance(shop, "ann") == {"asset": "CREDITS", "balance": "60.00", "available": "60.00", "pending": "0.00"}
    moves = shop.get("/v1/customers/ann/movements").json()["data"]
    assert [(m["kind"], m["amount"], m["code"]) for m in moves[:2]] == [("post_pending", "-40.00", "payout"),
                                                                        ("pending", "-40.00", "payout")]
    # CREDITS:2 = dev:1 → 1 credit = 1 DUSD (6 decimals): 40.00 credits = 40_000_000 base units.
    assert chain(live).balance_of(dest, "CREDITS") == 40_000_000
    assert shop.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "posted"


def rows(live, sql: str, *args) -> list:
    return live.runtime.readers.read_sync(lambda c: [tuple(r) for r in c.execute(sql, args).fetchall()])


def test_eth_payout_converts_exactly(live, shop):
    assert shop.post("/v1/assets", json={"code": "ETH", "scale": 9, "kind": "crypto"}).status_code == 201
    earn(shop, "eve", "1.5", asset="ETH")
    dest = new_address()
    p = request(shop, "eve", "0.123456789", dest, asset="ETH").json()
    assert settle(live, shop, p["id"])["status"] == "confirmed"
    assert chain(live).balance_of(dest, "ETH") == 123_456_789 * 10**9  # ETH:9 = native:1 → 10^9 wei per minor unit
    assert balance(shop, "eve", "ETH")["balance"] == "1.376543211"


def test_a_revert_fails_the_payout_and_refunds(tmp_path, clock):
    from app.payouts.conversion import parse_chain_assets
    # 1 BIG = 2 billion DUSD: more than the payer's whole supply, so the token transfer reverts.
    gen = serving(tmp_path, clock, chain_confirmations=2, payout_poll_interval_ms=0, payout_retry_max_ms=0,
                  chain_assets=parse_chain_assets("BIG:0=dev:2000000000,CREDITS:2=dev:1"))
    live = next(gen)
    admin = Api(live.url)
    try:
        admin.post("/v1/brands", json={"code": "shop", "name": "Shop"})
        shop = Api(live.url, key=admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"])
        assert shop.post("/v1/assets", json={"code": "BIG", "scale": 0, "kind": "crypto"}).status_code == 201
        earn(shop, "rex", "5", asset="BIG")
        dest = new_address()
        p = request(shop, "rex", "1", dest, asset="BIG").json()
        done = settle(live, shop, p["id"])
        assert done["status"] == "failed" and "reverted" in done["last_error"], done
        assert balance(shop, "rex", "BIG") == {"asset": "BIG", "balance": "5", "available": "5", "pending": "0"}
        assert shop.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "voided"
        moves = shop.get("/v1/customers/rex/movements").json()["data"]
        assert [(m["kind"], m["code"]) for m in moves[:2]] == [("void_pending", "payout"), ("pending", "payout")]
        assert chain(live).balance_of(dest, "BIG") == 0
        assert rows(live, "SELECT status FROM chain_txs") == [("reverted",)]
        # The reverted transaction spent its nonce; the next payout still goes through.
        earn(shop, "rex", "3.00", asset="CREDITS")
        q = request(shop, "rex", "2.00", dest).json()
        assert settle(live, shop, q["id"])["status"] == "confirmed"
        assert chain(live).balance_of(dest, "CREDITS") == 2_000_000
        shop.client.close()
    finally:
        admin.client.close()
        next(gen, None)


def test_cancel_before_submission_returns_the_funds(live, shop):
    earn(shop, "cat", "50.00")
    p = request(shop, "cat", "20.00", new_address()).json()
    r = shop.post(f"/v1/payouts/{p['id']}/cancel", json={})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert shop.post(f"/v1/payouts/{p['id']}/cancel", json={}).status_code == 409
    assert balance(shop, "cat")["available"] == "50.00"
    assert shop.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "voided"
    drain(live, 2)
    assert shop.get(f"/v1/payouts/{p['id']}").json()["status"] == "canceled"
    assert rows(live, "SELECT count(*) FROM chain_txs") == [(0,)]
    # The hold belongs to the payout: the transfers API cannot resolve it behind the payout's back.
    q = request(shop, "cat", "5.00", new_address()).json()
    assert shop.post(f"/v1/transfers/{q['hold_transfer_id']}/void", json={}).status_code >= 400
    assert shop.get(f"/v1/transfers/{q['hold_transfer_id']}").json()["status"] == "pending"


def test_idempotency_key_is_required_and_checked(live, shop):
    earn(shop, "ida", "50.00")
    body = {"customer_id": "ida", "asset": "CREDITS", "amount": "5.00", "rail": "chain",
            "destination": {"address": DEST}}
    r = shop.post("/v1/payouts", json=body)
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "Idempotency-Key"
    first = shop.post("/v1/payouts", json=body, headers={"Idempotency-Key": "k-1"})
    again = shop.post("/v1/payouts", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = shop.post("/v1/payouts", json={**body, "amount": "6.00"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(shop.get("/v1/payouts").json()["data"]) == 1


def test_32_concurrent_requests_with_one_key_pay_once(live, shop):
    earn(shop, "kim", "100.00")
    dest = new_address()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: request(shop, "kim", "10.00", dest, key="same-key"), range(32)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") != "true") == 1
    assert rows(live, "SELECT count(*) FROM transfers WHERE code = 'payout' AND kind = 'pending'") == [(1,)]
    assert settle(live, shop, answers[0].json()["id"])["status"] == "confirmed"
    assert rows(live, "SELECT count(*) FROM chain_txs") == [(1,)]
    assert chain(live).balance_of(dest, "CREDITS") == 10_000_000
    assert balance(shop, "kim")["balance"] == "90.00"


def test_concurrent_payouts_keep_nonces_gapless(live, shop):
    customers = [f"c{i}" for i in range(24)]
    for c in customers:
        earn(shop, c, "30.00")
    dests = {c: new_address() for c in customers}
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda c: request(shop, c, "12.34", dests[c]), customers))
    assert {a.status_code for a in answers} == {202}
    for _ in range(6):
        drain(live)
    statuses = [shop.get(f"/v1/payouts/{a.json()['id']}").json()["status"] for a in answers]
    assert statuses == ["confirmed"] * 24
    nonces = [n for (n,) in rows(live, "SELECT nonce FROM chain_txs ORDER BY nonce")]
    assert nonces == list(range(nonces[0], nonces[0] + 24))
    rail = chain(live)
    assert rail.query(lambda w3: w3.eth.get_transaction_count(rail.payer)) == nonces[-1] + 1
    for c in customers:
        assert rail.balance_of(dests[c], "CREDITS") == 12_340_000
    assert rows(live, "SELECT count(*) FROM chain_txs WHERE status = 'confirmed'") == [(24,)]


@pytest.mark.parametrize("address,ok", [
    (DEST, True),
    (DEST.lower(), False),                                  # no checksum at all
    (DEST[:-1] + ("F" if DEST[-1] == "f" else "f"), False),  # a checksum that does not match
    ("0x" + "0" * 40, False), ("0x1234", False), (12, False)])
def test_destination_addresses_are_eip55_checked(live, shop, address, ok):
    earn(shop, "eip", "10.00")
    r = request(shop, "eip", "1.00", address)
    assert r.status_code == (202 if ok else 400), r.text
    if not ok:
        assert r.json()["error"]["details"]["field"].startswith("destination")


def test_refusals_write_nothing(live, shop):
    earn(shop, "neo", "10.00")
    r = request(shop, "neo", "10.01", new_address())
    assert r.status_code == 422 and r.json()["error"]["code"] == "insufficient_funds"
    assert request(shop, "nobody", "1.00", new_address()).status_code == 404
    r = shop.post("/v1/payouts", json={"customer_id": "neo", "asset": "CREDITS", "amount": "1.00", "rail": "circle",
                                       "destination": {"address": DEST}}, headers={"Idempotency-Key": "x"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "rail"
    assert request(shop, "neo", "1.00", new_address(), asset="POINTS").status_code == 400  # not mapped on chain
    assert request(shop, "neo", "1.001", new_address()).status_code == 400
    assert rows(live, "SELECT count(*) FROM payouts") == [(0,)]
    assert rows(live, "SELECT count(*) FROM transfers WHERE code = 'payout'") == [(0,)]
    assert balance(shop, "neo")["available"] == "10.00"


def test_limits(live, shop):
    earn(shop, "lim", "2000.00")
    r = request(shop, "lim", "0.99", new_address())
    assert r.status_code == 422 and r.json()["error"]["details"] == {
        "field": "amount", "asset": "CREDITS", "limit": "min", "min_amount": "1.00"}
    r = request(shop, "lim", "500.01", new_address())
    assert r.status_code == 422 and r.json()["error"]["details"]["max_amount"] == "500.00"
    assert request(shop, "lim", "500.00", new_address()).status_code == 202
    assert request(shop, "lim", "300.00", new_address()).status_code == 202
    r = request(shop, "lim", "1.00", new_address())
    assert r.status_code == 422 and r.json()["error"]["code"] == "limit_exceeded"
    assert r.json()["error"]["details"]["limit"] == "daily"
    assert r.json()["error"]["details"]["remaining"] == "0.00"
    # A canceled payout gives its share of the cap back; a day later the cap is free again.
    first = shop.get("/v1/payouts", params={"customer_id": "lim"}).json()["data"][0]
    assert shop.post(f"/v1/payouts/{first['id']}/cancel", json={}).status_code == 200
    assert request(shop, "lim", "400.00", new_address()).status_code == 202
    assert request(shop, "lim", "200.00", new_address()).status_code == 422
    live.clock.advance(days=1, ms=1)
    assert request(shop, "lim", "200.00", new_address()).status_code == 202


def test_lists_and_reads(live, shop):
    earn(shop, "ann", "100.00")
    earn(shop, "bob", "100.00")
    ids = [request(shop, who, "2.00", new_address()).json()["id"] for who in ("ann", "bob", "ann")]
    page = shop.get("/v1/payouts", params={"customer_id": "ann"}).json()
    assert [p["id"] for p in page["data"]] == [ids[0], ids[2]] and page["next_cursor"] is None
    first = shop.get("/v1/payouts", params={"limit": 2}).json()
    rest = shop.get("/v1/payouts", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [p["id"] for p in first["data"] + rest["data"]] == ids
    drain(live)
    assert [p["id"] for p in shop.get("/v1/payouts", params={"status": "submitted"}).json()["data"]] == ids
    assert shop.get("/v1/payouts", params={"status": "nope"}).status_code == 400
    assert shop.get("/v1/payouts/" + str(uuid.uuid4())).status_code == 404
    assert shop.get("/v1/payouts/42").status_code == 404


def test_the_scheduler_drains_payouts(live, shop):
    earn(shop, "sam", "10.00")
    p = request(shop, "sam", "3.00", new_address()).json()
    scheduler = on_server(live, _scheduler(live.runtime))
    for _ in range(4):
        on_server(live, scheduler.tick())
    assert shop.get(f"/v1/payouts/{p['id']}").json()["status"] == "confirmed"
    assert scheduler.stats.failures == {}


async def _scheduler(runtime) -> Scheduler:
    return Scheduler(runtime)


def test_a_restarted_dev_chain_fails_and_refunds_what_it_never_saw(tmp_path, clock):
    settings = dict(chain_confirmations=2, payout_poll_interval_ms=0, payout_retry_max_ms=0)
    gen = serving(tmp_path, clock, **settings)
    live = next(gen)
    admin = Api(live.url)
    admin.post("/v1/brands", json={"code": "shop", "name": "Shop"})
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    shop = Api(live.url, key=key)
    earn(shop, "ron", "20.00")
    done = request(shop, "ron", "5.00", new_address()).json()
    assert settle(live, shop, done["id"])["status"] == "confirmed"
    flying = request(shop, "ron", "7.00", new_address()).json()
    drain(live)  # signed, stored and broadcast on this life of the dev chain
    assert shop.get(f"/v1/payouts/{flying['id']}").json()["status"] == "submitted"
    admin.client.close()
    shop.client.close()
    next(gen, None)
    gen = serving(tmp_path, clock, **settings)  # the same file; a fresh dev chain
    live = next(gen)
    shop = Api(live.url, key=key)
    try:
        after = settle(live, shop, flying["id"])
        assert after["status"] == "failed" and "earlier life" in after["last_error"]
        assert balance(shop, "ron")["available"] == "15.00"
        again = request(shop, "ron", "4.00", new_address()).json()  # the new chain's nonces start afresh
        assert settle(live, shop, again["id"])["status"] == "confirmed"
    finally:
        shop.client.close()
        next(gen, None)


def test_the_chain_libraries_keep_the_recursion_limit(live, shop):
    """py_ecc and py-evm raise the recursion limit when imported; a deeply nested body must
    still be a 400, not a C stack overflow."""
    import sys
    limit = sys.getrecursionlimit()
    earn(shop, "deb", "10.00")
    p = request(shop, "deb", "2.00", new_address()).json()
    assert settle(live, shop, p["id"])["status"] == "confirmed"
    assert sys.getrecursionlimit() == limit
    r = shop.post("/v1/customers/deb/credit", content=b"[" * 100000 + b"]" * 100000,
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_metrics_show_payouts_by_rail_and_status(live, shop):
    text = shop.client.get("/metrics").text
    assert "payout_drain_lag_seconds" in text and "payout_drain_total" in text


def test_the_drain_spends_a_bounded_cpu_time_on_the_dev_chain_per_run(tmp_path, clock):
    """DEV_CHAIN_TICK_BUDGET_MS: a run stops calling the in-process chain once its thread has spent
    the budget; what is left goes on at the next runs, and every payout still confirms once."""
    gen = serving(tmp_path, clock, chain_confirmations=2, payout_poll_interval_ms=0, payout_retry_max_ms=0,
                  payout_limits=LIMITS, dev_chain_tick_budget_ms=1)
    live = next(gen)
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Shop"}).status_code == 201
    shop = Api(live.url, key=admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"])
    try:
        earn(shop, "ann", "100.00")
        ids = [request(shop, "ann", "1.00", new_address()).json()["id"] for _ in range(6)]
        advanced = [on_server(live, live.runtime.payout_drain.run()) for _ in range(40)]
        assert max(advanced) < 6  # never all six in one run: 1 ms is one call's worth at most
        assert {shop.get(f"/v1/payouts/{i}").json()["status"] for i in ids} == {"confirmed"}
        assert balance(shop, "ann")["balance"] == "94.00"
        hashes = {shop.get(f"/v1/payouts/{i}").json()["tx_hash"] for i in ids}
        assert len(hashes) == 6
    finally:
        shop.client.close()
        admin.client.close()
        next(gen, None)
