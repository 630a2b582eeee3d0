"""The pure core: counters after each kind of transfer, overdraft, limits, hashing, lots."""
import pytest

from app.ledger.accounts import Account, Counters
from app.ledger.errors import InsufficientFunds, InvalidRequest, LimitExceeded
from app.ledger.lots import Lot, LotsInconsistent, expirable, plan_consumption
from app.ledger.money import MAX_COUNTER_MINOR
from app.ledger.transfers import (GENESIS_HASH, ChainFields, TransferSpec, apply_transfer, chain_hash,
                                  posting_problem, posting_refusal, validate_spec)


def account(counters=Counters(), no_overdraft=True):
    return Account(1, 1, 1, "customer", "c", no_overdraft, False, None, counters)


def test_posted_moves_value():
    dr, cr = apply_transfer("posted", Counters(), Counters(), 100)
    assert dr.balance == -100 and cr.balance == 100


def test_pending_reserves_then_partial_post_releases_the_rest():
    dr, cr = apply_transfer("pending", Counters(credits_posted=500), Counters(), 300)
    assert dr.available == 200 and dr.balance == 500 and cr.pending == 300 and cr.balance == 0
    dr, cr = apply_transfer("post_pending", dr, cr, 120, pending_amount=300)
    assert dr.balance == 380 and dr.available == 380 and cr.balance == 120 and cr.pending == 0


def test_void_releases_everything():
    dr, cr = apply_transfer("pending", Counters(credits_posted=50), Counters(), 50)
    dr, cr = apply_transfer("void_pending", dr, cr, 50, pending_amount=50)
    assert dr == Counters(credits_posted=50) and cr == Counters()


def test_overdraft_is_an_error_value():
    acc = account(Counters(credits_posted=10))
    after, _ = apply_transfer("posted", acc.counters, Counters(), 11)
    assert posting_problem(acc, after) == "insufficient_funds"
    ok, _ = apply_transfer("posted", acc.counters, Counters(), 10)
    assert posting_problem(acc, ok) is None


def test_system_accounts_may_go_negative():
    acc = account(no_overdraft=False)
    after, _ = apply_transfer("posted", acc.counters, Counters(), 10**18)
    assert posting_problem(acc, after) is None


def test_counter_overflow_is_limit_exceeded():
    acc = account(Counters(credits_posted=MAX_COUNTER_MINOR), no_overdraft=False)
    _, after = apply_transfer("posted", Counters(), acc.counters, 1)
    assert posting_problem(acc, after) == "limit_exceeded"
    error = posting_refusal("limit_exceeded", acc, after, "POINTS", 0)
    assert isinstance(error, LimitExceeded) and error.details["account"] == "customer:c"
    assert "account_id" not in error.details


def test_debit_past_both_balance_and_counter_range_is_insufficient_funds():
    # Regression: a customer that received and spent 9 x 10^18 asks for 10^18 more with
    # nothing left; the answer is about funds, not about the 64-bit counter.
    acc = account(Counters(debits_posted=9 * 10**18, credits_posted=9 * 10**18))
    after, _ = apply_transfer("posted", acc.counters, Counters(), 10**18)
    assert posting_problem(acc, after) == "insufficient_funds"


def test_insufficient_funds_speaks_in_asset_units_without_internal_ids():
    acc = account(Counters(credits_posted=3766))
    after, _ = apply_transfer("posted", acc.counters, Counters(), 5000)
    error = posting_refusal(posting_problem(acc, after), acc, after, "CREDITS", 2)
    assert isinstance(error, InsufficientFunds)
    assert error.details == {"asset": "CREDITS", "available": "37.66", "requested": "50.00", "customer_id": "c"}


@pytest.mark.parametrize("changes", [
    {"code": "Bad Code"}, {"debit_account_id": 2}, {"amount": 0},
    {"timeout_s": 10}, {"pending": True, "timeout_s": 0}, {"idempotency_key": ""},
    {"metadata": {"x": "y" * 5000}},
])
def test_validate_spec_refuses(changes):
    base = dict(brand_id=1, asset_id=1, debit_account_id=1, credit_account_id=2, amount=1, code="earn")
    base.update(changes)
    with pytest.raises(InvalidRequest):
        validate_spec(TransferSpec(**base))


def test_chain_hash_depends_on_content_and_previous():
    f = ChainFields(1, 1, 1, 1, 2, 100, "posted", "earn", None, None, None, "{}", 0)
    h = chain_hash(GENESIS_HASH, f)
    assert len(h) == 64
    assert chain_hash(GENESIS_HASH, f) == h
    assert chain_hash("1" * 64, f) != h
    assert chain_hash(GENESIS_HASH, ChainFields(1, 1, 1, 1, 2, 101, "posted", "earn", None, None,
                                                None, "{}", 0)) != h


def test_lots_are_consumed_soonest_expiry_first():
    lots = [Lot(1, 50, 300), Lot(2, 30, 100), Lot(3, 40, 200)]
    takes = plan_consumption(lots, 60)
    assert [(t.lot_id, t.amount) for t in takes] == [(2, 30), (3, 30)]


def test_named_lot_goes_first():
    lots = [Lot(1, 50, 300), Lot(2, 30, 100)]
    assert [(t.lot_id, t.amount) for t in plan_consumption(lots, 40, first_lot_id=1)] == [(1, 40)]


def test_lots_must_cover_the_debit():
    with pytest.raises(LotsInconsistent):
        plan_consumption([Lot(1, 5, 1)], 6)


def test_expiry_never_takes_more_than_available():
    # seed 004's bug: earn 100, burn 80, lot of 100 expires → only 20 may go.
    assert expirable(lot_remaining=20, available=20) == 20
    assert expirable(lot_remaining=100, available=20) == 20
    assert expirable(lot_remaining=100, available=0) == 0
    assert expirable(lot_remaining=100, available=-5) == 0
