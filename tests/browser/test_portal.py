"""The customer portal in a real headless Chromium: a signed link from the API opens one
customer's page (balances, history, tier, rewards; redeem), shows no other customer, and
stops working when it expires (the server's clock is moved)."""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Api
from tests.browser.test_console import shot


@pytest.fixture
def shop(live):
    admin = Api(live.url)
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Small Shop"}).status_code == 201
    api = Api(live.url, key=admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"])
    assert api.post("/v1/tiers", json={"code": "silver", "name": "Silver", "min_status_points": 100}).status_code == 201
    assert api.post("/v1/rules", json={"code": "signup_points", "name": "Welcome points", "event_type": "SIGNUP",
                                       "actions": [{"type": "credit", "asset": "POINTS", "amount": "40"}]}).status_code == 201
    assert api.post("/v1/events", json={"event_id": "ann-signup", "event_type": "SIGNUP",
                                        "customer_id": "ann@example.com"}).status_code == 201
    assert api.post("/v1/customers/ann@example.com/credit", json={"asset": "CREDITS", "amount": "10.00",
                                                                  "description": "Welcome gift"}).status_code == 201
    assert api.post("/v1/customers/zoe@example.com/credit", json={"asset": "CREDITS", "amount": "99.00"}).status_code == 201
    assert api.post("/v1/rewards", json={"code": "MUG", "name": "Coffee mug", "cost_asset": "CREDITS",
                                         "cost_amount": "2.50"}).status_code == 201
    yield api
    api.client.close()
    admin.client.close()


def test_portal_link_shows_one_customer_redeems_and_expires(live, shop, page):
    link = shop.post("/v1/customers/ann@example.com/portal-link")
    assert link.status_code == 201, link.text
    body = link.json()
    assert body["url"] == live.url + body["path"] and body["expires_at"] == "2026-01-01T01:00:00.000Z"

    page.goto(body["url"])
    text = page.inner_text("main")
    assert "10.00" in text and "Welcome gift" in text and "60 points to Silver" in text
    assert "zoe@example.com" not in page.content() and "99.00" not in text
    shot(page, "portal")

    page.get_by_role("button", name="Redeem Coffee mug").click()
    page.wait_for_load_state()
    assert "You redeemed Coffee mug" in page.inner_text(".flash")
    assert page.inner_text("td[data-balance='CREDITS']") == "7.50"
    assert [r["status"] for r in shop.get("/v1/customers/ann@example.com/rewards").json()["data"]] == ["issued"]

    # A tampered link is refused; so is a link past PORTAL_LINK_TTL_S (the service's clock).
    assert page.goto(body["url"][:-3] + "abc").status == 403
    live.clock.advance(s=3599)
    assert page.goto(body["url"]).status == 200
    live.clock.advance(s=2)
    expired = page.goto(body["url"])
    assert expired.status == 403 and "expired" in page.inner_text("main")
    assert "7.50" not in page.inner_text("body")


def test_portal_link_needs_a_customer_of_the_brand(live, shop):
    assert shop.post("/v1/customers/nobody@example.com/portal-link").json()["error"]["code"] == "not_found"
    assert httpx.post(live.url + "/v1/customers/ann@example.com/portal-link").status_code == 401


def test_portal_redeem_without_xsrf_is_refused(live, shop):
    path = shop.post("/v1/customers/ann@example.com/portal-link").json()["path"]
    refused = httpx.post(live.url + path + "/redeem", data={"reward": "MUG", "form_token": "z" * 24})
    assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("text/html")
    assert shop.get("/v1/customers/ann@example.com/rewards").json()["data"] == []


def test_portal_requests_a_payout_to_the_customers_address(live, shop, page):
    page.goto(shop.post("/v1/customers/ann@example.com/portal-link").json()["url"])
    form = page.get_by_role("form", name="Cash out")
    form.get_by_label("Asset").select_option("CREDITS")
    form.get_by_label("Amount").fill("4.00")
    form.get_by_label("Your wallet address").fill("0xnot-an-address")
    form.get_by_role("button", name="Request payout").click()
    assert page.locator("#destination-error").is_visible()  # the rail's own check, next to the field
    assert shop.get("/v1/payouts").json()["data"] == []
    page.get_by_label("Your wallet address").fill("0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF")
    page.get_by_role("button", name="Request payout").click()
    page.wait_for_load_state()
    assert "Payout of 4.00 CREDITS requested" in page.inner_text(".flash")
    assert [(p["customer_id"], p["amount"], p["status"]) for p in shop.get("/v1/payouts").json()["data"]] == [
        ("ann@example.com", "4.00", "pending")]
    assert page.inner_text("td[data-balance='CREDITS'] + td") == "6.00"  # available: 4.00 is held
