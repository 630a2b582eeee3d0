"""Property: random sequences of credits, debits, transfers, holds, posts, voids and expiries on a
real SQLite file keep every invariant; `verify` agrees, and balances match a simple model."""
import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clock import ManualClock
from app.ledger.errors import AlreadyResolved, InsufficientFunds, InvalidRequest
from app.runtime import Runtime
from app.services.ledger import Movement
from app.store.sqlite import connect
from app.store.verify import verify
from tests.conftest import make_config

CUSTOMERS = ["a", "b", "c"]
who = st.sampled_from(CUSTOMERS)
amount = st.integers(min_value=1, max_value=300)
asset = st.sampled_from(["CREDITS", "LP"])
op = st.one_of(
    st.tuples(st.just("credit"), who, asset, amount, st.booleans()),
    st.tuples(st.just("debit"), who, asset, amount),
    st.tuples(st.just("transfer"), who, who, asset, amount, st.booleans()),
    st.tuples(st.just("post"), st.integers(0, 20), st.one_of(st.none(), amount)),
    st.tuples(st.just("void"), st.integers(0, 20)),
    st.tuples(st.just("advance"), st.integers(1, 20)),
)


async def run_ops(rt: Runtime, clock: ManualClock, ops) -> dict:
    ledger = rt.ledger
    brand = await ledger.create_brand("p", "Prop")
    await ledger.create_asset(brand, "LP", 0, "points", expiry_days=7)
    for c in CUSTOMERS:
        await ledger.credit(brand, c, Movement("CREDITS", 1, "earn"))
    model = {c: 1 for c in CUSTOMERS}  # posted CREDITS balance per customer
    holds: list = []  # (transfer, asset, src, dst)
    for o in ops:
        try:
            if o[0] == "credit":
                _, c, a, n, pending = o
                t = await ledger.credit(brand, c, Movement(a, n, "earn", pending=pending))
                if pending:
                    holds.append((t, a, None, c))
                elif a == "CREDITS":
                    model[c] += n
            elif o[0] == "debit":
                _, c, a, n = o
                await ledger.debit(brand, c, Movement(a, n, "spend"))
                if a == "CREDITS":
                    model[c] -= n
            elif o[0] == "transfer":
                _, s, d, a, n, pending = o
                t = await ledger.transfer(brand, s, d, Movement(a, n, "transfer", pending=pending))
                if pending:
                    holds.append((t, a, s, d))
                elif a == "CREDITS":
                    model[s] -= n
                    model[d] += n
            elif o[0] in ("post", "void") and holds:
                t, a, s, d = holds[o[1] % len(holds)]
                if o[0] == "post":
                    r = await ledger.post(brand, t.id, min(o[2], t.amount) if o[2] else None)
                    if a == "CREDITS":
                        model[d] += r.amount
                        if s:
                            model[s] -= r.amount
                else:
                    await ledger.void(brand, t.id)
            elif o[0] == "advance":
                clock.advance(days=o[1])
                await ledger.sweep(1000)
        except (InsufficientFunds, AlreadyResolved, InvalidRequest):
            pass
        for row_c in CUSTOMERS:
            for row in await ledger.balances(brand, row_c):
                assert row["counters"].available >= 0
    return {c: next(r["counters"].balance for r in await ledger.balances(brand, c) if r["asset"] == "CREDITS")
            for c in CUSTOMERS}, model


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=1, max_size=40))
def test_random_sequences_keep_every_invariant(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock()
        rt = Runtime(make_config(Path(tmp)), clock=clock)
        try:
            actual, model = asyncio.run(run_ops(rt, clock, ops))
        finally:
            rt.close()
        assert actual == model
        conn = connect(rt.db, readonly=True)
        assert verify(conn) == []
        conn.close()
