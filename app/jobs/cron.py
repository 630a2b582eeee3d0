"""When a cron job is due: its occurrences as wall-clock times in its time zone.

croniter walks naive wall-clock times; each becomes a moment in the zone here, with the
daylight-saving decisions DESIGN leaves to us:
- a wall-clock time that does not exist (02:30 on a spring-forward day) is skipped: that
  day has no such occurrence (croniter would run it at 03:00 instead);
- a wall-clock time that exists twice (02:30 on a fall-back day) runs once, at its first
  instant (fold 0);
- an occurrence's **bucket** is its wall-clock time as text (`2026-03-29T02:30`): unique per
  job, and the same whichever process or run computes it.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator, NamedTuple, Optional

from croniter import CroniterError, croniter

from ..ledger.errors import InvalidRequest

MAX_STEPS = 100_000  # occurrences walked looking for one (a cron that never fires is refused)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Plain five-field cron only: numbers, ranges, steps, lists and month/day names. croniter's
# extensions are refused: R (random: a different time at every reading, so no stable
# occurrence to run once), L, W, # and @-aliases.
_FIELD = re.compile(r"^(?:\*|[0-9]{1,2}|[A-Za-z]{3})(?:-(?:[0-9]{1,2}|[A-Za-z]{3}))?(?:/[0-9]{1,2})?"
                    r"(?:,(?:\*|[0-9]{1,2}|[A-Za-z]{3})(?:-(?:[0-9]{1,2}|[A-Za-z]{3}))?(?:/[0-9]{1,2})?)*$")
_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "mon", "tue", "wed", "thu", "fri", "sat", "sun"}


class Occurrence(NamedTuple):
    bucket: str      # the wall-clock time, minute precision
    at_ms: int       # the moment, epoch milliseconds


def check_cron(expression: object) -> str:
    """A five-field cron expression (minute hour day month weekday) that fires, or 400."""
    fields = expression.split() if isinstance(expression, str) and 9 <= len(expression) <= 120 else []
    plain = len(fields) == 5 and all(_FIELD.match(f) and all(w.lower() in _NAMES for w in re.findall(r"[A-Za-z]+", f))
                                     for f in fields)
    if not plain or not croniter.is_valid(expression):
        raise InvalidRequest("cron must be five fields: minute hour day-of-month month day-of-week, each a"
                             " number, *, a range a-b, a step */n or a list, e.g. '0 9 * * *' (every day at"
                             " 09:00)", field="cron")
    try:  # "31 February" is valid syntax that never fires
        croniter(expression, datetime(2026, 1, 1)).get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        raise InvalidRequest("cron never fires (e.g. a day that no month has)", field="cron") from None
    return expression


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _exists(wall: datetime, zone: tzinfo) -> Optional[datetime]:
    """The first instant showing `wall` on the zone's clocks, or None when no instant does."""
    aware = wall.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    return aware if back == wall else None


def occurrences_after(expression: str, zone: tzinfo, after_ms: int) -> Iterator[Occurrence]:
    """Occurrences strictly after `after_ms`, in order."""
    start = datetime.fromtimestamp(after_ms / 1000, tz=timezone.utc).astimezone(zone)
    # Start one hour early on the wall clock so a repeated hour is not missed, and drop what
    # is not after the moment.
    walker = croniter(expression, start.replace(tzinfo=None) - timedelta(hours=1))
    for _ in range(MAX_STEPS):
        try:
            wall = walker.get_next(datetime)
        except (CroniterError, ValueError, OverflowError):  # a stored cron that stopped firing
            return
        aware = _exists(wall, zone)
        if aware is None:
            continue
        at_ms = _ms(aware)
        if at_ms > after_ms:
            yield Occurrence(wall.strftime("%Y-%m-%dT%H:%M"), at_ms)
    return


def next_after(expression: str, zone: tzinfo, after_ms: int) -> Optional[Occurrence]:
    return next(occurrences_after(expression, zone, after_ms), None)


def latest_at_or_before(expression: str, zone: tzinfo, now_ms: int, not_before_ms: int) -> Optional[Occurrence]:
    """The latest occurrence in (not_before_ms, now_ms], or None. Walks backwards from now,
    so a long downtime costs nothing (an every-minute job down for 100 days: one step)."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(zone)
    # Start one hour late on the wall clock so a repeated hour's first instant is reached.
    walker = croniter(expression, now.replace(tzinfo=None) + timedelta(hours=1, minutes=1))
    for _ in range(MAX_STEPS):
        try:
            wall = walker.get_prev(datetime)
        except (CroniterError, ValueError, OverflowError):
            return None
        aware = _exists(wall, zone)
        if aware is None:
            continue
        at_ms = _ms(aware)
        if at_ms > now_ms:
            continue
        if at_ms <= not_before_ms:
            return None
        return Occurrence(wall.strftime("%Y-%m-%dT%H:%M"), at_ms)
    return None


def previous_at_or_before(expression: str, zone: tzinfo, now_ms: int) -> Optional[Occurrence]:
    """The latest occurrence at or before `now_ms` (the bucket a manual run uses), looking
    back at most 400 days."""
    return latest_at_or_before(expression, zone, now_ms, now_ms - 400 * 86_400_000)
