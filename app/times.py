"""Times as the API writes and reads them: RFC 3339 text ↔ epoch milliseconds (UTC).

Pure functions shared by the web layer, the services (which render stored answers inside
the writer's transaction) and the CSV imports.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .ledger.errors import InvalidRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_second_text: tuple[int, str] = (-1, "")  # (epoch second, its text): most times in a response share one


def rfc3339(ms: int | None) -> str | None:
    """Epoch milliseconds → `2026-01-31T12:00:00.123Z`."""
    global _second_text
    if ms is None:
        return None
    second, milli = divmod(ms, 1000)
    memo = _second_text  # one immutable tuple, read once: consistent whatever other threads do
    if memo[0] != second:
        memo = _second_text = (second, (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{memo[1]}{milli:03d}Z"


# RFC 3339 date-time only (no ISO week dates, ordinals or missing zones), within a range
# every part of the service can compute with: from the Unix epoch to the end of year 9999.
_RFC3339 = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
                      r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z")
TIME_MIN_MS = 0
TIME_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)
TIME_RANGE_TEXT = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"


def parse_time_ms(text: str, name: str) -> int:
    """RFC 3339 text with a zone → epoch milliseconds (fractions below 1 ms dropped)."""
    match = _RFC3339.match(text) if len(text) <= 40 else None
    if not match:
        raise InvalidRequest(f"{name} must be an RFC 3339 time with a zone, e.g. 2026-01-31T12:00:00Z",
                             field=name)
    y, mo, d, h, mi, sec, frac, z, sign, oh, om = match.groups()
    try:
        offset = timedelta(0) if z else (1 if sign == "+" else -1) * timedelta(hours=int(oh), minutes=int(om))
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), int((frac or ".0")[1:7].ljust(6, "0")),
                         tzinfo=timezone(offset))
    except ValueError:  # day 31 of a 30-day month, hour 24, offset hours past 23, second 60 …
        raise InvalidRequest(f"{name} is not a real moment", field=name) from None
    ms = (local - _EPOCH) // timedelta(milliseconds=1)  # timedelta arithmetic: no overflow at the ends
    if not TIME_MIN_MS <= ms <= TIME_MAX_MS:
        raise InvalidRequest(f"{name} must be within {TIME_RANGE_TEXT}", field=name)
    return ms


