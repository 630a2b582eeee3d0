"""Rates: an amount times a rate in basis points, into another asset's minor units, exactly.

    target_minor = source_minor / 10^source_scale × rate_bps / 10_000 × 10^target_scale

is computed as one integer fraction N / D and rounded once, by an explicit mode:
- `down` (the default: a reward is never over-paid): toward zero;
- `half_even`: to the nearest, a tie to the even neighbour (banker's rounding);
- `up`: away from zero (any remainder earns one more minor unit).
So `down ≤ half_even ≤ up`, and all three agree when the fraction is whole. A purchase of
"0.10" at 500 bps into USD (scale 2) is exactly 0.5 cents: down 0, half_even 0 (the even
neighbour), up 1. Seed 001 multiplied floats: 0.10 × 0.05 gave 0.005000000000000001, and
three purchases 0.015000000000000003, an amount no account of cents can hold.

The source (a purchase total in the event's payload, in the event's currency, which the
ledger need not know) is read by `read_source` with `app.ledger.money.parse_amount`'s rules:
at `of_scale` when the action names one (more decimals are refused), else at the decimals
it is written with, at most `MAX_SOURCE_DECIMALS` ("100.00" is 10000 at scale 2, "100" is
100 at scale 0: the arithmetic is exact either way). Zero is allowed and earns nothing.
"""
from __future__ import annotations

import re
from decimal import Decimal

from ..ledger.money import MAX_SCALE, ExponentNumber, parse_amount

ROUNDING_MODES = ("down", "half_even", "up")
BPS_PER_UNIT = 10_000
MAX_RATE_BPS = 1_000_000  # 10 000 %: e.g. 100 points per currency unit
# A payload amount may carry up to this many decimals unless the action's of_scale says fewer.
MAX_SOURCE_DECIMALS = MAX_SCALE
_ZERO_TEXT = re.compile(r"^0(?:\.(0+))?\Z")


def round_fraction(numerator: int, denominator: int, rounding: str) -> int:
    """numerator / denominator (both ≥ 0, denominator > 0) rounded by `rounding`."""
    assert numerator >= 0 and denominator > 0
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0 or rounding == "down":
        return quotient
    if rounding == "up":
        return quotient + 1
    if rounding != "half_even":
        raise ValueError(f"unknown rounding {rounding!r}; modes: {', '.join(ROUNDING_MODES)}")
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        return quotient + 1
    return quotient


def rate_amount_minor(source_minor: int, source_scale: int, rate_bps: int, target_scale: int,
                      rounding: str = "down") -> int:
    """`rate_bps` of an amount of `source_minor` at `source_scale`, in minor units at
    `target_scale`, rounded once by `rounding`. Pure integer arithmetic: never a float."""
    assert source_minor >= 0 and 0 <= rate_bps <= MAX_RATE_BPS
    assert 0 <= source_scale <= 18 and 0 <= target_scale <= 18
    numerator = source_minor * rate_bps * 10**target_scale
    denominator = BPS_PER_UNIT * 10**source_scale
    return round_fraction(numerator, denominator, rounding)


def read_source(value: object, of_scale: int | None = None) -> tuple[int, int]:
    """A source amount → (minor units, scale): at `of_scale` when given, else at the decimals
    the amount is written with (≤ MAX_SOURCE_DECIMALS). Raises `InvalidAmount` as
    `source_minor` does."""
    scale = of_scale if of_scale is not None else min(_written_decimals(value), MAX_SOURCE_DECIMALS)
    return source_minor(value, scale), scale


def _written_decimals(value: object) -> int:
    """Decimals an amount is written with (0 for what is no decimal: parse_amount refuses it)."""
    if isinstance(value, str):
        return len(value.partition(".")[2]) if len(value) <= 80 else 0
    if isinstance(value, Decimal) and value.is_finite():
        return max(0, -int(value.as_tuple().exponent))
    return 0


def source_minor(value: object, scale: int) -> int:
    """A source amount (decimal string or exact JSON number) → minor units at `scale`.

    `parse_amount`'s rules (raising `InvalidAmount`: too many decimals, an exponent, NaN, a
    negative, a float, text, above the maximum), except that zero is 0 rather than an error."""
    if _is_zero(value, scale):
        return 0
    return parse_amount(value, scale)


def _is_zero(value: object, scale: int) -> bool:
    if isinstance(value, str):
        match = _ZERO_TEXT.match(value)
        return bool(match) and len(match.group(1) or "") <= scale
    if type(value) is int:  # bool is an int subclass: True is not an amount
        return value == 0
    if isinstance(value, Decimal) and not isinstance(value, ExponentNumber) and value.is_finite():
        exponent = value.as_tuple().exponent
        return value == 0 and not value.is_signed() and -int(exponent) <= scale
    return False
