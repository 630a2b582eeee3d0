"""The ledger applied through the writer on a real SQLite file."""
import sqlite3

import pytest

from app.ledger.errors import (AlreadyResolved, BatchFailed, IdempotencyConflict, InsufficientFunds,
                               InvalidRequest, NotFound)
from app.services.ledger import Movement
from app.store.sqlite import connect
from app.store.verify import verify


def credits(amount, **kw):
    return Movement("CREDITS", amount, kw.pop("code", "earn"), **kw)


async def balance(runtime, brand, customer, asset="CREDITS", as_of_ms=None):
    for row in await runtime.ledger.balances(brand, customer, as_of_ms):
        if row["asset"] == asset:
            return row["counters"]
    raise AssertionError(f"{customer} holds no {asset}")


async def test_seed_002_topup_and_bill(runtime, brand):
    await runtime.ledger.credit(brand, "john@example.com", credits(10000, code="topup"))
    assert (await balance(runtime, brand, "john@example.com")).balance == 10000
    await runtime.ledger.debit(brand, "john@example.com", credits(25, code="bill"))
    assert (await balance(runtime, brand, "john@example.com")).balance == 9975
    with pytest.raises(InsufficientFunds):
        await runtime.ledger.debit(brand, "john@example.com", credits(9976, code="bill"))
    assert (await balance(runtime, brand, "john@example.com")).balance == 9975


async def test_debit_of_unknown_customer_is_not_found(runtime, brand):
    with pytest.raises(NotFound):
        await runtime.ledger.debit(brand, "nobody", credits(1))


async def test_idempotent_replay_returns_the_original(runtime, brand):
    first = await runtime.ledger.credit(brand, "a", credits(500, idempotency_key="k1"))
    again = await runtime.ledger.credit(brand, "a", credits(500, idempotency_key="k1"))
    assert again.id == first.id and again.replayed and not first.replayed
    assert (await balance(runtime, brand, "a")).balance == 500


async def test_key_reused_for_another_request_names_the_field(runtime, brand):
    await runtime.ledger.credit(brand, "a", credits(500, idempotency_key="k1"))
    with pytest.raises(IdempotencyConflict) as err:
        await runtime.ledger.credit(brand, "a", credits(501, idempotency_key="k1"))
    assert err.value.details["field"] == "amount"
    with pytest.raises(IdempotencyConflict) as err:
        await runtime.ledger.credit(brand, "a", credits(500, idempotency_key="k1", metadata={"x": 1}))
    assert err.value.details["field"] == "metadata"


async def test_keys_are_scoped_by_brand(runtime, brand):
    other = await runtime.ledger.create_brand("other", "Other")
    a = await runtime.ledger.credit(brand, "a", credits(1, idempotency_key="same"))
    b = await runtime.ledger.credit(other, "a", credits(2, idempotency_key="same"))
    assert a.id != b.id and not b.replayed


async def test_pending_credit_posts_once(runtime, brand):
    held = await runtime.ledger.credit(brand, "u", credits(1050, pending=True))
    c = await balance(runtime, brand, "u")
    assert (c.balance, c.pending) == (0, 1050)
    posted = await runtime.ledger.post(brand, held.id)
    assert posted.amount == 1050 and posted.pending_id == held.id
    assert (await balance(runtime, brand, "u")).balance == 1050
    with pytest.raises(AlreadyResolved) as err:
        await runtime.ledger.post(brand, held.id)
    assert err.value.details["status"] == "posted"
    with pytest.raises(AlreadyResolved):
        await runtime.ledger.void(brand, held.id)


async def test_partial_post_releases_the_rest(runtime, brand):
    await runtime.ledger.credit(brand, "payer", credits(1000))
    await runtime.ledger.credit(brand, "payee", credits(1))
    hold = await runtime.ledger.transfer(brand, "payer", "payee", credits(600, code="transfer", pending=True))
    assert (await balance(runtime, brand, "payer")).available == 400
    with pytest.raises(InsufficientFunds):
        await runtime.ledger.debit(brand, "payer", credits(401))
    with pytest.raises(InvalidRequest):
        await runtime.ledger.post(brand, hold.id, 601)
    await runtime.ledger.post(brand, hold.id, 250)
    payer = await balance(runtime, brand, "payer")
    assert (payer.balance, payer.available) == (750, 750)
    assert (await balance(runtime, brand, "payee")).balance == 251


async def test_void_returns_the_funds(runtime, brand):
    await runtime.ledger.credit(brand, "p", credits(100))
    await runtime.ledger.credit(brand, "q", credits(1))
    hold = await runtime.ledger.transfer(brand, "p", "q", credits(100, code="transfer", pending=True))
    await runtime.ledger.void(brand, hold.id)
    assert (await balance(runtime, brand, "p")).available == 100


async def test_pending_expires_at_its_timeout(runtime, brand, clock):
    await runtime.ledger.credit(brand, "p", credits(100))
    await runtime.ledger.credit(brand, "q", credits(1))
    hold = await runtime.ledger.transfer(brand, "p", "q", credits(70, code="transfer", pending=True, timeout_s=60))
    clock.advance(s=59)
    holds, _ = await runtime.ledger.sweep(100)
    assert holds.done == 0
    clock.advance(s=1)
    with pytest.raises(AlreadyResolved):
        await runtime.ledger.post(brand, hold.id)
    holds, _ = await runtime.ledger.sweep(100)
    assert holds.done == 1
    assert (await balance(runtime, brand, "p")).available == 100
    with pytest.raises(AlreadyResolved) as err:
        await runtime.ledger.void(brand, hold.id)
    assert err.value.details["status"] == "expired"


async def test_atomic_batch_is_all_or_nothing(runtime, brand):
    await runtime.ledger.credit(brand, "a", credits(100))
    await runtime.ledger.credit(brand, "b", credits(100))
    items = [("a", "b", credits(60, code="transfer")), ("a", "b", credits(60, code="transfer")),
             ("b", "nobody", credits(1, code="transfer"))]
    with pytest.raises(BatchFailed) as err:
        await runtime.ledger.transfer_batch(brand, items, atomic=True)
    # Every failing item is named: the one short of funds as well as the unknown customer.
    assert [(i["index"], i["code"]) for i in err.value.details["items"]] == [(1, "insufficient_funds"),
                                                                            (2, "not_found")]
    assert err.value.details["items"][0]["details"] == {"asset": "CREDITS", "available": "0.40",
                                                        "requested": "0.60", "customer_id": "a"}
    assert (await balance(runtime, brand, "a")).balance == 100
    results = await runtime.ledger.transfer_batch(brand, items, atomic=False)
    assert [r.error.code if r.error else "ok" for r in results] == ["ok", "insufficient_funds", "not_found"]
    assert (await balance(runtime, brand, "a")).balance == 40


async def test_balance_as_of_a_past_moment(runtime, brand, clock):
    t0 = clock.now_ms()
    await runtime.ledger.credit(brand, "h", credits(100))
    clock.advance(s=10)
    t1 = clock.now_ms()
    await runtime.ledger.debit(brand, "h", credits(30))
    clock.advance(s=10)
    await runtime.ledger.credit(brand, "h", credits(5))
    assert (await balance(runtime, brand, "h", as_of_ms=t0 - 1)).balance == 0
    assert (await balance(runtime, brand, "h", as_of_ms=t0)).balance == 100
    assert (await balance(runtime, brand, "h", as_of_ms=t1)).balance == 70
    assert (await balance(runtime, brand, "h")).balance == 75


async def test_expiry_cannot_overdraw_seed_004(runtime, brand, clock):
    """Earn 100, burn 80, the lot expires: 20 goes to breakage, never -80."""
    await runtime.ledger.create_asset(brand, "LP", 0, "points", expiry_days=30)
    await runtime.ledger.credit(brand, "m", Movement("LP", 100, "earn"))
    await runtime.ledger.debit(brand, "m", Movement("LP", 80, "burn"))
    clock.advance(days=31)
    _, lots = await runtime.ledger.sweep(100)
    assert lots.done == 1
    c = await balance(runtime, brand, "m", "LP")
    assert c.balance == 0 and c.available == 0
    _, lots = await runtime.ledger.sweep(100)
    assert lots.done == 0


async def test_expiry_spares_value_held_by_a_pending_debit(runtime, brand, clock):
    await runtime.ledger.create_asset(brand, "LP", 0, "points", expiry_days=10)
    await runtime.ledger.credit(brand, "m", Movement("LP", 100, "earn"))
    await runtime.ledger.credit(brand, "n", Movement("LP", 1, "earn"))
    hold = await runtime.ledger.transfer(brand, "m", "n", Movement("LP", 60, "transfer", pending=True))
    clock.advance(days=11)
    await runtime.ledger.sweep(100)
    c = await balance(runtime, brand, "m", "LP")
    assert (c.balance, c.available) == (60, 0)
    await runtime.ledger.void(brand, hold.id)  # the held 60 is back, and its lot has expired
    await runtime.ledger.sweep(100)
    assert (await balance(runtime, brand, "m", "LP")).balance == 0


async def test_transfers_keep_lot_expiry(runtime, brand, clock):
    """Moving points between customers does not refresh their expiry."""
    await runtime.ledger.create_asset(brand, "LP", 0, "points", expiry_days=10)
    await runtime.ledger.credit(brand, "m", Movement("LP", 50, "earn"))
    clock.advance(days=5)
    await runtime.ledger.credit(brand, "n", Movement("LP", 10, "earn"))
    await runtime.ledger.transfer(brand, "m", "n", Movement("LP", 50, "transfer"))
    clock.advance(days=6)  # m's original lot (now n's) expires; n's own lot does not yet
    await runtime.ledger.sweep(100)
    assert (await balance(runtime, brand, "n", "LP")).balance == 10


async def test_ledger_rows_are_append_only_in_sql(runtime, brand):
    await runtime.ledger.credit(brand, "a", credits(5))
    conn = connect(runtime.db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE transfers SET amount = 6")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM transfers")
    conn.close()


async def test_sql_checks_restate_the_overdraft_rule(runtime, brand):
    await runtime.ledger.credit(brand, "a", credits(5))
    conn = connect(runtime.db)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE accounts SET debits_posted = 6 WHERE kind = 'customer'")
    conn.close()


async def test_verify_detects_tampering(runtime, brand):
    await runtime.ledger.credit(brand, "a", credits(5))
    await runtime.ledger.credit(brand, "a", credits(7))
    conn = connect(runtime.db)
    conn.execute("DROP TRIGGER transfers_no_update")
    conn.execute("UPDATE transfers SET amount = 8 WHERE id = 2")
    problems = verify(conn)
    assert any("hash chain" in p for p in problems)
    assert any("sum of transfers" in p for p in problems)
    conn.execute("UPDATE transfers SET amount = 7 WHERE id = 2")
    conn.execute("UPDATE accounts SET credits_posted = credits_posted + 1 WHERE kind = 'customer'")
    assert any("debits" in p and "credits" in p for p in verify(conn))
    conn.execute("UPDATE accounts SET credits_posted = credits_posted - 1 WHERE kind = 'customer'")
    conn.execute(open_triggers_sql())
    assert verify(conn) == []
    conn.close()


def open_triggers_sql():
    return ("CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers"
            " BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END")


async def test_batch_with_holds_and_repeated_accounts(runtime, brand):
    for who in ("x", "y", "z"):
        await runtime.ledger.credit(brand, who, credits(100))
    items = [("x", "y", credits(10, code="transfer", pending=i % 2 == 0)) for i in range(6)] + \
            [("y", "z", credits(5, code="transfer")), ("z", "x", credits(500, code="transfer"))]
    results = await runtime.ledger.transfer_batch(brand, items, atomic=False)
    assert [r.error.code if r.error else r.record.kind for r in results] == \
        ["pending", "posted"] * 3 + ["posted", "insufficient_funds"]
    x = await balance(runtime, brand, "x")
    assert (x.balance, x.available) == (70, 40)
    await runtime.ledger.post(brand, results[0].record.id)
    await runtime.ledger.void(brand, results[2].record.id)
    x = await balance(runtime, brand, "x")
    assert (x.balance, x.available) == (60, 50)
    assert (await balance(runtime, brand, "y")).balance == 100 + 30 + 10 - 5
    with pytest.raises(BatchFailed):
        await runtime.ledger.transfer_batch(brand, items, atomic=True)
    assert (await balance(runtime, brand, "x")).balance == 60


async def test_keyed_batches_written_together_and_replayed_item_by_item(runtime, brand):
    """A batch whose keys are all new is checked in memory and written at its end; one that
    repeats a key (taken already, or twice in the batch) goes item by item, each replay checked."""
    for who in ("a", "b"):
        await runtime.ledger.credit(brand, who, credits(100))
    items = [("a", "b", credits(10, code="transfer", idempotency_key=f"k{i}")) for i in range(3)]
    first = await runtime.ledger.transfer_batch(brand, items, atomic=True)
    assert [r.record.idempotency_key for r in first] == ["k0", "k1", "k2"]
    assert all(not r.record.replayed for r in first)
    # Half old, half new: the old items are the same transfers, the new one is written once.
    mixed = items[1:] + [("a", "b", credits(10, code="transfer", idempotency_key="k3"))]
    again = await runtime.ledger.transfer_batch(brand, mixed, atomic=True)
    assert [r.record.id for r in again[:2]] == [r.record.id for r in first[1:]]
    assert [r.record.replayed for r in again] == [True, True, False]
    assert (await balance(runtime, brand, "a")).balance == 60
    # The same key twice in one batch: the second item is the first's replay.
    twice = [("a", "b", credits(5, code="transfer", idempotency_key="k9"))] * 2
    done = await runtime.ledger.transfer_batch(brand, twice, atomic=True)
    assert done[0].record.id == done[1].record.id
    assert (await balance(runtime, brand, "a")).balance == 55
    # Another amount under a taken key is refused, and the batch moves nothing.
    with pytest.raises(BatchFailed) as err:
        await runtime.ledger.transfer_batch(brand, [("a", "b", credits(7, code="transfer", idempotency_key="k0")),
                                                    ("a", "b", credits(1, code="transfer", idempotency_key="k10"))],
                                            atomic=True)
    assert [(i["index"], i["code"]) for i in err.value.details["items"]] == [(0, "idempotency_key_reused")]
    assert (await balance(runtime, brand, "a")).balance == 55
