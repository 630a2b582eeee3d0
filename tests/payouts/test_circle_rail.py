"""The Circle rail against the Circle fake over real HTTP: submit → pending → confirmed, one
transfer per payout whatever fails in between, final declines, retries and their delays,
destinations and exact amounts."""
from __future__ import annotations

import uuid

import pytest

from app.ledger.errors import InvalidRequest
from app.payouts.circle import CircleRail, idempotency_key
from app.payouts.rails import Confirmed, Failed, Pending, PayoutOrder, Retry, Submitted

from tests.payouts.conftest import CIRCLE_ADDRESS as ADDRESS, CIRCLE_KEY as KEY, CIRCLE_WALLET as WALLET  # noqa: E402,F401


@pytest.fixture
async def rail(circle):
    rail = CircleRail(circle.url, KEY, WALLET, timeout_s=0.5)
    yield rail
    await rail.aclose()


def order(payout_id="po_1", amount_minor=1234, scale=2, asset="USD", **destination) -> PayoutOrder:
    return PayoutOrder(payout_id=payout_id, brand_id=1, asset=asset, amount_minor=amount_minor, scale=scale,
                       destination=destination or {"address": ADDRESS, "chain": "ETH"})


async def test_submit_pending_then_confirmed(circle, rail):
    o = order()
    submitted = await rail.submit(o)
    assert isinstance(submitted, Submitted)
    t = circle.transfers[submitted.provider_ref]
    assert t["amount"] == {"amount": "12.34", "currency": "USD"}
    assert t["destination"] == {"type": "blockchain", "address": ADDRESS, "chain": "ETH"}
    assert await rail.check(o, submitted.provider_ref) == Pending(submitted.provider_ref)
    circle.settle(submitted.provider_ref)
    assert await rail.check(o, submitted.provider_ref) == Confirmed(submitted.provider_ref)
    assert circle.created_for(idempotency_key("po_1")) == 1


async def test_completes_after_polls_and_a_resubmit_returns_the_same_transfer(circle, rail):
    circle.complete_after_polls = 2
    o = order()
    first = await rail.submit(o)
    assert await rail.check(o, first.provider_ref) == Pending(first.provider_ref)
    assert await rail.check(o, first.provider_ref) == Confirmed(first.provider_ref)
    again = await rail.submit(o)   # a drain that lost its record of the submission
    assert again.provider_ref == first.provider_ref
    assert circle.created_for(idempotency_key("po_1")) == 1


async def test_a_500_then_success_pays_once(circle, rail):
    o = order()
    circle.fail_next(500)
    first = await rail.submit(o)
    assert isinstance(first, Retry) and "500" in first.reason
    assert circle.created_for(idempotency_key("po_1")) == 0
    second = await rail.submit(o)
    assert isinstance(second, Submitted)
    circle.settle(second.provider_ref)
    assert await rail.check(o, second.provider_ref) == Confirmed(second.provider_ref)
    assert circle.created_for(idempotency_key("po_1")) == 1
    assert len(circle.transfers) == 1


async def test_a_500_after_the_transfer_was_made_still_pays_once(circle, rail):
    o = order()
    circle.fail_next(500, after_execute=True)
    assert isinstance(await rail.submit(o), Retry)
    assert circle.created_for(idempotency_key("po_1")) == 1
    again = await rail.submit(o)
    assert isinstance(again, Submitted)
    assert circle.created_for(idempotency_key("po_1")) == 1


async def test_a_timeout_is_a_retry_and_the_resend_pays_once(circle, rail):
    o = order()
    circle.delay_next(1.5)   # executed, answered after the rail's 0.5 s timeout
    first = await rail.submit(o)
    assert isinstance(first, Retry) and "timed out" in first.reason
    second = await rail.submit(o)
    assert isinstance(second, Submitted)
    assert circle.created_for(idempotency_key("po_1")) == 1


async def test_429_with_retry_after_is_a_retry_with_that_delay(circle, rail):
    circle.fail_next(429, headers={"Retry-After": "17"})
    outcome = await rail.submit(order())
    assert outcome == Retry(outcome.reason, 17.0)
    assert "rate limited" in outcome.reason


async def test_generic_code_minus_one_is_transient(circle, rail):
    circle.fail_next(400, {"code": -1, "message": "Something went wrong."})
    assert isinstance(await rail.submit(order()), Retry)


async def test_a_refused_connection_is_a_retry():
    rail = CircleRail("http://127.0.0.1:9", KEY, WALLET, timeout_s=0.5)
    try:
        assert isinstance(await rail.submit(order()), Retry)
    finally:
        await rail.aclose()


async def test_a_final_decline_is_failed_with_circles_message(circle, rail):
    circle.deny(ADDRESS)
    outcome = await rail.submit(order())
    assert isinstance(outcome, Failed) and outcome.final
    assert "not an approved recipient address" in outcome.reason
    assert circle.transfers == {}


async def test_a_transfer_that_fails_later_is_failed_final(circle, rail):
    circle.deny(ADDRESS, later=True)
    o = order()
    submitted = await rail.submit(o)
    circle.settle(submitted.provider_ref)
    outcome = await rail.check(o, submitted.provider_ref)
    assert isinstance(outcome, Failed) and outcome.final and "transfer_denied" in outcome.reason


async def test_insufficient_funds_fails_the_transfer(circle, rail):
    circle.balance = circle.balance.__class__("5.00")
    o = order()
    submitted = await rail.submit(o)
    circle.settle(submitted.provider_ref)
    outcome = await rail.check(o, submitted.provider_ref)
    assert isinstance(outcome, Failed) and "insufficient_funds" in outcome.reason


async def test_a_wrong_api_key_is_retried_slowly_not_refunded(circle):
    rail = CircleRail(circle.url, "TEST_API_KEY:wrong:key", WALLET)
    try:
        outcome = await rail.submit(order())
    finally:
        await rail.aclose()
    assert isinstance(outcome, Retry) and outcome.after_s >= 60 and "401" in outcome.reason


async def test_a_read_error_never_fails_the_payout(circle, rail):
    o = order()
    submitted = await rail.submit(o)
    circle.fail_next(503)
    assert isinstance(await rail.check(o, submitted.provider_ref), Retry)
    assert isinstance(await rail.check(o, "00000000-0000-4000-8000-000000000000"), Retry)


async def test_the_same_key_with_a_different_transfer_needs_an_operator(circle, rail):
    # Circle answers a known key with the original response: the rail notices that the
    # transfer made under this payout's key is not this order and neither confirms nor refunds.
    assert isinstance(await rail.submit(order(amount_minor=1234)), Submitted)
    outcome = await rail.submit(order(amount_minor=9999))
    assert isinstance(outcome, Retry) and "needs an operator" in outcome.reason
    assert circle.created_for(idempotency_key("po_1")) == 1


def test_the_idempotency_key_is_a_stable_uuid4_per_payout():
    key = idempotency_key("po_1")
    assert key == idempotency_key("po_1") != idempotency_key("po_2")
    parsed = uuid.UUID(key)
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize("destination, field", [
    ({"address": ADDRESS}, "destination.chain"),
    ({"address": ADDRESS, "chain": "DOGE"}, "destination.chain"),
    ({"address": "0x1234", "chain": "ETH"}, "destination.address"),
    ({"address": 42, "chain": "ETH"}, "destination.address"),
    ({"address": ADDRESS, "chain": "ETH", "memo": "x"}, "destination.memo"),
    ("0xabc", "destination"),
])
def test_bad_destinations_name_the_field(destination, field):
    rail = CircleRail("http://127.0.0.1:1", KEY, WALLET)
    with pytest.raises(InvalidRequest) as e:
        rail.check_destination(destination)
    assert e.value.details["field"] == field


def test_good_destinations_are_normalised():
    rail = CircleRail("http://127.0.0.1:1", KEY, WALLET)
    assert rail.check_destination({"address": ADDRESS, "chain": "BASE"}) == {"address": ADDRESS, "chain": "BASE"}
    sol = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
    assert rail.check_destination({"chain": "SOL", "address": sol}) == {"address": sol, "chain": "SOL"}


@pytest.mark.parametrize("amount_minor, scale, text", [
    (1234, 2, "12.34"), (1, 2, "0.01"), (123400, 4, "12.34"), (12, 0, "12.00"),
    (10**18, 9, "1000000000.00"),
])
def test_amounts_convert_exactly(amount_minor, scale, text):
    rail = CircleRail("http://127.0.0.1:1", KEY, WALLET)
    assert rail.amount_text(order(amount_minor=amount_minor, scale=scale)) == text


async def test_an_amount_below_a_cent_or_another_asset_is_refused_before_any_request(circle, rail):
    outcome = await rail.submit(order(amount_minor=123456, scale=4))
    assert isinstance(outcome, Failed) and "cent" in outcome.reason
    outcome = await rail.submit(order(asset="POINTS", scale=0))
    assert isinstance(outcome, Failed) and "POINTS" in outcome.reason
    assert circle.requests == []


async def test_a_usd_scale_four_amount_is_sent_as_cents(circle, rail):
    submitted = await rail.submit(order(amount_minor=123400, scale=4))
    assert circle.transfers[submitted.provider_ref]["amount"]["amount"] == "12.34"


def test_check_asset_refuses_what_is_not_paid_as_usd():
    rail = CircleRail("http://127.0.0.1:1", KEY, WALLET, usd_assets=("USD", "CREDITS"))
    rail.check_asset("CREDITS", 2)
    with pytest.raises(InvalidRequest) as e:
        rail.check_asset("POINTS", 0)
    assert e.value.details["field"] == "asset"


@pytest.mark.parametrize("status", [404, 302, 502])
async def test_a_page_from_something_else_than_circle_is_retried(circle, rail, status):
    circle.fail_next(status, "<html><body>not Circle</body></html>")
    assert isinstance(await rail.submit(order()), Retry)
    assert isinstance(await rail.submit(order()), Submitted)
    assert circle.created_for(idempotency_key("po_1")) == 1
