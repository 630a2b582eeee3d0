"""Stripe payouts end to end: POST /v1/payouts on a live server whose stripe rail talks to the
Stripe fake over real HTTP (the official library), the drain run by the scheduler's tick.
A 500 then success pays once; a final decline fails the payout and returns the funds."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import admin, serving, shop  # noqa: F401 - fixtures
from tests.payouts.test_circle_payouts import ann, on_server, _scheduler, tick, usd  # noqa: F401 - fixture

from tests.payouts.conftest import STRIPE_ACCOUNT as ACCOUNT, STRIPE_KEY as KEY  # noqa: E402,F401


@pytest.fixture
def live(tmp_path, clock, stripe_fake):
    yield from serving(tmp_path, clock, stripe_api_url=stripe_fake.url, stripe_api_key=KEY,
                       payout_poll_interval_ms=0, payout_retry_max_ms=0)


def request_payout(api, amount: str, account: str = ACCOUNT) -> dict:
    r = api.post("/v1/payouts", json={"customer_id": "ann", "asset": "USD", "amount": amount, "rail": "stripe",
                                       "destination": {"account": account}},
                  headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 202, r.text
    return r.json()


def test_a_500_then_success_pays_once(live, ann, stripe_fake):
    scheduler = on_server(live, _scheduler(live.runtime))
    stripe_fake.fail_next(500)
    p = request_payout(ann, "12.34")
    tick(live, scheduler)                  # claimed, submitted: Stripe answers 500
    mid = ann.get(f"/v1/payouts/{p['id']}").json()
    assert mid["status"] == "submitted" and "500" in mid["last_error"]
    assert stripe_fake.transfers == {}
    tick(live, scheduler, wait_s=60)       # resubmitted with the same key: the transfer is made, done
    done = ann.get(f"/v1/payouts/{p['id']}").json()
    assert done["status"] == "confirmed" and done["provider_id"] in stripe_fake.transfers
    assert stripe_fake.created_for(p["id"]) == 1 and len(stripe_fake.transfers) == 1
    t = stripe_fake.transfers[done["provider_id"]]
    assert (t["amount"], t["currency"], t["destination"], t["transfer_group"]) == (1234, "usd", ACCOUNT, p["id"])
    assert usd(ann) == {"asset": "USD", "balance": "87.66", "available": "87.66", "pending": "0.00"}
    assert ann.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "posted"


def test_a_final_decline_refunds(live, ann, stripe_fake):
    scheduler = on_server(live, _scheduler(live.runtime))
    stripe_fake.add_account("acct_restricted", transfers=False)
    p = request_payout(ann, "40.00", "acct_restricted")
    assert usd(ann)["available"] == "60.00"
    tick(live, scheduler)
    done = ann.get(f"/v1/payouts/{p['id']}").json()
    assert done["status"] == "failed" and "insufficient_capabilities_for_transfer" in done["last_error"]
    assert stripe_fake.transfers == {}
    assert usd(ann) == {"asset": "USD", "balance": "100.00", "available": "100.00", "pending": "0.00"}
    assert ann.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "voided"


def test_a_bad_destination_is_refused_before_any_hold(live, ann, stripe_fake):
    r = ann.post("/v1/payouts", json={"customer_id": "ann", "asset": "USD", "amount": "1.00", "rail": "stripe",
                                      "destination": {"account": "cus_123"}},
                 headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 400 and "destination.account" in r.text
    assert usd(ann)["available"] == "100.00" and stripe_fake.requests == []
