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

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator, NamedTuple, Optional

from croniter import croniter

from ..ledger.errors import InvalidRequest

MAX_STEPS = 100_000  # occurrences walked looking for one (a cron that never fires is refused)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Occurrence(NamedTuple):
    bucket: str      # the wall-clock time, minute precision
    at_ms: int       # the moment, epoch milliseconds


def check_cron(expression: object) -> str:
    """A five-field cron expression (minute hour day month weekday), or 400."""
    if not isinstance(expression, str) or not 9 <= len(expression) <= 120 or len(expression.split()) != 5 \
            or not croniter.is_valid(expression):
        raise InvalidRequest("cron must be five fields: minute hour day-of-month month day-of-week,"
                             " e.g. '0 9 * * *' (every day at 09:00)", field="cron")
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
        wall = walker.get_next(datetime)
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
    """The latest occurrence in (not_before_ms, now_ms], or None."""
    found = None
    for occurrence in occurrences_after(expression, zone, not_before_ms):
        if occurrence.at_ms > now_ms:
            break
        found = occurrence
    return found


def previous_at_or_before(expression: str, zone: tzinfo, now_ms: int) -> Optional[Occurrence]:
    """The latest occurrence at or before `now_ms` (the bucket a manual run uses), looking
    back at most 400 days, in growing windows (an every-minute job needs one step back)."""
    for days in (1 / 24, 2, 33, 400):
        found = latest_at_or_before(expression, zone, now_ms, now_ms - int(days * 86_400_000))
        if found is not None:
            return found
    return None
