"""The referral network over HTTP (seed 001): groups, ambassadors, referral attribution on
PURCHASE and SIGNUP, the brand's default commission rule paying the ambassador (its own rate,
else its group's, else the rule's), QR codes with their images and the public /q landing."""
import io
import re

import httpx
import pytest

from tests.api.test_conventions import err
from tests.api.test_rewards import db

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]+$")


def group(api, code="north", bps=1000, **kw):
    r = api.post("/v1/groups", json={"code": code, "name": kw.pop("name", code.title()), "commission_bps": bps, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def ambassador(api, customer="amy", **kw):
    r = api.post("/v1/ambassadors", json={"customer_id": customer, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def purchase(api, event_id, customer, amount="100.00", code=None, event_type="PURCHASE", **kw):
    payload = {"amount": amount, **({"referral_code": code} if code else {})}
    r = api.post("/v1/events", json={"event_id": event_id, "event_type": event_type, "customer_id": customer,
                                     "payload": payload}, **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


def usd(api, who):
    found = [b["balance"] for b in api.get(f"/v1/customers/{who}/balances").json()["balances"] if b["asset"] == "USD"]
    return found[0] if found else None


def rules_run(body):
    return [e["rule"] for e in body["executions"]]


# -- groups and ambassadors ---------------------------------------------------------------------
def test_groups_create_list_and_refuse_duplicates(shop):
    made = group(shop, "north", 1000, name="North team")
    assert made == {"code": "north", "name": "North team", "commission_bps": 1000, "ambassadors": 0,
                    "created_at": made["created_at"]}
    group(shop, "south", None)
    err(shop.post("/v1/groups", json={"code": "north", "name": "Again"}), 409, "conflict")
    for bad in ({"commission_bps": 10001}, {"commission_bps": -1}, {"commission_bps": "5"}, {"code": "a b"},
                {"name": ""}, {"colour": "red"}):
        err(shop.post("/v1/groups", json={"code": "east", "name": "East", **bad}), 400, "invalid_request")
    first = shop.get("/v1/groups", params={"limit": 1}).json()
    rest = shop.get("/v1/groups", params={"cursor": first["next_cursor"]}).json()
    assert [g["code"] for g in first["data"] + rest["data"]] == ["north", "south"]
    assert rest["data"][0]["commission_bps"] is None


def test_an_ambassador_is_a_customer_in_at_most_one_group_with_its_own_or_its_groups_rate(shop):
    group(shop, "north", 1000)
    amy = ambassador(shop, "amy", group="north")
    assert amy == {"id": amy["id"], "customer_id": "amy", "group": "north", "commission_bps": None,
                   "effective_commission_bps": 1000, "referral_code": amy["referral_code"], "referred_customers": 0,
                   "created_at": amy["created_at"]}
    # Generated codes: 12 characters of Crockford base32 (60 random bits), all different.
    assert len(amy["referral_code"]) == 12 and CROCKFORD.match(amy["referral_code"])
    assert shop.get("/v1/customers/amy").status_code == 200  # created on first use
    ben = ambassador(shop, "ben", group="north", commission_bps=1500, referral_code="BEN-2026")
    assert (ben["effective_commission_bps"], ben["referral_code"]) == (1500, "BEN-2026")
    solo = ambassador(shop, "sol")
    assert (solo["group"], solo["effective_commission_bps"]) == (None, None)  # the rule's rate applies
    assert len({amy["referral_code"], solo["referral_code"]}) == 2
    err(shop.post("/v1/ambassadors", json={"customer_id": "amy"}), 409, "conflict")  # one ambassador per customer
    e = err(shop.post("/v1/ambassadors", json={"customer_id": "cat", "referral_code": "ben-2026"}), 409, "conflict")
    assert e["details"]["field"] == "referral_code"  # unique per brand whatever its case
    e = err(shop.post("/v1/ambassadors", json={"customer_id": "cat", "group": "west"}), 404, "not_found")
    assert e["details"]["field"] == "group"
    assert shop.get("/v1/customers/cat").status_code == 404  # a refused request creates nobody
    for bad in ({"group": ["north"]}, {"commission_bps": 20000}, {"referral_code": "x"}, {"customer_id": "a b"}):
        err(shop.post("/v1/ambassadors", json={"customer_id": "dan", **bad}), 400, "invalid_request")
    assert [a["customer_id"] for a in shop.get("/v1/ambassadors", params={"group": "north"}).json()["data"]] == [
        "amy", "ben"]
    assert len(shop.get("/v1/ambassadors").json()["data"]) == 3
    assert shop.get("/v1/groups").json()["data"][0]["ambassadors"] == 2


# -- attribution and commission -------------------------------------------------------------------
def test_a_referred_customers_purchases_pay_the_ambassador_at_its_groups_rate(shop):
    group(shop, "north", 1000)
    amy = ambassador(shop, "amy", group="north")
    first = purchase(shop, "o-1", "carl", "100.00", code=amy["referral_code"])
    assert rules_run(first) == ["purchase_cashback", "referral_commission"]
    commission = first["executions"][1]["effects"][0]
    assert commission == {"type": "commission", "asset": "USD", "source_amount": "100.00", "default_rate_bps": 500,
                          "rounding": "down", "referral_code": amy["referral_code"], "ambassador_id": amy["id"],
                          "ambassador_customer_id": "amy", "rate_bps": 1000, "amount": "10.00",
                          "transfer_id": commission["transfer_id"]}
    assert (usd(shop, "carl"), usd(shop, "amy")) == ("5.00", "10.00")
    moved = shop.get(f"/v1/transfers/{commission['transfer_id']}").json()
    assert (moved["code"], moved["debit_account"], moved["credit_account"]) == (
        "commission", {"kind": "system", "owner": "issuance"}, {"kind": "customer", "owner": "amy"})
    assert moved["metadata"] == {"event_id": "o-1", "rule": "referral_commission", "rule_version": 1}
    assert moved["description"] == "Commission to the referring ambassador"
    # Later purchases of the referred customer pay too, without the code.
    later = purchase(shop, "o-2", "carl", "20.00")
    assert rules_run(later) == ["purchase_cashback", "referral_commission"]
    assert (usd(shop, "carl"), usd(shop, "amy")) == ("6.00", "12.00")
    assert shop.get("/v1/ambassadors").json()["data"][0]["referred_customers"] == 1
    # A replay pays nothing again.
    assert purchase(shop, "o-2", "carl", "20.00")["executions"] == later["executions"]
    assert usd(shop, "amy") == "12.00"


def test_rates_own_then_group_then_the_rules(shop):
    group(shop, "north", 1000)
    own = ambassador(shop, "ann", group="north", commission_bps=250)
    plain = ambassador(shop, "pia")
    purchase(shop, "r-1", "c1", "100.00", code=own["referral_code"])
    purchase(shop, "r-2", "c2", "100.00", code=plain["referral_code"])
    assert (usd(shop, "ann"), usd(shop, "pia")) == ("2.50", "5.00")  # 250 bps; the rule's 500 bps
    # A rate of zero pays nothing (no transfer), and the purchase still earns its cashback.
    zero = ambassador(shop, "zed", commission_bps=0)
    body = purchase(shop, "r-3", "c3", "100.00", code=zero["referral_code"])
    assert body["executions"][1] == {"rule": "referral_commission", "version": 1, "event_type": "PURCHASE",
                                     "effects": []}
    assert usd(shop, "zed") is None and usd(shop, "c3") == "5.00"
    # Rounding is down: 5% of 0.19 is 0.0095 → 0.00, no effect.
    assert purchase(shop, "r-4", "c2", "0.19")["executions"][1]["effects"] == []


def test_linked_once_never_relinked_and_nobody_refers_itself(live, shop):
    amy, ben = ambassador(shop, "amy"), ambassador(shop, "ben")
    purchase(shop, "l-1", "carl", "100.00", code=amy["referral_code"])
    # Carl names Ben's code later: that purchase pays Ben, but Carl stays Amy's.
    purchase(shop, "l-2", "carl", "100.00", code=ben["referral_code"])
    purchase(shop, "l-3", "carl", "100.00")
    assert (usd(shop, "amy"), usd(shop, "ben")) == ("10.00", "5.00")
    assert db(live, "SELECT count(*) FROM referrals")[0][0] == 1
    # Amy buys with her own code: no link, no commission (only her cashback).
    own = purchase(shop, "l-4", "amy", "100.00", code=amy["referral_code"])
    assert rules_run(own) == ["purchase_cashback"]
    assert usd(shop, "amy") == "15.00"
    # An unknown code links nobody and pays nobody.
    assert rules_run(purchase(shop, "l-5", "dora", "100.00", code="NOBODY-HERE")) == ["purchase_cashback"]
    assert rules_run(purchase(shop, "l-6", "dora", "100.00")) == ["purchase_cashback"]


def test_a_signup_with_a_code_links_and_the_first_purchase_pays(shop):
    amy = ambassador(shop, "amy")
    signup = shop.post("/v1/events", json={"event_id": "s-1", "event_type": "SIGNUP", "customer_id": "eve",
                                           "payload": {"referral_code": amy["referral_code"].lower()}})
    assert signup.status_code == 201, signup.text
    assert usd(shop, "amy") is None  # a signup has no amount to pay a commission on
    purchase(shop, "s-2", "eve", "40.00")
    assert usd(shop, "amy") == "2.00"


def test_a_dry_run_links_nobody(shop):
    amy = ambassador(shop, "amy")
    r = shop.post("/v1/events", params={"dry_run": "true"}, json={
        "event_id": "d-1", "event_type": "PURCHASE", "customer_id": "fay",
        "payload": {"amount": "100.00", "referral_code": amy["referral_code"]}})
    assert r.status_code == 200 and r.json()["executions"][1]["effects"][0]["amount"] == "5.00"
    assert rules_run(purchase(shop, "d-2", "fay", "100.00")) == ["purchase_cashback"]
    assert usd(shop, "amy") is None


def test_custom_rules_can_read_customer_referred(shop):
    amy = ambassador(shop, "amy")
    r = shop.post("/v1/rules", json={"code": "welcome_referred", "name": "Welcome", "event_type": "SIGNUP",
                                     "conditions": {"fact": "customer.referred", "op": "eq", "value": True},
                                     "actions": [{"type": "credit", "asset": "POINTS", "amount": "50"}]})
    assert r.status_code == 201, r.text
    shop.post("/v1/events", json={"event_id": "w-1", "event_type": "SIGNUP", "customer_id": "gus", "payload": {}})
    shop.post("/v1/events", json={"event_id": "w-2", "event_type": "SIGNUP", "customer_id": "hal",
                                  "payload": {"referral_code": amy["referral_code"]}})
    points = {who: [b["balance"] for b in shop.get(f"/v1/customers/{who}/balances").json()["balances"]]
              for who in ("gus", "hal")}
    assert points == {"gus": [], "hal": ["50"]}
    facts = [f["fact"] for f in shop.get("/v1/rules/ui-catalog").json()["facts"]]
    assert "customer.referred" in facts


# -- QR codes -------------------------------------------------------------------------------------
def test_qr_code_landing_page_counts_scans(live, shop):
    amy = ambassador(shop, "amy", referral_code="AMY-2026")
    r = shop.post("/v1/qrcodes", json={"ambassador_id": amy["id"]})
    assert r.status_code == 201, r.text
    qr = r.json()
    code = qr["code"]
    assert len(code) == 20 and CROCKFORD.match(code)  # 100 random bits
    assert qr["url"] == f"{live.url}/q/{code}"
    assert (qr["svg_url"], qr["png_url"]) == (f"{live.url}/v1/qrcodes/{code}.svg", f"{live.url}/v1/qrcodes/{code}.png")
    assert (qr["scans"], qr["referral_code"], qr["target_url"]) == (0, "AMY-2026", None)
    with httpx.Client(base_url=live.url, headers={"Accept": "text/html,*/*;q=0.8"}) as public:  # a browser, no key
        page = public.get(f"/q/{code}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "AMY-2026" in page.text and page.headers["cache-control"] == "no-store"
        public.get(f"/q/{code}")
        for unknown in ("0" * 20, "not-a-code", "<script>"):
            missing = public.get(f"/q/{unknown}")
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
            assert "<script>" not in missing.text
    err(httpx.get(f"{live.url}/q/{'0' * 20}"), 404, "not_found")  # an API client gets the JSON envelope
    seen = shop.get(f"/v1/qrcodes/{code}").json()
    assert seen["scans"] == 2 and seen["last_scan_at"] is not None


def test_qr_code_redirects_to_the_target_with_the_referral_code(live, shop):
    amy = ambassador(shop, "amy", referral_code="AMY-2026")
    qr = shop.post("/v1/qrcodes", json={"ambassador_id": amy["id"],
                                        "target_url": "https://shop.example/welcome?utm=qr&ref=old"}).json()
    with httpx.Client(base_url=live.url, follow_redirects=False) as public:
        r = public.get(f"/q/{qr['code']}")
    assert r.status_code == 302
    assert r.headers["location"] == "https://shop.example/welcome?utm=qr&ref=AMY-2026"
    assert shop.get(f"/v1/qrcodes/{qr['code']}").json()["scans"] == 1
    err(shop.post("/v1/qrcodes", json={"ambassador_id": "999"}), 404, "not_found")
    for bad in ({"ambassador_id": 1}, {"ambassador_id": amy["id"], "target_url": "javascript:alert(1)"},
                {"ambassador_id": amy["id"], "target_url": "ftp://x"}):
        err(shop.post("/v1/qrcodes", json=bad), 400, "invalid_request")
    err(shop.get("/v1/qrcodes/ZZZZZZZZZZZZZZZZZZZZ"), 404, "not_found")


def test_qr_images_decode_back_to_the_url(live, shop):
    amy = ambassador(shop, "amy")
    qr = shop.post("/v1/qrcodes", json={"ambassador_id": amy["id"]}).json()
    png = shop.get(f"/v1/qrcodes/{qr['code']}.png")
    svg = shop.get(f"/v1/qrcodes/{qr['code']}.svg")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    err(shop.get("/v1/qrcodes/ZZZZZZZZZZZZZZZZZZZZ.png"), 404, "not_found")
    assert httpx.get(f"{live.url}/v1/qrcodes/{qr['code']}.png").status_code == 401  # images need a key
    pyzbar = pytest.importorskip("pyzbar.pyzbar", reason="needs libzbar0 (apt) and pyzbar")
    image = pytest.importorskip("PIL.Image")
    decoded = pyzbar.decode(image.open(io.BytesIO(png.content)))
    assert [d.data.decode() for d in decoded] == [qr["url"]]

