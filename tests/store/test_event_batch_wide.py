"""Property, wider: the three ways events reach the rules give the same answers and rows
over a richer brand than tests/store/test_event_batch.py's: (1) `ingest_each`, one by one;
(2) `ingest_batch`, a batch applied as a whole; (3) single POST /v1/events calls that wait
together and run merged (writer `Mergeable`), with dry runs among them. The brand has tiers
with upgrade and downgrade rules (one issuing a stock-limited reward), bonuses by day, week
and once with budgets, rewards with stock and per-customer limits, two ambassadors (one in
a group with its own rate) and referral codes (valid, unknown, the customer's own),
birthdays, back-dated events, a time zone, days-based facts and clock gaps of up to a week.
Redemption codes are random: compared without them. Also: `verify` clean, no customer
balance below zero. (Written from a reviewer's test; it found the merged events' time bug.)"""
import asyncio
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clock import ManualClock
from app.ledger.errors import LedgerError
from app.runtime import Runtime
from app.services.customers import CustomerService
from app.services.event_batch import ingest_batch
from app.services.events import EventIn, ingest_each
from app.store.sqlite import connect
from app.store.verify import verify
from tests.conftest import make_config
from tests.store.test_event_batch import TABLES as NARROW_TABLES
from tests.store.writer_gate import writer_held

DAY = 86_400_000
CUSTOMERS = ["a", "b", "c", "d", "e", "f", "bad id!"]
TABLES = {**NARROW_TABLES,
          "bonus_definitions": "SELECT * FROM bonus_definitions ORDER BY id",
          "customer_rewards": "SELECT id, brand_id, reward_id, customer_id, status, source, event_id, cost_amount,"
                              " charge_transfer_id, refund_transfer_id, issued_at_ms, expires_at_ms, resolved_at_ms"
                              " FROM customer_rewards ORDER BY id",  # all but the random redemption_code
          "rewards": "SELECT * FROM rewards ORDER BY id",
          "referrals": "SELECT * FROM referrals ORDER BY customer_id",
          "open_holds": "SELECT * FROM open_holds ORDER BY transfer_id"}


async def setup(rt: Runtime, expiry_days, zone) -> int:
    brand = await rt.ledger.create_brand("p", "Prop", time_zone=zone, points_expiry_days=expiry_days)
    for t in ("REDEEM", "VISIT", "DOWN", "REWARD"):
        await rt.rules.create_event_type(brand, t, t.title())
    await rt.rules.create_bonus(brand, "DAILY", "Daily", "day", None)
    await rt.rules.create_bonus(brand, "WEEKLY", "Weekly", "week", 3)
    await rt.rules.create_bonus(brand, "ONCE", "Once", "once", 2)
    await rt.rules.create_tier(brand, "bronze", "Bronze", 0)
    await rt.rules.create_tier(brand, "silver", "Silver", 100)
    await rt.rules.create_tier(brand, "gold", "Gold", 250)
    await rt.rewards.create(brand, {"code": "MUG", "name": "Mug", "cost_asset": "POINTS", "cost_amount": "10",
                                    "stock": 3, "per_customer_limit": 1})
    await rt.rewards.create(brand, {"code": "CAP", "name": "Cap", "cost_asset": "CREDITS", "cost_amount": "1",
                                    "stock": 5, "per_customer_limit": 2})
    await rt.referrals.create_group(brand, "G", "Group", 1000)
    await rt.referrals.create_ambassador(brand, "a", None, None, "AMBA")
    await rt.referrals.create_ambassador(brand, "e", "G", None, "AMBE")
    await CustomerService(rt.writer, rt.readers, rt.clock).upsert(brand, "c", {"name": None, "email": None, "birthdate": "2026-01-05", "status": "active", "tags": ["vip"], "attributes": {}})
    base = {"priority": 0, "active": True, "stop_after": False, "conditions": None, "starts_at_ms": None,
            "ends_at_ms": None}
    C = lambda amount: {"type": "credit", "asset": "CREDITS", "amount": amount}  # noqa: E731
    rules = [
        ("earn", "PURCHASE", None, [{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount",
                                     "rate_bps": 10000}]),
        ("first", "PURCHASE", {"fact": "customer.events.PURCHASE", "op": "eq", "value": 0},
         [C("2.50"), {"type": "add_tag", "tag": "buyer"}]),
        ("loyal", "PURCHASE", {"fact": "customer.tags", "op": "contains", "value": "buyer"}, [C("0.10")]),
        ("silver_perk", "PURCHASE", {"fact": "customer.tier", "op": "eq", "value": "silver"}, [C("0.20")]),
        ("gold_perk", "PURCHASE", {"fact": "customer.tier", "op": "eq", "value": "gold"}, [C("0.30")]),
        ("ref_perk", "PURCHASE", {"fact": "customer.referred", "op": "eq", "value": True},
         [C("0.03"), {"type": "add_tag", "tag": "referred"}]),
        ("daily_seen", "PURCHASE", {"fact": "bonus.DAILY.awarded", "op": "eq", "value": True}, [C("0.07")]),
        ("visits", "PURCHASE", {"fact": "customer.events.VISIT", "op": "gte", "value": 2}, [C("0.04")]),
        ("big", "PURCHASE", {"fact": "customer.status_points", "op": "gte", "value": 60},
         [{"type": "remove_tag", "tag": "new"}, {"type": "set_status", "status": "active"}]),
        ("lifetime", "PURCHASE", {"fact": "customer.lifetime_points", "op": "gte", "value": 200}, [C("0.11")]),
        ("daily", "SIGNUP", None, [{"type": "bonus", "bonus": "DAILY", "asset": "POINTS", "amount": "7"},
                                   {"type": "add_tag", "tag": "new"}]),
        ("weekly", "VISIT", None, [{"type": "bonus", "bonus": "WEEKLY", "asset": "CREDITS", "amount": "1"},
                                   C("0.01")]),
        ("once", "VISIT", {"fact": "customer.events.VISIT", "op": "gte", "value": 2},
         [{"type": "bonus", "bonus": "ONCE", "asset": "POINTS", "amount": "20"}]),
        ("lapsed", "VISIT", {"fact": "customer.days_since_last_event", "op": "gte", "value": 2},
         [{"type": "add_tag", "tag": "lapsed"}, {"type": "set_status", "status": "inactive"}]),
        ("young", "VISIT", {"fact": "customer.days_since_created", "op": "lt", "value": 1}, [C("0.02")]),
        ("welcome", "TIER_UPGRADED", None, [C("5")]),
        ("gold_mug", "TIER_UPGRADED", {"fact": "payload.to_tier", "op": "eq", "value": "gold"},
         [{"type": "issue_reward", "reward": "MUG"}]),
        ("demoted", "TIER_DOWNGRADED", None, [C("0.50"), {"type": "add_tag", "tag": "demoted"}]),
        ("down", "DOWN", None, [{"type": "downgrade_tier"}]),
        ("reset", "DOWN", {"fact": "payload.amount", "op": "gte", "value": 60}, [{"type": "reset_status_points"}]),
        ("cap", "REWARD", None, [{"type": "issue_reward", "reward": "CAP"}, C("0.01")]),
        ("bday", "BIRTHDAY", {"fact": "customer.birthday_today", "op": "eq", "value": True}, [C("1")]),
        ("bday_any", "BIRTHDAY", None, [{"type": "add_tag", "tag": "bday"}]),
        ("burn", "REDEEM", None, [C("0.01"), {"type": "debit", "asset": "USD", "amount": "1.00"}]),
        ("spend_pts", "REDEEM", {"fact": "payload.amount", "op": "gte", "value": 45},
         [{"type": "debit", "asset": "POINTS", "amount": "30"}]),
        ("spend_cr", "REDEEM", {"fact": "payload.amount", "op": "lt", "value": 20},
         [{"type": "debit", "asset": "CREDITS", "amount": "2"}]),
    ]
    for code, event_type, conditions, actions in rules:
        await rt.rules.create_rule(brand, code, {**base, "name": code, "event_type": event_type,
                                                 "conditions": conditions, "actions": actions})
    return brand


KINDS = ["PURCHASE", "PURCHASE", "PURCHASE", "PURCHASE", "REDEEM", "REDEEM", "SIGNUP", "VISIT", "VISIT", "DOWN",
         "REWARD", "BIRTHDAY", "TIER_UPGRADED", "NOPE"]
step = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(CUSTOMERS + ["new"]),
    st.integers(0, 120),
    st.sampled_from(["new"] * 6 + ["again", "again_other", "ref", "refE", "refself"]),
    st.sampled_from([None, None, None, 0, -1, -3, -8, 1]),     # occurred_at: days before "now" (1: -0.5 day)
)


def events_of(steps, first: int, base_ms: int) -> list:
    out, made = [], []
    for n, (kind, customer, amount, how, when) in enumerate(steps, start=first):
        if customer == "new":
            customer = f"n{n}"
        payload = {"amount": f"{amount}.25"}
        if how == "ref":
            payload["referral_code"] = "AMBA" if amount % 3 else "NOSUCHCODE"
        elif how == "refE":
            payload["referral_code"] = "AMBE"
        elif how == "refself":
            payload["referral_code"] = {"a": "AMBA", "e": "AMBE"}.get(customer, "AMBA")
        event_id = f"e{n}"
        if how.startswith("again") and made:
            event_id, earlier = made[amount % len(made)]
            if how == "again":
                out.append(earlier)
                continue
        occurred = None
        body = {"event_id": event_id, "event_type": kind, "customer_id": customer, "payload": payload}
        if when is not None:
            occurred = base_ms - (when * DAY if when != 1 else DAY // 2) + 3_600_000 * (amount % 24)
            body["occurred_at"] = occurred
        event = EventIn(event_id, kind, customer, occurred, payload, body)
        made.append((event_id, event))
        out.append(event)
    return out


def masked(value):
    """The value without redemption codes (random by design)."""
    if isinstance(value, dict):
        return {k: ("CODE" if k == "redemption_code" else masked(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(masked(v) for v in value)
    return value


def outcome(answer) -> tuple:
    if isinstance(answer, LedgerError):
        return ("error", answer.code, answer.message, masked(answer.details))
    if isinstance(answer, BaseException):
        return ("exception", type(answer).__name__, str(answer))
    return ("answer", answer.status, masked(answer.body), answer.replayed)


_STORED_CODE = re.compile(r'"redemption_code":"[^"]*"')


def _row(row) -> tuple:
    """A row with the redemption codes of stored answers masked."""
    return tuple(_STORED_CODE.sub('"redemption_code":"CODE"', v) if isinstance(v, str) else v for v in row)


def dump(db) -> dict:
    conn = connect(db, readonly=True)
    try:
        out = {name: [_row(r) for r in conn.execute(sql)] for name, sql in TABLES.items()}
        out["_verify"] = [str(p) for p in verify(conn)]
        out["_negative"] = [tuple(r) for r in conn.execute(
            "SELECT id, owner FROM accounts WHERE kind = 'customer' AND credits_posted < debits_posted")]
        return out
    finally:
        conn.close()


def run_path(tmp, apply, batches_steps, expiry_days, zone, gaps):
    async def go():
        clock = ManualClock()
        rt = Runtime(make_config(Path(tmp)), clock=clock)
        try:
            brand = await setup(rt, expiry_days, zone)
            answers, n = [], 0
            for steps, gap in zip(batches_steps, gaps):
                clock.advance(ms=gap)
                now_ms = clock.now_ms()
                batch = events_of(steps, n, now_ms)
                n += len(steps)
                got = await rt.writer.submit(lambda conn, b=batch: apply(conn, brand, b, now_ms))
                answers.append([outcome(a) for a in got])
        finally:
            rt.close()
        return answers, dump(rt.db)
    return asyncio.run(go())


def ingest_path(tmp, steps_groups, together: bool, expiry_days, zone, gaps, dry=()):
    """Each group: single POST /v1/events calls (the clock moving 0, 400 or 800 ms before
    each), all queued while the writer is held (together) or one after another. `dry`: the
    indexes of the events sent as dry runs."""
    async def go():
        clock = ManualClock()
        rt = Runtime(make_config(Path(tmp)), clock=clock)
        answers = []
        try:
            brand = await setup(rt, expiry_days, zone)
            n = 0
            for steps, gap in zip(steps_groups, gaps):
                clock.advance(ms=gap)
                events = [e for e in events_of(steps, n, clock.now_ms()) if e.customer_id != "bad id!"]
                index = list(range(n, n + len(events)))
                n += len(steps)
                got = []
                if together:
                    tasks = []
                    async with writer_held(rt.writer):
                        for i, e in zip(index, events):
                            clock.advance(ms=400 * (i % 3))
                            tasks.append(asyncio.ensure_future(rt.events.ingest(brand, e, dry_run=i in dry)))
                            await asyncio.sleep(0)
                    got = await asyncio.gather(*tasks, return_exceptions=True)
                else:
                    for i, e in zip(index, events):
                        clock.advance(ms=400 * (i % 3))
                        try:
                            got.append(await rt.events.ingest(brand, e, dry_run=i in dry))
                        except LedgerError as exc:
                            got.append(exc)
                answers.append([outcome(a) for a in got])
        finally:
            rt.close()
        return answers, dump(rt.db)
    return asyncio.run(go())


def split(steps, cuts):
    bounds = sorted({c % (len(steps) + 1) for c in cuts} | {0, len(steps)})
    return [steps[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def same(a, b) -> None:
    assert a[1]["_verify"] == [] and a[1]["_negative"] == []
    assert a[0] == b[0]
    for table in a[1]:
        assert a[1][table] == b[1][table], table


ZONES = st.sampled_from(["UTC", "America/New_York"])
GAPS = st.lists(st.sampled_from([1000, 3_600_000, DAY, 3 * DAY, 7 * DAY + 1]), min_size=4, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=3),
       expiry=st.sampled_from([None, 30]), zone=ZONES, gaps=GAPS)
def test_a_batch_as_a_whole_equals_one_by_one(steps, cuts, expiry, zone, gaps):
    batches = split(steps, cuts)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = run_path(one, ingest_each, batches, expiry, zone, gaps)
        whole = run_path(other, ingest_batch, batches, expiry, zone, gaps)
    same(each, whole)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=2, max_size=30), cuts=st.lists(st.integers(0, 30), max_size=2),
       expiry=st.sampled_from([None, 30]), zone=ZONES, gaps=GAPS, dry=st.sets(st.integers(0, 29), max_size=3))
def test_single_events_merged_equal_one_by_one(steps, cuts, expiry, zone, gaps, dry):
    groups = split(steps, cuts)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = ingest_path(one, groups, False, expiry, zone, gaps, dry)
        together = ingest_path(other, groups, True, expiry, zone, gaps, dry)
    same(each, together)
