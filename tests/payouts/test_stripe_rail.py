"""The Stripe rail (the official `stripe` library) against the Stripe fake over real HTTP:
a transfer to a connected account is done when created, one transfer per payout whatever
fails in between, final declines, retries and their delays, destinations, exact amounts."""
from __future__ import annotations

import pytest

from app.ledger.errors import InvalidRequest
from app.payouts.rails import Confirmed, Failed, PayoutOrder, Retry
from app.payouts.stripe_rail import StripeRail
from tests.payouts.fakes.stripe_fake import StripeFake, error

from tests.payouts.conftest import STRIPE_ACCOUNT as ACCOUNT, STRIPE_KEY as KEY  # noqa: E402,F401


@pytest.fixture
async def rail(stripe_fake):
    rail = StripeRail(stripe_fake.url, KEY, timeout_s=0.5, currencies={"USD": "usd", "JPY": "jpy", "KWD": "kwd"})
    yield rail
    await rail.aclose()


def order(payout_id="po_1", amount_minor=1234, scale=2, asset="USD", account=ACCOUNT) -> PayoutOrder:
    return PayoutOrder(payout_id=payout_id, brand_id=1, asset=asset, amount_minor=amount_minor, scale=scale,
                       destination={"account": account})


def only_transfer(fake: StripeFake) -> dict:
    (t,) = fake.transfers.values()
    return t


async def test_a_transfer_is_confirmed_when_created_and_check_agrees(stripe_fake, rail):
    o = order()
    outcome = await rail.submit(o)
    t = only_transfer(stripe_fake)
    assert outcome == Confirmed(t["id"])
    assert (t["amount"], t["currency"], t["destination"], t["transfer_group"]) == (1234, "usd", ACCOUNT, "po_1")
    assert t["metadata"] == {"payout_id": "po_1"}
    assert await rail.check(o, t["id"]) == Confirmed(t["id"])
    assert ("POST", "/v1/transfers") in stripe_fake.requests


async def test_a_reversed_transfer_is_failed(stripe_fake, rail):
    o = order()
    ref = (await rail.submit(o)).provider_ref
    stripe_fake.reverse(ref)
    outcome = await rail.check(o, ref)
    assert isinstance(outcome, Failed) and outcome.final and "reversed" in outcome.reason


async def test_a_resubmit_replays_the_same_transfer(stripe_fake, rail):
    first = await rail.submit(order())
    second = await rail.submit(order())
    assert first == second
    assert stripe_fake.created_for("po_1") == 1


async def test_a_500_then_success_pays_once(stripe_fake, rail):
    stripe_fake.fail_next(500)
    first = await rail.submit(order())
    assert isinstance(first, Retry) and "500" in first.reason
    assert stripe_fake.created_for("po_1") == 0
    second = await rail.submit(order())
    assert isinstance(second, Confirmed)
    assert stripe_fake.created_for("po_1") == 1 and len(stripe_fake.transfers) == 1


async def test_a_saved_500_after_the_transfer_was_made_is_reconciled_not_paid_again(stripe_fake, rail):
    # Stripe replays the first answer for a key, a 500 included: retrying alone would never
    # learn that the transfer exists. The rail finds it by its transfer_group.
    stripe_fake.fail_next(500, after_execute=True)
    outcome = await rail.submit(order())
    assert outcome == Confirmed(only_transfer(stripe_fake)["id"])
    assert await rail.submit(order()) == outcome
    assert stripe_fake.created_for("po_1") == 1


async def test_a_timeout_is_a_retry_and_the_resend_pays_once(stripe_fake, rail):
    stripe_fake.delay_next(1.5)   # executed, answered after the rail's 0.5 s timeout
    first = await rail.submit(order())
    assert isinstance(first, Retry) and "Timeout" in first.reason
    second = await rail.submit(order())
    assert second == Confirmed(only_transfer(stripe_fake)["id"])
    assert stripe_fake.created_for("po_1") == 1


async def test_429_with_retry_after_is_a_retry_with_that_delay(stripe_fake, rail):
    stripe_fake.fail_next(429, headers={"Retry-After": "7"})
    outcome = await rail.submit(order())
    assert outcome == Retry(outcome.reason, 7.0) and "rate limited" in outcome.reason
    assert stripe_fake.transfers == {}
    assert isinstance(await rail.submit(order()), Confirmed)   # the limiter saved nothing


async def test_a_lock_timeout_is_retried(stripe_fake, rail):
    stripe_fake.fail_next(429, error("invalid_request_error", "This object cannot be accessed right now because "
                                     "another API request or Stripe process is currently accessing it.",
                                     "lock_timeout"))
    assert isinstance(await rail.submit(order()), Retry)


async def test_a_refused_connection_is_a_retry():
    rail = StripeRail("http://127.0.0.1:9", KEY, timeout_s=0.5)
    try:
        assert isinstance(await rail.submit(order()), Retry)
    finally:
        await rail.aclose()


async def test_an_account_that_cannot_receive_is_a_final_decline(stripe_fake, rail):
    stripe_fake.add_account("acct_restricted", transfers=False)
    outcome = await rail.submit(order(account="acct_restricted"))
    assert isinstance(outcome, Failed) and outcome.final
    assert "insufficient_capabilities_for_transfer" in outcome.reason
    assert stripe_fake.transfers == {}


async def test_an_unknown_account_is_a_final_decline(stripe_fake, rail):
    outcome = await rail.submit(order(account="acct_nobody"))
    assert isinstance(outcome, Failed) and "No such destination" in outcome.reason


async def test_insufficient_platform_balance_is_final(stripe_fake, rail):
    stripe_fake.balance["usd"] = 1000
    outcome = await rail.submit(order())
    assert isinstance(outcome, Failed) and "balance_insufficient" in outcome.reason
    # Stripe saved that answer for the key: the same payout keeps its final answer.
    stripe_fake.balance["usd"] = 10**6
    assert isinstance(await rail.submit(order()), Failed)


async def test_a_card_error_is_final(stripe_fake, rail):
    stripe_fake.fail_next(402, error("card_error", "Your card was declined.", "card_declined"))
    outcome = await rail.submit(order())
    assert isinstance(outcome, Failed) and "card_declined" in outcome.reason


async def test_stripe_should_retry_false_overrides_a_conflict(stripe_fake, rail):
    stripe_fake.fail_next(409, error("invalid_request_error", "Conflict."), headers={"Stripe-Should-Retry": "false"})
    assert isinstance(await rail.submit(order()), Failed)


async def test_same_key_other_parameters_with_nothing_paid_is_a_final_failure(stripe_fake, rail):
    stripe_fake.balance["usd"] = 1000
    assert isinstance(await rail.submit(order(amount_minor=5000)), Failed)   # saved 400, nothing paid
    outcome = await rail.submit(order(amount_minor=500))
    assert isinstance(outcome, Failed) and outcome.final
    assert "idempotency key po_1" in outcome.reason and "different parameters" in outcome.reason
    assert stripe_fake.transfers == {}


async def test_same_key_other_parameters_after_a_transfer_needs_an_operator(stripe_fake, rail):
    await rail.submit(order(amount_minor=1234))
    outcome = await rail.submit(order(amount_minor=999))
    assert isinstance(outcome, Retry) and "needs an operator" in outcome.reason
    assert stripe_fake.created_for("po_1") == 1


async def test_a_wrong_api_key_is_retried_slowly_not_refunded(stripe_fake):
    rail = StripeRail(stripe_fake.url, "sk_test_wrong")
    try:
        outcome = await rail.submit(order())
    finally:
        await rail.aclose()
    assert isinstance(outcome, Retry) and outcome.after_s >= 60 and "API key" in outcome.reason


async def test_a_read_error_never_fails_the_payout(stripe_fake, rail):
    ref = (await rail.submit(order())).provider_ref
    stripe_fake.fail_next(500)
    assert isinstance(await rail.check(order(), ref), Retry)
    assert isinstance(await rail.check(order(), "tr_missing"), Retry)


@pytest.mark.parametrize("destination, field", [
    ({}, "destination.account"),
    ({"account": "cus_123"}, "destination.account"),
    ({"account": "acct_"}, "destination.account"),
    ({"account": ACCOUNT, "bank": "x"}, "destination.bank"),
    ("acct_123", "destination"),
])
def test_bad_destinations_name_the_field(destination, field):
    with pytest.raises(InvalidRequest) as e:
        StripeRail("http://127.0.0.1:1", KEY).check_destination(destination)
    assert e.value.details["field"] == field


@pytest.mark.parametrize("asset, amount_minor, scale, sent", [
    ("USD", 1234, 2, (1234, "usd")), ("USD", 123400, 4, (1234, "usd")), ("USD", 12, 0, (1200, "usd")),
    ("JPY", 500, 0, (500, "jpy")), ("JPY", 50000, 2, (500, "jpy")), ("KWD", 1234, 2, (12340, "kwd")),
])
def test_amounts_convert_exactly_to_the_smallest_unit(asset, amount_minor, scale, sent):
    rail = StripeRail("http://127.0.0.1:1", KEY, currencies={"USD": "usd", "JPY": "jpy", "KWD": "kwd"})
    assert rail.amount_of(order(asset=asset, amount_minor=amount_minor, scale=scale)) == sent


@pytest.mark.parametrize("asset, amount_minor, scale", [
    ("USD", 123456, 4), ("JPY", 50050, 2), ("KWD", 12345, 3), ("POINTS", 100, 0),
])
async def test_inexact_amounts_and_other_assets_are_refused_before_any_request(stripe_fake, rail, asset,
                                                                                amount_minor, scale):
    outcome = await rail.submit(order(asset=asset, amount_minor=amount_minor, scale=scale))
    assert isinstance(outcome, Failed) and outcome.final
    assert stripe_fake.requests == []


async def test_a_jpy_payout_sends_whole_yen(stripe_fake, rail):
    await rail.submit(order(asset="JPY", amount_minor=50000, scale=2))
    assert only_transfer(stripe_fake)["amount"] == 500


def test_check_asset_refuses_an_asset_without_a_currency():
    rail = StripeRail("http://127.0.0.1:1", KEY)
    rail.check_asset("USD", 2)
    with pytest.raises(InvalidRequest) as e:
        rail.check_asset("CREDITS", 2)
    assert e.value.details["field"] == "asset"


async def test_a_proxy_page_instead_of_stripe_is_retried_and_then_pays_once(stripe_fake, rail):
    stripe_fake.fail_next(502, "<html><body>502 Bad Gateway</body></html>")
    assert isinstance(await rail.submit(order()), Retry)
    stripe_fake.fail_next(404, "<html><body>Not Found</body></html>")
    outcome = await rail.submit(order())
    assert isinstance(outcome, Retry) and outcome.after_s >= 60
    assert isinstance(await rail.submit(order()), Confirmed)
    assert stripe_fake.created_for("po_1") == 1
