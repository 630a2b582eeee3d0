"""Cron jobs through the HTTP API and the scheduler on a real server (DESIGN §7, seed 004):
birthday and win-back jobs end to end, exactly once per customer per occurrence, catch-up,
chunks across ticks, the lease between two schedulers, strict selectors."""
from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest

from app.jobs.scheduler import Scheduler
from tests.api.conftest import Api, serving

DAY_MS = 86_400_000


def on_server(live, coro):
    return asyncio.run_coroutine_threadsafe(coro, live.loop).result(60)


async def _make(runtime, holder=None) -> Scheduler:
    return Scheduler(runtime, holder)


def scheduler(live, holder=None) -> Scheduler:
    return on_server(live, _make(live.runtime, holder))


def tick(live, s: Scheduler) -> bool:
    return on_server(live, s.tick())


def set_time(live, iso: str) -> None:
    from app.times import parse_time_ms
    target = parse_time_ms(iso, "t")
    live.clock.advance(ms=target - live.clock.now_ms())


@contextmanager
def small_chunks(tmp_path, clock, **overrides):
    """A server of its own with the given chunk settings, a brand `shop` and its client."""
    gen = serving(tmp_path, clock, **overrides)
    live = next(gen)
    api = Api(live.url, brand="shop")
    try:
        Api(live.url).post("/v1/brands", json={"code": "shop", "name": "Shop"})
        yield live, api
    finally:
        api.client.close()
        next(gen, None)


def job(api, code="birthdays", **fields):
    body = {"code": code, "name": code, "cron": "0 9 * * *", "time_zone": "Europe/Paris",
            "selector": {"all": [{"birthday_today": True}]}, "event_type": "BIRTHDAY", **fields}
    r = api.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def points(api, customer):
    rows = api.get(f"/v1/customers/{customer}/balances").json()["balances"]
    return next((r["balance"] for r in rows if r["asset"] == "POINTS"), "0")


@pytest.fixture
def birthday_brand(shop):
    assert shop.post("/v1/bonus-definitions", json={"code": "BDAY", "name": "Birthday", "period": "year"}
                     ).status_code == 201
    assert shop.post("/v1/rules", json={
        "code": "birthday", "name": "Birthday bonus", "event_type": "BIRTHDAY",
        "conditions": {"fact": "customer.birthday_today", "op": "eq", "value": True},
        "actions": [{"type": "bonus", "bonus": "BDAY", "asset": "POINTS", "amount": "250"}]}).status_code == 201
    shop.put("/v1/customers/ann", json={"birthdate": "1990-01-02"})
    shop.put("/v1/customers/bob", json={"birthdate": "1985-01-03"})
    shop.put("/v1/customers/cid", json={})
    return shop


def test_seed_004_birthday_job_end_to_end_exactly_once(live, birthday_brand):
    shop = birthday_brand
    made = job(shop)
    assert made["next_bucket"] == "2026-01-01T09:00" and made["next_run_at"] == "2026-01-01T08:00:00.000Z"
    s = scheduler(live)
    set_time(live, "2026-01-02T08:00:05Z")  # 09:00:05 in Paris on Ann's birthday
    assert tick(live, s)
    assert points(shop, "ann") == "250" and points(shop, "bob") == "0"
    runs = shop.get("/v1/jobs/birthdays/runs").json()["data"]
    assert [(r["bucket"], r["trigger"], r["status"], r["created"]) for r in runs] == [
        ("2026-01-02T09:00", "schedule", "done", 1)]
    assert shop.get("/v1/jobs/birthdays").json()["next_bucket"] == "2026-01-03T09:00"
    assert tick(live, s)  # nothing more is due
    assert len(shop.get("/v1/jobs/birthdays/runs").json()["data"]) == 1
    # A manual run of the same occurrence finds everyone already done (seed 004's rule).
    manual = shop.post("/v1/jobs/birthdays/run").json()
    assert manual["bucket"] == "2026-01-02T09:00"
    assert (manual["created"], manual["idempotent_existing"]) == (0, 1)
    assert points(shop, "ann") == "250"
    event = shop.get("/v1/customers/ann/events").json()["data"][0]
    assert event["event_type"] == "BIRTHDAY" and event["occurred_at"] == "2026-01-02T08:00:00.000Z"
    # The next day is Bob's.
    set_time(live, "2026-01-03T08:00:01Z")
    tick(live, s)
    assert points(shop, "bob") == "250" and points(shop, "ann") == "250"


def test_preview_writes_nothing(live, birthday_brand):
    shop = birthday_brand
    job(shop)
    set_time(live, "2026-01-02T12:00:00Z")
    preview = shop.post("/v1/jobs/birthdays/preview").json()
    assert preview == {"bucket": "2026-01-02T09:00", "due_at": "2026-01-02T08:00:00.000Z", "matching": 1,
                       "sample": ["ann"]}
    assert points(shop, "ann") == "0" and shop.get("/v1/jobs/birthdays/runs").json()["data"] == []


def test_inactivity_win_back_job(live, shop):
    assert shop.post("/v1/event-types", json={"code": "WIN_BACK", "name": "Win-back"}).status_code == 201
    shop.post("/v1/rules", json={"code": "win_back", "name": "We miss you", "event_type": "WIN_BACK",
                                 "actions": [{"type": "credit", "asset": "POINTS", "amount": "100"},
                                             {"type": "add_tag", "tag": "win_back"}]})
    for who in ("old", "recent"):
        shop.post("/v1/events", json={"event_id": f"buy-{who}", "event_type": "PURCHASE", "customer_id": who,
                                      "payload": {"amount": "10.00"}})
    job(shop, "win_back", cron="0 10 * * 1", time_zone="UTC", event_type="WIN_BACK",
        selector={"all": [{"inactive_days_gte": 30}, {"status_in": ["active"]}]})
    live.clock.advance(days=20)
    shop.post("/v1/events", json={"event_id": "buy-recent-2", "event_type": "PURCHASE", "customer_id": "recent",
                                  "payload": {"amount": "10.00"}})
    set_time(live, "2026-02-02T10:00:00Z")  # a Monday, 32 days after the first purchases
    assert tick(live, scheduler(live))
    assert points(shop, "old") == "100" and points(shop, "recent") == "0"
    assert shop.get("/v1/customers/old").json()["tags"] == ["win_back"]


def test_after_downtime_only_the_latest_missed_occurrence_runs(live, shop):
    job(shop, "daily", cron="0 6 * * *", time_zone="UTC", event_type="SIGNUP", selector={"all": []})
    job(shop, "daily_skip", cron="0 6 * * *", time_zone="UTC", event_type="SIGNUP", selector={"all": []},
        catch_up="skip")
    shop.put("/v1/customers/zed", json={})
    set_time(live, "2026-01-05T07:00:00Z")  # down since before 01-01 06:00: four occurrences missed
    tick(live, scheduler(live))
    runs = shop.get("/v1/jobs/daily/runs").json()["data"]
    assert [r["bucket"] for r in runs] == ["2026-01-05T06:00"]
    assert shop.get("/v1/jobs/daily_skip/runs").json()["data"] == []  # an hour late: skipped
    assert shop.get("/v1/jobs/daily").json()["next_bucket"] == "2026-01-06T06:00"


def test_a_large_selection_runs_in_chunks_across_ticks(tmp_path, clock):
    with small_chunks(tmp_path, clock, job_scan_max=40, job_events_max=15, scheduler_tick_budget_ms=10) as (live, api):
        for n in range(120):
            api.put(f"/v1/customers/c{n:03d}", json={"tags": ["vip"] if n % 3 == 0 else []})
        api.post("/v1/rules", json={"code": "vip", "name": "VIP gift", "event_type": "SIGNUP",
                                    "actions": [{"type": "credit", "asset": "POINTS", "amount": "7"}]})
        job(api, "vips", cron="0 * * * *", time_zone="UTC", event_type="SIGNUP",
            selector={"any": [{"tag_in": ["vip"]}]})
        set_time(live, "2026-01-01T01:00:00Z")
        s = scheduler(live)
        ticks = 0
        while True:
            tick(live, s)
            ticks += 1
            run = api.get("/v1/jobs/vips/runs").json()["data"][0]
            if run["status"] == "done":
                break
            assert ticks < 100
        assert ticks > 1  # not one long transaction
        assert (run["scanned"], run["matched"], run["created"], run["failed"]) == (120, 40, 40, 0)
        assert points(api, "c000") == "7" and points(api, "c001") == "0"


def test_two_schedulers_on_one_file_only_the_lease_holder_runs(live, shop):
    a, b = scheduler(live, "process-a"), scheduler(live, "process-b")
    assert tick(live, a) is True
    assert tick(live, b) is False  # a holds the lease
    assert shop.get("/health").json()["scheduler"]["lease_holder"] == "process-a"
    live.clock.advance(s=live.runtime.config.scheduler_lease_s + 1)  # a stopped renewing: it died
    assert tick(live, b) is True and tick(live, a) is False
    on_server(live, b.stop())  # a clean stop hands the lease back at once
    assert tick(live, a) is True


@pytest.mark.parametrize("selector,path", [
    ({"all": [{"birthdy_today": True}]}, "selector.all[0].birthdy_today"),
    ({"all": [{"birthday_today": True, "tier_in": ["gold"]}]}, "selector.all[0]"),
    ({"any": []}, "selector.any"),
    ({"all": [{"tier_in": ["platinum"]}]}, "selector.all[0].tier_in[0]"),
    ({"all": [{"inactive_days_gte": "30"}]}, "selector.all[0].inactive_days_gte"),
    ({"all": [{"status_in": ["gone"]}]}, "selector.all[0].status_in[0]"),
    ({"birthday_today": False}, "selector.birthday_today"),
])
def test_selectors_are_validated_strictly(shop, selector, path):
    r = shop.post("/v1/jobs", json={"code": "j", "name": "j", "cron": "0 9 * * *", "selector": selector,
                                    "event_type": "BIRTHDAY"})
    assert r.status_code == 400, r.text
    assert path in [p["path"] for p in r.json()["error"]["details"]["problems"]], r.text


def test_bad_job_fields_are_400(shop):
    base = {"code": "j", "name": "j", "cron": "0 9 * * *", "selector": {"all": []}, "event_type": "BIRTHDAY"}
    for change, path in (({"cron": "0 25 * * *"}, "cron"), ({"event_type": "NOPE"}, "event_type"),
                         ({"event_type": "TIER_UPGRADED"}, "event_type"), ({"time_zone": "Mars/Base"}, "time_zone")):
        r = shop.post("/v1/jobs", json={**base, **change})
        assert r.status_code == 400 and r.json()["error"]["details"]["problems"][0]["path"] == path, r.text
    assert shop.post("/v1/jobs", json={**base, "catch_up": "all"}).status_code == 400
    made = shop.post("/v1/jobs", json=base).json()
    assert made["time_zone"] == "UTC"  # the brand's
    assert shop.post("/v1/jobs", json=base).status_code == 409
    patched = shop.patch("/v1/jobs/j", json={"cron": "0 10 * * *"}).json()
    assert patched["version"] == 2 and patched["next_bucket"] == "2026-01-01T10:00"
    assert shop.patch("/v1/jobs/j", json={"cron": None}).status_code == 400
    assert shop.delete("/v1/jobs/j").status_code == 200
    assert shop.get("/v1/jobs/j").status_code == 404


def test_a_long_run_does_not_hold_back_a_small_one(tmp_path, clock):
    with small_chunks(tmp_path, clock, job_scan_max=10, job_events_max=5, scheduler_tick_budget_ms=10) as (live, api):
        for n in range(200):
            api.put(f"/v1/customers/c{n:03d}", json={"tags": ["one"] if n == 150 else []})
        job(api, "big", cron="0 * * * *", time_zone="UTC", event_type="SIGNUP", selector={"all": []})
        job(api, "small", cron="0 * * * *", time_zone="UTC", event_type="SIGNUP",
            selector={"all": [{"tag_in": ["one"]}]})
        set_time(live, "2026-01-01T01:00:00Z")
        s = scheduler(live)
        for _ in range(40):
            tick(live, s)
            if api.get("/v1/jobs/small/runs").json()["data"][0]["status"] == "done":
                break
        big = api.get("/v1/jobs/big/runs").json()["data"][0]
        assert big["status"] == "running"  # the small job finished while the big one goes on


def test_switching_a_job_off_stops_its_run_in_progress(tmp_path, clock):
    with small_chunks(tmp_path, clock, job_scan_max=10, job_events_max=5, scheduler_tick_budget_ms=10) as (live, api):
        for n in range(100):
            api.put(f"/v1/customers/c{n:03d}", json={})
        job(api, "all", cron="0 * * * *", time_zone="UTC", event_type="SIGNUP", selector={"all": []})
        set_time(live, "2026-01-01T01:00:00Z")
        s = scheduler(live)
        tick(live, s)
        assert api.get("/v1/jobs/all/runs").json()["data"][0]["status"] == "running"
        api.patch("/v1/jobs/all", json={"active": False})
        tick(live, s)
        run = api.get("/v1/jobs/all/runs").json()["data"][0]
        assert run["status"] == "done" and run["last_error"] == "job inactive" and run["created"] < 100
