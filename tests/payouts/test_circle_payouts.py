"""Circle payouts end to end: POST /v1/payouts on a live server whose circle rail talks to the
Circle fake over real HTTP, the drain run by the scheduler's tick. A 500 then success pays
once; a final decline fails the payout and returns the funds."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from app.jobs.scheduler import Scheduler
from app.payouts.circle import idempotency_key
from tests.api.conftest import admin, serving, shop  # noqa: F401 - fixtures

from tests.payouts.conftest import CIRCLE_ADDRESS as ADDRESS, CIRCLE_KEY as KEY, CIRCLE_WALLET as WALLET  # noqa: E402,F401


@pytest.fixture
def live(tmp_path, clock, circle):
    yield from serving(tmp_path, clock, circle_api_url=circle.url, circle_api_key=KEY,
                       circle_source_wallet_id=WALLET, payout_poll_interval_ms=0, payout_retry_max_ms=0)


def on_server(live, coro):
    return asyncio.run_coroutine_threadsafe(coro, live.loop).result(60)


async def _scheduler(runtime) -> Scheduler:
    return Scheduler(runtime)


def tick(live, scheduler, *, wait_s: int = 0) -> None:
    """Let any rail-requested wait pass, then run one scheduler tick (the drain is one of its steps)."""
    live.clock.advance(s=wait_s)
    on_server(live, scheduler.tick())


def request_payout(api, amount: str, key: str | None = None) -> dict:
    r = api.post("/v1/payouts", json={"customer_id": "ann", "asset": "USD", "amount": amount, "rail": "circle",
                                       "destination": {"address": ADDRESS, "chain": "ETH"}},
                  headers={"Idempotency-Key": key or str(uuid.uuid4())})
    assert r.status_code == 202, r.text
    return r.json()


def usd(api) -> dict:
    found = api.get("/v1/customers/ann/balances").json()["balances"]
    return next(b for b in found if b["asset"] == "USD")


@pytest.fixture
def ann(shop):
    r = shop.post("/v1/customers/ann/credit", json={"asset": "USD", "amount": "100.00"})
    assert r.status_code == 201, r.text
    return shop


def test_a_500_then_success_pays_once(live, ann, circle):
    scheduler = on_server(live, _scheduler(live.runtime))
    circle.fail_next(500)
    p = request_payout(ann, "12.34")
    assert usd(ann)["available"] == "87.66"
    tick(live, scheduler)                  # claimed, submitted: Circle answers 500
    mid = ann.get(f"/v1/payouts/{p['id']}").json()
    assert mid["status"] == "submitted" and "500" in mid["last_error"]
    assert circle.transfers == {}
    tick(live, scheduler, wait_s=60)       # resubmitted with the same key: pending at Circle
    mid = ann.get(f"/v1/payouts/{p['id']}").json()
    assert mid["status"] == "submitted" and mid["provider_id"] in circle.transfers
    circle.settle(mid["provider_id"])
    tick(live, scheduler, wait_s=60)       # checked: complete
    done = ann.get(f"/v1/payouts/{p['id']}").json()
    assert done["status"] == "confirmed" and done["provider_id"] == mid["provider_id"]
    assert circle.created_for(idempotency_key(p["id"])) == 1 and len(circle.transfers) == 1
    assert circle.transfers[done["provider_id"]]["amount"] == {"amount": "12.34", "currency": "USD"}
    assert usd(ann) == {"asset": "USD", "balance": "87.66", "available": "87.66", "pending": "0.00"}
    assert ann.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "posted"


def test_a_final_decline_refunds(live, ann, circle):
    scheduler = on_server(live, _scheduler(live.runtime))
    circle.deny(ADDRESS)
    p = request_payout(ann, "40.00")
    assert usd(ann)["available"] == "60.00"
    tick(live, scheduler)
    done = ann.get(f"/v1/payouts/{p['id']}").json()
    assert done["status"] == "failed" and "not an approved recipient address" in done["last_error"]
    assert circle.transfers == {}
    assert usd(ann) == {"asset": "USD", "balance": "100.00", "available": "100.00", "pending": "0.00"}
    assert ann.get(f"/v1/transfers/{p['hold_transfer_id']}").json()["status"] == "voided"


def test_a_bad_destination_is_refused_before_any_hold(live, ann, circle):
    r = ann.post("/v1/payouts", json={"customer_id": "ann", "asset": "USD", "amount": "1.00", "rail": "circle",
                                      "destination": {"address": ADDRESS, "chain": "DOGE"}},
                 headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 400 and "destination.chain" in r.text
    assert usd(ann)["available"] == "100.00" and circle.requests == []
