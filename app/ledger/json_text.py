"""JSON text: the canonical form stored and compared by the ledger, and the compact form
of responses. One encoder for both (orjson, compiled), with the standard library's as the
fallback for what orjson refuses (integers past 64 bits), so every value has one text.

JSON numbers arrive as Decimal (never float, so amounts stay exact). In free-form metadata
they are stored back as JSON numbers: integral ones exactly, others as doubles.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable

import orjson


# Integral decimals up to this many digits are kept exact; larger ones (1e300) are doubles,
# as the non-integral ones are: turning 1e300 into an int makes 301 digits per number.
MAX_EXACT_DIGITS = 64


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        if value.adjusted() < MAX_EXACT_DIGITS and value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical_json(value: Any, number: Callable[[Any], Any] = _json_number) -> str:
    """One text per value: sorted keys, no spaces; what hashes and comparisons use.
    `number` turns a Decimal into what stands for it (by default a JSON number)."""
    try:
        return orjson.dumps(value, default=number, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=number)


def _any_as_text(value: Any) -> Any:
    """Answering must not fail on a value an error's details carry: numbers stay numbers,
    anything else becomes its text."""
    try:
        return _json_number(value)
    except TypeError:
        return str(value)


def compact_json(value: Any) -> bytes:
    """A response body: keys in the order given, no spaces, UTF-8."""
    try:
        return orjson.dumps(value, default=_any_as_text)
    except orjson.JSONEncodeError:  # past 64 bits, or text that is not Unicode: escape it all
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True, default=_any_as_text).encode()


def exact_json(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) whose numbers keep every digit they were
    written with: for what must read back exactly as it was validated (rules' conditions
    and actions, jobs' selectors and payloads). Read it back with `loads_exact`."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON has no NaN or infinity")
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + exact_json(value[k])
                              for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(exact_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def loads_exact(text: str) -> Any:
    """JSON text with its non-integral numbers as Decimal (never float)."""
    return json.loads(text, parse_float=Decimal)
