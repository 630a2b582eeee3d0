"""Gift cards over HTTP (seed 001, done as a ledger): a card is an account funded from issuance,
its code shown once and stored hashed; partial redemptions are transfers card → customer;
void gives the rest back to issuance, expiry sends it to breakage; 32 racing redemptions
never take more than the card holds; guessing codes is held back per client address."""
import asyncio
import re

import httpx

from app.jobs.scheduler import Scheduler
from app.times import rfc3339
from tests.api.conftest import Api
from tests.api.test_conventions import err
from tests.api.test_rewards import db, on_server

SHOWN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$")


def issue(api, amount="50.00", asset="USD", headers=None, **kw):
    r = api.post("/v1/gift-cards", json={"asset": asset, "amount": amount, **kw}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def redeem(api, code, customer, amount=None, **kw):
    return api.post(f"/v1/gift-cards/{code}/redeem",
                    json={"customer_id": customer, **({"amount": amount} if amount else {})}, **kw)


def usd(api, who):
    found = [b["balance"] for b in api.get(f"/v1/customers/{who}/balances").json()["balances"] if b["asset"] == "USD"]
    return found[0] if found else None


def system_balance(live, owner):
    rows = db(live, "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts WHERE kind = 'system'"
                    " AND owner = ?", owner)
    return rows[0][0]


def test_a_card_is_an_account_funded_from_issuance_and_its_code_is_shown_once(live, shop):
    card = issue(shop, "50.00", headers={"Idempotency-Key": "card-once"})
    code = card["code"]
    assert SHOWN.match(code)  # 20 characters of Crockford base32: 100 random bits
    assert card == {"id": card["id"], "code": code, "last4": code[-4:], "asset": "USD", "amount": "50.00",
                    "balance": "50.00", "status": "active", "expires_at": None, "created_at": card["created_at"],
                    "resolved_at": None}
    # Looked up by its code as printed, without dashes, or in lower case: never shown again.
    for form in (code, code.replace("-", ""), code.lower()):
        got = shop.get(f"/v1/gift-cards/{form}")
        assert got.status_code == 200 and got.json() == {**card, "code": None}
    assert shop.get("/v1/gift-cards").json()["data"] == [{**card, "code": None}]
    # Stored: a hash and the last four characters, nowhere the code.
    row = db(live, "SELECT code_hash, last4 FROM gift_cards")[0]
    assert row[1] == code[-4:] and len(row[0]) == 64
    plain = code.replace("-", "")
    for table in ("gift_cards", "transfers", "accounts", "idempotency_keys"):
        dumped = str([tuple(row) for row in db(live, f"SELECT * FROM {table}")])
        assert "issuance" in dumped or table != "accounts"  # the dump holds the values
        assert plain not in dumped and code not in dumped
    moved = [tuple(row) for row in db(live, "SELECT t.code, t.amount, d.owner, c.kind, c.owner FROM transfers t"
                                            " JOIN accounts d ON d.id = t.debit_account_id"
                                            " JOIN accounts c ON c.id = t.credit_account_id")]
    assert moved == [("giftcard", 5000, "issuance", "giftcard", f"card-{card['id']}")]


def test_a_replayed_creation_shows_no_code(shop):
    key = {"Idempotency-Key": "card-1"}
    first = shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "10.00"}, headers=key)
    again = shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "10.00"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["code"] and again.json() == {**first.json(), "code": None}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(shop.get("/v1/gift-cards").json()["data"]) == 1


def test_creation_is_checked_and_needs_a_writing_key(live, admin, shop):
    err(shop.post("/v1/gift-cards", json={"asset": "GOLD", "amount": "1"}), 404, "not_found")
    err(shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "1.001"}), 400, "invalid_amount")
    err(shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "0"}), 400, "invalid_amount")
    err(shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "5", "expires_at": "2000-01-01T00:00:00Z"}),
        400, "invalid_request")
    err(shop.post("/v1/gift-cards", json={"asset": "USD", "amount": "5", "expires_at": "tomorrow"}),
        400, "invalid_request")
    readonly = admin.post("/v1/api-keys", json={"role": "readonly", "brand": "shop"}).json()["key"]
    viewer = Api(live.url, key=readonly)
    err(viewer.post("/v1/gift-cards", json={"asset": "USD", "amount": "5"}), 403, "forbidden")
    assert viewer.get("/v1/gift-cards").status_code == 200
    viewer.client.close()


def test_partial_redemptions_then_nothing_left(live, shop):
    card = issue(shop, "50.00")
    shop.put("/v1/customers/rita", json={"name": "Rita"})
    r = redeem(shop, card["code"], "rita", "20.00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["amount"], body["customer_balance"], body["gift_card"]["balance"]) == ("20.00", "20.00", "30.00")
    moved = shop.get(f"/v1/transfers/{body['transfer_id']}").json()
    assert (moved["code"], moved["debit_account"]["kind"], moved["credit_account"]) == (
        "giftcard", "giftcard", {"kind": "customer", "owner": "rita"})
    assert moved["metadata"] == {"gift_card_id": card["id"], "action": "redeem"}
    e = err(redeem(shop, card["code"], "rita", "30.01"), 422, "insufficient_funds")
    assert e["details"]["available"] == "30.00"
    err(redeem(shop, card["code"], "rita", "0.001"), 400, "invalid_amount")
    err(redeem(shop, card["code"], "nobody"), 404, "not_found")  # seed 001 redeemed into no one
    assert shop.get("/v1/customers/nobody").status_code == 404
    rest = redeem(shop, card["code"], "rita")  # no amount: all that remains
    assert rest.status_code == 201 and rest.json()["amount"] == "30.00" and usd(shop, "rita") == "50.00"
    err(redeem(shop, card["code"], "rita"), 422, "insufficient_funds")
    assert shop.get(f"/v1/gift-cards/{card['code']}").json()["balance"] == "0.00"
    assert db(live, "SELECT count(*) FROM gift_cards")[0][0] == 1  # the row stays (seed 001 deleted it)


def test_void_gives_the_rest_back_to_issuance(live, shop):
    card = issue(shop, "50.00")
    shop.put("/v1/customers/rita", json={})
    redeem(shop, card["code"], "rita", "15.00")
    voided = shop.post(f"/v1/gift-cards/{card['id']}/void", json={})
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["balance"]) == ("voided", "0.00")
    assert system_balance(live, "issuance") == -1500  # only what Rita holds is still issued
    assert shop.post(f"/v1/gift-cards/{card['id']}/void", json={}).json() == voided.json()  # once
    err(redeem(shop, card["code"], "rita", "1.00"), 422, "gift_card_voided")
    err(shop.post("/v1/gift-cards/999/void", json={}), 404, "not_found")
    err(shop.post("/v1/gift-cards/abc/void", json={}), 404, "not_found")
    assert [c["status"] for c in shop.get("/v1/gift-cards", params={"status": "voided"}).json()["data"]] == ["voided"]
    err(shop.get("/v1/gift-cards", params={"status": "gone"}), 400, "invalid_request")


def test_expiry_sends_the_rest_to_breakage(live, shop, clock):
    expires = rfc3339(clock.now_ms() + 86_400_000)
    card = issue(shop, "25.00", expires_at=expires)
    keep = issue(shop, "5.00")
    assert card["expires_at"] == expires
    shop.put("/v1/customers/rita", json={})
    redeem(shop, card["code"], "rita", "5.00")
    clock.advance(days=1)
    # Past expiry, not yet swept: it cannot be redeemed.
    err(redeem(shop, card["code"], "rita", "1.00"), 422, "gift_card_expired")
    assert on_server(live, Scheduler(live.runtime).tick()) is True
    expired = shop.get(f"/v1/gift-cards/{card['code']}").json()
    assert (expired["status"], expired["balance"], expired["resolved_at"]) == ("expired", "0.00", rfc3339(
        clock.now_ms()))
    assert system_balance(live, "breakage") == 2000
    assert shop.get(f"/v1/gift-cards/{keep['code']}").json()["status"] == "active"
    err(shop.post(f"/v1/gift-cards/{card['id']}/void", json={}), 422, "gift_card_expired")
    assert on_server(live, live.runtime.giftcards.expire_due(100)).done == 0


def test_32_concurrent_redemptions_never_exceed_the_card(live, shop):
    card = issue(shop, "10.00")
    people = [f"p{i}" for i in range(32)]
    for who in people:
        shop.put(f"/v1/customers/{who}", json={})

    async def main():
        async with httpx.AsyncClient(base_url=live.url, headers={"X-API-Key": shop.key}, timeout=60) as c:
            return await asyncio.gather(*(c.post(f"/v1/gift-cards/{card['code']}/redeem",
                                                 json={"customer_id": who, "amount": "1.00"}) for who in people))
    answers = asyncio.run(main())
    assert sorted(r.status_code for r in answers) == [201] * 10 + [422] * 22
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 422} == {"insufficient_funds"}
    assert sum(usd(shop, who) == "1.00" for who in people) == 10
    assert shop.get(f"/v1/gift-cards/{card['code']}").json()["balance"] == "0.00"
    assert db(live, "SELECT count(*), sum(amount) FROM transfers WHERE code = 'giftcard'")[0][:] == (11, 2000)


def test_guessing_codes_is_held_back_per_client_address(live, shop):
    card = issue(shop, "10.00")
    shop.put("/v1/customers/rita", json={})
    assert shop.get(f"/v1/gift-cards/{card['code']}").status_code == 200  # right codes cost nothing
    for i in range(10):
        guess = f"{i:05d}-AAAAA-BBBBB-CCCCC"
        call = shop.get(f"/v1/gift-cards/{guess}") if i % 2 else redeem(shop, guess, "rita", "1.00")
        err(call, 404, "not_found")
    e = err(shop.get("/v1/gift-cards/99999-AAAAA-BBBBB-CCCCC"), 429, "rate_limited")
    assert e["details"]["retry_after_s"] >= 1
    limited = redeem(shop, card["code"], "rita", "1.00")  # a right code too: no oracle for a guesser
    err(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # Another address is not held back (Linux routes all of 127/8 to the loopback).
    other = httpx.Client(base_url=live.url, headers={"X-API-Key": shop.key},
                         transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    try:
        assert other.post(f"/v1/gift-cards/{card['code']}/redeem",
                          json={"customer_id": "rita", "amount": "1.00"}).status_code == 201
    finally:
        other.close()
    assert usd(shop, "rita") == "1.00"


def test_a_replayed_redemption_moves_nothing_again(shop):
    card = issue(shop, "30.00")
    shop.put("/v1/customers/rita", json={})
    key = {"Idempotency-Key": "redeem-rita-1"}
    first = redeem(shop, card["code"], "rita", "10.00", headers=key)
    again = redeem(shop, card["code"], "rita", "10.00", headers=key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    err(redeem(shop, card["code"], "rita", "11.00", headers=key), 409, "idempotency_key_reused")
    assert usd(shop, "rita") == "10.00"
    assert shop.get(f"/v1/gift-cards/{card['code']}").json()["balance"] == "20.00"
