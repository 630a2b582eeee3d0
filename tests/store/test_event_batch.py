"""Property: a batch of events applied as a whole (`event_batch.ingest_batch`, the path of
POST /v1/events/batch and event imports) answers and writes exactly what the single
event's path (`events.ingest_each`) does for the same events at the same moment: the same
per-item answers and errors, and the same rows in every table the events touch, down to
the transfers' hash chain. Streams mix what the batch applies in memory (credits, debits
that may overdraw, tags, status, status points, rules reading counts, tags and points
earlier events of the batch changed, new customers) with what it hands to the single path
(tier changes and their internal events, bonus awards, referral codes and the commissions
they pay an ambassador who has events in the same batch, replays and
conflicting replays of event ids inside a batch and across batches, unknown event types,
bad customer ids, expiring points)."""
import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.clock import ManualClock
from app.ledger.errors import LedgerError
from app.runtime import Runtime
from app.services.event_batch import ingest_batch
from app.services.events import EventIn, ingest_each
from app.store.sqlite import connect
from app.store.verify import verify
from tests.conftest import make_config
from tests.store.writer_gate import writer_held

CUSTOMERS = ["a", "b", "c", "d", "bad id!"]
LATE_MS = ManualClock().now_ms() + 4_000
TABLES = {  # what events write, in an order that does not depend on row ids alone
    "transfers": "SELECT * FROM transfers ORDER BY id",
    "accounts": "SELECT * FROM accounts ORDER BY id",
    "customers": "SELECT * FROM customers ORDER BY id",
    "customer_event_counts": "SELECT * FROM customer_event_counts ORDER BY customer_id, event_type",
    "events": "SELECT * FROM events ORDER BY id",
    "bonus_awards": "SELECT * FROM bonus_awards ORDER BY id",
    "lots": "SELECT * FROM lots ORDER BY id",
}

step = st.tuples(
    st.sampled_from(["PURCHASE", "PURCHASE", "PURCHASE", "REDEEM", "SIGNUP", "NOPE"]),
    st.sampled_from(CUSTOMERS),
    st.integers(0, 90),                       # the amount
    st.sampled_from(["new", "new", "new", "new", "again", "again_other", "ref"]),
)


async def setup(rt: Runtime, expiry_days) -> int:
    brand = await rt.ledger.create_brand("p", "Prop", points_expiry_days=expiry_days)
    await rt.rules.create_event_type(brand, "REDEEM", "Redeem")
    await rt.rules.create_bonus(brand, "DAILY", "Daily", "day", None)
    await rt.rules.create_tier(brand, "bronze", "Bronze", 0)  # held from the first event on
    await rt.rules.create_tier(brand, "silver", "Silver", 150)
    # "a" refers whoever names its code: their purchases pay "a" a commission (single path),
    # which the batch must see when it applies "a"'s own events in memory afterwards.
    await rt.referrals.create_ambassador(brand, "a", None, None, "AMBA")
    base = {"priority": 0, "active": True, "stop_after": False, "conditions": None, "starts_at_ms": None,
            "ends_at_ms": None}
    rules = [
        ("earn", "PURCHASE", None, [{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount",
                                     "rate_bps": 10000}]),
        ("first", "PURCHASE", {"fact": "customer.events.PURCHASE", "op": "eq", "value": 0},
         [{"type": "credit", "asset": "CREDITS", "amount": "2.50"}, {"type": "add_tag", "tag": "buyer"}]),
        ("loyal", "PURCHASE", {"fact": "customer.tags", "op": "contains", "value": "buyer"},
         [{"type": "credit", "asset": "CREDITS", "amount": "0.10"}]),
        ("bronze_perk", "PURCHASE", {"fact": "customer.tier", "op": "eq", "value": "bronze"},
         [{"type": "credit", "asset": "CREDITS", "amount": "0.05"}]),
        ("big", "PURCHASE", {"fact": "customer.status_points", "op": "gte", "value": 60},
         [{"type": "remove_tag", "tag": "new"}, {"type": "set_status", "status": "active"}]),
        ("daily", "SIGNUP", None, [{"type": "bonus", "bonus": "DAILY", "asset": "POINTS", "amount": "7"},
                                   {"type": "add_tag", "tag": "new"}]),
        ("welcome", "TIER_UPGRADED", None, [{"type": "credit", "asset": "CREDITS", "amount": "5"}]),
        # holds only from 4 s after the clock's start: events sent apart straddle it
        ("late", "PURCHASE", None, [{"type": "credit", "asset": "CREDITS", "amount": "0.03"}], LATE_MS),
        # a credit, then a debit that may overdraw: refused, the credit must not stay either
        ("burn", "REDEEM", None, [{"type": "credit", "asset": "CREDITS", "amount": "0.01"},
                                  {"type": "debit", "asset": "USD", "amount": "1.00"}]),
    ]
    for code, event_type, conditions, actions, *starts in rules:
        await rt.rules.create_rule(brand, code, {**base, "name": code, "event_type": event_type,
                                                 "conditions": conditions, "actions": actions,
                                                 "starts_at_ms": starts[0] if starts else None})
    return brand


def events_of(steps, first: int) -> list:
    out, made = [], []
    for n, (kind, customer, amount, how) in enumerate(steps, start=first):
        payload = {"amount": f"{amount}.25"}
        if how == "ref":
            payload["referral_code"] = "AMBA" if amount % 2 else "NOSUCHCODE"
        event_id = f"e{n}"
        if how.startswith("again") and made:
            event_id, earlier = made[amount % len(made)]
            if how == "again":
                out.append(earlier)
                continue
        body = {"event_id": event_id, "event_type": kind, "customer_id": customer, "payload": payload}
        event = EventIn(event_id, kind, customer, None, payload, body)
        made.append((event_id, event))
        out.append(event)
    return out


def outcome(answer) -> tuple:
    if isinstance(answer, LedgerError):
        return ("error", answer.code, answer.message, answer.details)
    return ("answer", answer.status, answer.body, answer.replayed)


def dump(db) -> dict:
    conn = connect(db, readonly=True)
    try:
        assert verify(conn) == []
        return {name: [tuple(r) for r in conn.execute(sql)] for name, sql in TABLES.items()}
    finally:
        conn.close()


async def run_path(tmp: str, apply, batches, expiry_days, statements=None) -> tuple[list, dict]:
    """Every batch through `apply` in one writer command; `statements` gets the SQL each ran."""
    clock = ManualClock()
    rt = Runtime(make_config(Path(tmp)), clock=clock)
    try:
        brand = await setup(rt, expiry_days)
        answers = []
        for batch in batches:
            clock.advance(ms=1000)
            now_ms = clock.now_ms()

            def command(conn, b=batch):
                ran = []
                conn.set_trace_callback(ran.append)
                try:
                    return apply(conn, brand, b, now_ms)
                finally:
                    conn.set_trace_callback(None)
                    if statements is not None:
                        statements.append(ran)
            got = await rt.writer.submit(command)
            answers.append([outcome(a) for a in got])
    finally:
        rt.close()
    return answers, dump(rt.db)


def batches_of(steps, cuts) -> list[list]:
    events = events_of(steps, 0)
    bounds = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    return [events[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


@pytest.mark.parametrize("expiry_days", [None, 30])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=3))
# a commission opens the ambassador's USD account; the ambassador spends it in the same batch
@example(steps=[("PURCHASE", "b", 41, "ref"), ("REDEEM", "a", 0, "new")], cuts=[])
def test_a_batch_as_a_whole_equals_event_by_event(expiry_days, steps, cuts):
    batches = batches_of(steps, cuts)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = asyncio.run(run_path(one, ingest_each, batches, expiry_days))
        whole = asyncio.run(run_path(other, ingest_batch, batches, expiry_days))
    assert whole[0] == each[0]
    for table in TABLES:
        assert whole[1][table] == each[1][table], table


def test_the_bench_mix_is_applied_in_memory_and_matches():
    """A batch of plain purchases (the benchmark's shape) takes the in-memory path for every
    event: the file holds the same rows either way."""
    steps = [("PURCHASE", c, 1, "new") for c in ["a", "b", "c", "d"] * 10]  # no tier reached
    batches = batches_of(steps, [8])
    each_sql, whole_sql = [], []
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = asyncio.run(run_path(one, ingest_each, batches, None, each_sql))
        whole = asyncio.run(run_path(other, ingest_batch, batches, None, whole_sql))
    assert whole == each
    assert all(o[0] == "answer" and o[1] == 201 for batch in whole[0] for o in batch)
    # The second batch (32 events, customers and accounts known): a few reads in all and no
    # savepoint, where the single path reads several times per event (the trace shows each
    # row of an executemany as a statement: only reads are counted).
    def reads(sql):
        return [q for q in sql if q.startswith("SELECT")]
    assert len(reads(each_sql[1])) > 3 * 32
    assert len(reads(whole_sql[1])) <= 8, reads(whole_sql[1])
    assert not [q for q in whole_sql[1] if q.startswith("SAVEPOINT")]


def test_events_on_the_single_path_read_again_only_what_they_changed():
    """A batch of signups (each awards a bonus: the single path) for many customers: after
    each, the batch reads again that customer and the accounts its transfers moved, not the
    whole batch (which made a batch of N such events read N² rows)."""
    names = [f"c{n}" for n in range(30)]
    steps = [("SIGNUP", name, 1, "new") for name in names] + [("PURCHASE", name, 1, "new") for name in names]
    batches = [events_of(steps, 0)]
    each_sql, whole_sql = [], []
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = asyncio.run(run_path(one, ingest_each, batches, None, each_sql))
        whole = asyncio.run(run_path(other, ingest_batch, batches, None, whole_sql))
    assert whole == each
    reads = [q for q in whole_sql[0] if q.startswith("SELECT")]
    # each name: its single-path event's reads, the batch's first read and one read again
    most = max(sum(f'"{name}"' in q or f"'{name}'" in q for q in reads) for name in names)
    fewest = min(sum(f'"{name}"' in q or f"'{name}'" in q for q in reads) for name in names)
    assert most - fewest <= 2 and most < 12, (fewest, most)


async def ingest_path(tmp: str, events, together: bool, expiry_days, gaps_ms) -> tuple[list, dict, int]:
    """POST /v1/events' service call for each event, the clock moving `gaps_ms[n]` before the
    n-th: all queued while the writer is held (they run merged, as one batch, each at its
    own time), or one after another."""
    clock = ManualClock()
    rt = Runtime(make_config(Path(tmp)), clock=clock)
    try:
        brand = await setup(rt, expiry_days)
        clock.advance(ms=1000)
        if together:
            tasks = []
            async with writer_held(rt.writer):
                for e, gap in zip(events, gaps_ms):
                    clock.advance(ms=gap)
                    tasks.append(asyncio.ensure_future(rt.events.ingest(brand, e)))
                    await asyncio.sleep(0)  # it reads the clock and queues its command
            answers = await asyncio.gather(*tasks, return_exceptions=True)
        else:
            answers = []
            for e, gap in zip(events, gaps_ms):
                clock.advance(ms=gap)
                try:
                    answers.append(await rt.events.ingest(brand, e))
                except LedgerError as exc:
                    answers.append(exc)
        merged = rt.writer.stats.merged_commands
    finally:
        rt.close()
    return [outcome(a) for a in answers], dump(rt.db), merged


@pytest.mark.parametrize("expiry_days", [None, 30])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=2, max_size=30),
       gaps=st.lists(st.sampled_from([0, 0, 1, 700, 1_500, 86_400_000]), min_size=30, max_size=30))
@example(steps=[("PURCHASE", "b", 41, "ref"), ("REDEEM", "a", 0, "new")], gaps=[0] * 30)
@example(steps=[("PURCHASE", "b", 1, "ref"), ("REDEEM", "a", 0, "new")], gaps=[0] * 30)
@example(steps=[("PURCHASE", "a", 1, "new"), ("PURCHASE", "b", 1, "new")], gaps=[0, 4_000] + [0] * 28)
def test_single_events_sent_at_once_run_merged_and_answer_as_one_by_one(expiry_days, steps, gaps):
    events = [e for e in events_of(steps, 0) if e.customer_id != "bad id!"]  # refused before the writer
    if len(events) < 2:
        return
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        each = asyncio.run(ingest_path(one, events, False, expiry_days, gaps))
        together = asyncio.run(ingest_path(other, events, True, expiry_days, gaps))
    assert together[2] == len(events) and each[2] == 0
    assert together[0] == each[0]
    for table in TABLES:
        assert together[1][table] == each[1][table], table
