"""A worked example: one month of a small coffee shop, every balance asserted.

The shop sells store credit (CREDITS, scale 2) and awards loyalty points (BEANS, scale 0,
expiring after 30 days). Alice, Bob and Carol are customers.
"""
from app.services.ledger import Movement


async def bal(rt, brand, who, asset):
    rows = {r["asset"]: r["counters"] for r in await rt.ledger.balances(brand, who)}
    c = rows[asset]
    return c.balance, c.available


async def system_balance(rt, name, asset_code):
    return rt.readers.read_sync(lambda c: c.execute(
        "SELECT a.credits_posted - a.debits_posted FROM accounts a JOIN assets s ON s.id = a.asset_id"
        " WHERE a.kind = 'system' AND a.owner = ? AND s.code = ?", (name, asset_code)).fetchone()[0])


async def test_a_month_at_the_coffee_shop(runtime, brand, clock):
    L = runtime.ledger
    await L.create_asset(brand, "BEANS", 0, "points", expiry_days=30)
    cr = lambda n, code, **kw: Movement("CREDITS", n, code, **kw)  # noqa: E731
    beans = lambda n, code, **kw: Movement("BEANS", n, code, **kw)  # noqa: E731

    # Day 1: Alice tops up 50.00, Bob 20.00; both earn 10 beans.
    await L.credit(brand, "alice", cr(5000, "topup"))
    await L.credit(brand, "bob", cr(2000, "topup"))
    await L.credit(brand, "alice", beans(10, "earn"))
    await L.credit(brand, "bob", beans(10, "earn"))
    assert await bal(runtime, brand, "alice", "CREDITS") == (5000, 5000)

    # Day 3: Alice buys a latte (4.50); Bob buys two (9.00).
    clock.advance(days=2)
    await L.debit(brand, "alice", cr(450, "spend"))
    await L.debit(brand, "bob", cr(900, "spend"))
    assert await bal(runtime, brand, "alice", "CREDITS") == (4550, 4550)
    assert await bal(runtime, brand, "bob", "CREDITS") == (1100, 1100)

    # Day 5: Alice sends Bob 10.00; Carol joins and tops up 15.00.
    clock.advance(days=2)
    await L.transfer(brand, "alice", "bob", cr(1000, "transfer"))
    await L.credit(brand, "carol", cr(1500, "topup"))
    assert await bal(runtime, brand, "alice", "CREDITS") == (3550, 3550)
    assert await bal(runtime, brand, "bob", "CREDITS") == (2100, 2100)

    # Day 8: a catering order holds 30.00 of Alice's credit; she cannot spend it twice.
    clock.advance(days=3)
    hold = await L.debit(brand, "alice", cr(3000, "spend", pending=True, timeout_s=7 * 86400))
    assert await bal(runtime, brand, "alice", "CREDITS") == (3550, 550)
    # Day 9: the order costs 27.40 in the end; the rest is released.
    clock.advance(days=1)
    await L.post(brand, hold.id, 2740)
    assert await bal(runtime, brand, "alice", "CREDITS") == (810, 810)

    # Day 12: Bob's 25.00 hold for a party is never confirmed and times out a week later.
    clock.advance(days=3)
    await L.debit(brand, "bob", cr(2000, "spend", pending=True, timeout_s=7 * 86400))
    assert await bal(runtime, brand, "bob", "CREDITS") == (2100, 100)
    clock.advance(days=7)
    await L.sweep(100)
    assert await bal(runtime, brand, "bob", "CREDITS") == (2100, 2100)

    # Day 20: Bob redeems 8 beans; Carol earns 5 beans.
    clock.advance(days=1)
    await L.debit(brand, "bob", beans(8, "redeem"))
    await L.credit(brand, "carol", beans(5, "earn"))

    # Day 31: the day-1 beans expire: Alice loses 10, Bob his last 2; Carol's are young.
    clock.advance(days=11)
    await L.sweep(100)
    assert await bal(runtime, brand, "alice", "BEANS") == (0, 0)
    assert await bal(runtime, brand, "bob", "BEANS") == (0, 0)
    assert await bal(runtime, brand, "carol", "BEANS") == (5, 5)
    assert await system_balance(runtime, "breakage", "BEANS") == 12

    # The books: issued = held by customers + spent.
    assert await system_balance(runtime, "issuance", "CREDITS") == -(5000 + 2000 + 1500)
    assert await system_balance(runtime, "revenue", "CREDITS") == 450 + 900 + 2740
    assert await bal(runtime, brand, "carol", "CREDITS") == (1500, 1500)
    assert 810 + 2100 + 1500 + 450 + 900 + 2740 == 8500
