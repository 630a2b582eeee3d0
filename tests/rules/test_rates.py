"""Exact rate arithmetic: every rounding mode, worked examples, and a property against
Python's exact rationals."""
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ledger.errors import InvalidAmount
from app.ledger.money import MAX_SCALE, ExponentNumber, format_amount
from app.rules.rates import MAX_RATE_BPS, rate_amount_minor, read_source, round_fraction, source_minor


def cashback(amount_text: str, rate_bps: int, scale: int, rounding: str = "down") -> str:
    """What `credit_rate` earns on a purchase of `amount_text`, as decimal text of the target."""
    minor = source_minor(amount_text, MAX_SCALE)
    return format_amount(rate_amount_minor(minor, MAX_SCALE, rate_bps, scale, rounding), scale)


def test_design_examples():
    assert cashback("100.00", 500, 2) == "5.00"       # 5% cashback into USD
    assert cashback("100.00", 10_000, 0) == "100"     # one point per currency unit into POINTS
    assert cashback("100", 10_000, 0) == "100"
    assert cashback("99.99", 10_000, 0) == "99"       # points are never over-paid


def test_three_purchases_of_ten_cents_at_five_percent():
    # Seed 001 computed 0.10 * 0.05 in floats and summed three of them:
    assert 0.10 * 0.05 * 3 == 0.015000000000000003
    # Exactly, each purchase earns half a cent. Per mode, per purchase and for the three:
    for mode, each in (("down", "0.00"), ("half_even", "0.00"), ("up", "0.01")):
        earned = [cashback("0.10", 500, 2, mode) for _ in range(3)]
        assert earned == [each] * 3, mode
    assert sum(rate_amount_minor(10, 2, 500, 2, "up") for _ in range(3)) == 3  # "0.03"


@pytest.mark.parametrize("amount,exact,down,half_even,up", [
    ("0.10", "0.005", "0.00", "0.00", "0.01"),    # a tie: the even neighbour is 0
    ("0.30", "0.015", "0.01", "0.02", "0.02"),    # a tie: the even neighbour is 2
    ("0.50", "0.025", "0.02", "0.02", "0.03"),    # a tie: the even neighbour is 2
    ("0.15", "0.0075", "0.00", "0.01", "0.01"),   # above half
    ("0.13", "0.0065", "0.00", "0.01", "0.01"),
    ("0.11", "0.0055", "0.00", "0.01", "0.01"),
    ("0.19", "0.0095", "0.00", "0.01", "0.01"),
    ("0.21", "0.0105", "0.01", "0.01", "0.02"),   # just above a cent
    ("100.00", "5", "5.00", "5.00", "5.00"),      # whole: all agree
])
def test_each_rounding_mode_at_five_percent_into_cents(amount, exact, down, half_even, up):
    assert Decimal(amount) * Decimal("0.05") == Decimal(exact)
    assert (cashback(amount, 500, 2, "down"), cashback(amount, 500, 2, "half_even"),
            cashback(amount, 500, 2, "up")) == (down, half_even, up)


@pytest.mark.parametrize("numerator,denominator,down,half_even,up", [
    (0, 7, 0, 0, 0), (6, 3, 2, 2, 2), (1, 2, 0, 0, 1), (3, 2, 1, 2, 2), (5, 2, 2, 2, 3),
    (7, 4, 1, 2, 2), (5, 4, 1, 1, 2),
])
def test_round_fraction(numerator, denominator, down, half_even, up):
    assert [round_fraction(numerator, denominator, mode) for mode in ("down", "half_even", "up")] == \
        [down, half_even, up]


@pytest.mark.parametrize("value,scale,minor", [
    ("0", 2, 0), ("0.00", 2, 0), (0, 0, 0), (Decimal("0.0"), 2, 0),   # zero earns nothing, no error
    ("12.50", 2, 1250), ("12.5", 9, 12_500_000_000), (7, 0, 7), (Decimal("19.99"), 2, 1999),
])
def test_source_amounts(value, scale, minor):
    assert source_minor(value, scale) == minor


@pytest.mark.parametrize("value,scale", [
    ("1.005", 2), ("0.000", 2), ("-5", 2), ("-0", 2), (Decimal("-0"), 2), ("1e2", 2),
    (ExponentNumber("1E+2"), 2), (ExponentNumber("0E+2"), 2), ("NaN", 2), (Decimal("NaN"), 2),
    (Decimal("Infinity"), 2), (0.5, 2), (True, 0), (False, 0), ("abc", 2), ("", 2), (None, 2), ([1], 2),
    ("1" * 20, 9),  # above the maximum amount at that scale
])
def test_bad_source_amounts_are_refused_never_rounded(value, scale):
    with pytest.raises(InvalidAmount):
        source_minor(value, scale)


@pytest.mark.parametrize("value,of_scale,read", [
    ("100.00", None, (10000, 2)), ("100", None, (100, 0)), (100, None, (100, 0)),
    (Decimal("19.990"), None, (19990, 3)), ("0.123456789", None, (123456789, 9)), ("0.00", None, (0, 2)),
    ("100", 2, (10000, 2)), ("1000000000000.00", None, (10**14, 2)),  # no cap from a default scale
])
def test_a_source_is_read_at_the_decimals_it_is_written_with_unless_of_scale_says(value, of_scale, read):
    assert read_source(value, of_scale) == read


@pytest.mark.parametrize("value,of_scale", [("1.0000000001", None), ("100.005", 2), ("-1", None), ("1e2", None)])
def test_a_source_past_its_decimals_is_refused(value, of_scale):
    with pytest.raises(InvalidAmount):
        read_source(value, of_scale)


# -- the property -----------------------------------------------------------------------------------
def by_mode(exact: Fraction, mode: str) -> int:
    """Rounding of an exact non-negative rational, written independently of the code under test."""
    return {"down": math.floor(exact), "up": math.ceil(exact), "half_even": round(exact)}[mode]


@given(source=st.integers(0, 10**18), source_scale=st.integers(0, MAX_SCALE),
       rate_bps=st.integers(0, MAX_RATE_BPS), target_scale=st.integers(0, MAX_SCALE))
def test_rate_amount_is_the_exact_rational_rounded_by_the_mode(source, source_scale, rate_bps, target_scale):
    exact = Fraction(source, 10**source_scale) * Fraction(rate_bps, 10_000) * 10**target_scale
    results = {mode: rate_amount_minor(source, source_scale, rate_bps, target_scale, mode)
               for mode in ("down", "half_even", "up")}
    assert results == {mode: by_mode(exact, mode) for mode in results}  # round(Fraction): ties to even
    assert results["down"] <= results["half_even"] <= results["up"] <= results["down"] + 1
    assert (results["down"] == results["up"]) is (exact.denominator == 1)


@given(whole=st.integers(0, 10**6), cents=st.integers(0, 99), rate_bps=st.integers(0, 20_000))
def test_decimal_text_in_gives_the_same_as_the_exact_value(whole, cents, rate_bps):
    text = f"{whole}.{cents:02d}"
    exact = Fraction(Decimal(text)) * rate_bps / 10_000 * 100
    assert cashback(text, rate_bps, 2, "half_even") == format_amount(round(exact), 2)


def test_an_unknown_rounding_mode_is_refused_not_guessed():
    with pytest.raises(ValueError):
        round_fraction(1, 2, "nearest")
