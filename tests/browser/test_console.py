"""The staff console in a real headless Chromium against a real server (DESIGN §9).

Sign in with an API key, award credits and see the balance change, redeem a reward, write
a rule in the editor and see an event trigger it, run a job; a double submit does one
thing; a POST without the XSRF field is refused; a brand key never sees another brand's
customer; readonly keys see the forms disabled; a payout requested here is seen in the
queue until the dev chain confirms it. Screenshots of the main pages go to
docs/screenshots/ (linked from the README).
"""
from __future__ import annotations

import asyncio
import os
import re

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, Api, serving
from tests.conftest import ROOT

SHOTS = os.path.join(ROOT, "docs", "screenshots")
DEST = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"  # an EIP-55 address on the dev chain


def shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def shop(live):
    """Brand `shop` with a brand key, a customer holding 10.00 CREDITS and a MUG reward."""
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Small Shop"}).status_code == 201
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    api = Api(live.url, key=key)
    assert api.put("/v1/customers/ann@example.com", json={"name": "Ann Lee"}).status_code == 201
    assert api.post("/v1/customers/ann@example.com/credit", json={"asset": "CREDITS", "amount": "10.00"}).status_code == 201
    assert api.post("/v1/rewards", json={"code": "MUG", "name": "Coffee mug", "cost_asset": "CREDITS",
                                         "cost_amount": "2.50"}).status_code == 201
    api.key_text = key
    yield api
    api.client.close()
    admin.client.close()


def sign_in(page, live, key: str) -> None:
    page.goto(live.url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live.url + "/console")


def balance(page, asset: str) -> str:
    return page.inner_text(f"td[data-balance='{asset}']")


def balance_of(api, customer: str, asset: str) -> str:
    rows = api.get(f"/v1/customers/{customer}/balances").json()["balances"]
    return next(b["balance"] for b in rows if b["asset"] == asset)


def test_sign_in_award_credits_and_see_the_balance_change(live, shop, page):
    page.goto(live.url + "/")
    shot(page, "sign-in")
    sign_in(page, live, shop.key_text)
    assert "Signed in with a brand key" in page.inner_text(".flash")
    shot(page, "dashboard")
    assert "Totals per asset" in page.inner_text("main")

    page.goto(live.url + "/console/customers/ann@example.com")
    assert balance(page, "CREDITS") == "10.00"
    form = page.get_by_role("form", name="Credit or debit")
    form.get_by_label("Asset").select_option("CREDITS")
    form.get_by_label("Amount").fill("5.25")
    form.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert balance(page, "CREDITS") == "15.25"
    assert "Credited 5.25 CREDITS" in page.inner_text(".flash")
    assert balance_of(shop, "ann@example.com", "CREDITS") == "15.25"
    assert page.locator("img[alt^='Chart of the CREDITS balance']").evaluate("img => img.naturalWidth") > 0
    shot(page, "customer")

    # The key is never written into a page, and its cookie is signed, HttpOnly and SameSite.
    assert shop.key_text not in page.content()
    session = next(c for c in page.context.cookies() if c["name"] == "session")
    assert session["httpOnly"] and session["sameSite"] == "Lax" and shop.key_text not in session["value"][:20]

    # A debit beyond the balance is refused next to the amount; nothing moves.
    page.goto(live.url + "/console/credit?customer_id=ann@example.com")
    page.get_by_label("Direction").select_option("debit")
    page.get_by_label("Asset").select_option("CREDITS")
    page.get_by_label("Amount").fill("100.00")
    page.get_by_role("button", name="Save").click()
    assert "insufficient funds: 15.25 CREDITS available" in page.inner_text("#amount-error")
    page.get_by_label("Amount").fill("1.005")
    page.get_by_role("button", name="Save").click()
    assert "more than 2 decimal places" in page.inner_text("#amount-error")
    assert balance_of(shop, "ann@example.com", "CREDITS") == "15.25"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live.url + "/")
    page.goto(live.url + "/console")
    assert page.url == live.url + "/"  # signed out: back to the sign-in page


def test_a_wrong_key_is_refused_and_not_echoed(live, page):
    page.goto(live.url + "/")
    page.get_by_label("API key").fill("rl_not-a-real-key")
    page.keyboard.press("Enter")  # keyboard only
    page.wait_for_selector("#api_key-error")
    assert "not valid" in page.inner_text("#api_key-error")
    assert "rl_not-a-real-key" not in page.content()
    assert page.get_by_label("API key").input_value() == ""


def test_double_click_and_replayed_form_do_one_thing(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/credit?customer_id=ann@example.com")
    page.get_by_label("Asset").select_option("CREDITS")
    page.get_by_label("Amount").fill("1.00")
    token = page.locator("input[name=form_token]").input_value()
    xsrf = page.locator("input[name=_xsrf]").first.input_value()
    page.get_by_role("button", name="Save").dblclick()
    page.wait_for_url(re.compile(r".*/console/customers/ann@example.com$"))
    assert balance_of(shop, "ann@example.com", "CREDITS") == "11.00"

    # The same form sent again (what a second click or a resend after POST does): replayed.
    again = page.request.post(live.url + "/console/credit", form={
        "_xsrf": xsrf, "form_token": token, "customer_id": "ann@example.com", "direction": "credit",
        "asset": "CREDITS", "amount": "1.00"})
    assert again.ok and again.url.endswith("/console/customers/ann@example.com")
    assert "Already done" in again.text()
    assert balance_of(shop, "ann@example.com", "CREDITS") == "11.00"


def test_a_post_without_the_xsrf_field_is_refused(live, shop):
    with httpx.Client(base_url=live.url) as client:
        client.get("/")
        signed_in = client.post("/", data={"api_key": shop.key_text, "_xsrf": client.cookies["_xsrf"]})
        assert signed_in.status_code == 303 and "session" in client.cookies
        form = {"customer_id": "ann@example.com", "direction": "credit", "asset": "CREDITS", "amount": "5.00",
                "form_token": "x" * 24}
        refused = client.post("/console/credit", data=form)
        assert refused.status_code == 403
        assert refused.headers["Content-Type"].startswith("text/html")
        assert "did not come from this site" in refused.text and "Traceback" not in refused.text
        assert client.post("/console/credit", data={**form, "_xsrf": "forged"}).status_code == 403
        # The JSON API needs no XSRF field: its key header is its proof.
        assert shop.post("/v1/customers/ann@example.com/credit", json={"asset": "CREDITS", "amount": "1.00"}).status_code == 201
    assert balance_of(shop, "ann@example.com", "CREDITS") == "11.00"


def test_a_brand_key_cannot_open_another_brands_customer(live, shop, page):
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "bee", "name": "Bee"}).status_code == 201
    admin.put("/v1/customers/bob@b.example", json={"name": "Bob Secret"}, brand="bee")
    admin.post("/v1/customers/bob@b.example/credit", json={"asset": "CREDITS", "amount": "77.00"}, brand="bee")
    sign_in(page, live, shop.key_text)
    response = page.goto(live.url + "/console/customers/bob@b.example")
    assert response.status == 404
    text = page.inner_text("body")
    assert "Not found" in text and "Bob Secret" not in text and "77.00" not in text and "Traceback" not in text
    assert page.goto(live.url + "/console/customers/bob@b.example/chart.svg?asset=CREDITS").status == 404
    page.goto(live.url + "/console/customers?q=bob")
    assert "bob@b.example" not in page.inner_text("main")
    assert page.goto(live.url + "/console/no-such-page").status == 404
    # Unknown JSON routes keep the API's envelope.
    assert httpx.get(live.url + "/v1/no-such-route").json()["error"]["code"] == "not_found"
    admin.client.close()


def test_admin_switches_brand(live, shop, page):
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "bee", "name": "Bee"}).status_code == 201
    admin.put("/v1/customers/bob@b.example", json={"name": "Bob"}, brand="bee")
    sign_in(page, live, ADMIN_KEY)
    page.get_by_label("Brand").select_option("bee")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()
    assert "Brand: bee" in page.inner_text(".flash")
    page.goto(live.url + "/console/customers")
    assert "bob@b.example" in page.inner_text("main") and "ann@example.com" not in page.inner_text("main")
    admin.client.close()


def test_readonly_keys_see_forms_disabled_with_a_reason(live, shop, page):
    admin = Api(live.url)
    key = admin.post("/v1/api-keys", json={"role": "readonly", "brand": "shop"}).json()["key"]
    sign_in(page, live, key)
    page.goto(live.url + "/console/customers/ann@example.com")
    assert balance(page, "CREDITS") == "10.00"
    assert "read-only" in page.inner_text(".readonly >> nth=0")
    form = page.get_by_role("form", name="Credit or debit")
    assert form.get_by_label("Amount").is_disabled() and form.get_by_role("button", name="Save").is_disabled()
    xsrf = page.locator("input[name=_xsrf]").first.input_value()
    refused = page.request.post(live.url + "/console/credit", form={
        "_xsrf": xsrf, "form_token": "y" * 24, "customer_id": "ann@example.com", "direction": "credit",
        "asset": "CREDITS", "amount": "5.00"})
    assert refused.status == 403 and "read-only" in refused.text()
    assert balance_of(shop, "ann@example.com", "CREDITS") == "10.00"
    admin.client.close()


def test_redeem_a_reward(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/customers/ann@example.com")
    form = page.get_by_role("form", name="Redeem a reward")
    form.get_by_label("Reward").select_option("MUG")
    form.get_by_role("button", name="Redeem").click()
    page.wait_for_load_state()
    assert "Redeemed Coffee mug" in page.inner_text(".flash")
    assert balance(page, "CREDITS") == "7.50"
    issued = shop.get("/v1/customers/ann@example.com/rewards").json()["data"]
    assert [(r["reward"], r["status"]) for r in issued] == [("MUG", "issued")]
    assert issued[0]["redemption_code"] in page.inner_text("main")


def test_rule_editor_creates_a_rule_that_an_event_triggers(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/rules/new")
    page.get_by_label("Code").fill("big_spender")
    page.get_by_label("Name").fill("Big spender bonus")
    page.get_by_label("Event type").select_option("PURCHASE")
    page.get_by_label("Conditions").fill('{"all": [{"fact": "payload.amount", "op": "gte", "value": "50.00"}]}')
    page.get_by_label("Actions").fill('[{"type": "credit", "asset": "POINTS", "amount": "nope"}]')
    page.get_by_role("button", name="Save rule").click()
    assert page.locator("#actions-error").is_visible()  # the rule core's own words, next to the field
    shot(page, "rule-editor")
    page.get_by_label("Actions").fill('[{"type": "credit", "asset": "POINTS", "amount": "40"}]')
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(live.url + "/console/rules")
    assert "Saved rule big_spender (version 1)" in page.inner_text(".flash")
    assert "big_spender" in page.inner_text("table")
    assert "payload.amount" in shop.get("/v1/rules/big_spender").text

    page.goto(live.url + "/console/events/new?customer_id=ann@example.com")
    page.get_by_label("Event type").select_option("PURCHASE")
    page.get_by_label("Payload (JSON)").fill('{"amount": "80.00"}')
    page.get_by_role("button", name="Dry run").click()
    result = page.inner_text("section[aria-live]")
    assert "nothing was stored" in result and "big_spender" in result and "40 POINTS" in result
    shot(page, "event-dry-run")
    assert all(b["asset"] != "POINTS" for b in shop.get("/v1/customers/ann@example.com/balances").json()["balances"])
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r".*/console/customers/ann@example.com$"))
    assert balance(page, "POINTS") == "40"
    assert balance(page, "USD") == "4.00"  # the brand's default 5% purchase cashback ran too
    assert "big_spender" in page.inner_text("main")


def test_jobs_list_preview_and_run_now(live, shop, page):
    assert shop.post("/v1/jobs", json={"code": "nightly", "name": "Nightly hello", "cron": "0 9 * * *",
                                       "selector": {"all": []}, "event_type": "SIGNUP"}).status_code == 201
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/jobs")
    page.get_by_role("link", name="nightly").click()
    assert "1 customer(s) selected" in page.inner_text("main")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_load_state()
    assert "1 new event(s)" in page.inner_text(".flash")
    assert "manual" in page.inner_text("table")
    shot(page, "job")


def test_pages_fit_a_phone(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/console", "/console/customers/ann@example.com", "/console/rules/new"):
        page.goto(live.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    shot(page, "rule-editor-phone")


@pytest.fixture
def chain_live(tmp_path, clock):
    """A server whose chain payouts confirm after 3 blocks and are polled at once (the dev chain)."""
    yield from serving(tmp_path, clock, chain_confirmations=3, payout_poll_interval_ms=0, payout_retry_max_ms=0)


def drain(live) -> None:
    """One pass of the payout drain, as the scheduler runs it (the test server runs no scheduler)."""
    asyncio.run_coroutine_threadsafe(live.runtime.payout_drain.run(), live.loop).result(120)


def test_request_a_payout_and_see_it_confirmed_in_the_queue(chain_live, page):
    live = chain_live
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Small Shop"}).status_code == 201
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    shop = Api(live.url, key=key)
    assert shop.post("/v1/customers/ann@example.com/credit", json={"asset": "CREDITS", "amount": "50.00"}).status_code == 201
    sign_in(page, live, key)
    for amount in ("20.00", "5.00"):
        page.goto(live.url + "/console/payout?customer_id=ann@example.com")
        page.get_by_label("Asset").select_option("CREDITS")
        page.get_by_label("Amount").fill(amount)
        page.get_by_label("Rail").select_option("chain")
        page.get_by_label("Destination").fill(DEST)
        page.get_by_role("button", name="Request payout").dblclick()  # one payout, not two
        page.wait_for_url(live.url + "/console/payouts")
    payouts = shop.get("/v1/payouts").json()["data"]
    assert [(p["amount"], p["status"]) for p in payouts] == [("20.00", "pending"), ("5.00", "pending")]
    assert balance_of(shop, "ann@example.com", "CREDITS") == "50.00"  # held, not yet paid
    first, second = payouts

    page.get_by_role("form", name=f"Cancel payout {second['id'][:8]}").get_by_role("button", name="Cancel").click()
    page.wait_for_load_state()
    assert "canceled: the funds are back" in page.inner_text(".flash")
    for _ in range(6):
        drain(live)
        if shop.get(f"/v1/payouts/{first['id']}").json()["status"] == "confirmed":
            break
    page.goto(live.url + "/console/payouts?status=confirmed")
    row = page.locator(f"tr[data-payout='{first['id']}']")
    assert row.locator(".status").inner_text() == "confirmed"
    assert page.locator("tr[data-payout]").count() == 1
    shot(page, "payouts")
    page.goto(live.url + "/console/payouts?status=canceled")
    assert page.locator(f"tr[data-payout='{second['id']}']").is_visible()
    page.goto(live.url + "/console")
    assert [page.inner_text(f"[data-payouts={s}]") for s in ("pending", "confirmed", "canceled")] == ["0", "1", "1"]
    assert balance_of(shop, "ann@example.com", "CREDITS") == "30.00"
    shop.client.close()
    admin.client.close()


def test_gift_cards_create_look_up_and_void(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/gift-cards")
    form = page.get_by_role("form", name="Create a gift card")
    form.get_by_label("Asset").select_option("CREDITS")
    form.get_by_label("Amount").fill("25.00")
    form.get_by_role("button", name="Create gift card").click()
    page.wait_for_load_state()
    notice = page.inner_text(".flash")
    code = re.search(r"code (\S+) \(25\.00 CREDITS\)", notice).group(1)
    page.reload()  # the code is shown once
    assert code not in page.content()

    page.get_by_label("Gift card code").fill(code)
    page.get_by_role("button", name="Look up").click()
    assert "25.00 CREDITS" in page.inner_text("#lookup-result")
    card = shop.get(f"/v1/gift-cards/{code}").json()
    page.get_by_role("form", name=f"Void card {card['last4']}").get_by_role("button", name="Void").click()
    page.wait_for_load_state()
    assert "voided" in page.inner_text(".flash")
    assert page.inner_text(f"tr[data-card='{card['id']}'] .status") == "voided"
    assert shop.get(f"/v1/gift-cards/{code}").json()["status"] == "voided"
    shot(page, "gift-cards")


def test_wallets_create_and_list_with_their_deposit_address(live, shop, page):
    sign_in(page, live, shop.key_text)
    page.goto(live.url + "/console/wallets")
    form = page.get_by_role("form", name="Create a wallet")
    form.get_by_label("Name").fill("content team")
    form.get_by_label("Asset").select_option("POINTS")  # not payable on chain: the error by the field
    form.get_by_role("button", name="Create wallet").click()
    page.wait_for_load_state()
    assert "not payable on chain" in page.content()
    assert shop.get("/v1/wallets").json()["data"] == []
    form = page.get_by_role("form", name="Create a wallet")
    form.get_by_label("Name").fill("content team")
    form.get_by_label("Asset").select_option("USD")
    form.get_by_role("button", name="Create wallet").click()
    page.wait_for_load_state()
    [made] = shop.get("/v1/wallets").json()["data"]
    assert made["deposit_address"] in page.inner_text(".flash")
    row = page.locator(f"tr[data-wallet='{made['id']}']")
    assert made["deposit_address"] in row.inner_text() and "0.00 USD" in row.inner_text()
    shot(page, "wallets")
