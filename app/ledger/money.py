"""Amounts: the one place that converts between decimal text and integer minor units.

Inside the service every amount is an `int` of minor units of its asset (`scale` decimal
places). At the edge amounts are decimal strings ("12.50"); exact JSON numbers are
accepted too when they were parsed as `Decimal` (never float). Too many decimals, zero,
negative values and values above `MAX_AMOUNT_MINOR` are refused, never rounded.
"""
from __future__ import annotations

import re
from functools import lru_cache
from decimal import Decimal

from .errors import InvalidAmount

# The money range, decided once (README, "Money model"):
# - every account counter is a signed 64-bit INTEGER (SQLite's), so an account can see at
#   most MAX_COUNTER_MINOR minor units in its whole life, on each of its four counters;
# - so assets have at most MAX_SCALE = 9 decimals: 9.2 billion units per account for life
#   even at scale 9 (an 18-decimal token is held at scale 9 or less and converted exactly
#   at the chain's edge). 128-bit counters would cost every row and every comparison;
# - one transfer moves at most MAX_AMOUNT_MINOR;
# - an account whose largest counter passes COUNTER_WARN_MINOR (half the range) is
#   reported by /metrics and `verify`, long before it refuses transfers.
MAX_AMOUNT_MINOR = 10**18
MAX_COUNTER_MINOR = 2**63 - 1
COUNTER_WARN_MINOR = 2**62
MAX_SCALE = 9
_AMOUNT_TEXT = re.compile(r"^(0|[1-9][0-9]{0,36})(?:\.([0-9]{1,18}))?\Z")


class ExponentNumber(Decimal):
    """A JSON number written with an exponent (`1e2`): exact, but refused as an amount,
    which must be written out (`"100"`)."""


def _amount_text(value: object) -> str:
    if isinstance(value, ExponentNumber):
        raise InvalidAmount("amount must be written without an exponent, e.g. \"100.00\"")
    if isinstance(value, bool):
        raise InvalidAmount("amount must be a decimal string such as \"12.50\"")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAmount("amount must be a finite number")
        return format(value, "f")
    if isinstance(value, str):
        return value
    raise InvalidAmount("amount must be a decimal string such as \"12.50\"")


def parse_amount(value: object, scale: int) -> int:
    """Decimal text (or exact number) → positive integer minor units at `scale`."""
    if type(value) is str:  # rules and events repeat a few amounts: each text parsed once
        return _parse_text(value, scale)
    return _parse(value, scale)


@lru_cache(maxsize=4096)
def _parse_text(text: str, scale: int) -> int:
    return _parse(text, scale)  # a refusal raises, and is not remembered


def _parse(value: object, scale: int) -> int:
    assert 0 <= scale <= 18  # assets made before the scale limit of 9 keep their scale
    text = _amount_text(value)
    if len(text) > 60:
        raise InvalidAmount("amount is too long")
    if text.startswith("-"):
        raise InvalidAmount("amount must be positive", amount=text)
    match = _AMOUNT_TEXT.match(text)
    if not match:
        raise InvalidAmount("amount must be a plain decimal such as \"12.50\"", amount=text)
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > scale:
        raise InvalidAmount(f"amount has more than {scale} decimal places", amount=text, scale=scale)
    minor = int(whole) * 10**scale + (int(frac.ljust(scale, "0")) if scale else 0)
    if minor <= 0:
        raise InvalidAmount("amount must be greater than zero", amount=text)
    if minor > MAX_AMOUNT_MINOR:
        raise InvalidAmount("amount is above the maximum", amount=text,
                            max_minor=str(MAX_AMOUNT_MINOR))
    return minor


def format_amount(minor: int, scale: int) -> str:
    """Integer minor units (any sign) → decimal text with exactly `scale` decimals."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**scale)
    return f"{sign}{whole}.{frac:0{scale}d}" if scale else f"{sign}{whole}"
