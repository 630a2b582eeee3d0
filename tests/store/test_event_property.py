"""Property: random streams of events (earning, burning, daily bonuses, tier changes) and
time passing (points expiring) keep `verify` green, and every customer's loyalty points
agree with the POINTS transfers: lifetime points = what rules credited, status points =
that less what expired; never negative."""
import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clock import ManualClock
from app.ledger.errors import LedgerError
from app.runtime import Runtime
from app.services.events import EventIn
from app.store.sqlite import connect
from app.store.verify import verify
from tests.conftest import make_config

CUSTOMERS = ["a", "b", "c"]
who = st.sampled_from(CUSTOMERS)
step = st.one_of(
    st.tuples(st.just("PURCHASE"), who, st.integers(0, 400)),
    st.tuples(st.just("REDEEM"), who, st.integers(1, 300)),
    st.tuples(st.just("SIGNUP"), who, st.just(0)),
    st.tuples(st.just("advance"), st.integers(1, 20), st.just(0)),
)


async def setup(rt: Runtime) -> int:
    brand = await rt.ledger.create_brand("p", "Prop", points_expiry_days=10)
    await rt.rules.create_event_type(brand, "REDEEM", "Redeem")
    await rt.rules.create_bonus(brand, "DAILY", "Daily", "day", None)
    for code, minimum in (("silver", 100), ("gold", 400)):
        await rt.rules.create_tier(brand, code, code, minimum)
    base = {"priority": 0, "active": True, "stop_after": False, "conditions": None, "starts_at_ms": None,
            "ends_at_ms": None}
    rules = [
        ("earn", "PURCHASE", [{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10000}]),
        ("daily", "SIGNUP", [{"type": "bonus", "bonus": "DAILY", "asset": "POINTS", "amount": "7"}]),
        ("welcome", "TIER_UPGRADED", [{"type": "credit", "asset": "POINTS", "amount": "5"}]),
    ]
    for code, event_type, actions in rules:
        await rt.rules.create_rule(brand, code, {**base, "name": code, "event_type": event_type, "actions": actions})
    for size in (1, 50, 300):  # REDEEM burns the size its payload names
        await rt.rules.create_rule(brand, f"burn{size}", {
            **base, "name": f"burn {size}", "event_type": "REDEEM",
            "conditions": {"fact": "payload.points", "op": "eq", "value": size},
            "actions": [{"type": "debit", "asset": "POINTS", "amount": str(size)}]})
    return brand


async def run_stream(rt: Runtime, clock: ManualClock, steps) -> None:
    brand = await setup(rt)
    for n, (kind, arg, amount) in enumerate(steps):
        if kind == "advance":
            clock.advance(days=arg)
            await rt.ledger.sweep(1000)
            continue
        payload = {"amount": str(amount)} if kind == "PURCHASE" else {"points": min((1, 50, 300),
                                                                                     key=lambda s: abs(s - amount))}
        body = {"event_id": f"e{n}", "event_type": kind, "customer_id": arg, "payload": payload}
        try:
            await rt.events.ingest(brand, EventIn(f"e{n}", kind, arg, None, payload, body))
        except LedgerError as exc:
            assert exc.code == "insufficient_funds", exc
    check_points(rt)


def check_points(rt: Runtime) -> None:
    conn = connect(rt.db, readonly=True)
    try:
        for row in conn.execute("SELECT id, external_id, status_points, lifetime_points FROM customers"):
            earned = conn.execute(
                "SELECT coalesce(sum(t.amount), 0) FROM transfers t JOIN accounts a ON a.id = t.credit_account_id"
                " JOIN assets s ON s.id = t.asset_id WHERE a.customer_id = ? AND s.code = 'POINTS'"
                " AND t.code IN ('earn', 'bonus')", (row["id"],)).fetchone()[0]
            expired = conn.execute(
                "SELECT coalesce(sum(t.amount), 0) FROM transfers t JOIN accounts a ON a.id = t.debit_account_id"
                " JOIN assets s ON s.id = t.asset_id WHERE a.customer_id = ? AND s.code = 'POINTS'"
                " AND t.code = 'expiry'", (row["id"],)).fetchone()[0]
            assert row["lifetime_points"] == earned, row["external_id"]
            assert row["status_points"] == earned - expired >= 0, row["external_id"]
        assert verify(conn) == []
    finally:
        conn.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=40))
def test_random_event_streams_keep_the_ledger_and_the_points_consistent(steps):
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock()
        rt = Runtime(make_config(Path(tmp)), clock=clock)
        try:
            asyncio.run(run_stream(rt, clock, steps))
        finally:
            rt.close()
