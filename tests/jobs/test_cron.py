"""Occurrences of cron jobs across months and daylight-saving changes (pure)."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.jobs.cron import check_cron, next_after, occurrences_after, previous_at_or_before
from app.ledger.errors import InvalidRequest


DAY_MS = 86_400_000


def ms(*args, tz=timezone.utc) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1000)


def buckets(expression, zone, after_ms, n):
    it = occurrences_after(expression, ZoneInfo(zone), after_ms)
    return [next(it) for _ in range(n)]


def test_daily_occurrences_in_the_zone():
    got = buckets("0 9 * * *", "Europe/Paris", ms(2026, 1, 1), 3)
    assert [o.bucket for o in got] == ["2026-01-01T09:00", "2026-01-02T09:00", "2026-01-03T09:00"]
    assert got[0].at_ms == ms(2026, 1, 1, 8)  # 09:00 in Paris is 08:00 UTC in winter


def test_monthly_and_month_ends():
    got = buckets("0 0 1 * *", "America/New_York", ms(2026, 1, 15), 3)
    assert [o.bucket for o in got] == ["2026-02-01T00:00", "2026-03-01T00:00", "2026-04-01T00:00"]
    assert got[2].at_ms == ms(2026, 4, 1, 4)  # EDT is UTC-4
    assert [o.bucket for o in buckets("0 12 31 * *", "UTC", ms(2026, 1, 1), 3)] == [
        "2026-01-31T12:00", "2026-03-31T12:00", "2026-05-31T12:00"]


@pytest.mark.parametrize("zone,spring,fall", [
    ("Europe/Paris", (2026, 3, 29), (2026, 10, 25)),
    ("America/New_York", (2026, 3, 8), (2026, 11, 1)),
])
def test_a_missing_hour_is_skipped_once_and_a_repeated_hour_runs_once(zone, spring, fall):
    y, m, d = spring
    got = [o.bucket for o in buckets("30 2 * * *", zone, ms(y, m, d) - 2 * DAY_MS, 4)]
    assert f"{y}-{m:02d}-{d:02d}T02:30" not in got  # 02:30 does not exist that night
    assert len(got) == len(set(got)) == 4
    y, m, d = fall
    got = buckets("30 1 * * *", zone, ms(y, m, d) - 2 * DAY_MS, 4)
    day = f"{y}-{m:02d}-{d:02d}T01:30"
    assert [o.bucket for o in got].count(day) == 1  # 01:30 happens twice: it runs once, the first time
    first = next(o for o in got if o.bucket == day)
    assert datetime.fromtimestamp(first.at_ms / 1000, ZoneInfo(zone)).fold == 0
    # every 30 minutes through the repeated hour: each wall-clock time once
    night = [o.bucket for o in buckets("*/30 * * * *", zone, ms(y, m, d, 3), 8)]
    assert len(night) == len(set(night))


def test_previous_occurrence_is_the_current_bucket():
    assert previous_at_or_before("0 9 * * *", ZoneInfo("UTC"), ms(2026, 1, 2, 8, 59)).bucket == "2026-01-01T09:00"
    assert previous_at_or_before("* * * * *", ZoneInfo("UTC"), ms(2026, 1, 2, 8, 59, 30)).bucket == "2026-01-02T08:59"
    assert next_after("0 0 29 2 *", ZoneInfo("UTC"), ms(2026, 1, 1)).bucket == "2028-02-29T00:00"


@pytest.mark.parametrize("bad", ["", "* * * *", "61 * * * *", "0 9 * * * *", "every day", None, 5])
def test_bad_cron_is_400(bad):
    with pytest.raises(InvalidRequest):
        check_cron(bad)


@pytest.mark.parametrize("bad", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 15 2 1#5", "R R * * *",
                                 "0 0 L * *", "0 0 15W * *", "@daily", "*/0 * * * *", "0 9 * * xyz"])
def test_crons_that_never_fire_or_use_extensions_are_400(bad):
    with pytest.raises(InvalidRequest):
        check_cron(bad)


@pytest.mark.parametrize("good", ["0 9 * * *", "*/15 8-18 * * mon-fri", "0 0 29 2 *", "30 2 1,15 jan,jul *",
                                  "0 12 * * 0"])
def test_plain_crons_are_accepted(good):
    assert check_cron(good) == good


def test_the_latest_occurrence_after_a_long_downtime_is_found_at_once():
    import time
    started = time.monotonic()
    latest = previous_at_or_before("* * * * *", ZoneInfo("Europe/Paris"), ms(2026, 11, 22, 6, 24, 30))
    assert latest.bucket == "2026-11-22T07:24"  # 06:24 UTC is 07:24 in Paris
    from app.jobs.cron import latest_at_or_before
    found = latest_at_or_before("* * * * *", ZoneInfo("UTC"), ms(2026, 11, 22, 6, 24), ms(2026, 8, 1))
    assert found.bucket == "2026-11-22T06:24"
    assert time.monotonic() - started < 1
    # a repeated hour: the latest occurrence at 01:45 on fall-back night (second pass) is 01:30's first instant
    ny = ZoneInfo("America/New_York")
    second_pass = ms(2026, 11, 1, 6, 45)  # 01:45 EST, after clocks fell back
    got = latest_at_or_before("30 1 * * *", ny, second_pass, second_pass - DAY_MS)
    assert got.bucket == "2026-11-01T01:30" and got.at_ms == ms(2026, 11, 1, 5, 30)
