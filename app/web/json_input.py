"""Parsing request bodies as JSON with every number bounded before anything converts it.

A JSON number such as `1e1000000` is short text but a huge value: turning it into an int
or formatting it holds the GIL for minutes and allocates gigabytes. So numbers are checked
here, as text, while parsing: at most `MAX_NUMBER_CHARS` characters, a decimal exponent
within `MAX_EXPONENT`, and at most `MAX_NUMBERS` numbers in one body (each number is a
Python call here and later, so a megabyte of numbers would hold the event loop for seconds). Non-integers become `Decimal` (never float) so amounts stay exact;
those written with an exponent become `ExponentNumber`, which amounts refuse.
"""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

from ..ledger.money import ExponentNumber

MAX_NUMBER_CHARS = 64
MAX_NUMBERS = 10_000  # per body: a batch of 1000 transfers with numeric amounts needs 1000
# Decimal places either side of the point; keeps metadata numbers within a double's range.
MAX_EXPONENT = 300


class NumberOutOfRange(ValueError):
    """A JSON number is too long or its exponent too large to be taken."""


class NotUnicode(ValueError):
    """A JSON string holds a lone surrogate escape (`"\\ud800"`): valid JSON text, but no
    Unicode text, so nothing could store or compare it."""


_budget = threading.local()  # numbers left in the body being parsed on this thread


def _checked_length(text: str) -> str:
    _budget.left -= 1
    if _budget.left < 0:
        raise NumberOutOfRange(f"the body holds more than {MAX_NUMBERS} numbers")
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberOutOfRange(f"a JSON number is longer than {MAX_NUMBER_CHARS} characters")
    return text


def _parse_float(text: str) -> Decimal:
    # Building a Decimal from short text is cheap whatever its exponent; converting it is not.
    number = (ExponentNumber if "e" in text or "E" in text else Decimal)(_checked_length(text))
    if not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise NumberOutOfRange(f"a JSON number's magnitude is outside 1e±{MAX_EXPONENT}")
    return number


def _parse_int(text: str) -> int:
    return int(_checked_length(text))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every request: `json.loads` with hooks builds a new one per call.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int, parse_constant=_reject_constant)


def loads(text: str) -> Any:
    """`json.loads` with bounded numbers and real Unicode strings; ValueError (or
    RecursionError) for bad input."""
    _budget.left = MAX_NUMBERS
    value = _DECODER.decode(text)
    if "\\u" in text:  # only an escape can make a lone surrogate (the text itself is UTF-8)
        _check_unicode(value)
    return value


def _check_unicode(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise NotUnicode("a string holds a lone surrogate escape (\\ud800-\\udfff)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key)
            _check_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _check_unicode(item)
