"""The group-commit writer: batching, per-command rollback, bounded queue, concurrency."""
import asyncio
import sqlite3

import pytest

from app.ledger.errors import InsufficientFunds, Unavailable
from app.services.ledger import Movement
from app.store.sqlite import DbSettings, connect
from app.store.writer import Mergeable, Writer
from tests.store.writer_gate import writer_held


@pytest.fixture
def writer(tmp_path):
    db = DbSettings(str(tmp_path / "w.db"))
    conn = connect(db)
    conn.execute("CREATE TABLE t (v INTEGER NOT NULL CHECK (v >= 0)) STRICT")
    conn.close()
    w = Writer(db, queue_max=100_000, batch_max=256).start()
    yield w, db
    w.close()


def insert(v):
    return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (v,)).lastrowid


async def test_a_failing_command_rolls_back_alone(writer):
    w, db = writer
    results = await asyncio.gather(w.submit(insert(1)),
                                   w.submit(insert(-1)), w.submit(insert(2)), return_exceptions=True)
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    rows = connect(db, readonly=True).execute("SELECT v FROM t ORDER BY v").fetchall()
    assert [r[0] for r in rows] == [1, 2]


async def test_concurrent_commands_are_grouped_and_none_lost(writer):
    w, db = writer
    await asyncio.gather(*(w.submit(insert(i)) for i in range(5000)))
    count, total = connect(db, readonly=True).execute("SELECT count(*), sum(v) FROM t").fetchone()
    assert count == 5000 and total == sum(range(5000))
    assert w.stats.batches < 5000 and max(w.stats.batch_sizes) > 1
    assert max(w.stats.batch_sizes) <= 256


async def test_a_multi_statement_command_is_atomic(writer):
    w, db = writer

    def two(conn):
        conn.execute("INSERT INTO t VALUES (10)")
        conn.execute("INSERT INTO t VALUES (-10)")
    with pytest.raises(sqlite3.IntegrityError):
        await w.submit(two)
    assert connect(db, readonly=True).execute("SELECT count(*) FROM t").fetchone()[0] == 0


def mergeable(key, v, calls):
    """Inserts v; together with its neighbours of the same key in one call (recorded in
    `calls`), where a negative v is that item's own error and the others are kept."""
    def one(conn, item):
        return conn.execute("INSERT INTO t VALUES (?)", (item,)).lastrowid

    def many(conn, items):
        calls.append(list(items))
        if 13 in items:  # an unexpected failure of the whole call
            raise RuntimeError("boom")
        out = []
        for item in items:
            if item < 0:
                out.append((None, ValueError(f"refused {item}")))
            else:
                out.append((one(conn, item), None))
        return out
    return Mergeable(key, v, one, many)


async def queued_together(w, commands) -> list:
    """Results of `commands`, all queued while the writer is held, so they form one batch."""
    async with writer_held(w):
        tasks = [asyncio.ensure_future(w.submit(c)) for c in commands]
        await asyncio.sleep(0)  # every task has queued its command
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_mergeable_neighbours_run_in_one_call_each_with_its_own_answer(writer):
    w, db = writer
    calls = []
    results = await queued_together(w, [
        mergeable("a", 1, calls), mergeable("a", -2, calls), mergeable("a", 3, calls), mergeable("b", 4, calls),
        mergeable("a", 5, calls), insert(6), mergeable("a", 7, calls)])
    assert isinstance(results[1], ValueError) and str(results[1]) == "refused -2"
    assert all(isinstance(r, int) for n, r in enumerate(results) if n != 1)
    # one batch: the run of three "a"s is one call; "b", the lone "a", and the "a" after a
    # plain command each run alone
    assert calls == [[1, -2, 3]]
    assert w.stats.merged_commands == 3
    rows = connect(db, readonly=True).execute("SELECT v FROM t ORDER BY v").fetchall()
    assert [r[0] for r in rows] == [1, 3, 4, 5, 6, 7]


async def test_a_merged_call_that_fails_reruns_each_command_alone(writer):
    w, db = writer
    calls = []
    results = await queued_together(w, [mergeable("a", v, calls) for v in (1, 13, -1, 2)])
    assert calls == [[1, 13, -1, 2]]  # then the batch again, isolated: each `one` in a savepoint
    assert isinstance(results[2], sqlite3.IntegrityError)  # -1 breaks the table's CHECK alone
    assert [r for n, r in enumerate(results) if n != 2] == [1, 2, 3]
    rows = connect(db, readonly=True).execute("SELECT v FROM t ORDER BY v").fetchall()
    assert [r[0] for r in rows] == [1, 2, 13]


def test_full_queue_is_a_clear_error(tmp_path):
    db = DbSettings(str(tmp_path / "q.db"))
    w = Writer(db, queue_max=2, batch_max=1)
    # Not started: nothing drains the queue.
    w._put((None, None, None))
    w._put((None, None, None))
    with pytest.raises(Unavailable) as err:
        w._put((None, None, None))
    assert err.value.details["queue_max"] == 2


def test_closed_writer_refuses(tmp_path):
    w = Writer(DbSettings(str(tmp_path / "c.db"))).start()
    w.close()
    with pytest.raises(Unavailable):
        w.submit_sync(insert(1))


async def test_thousands_of_ledger_commands_from_many_tasks(runtime, brand):
    """None lost, none applied twice (idempotency keys retried), balances exact."""
    customers = [f"c{i}" for i in range(50)]
    for c in customers:
        await runtime.ledger.credit(brand, c, Movement("CREDITS", 100_000, "earn"))

    async def worker(n):
        done = 0
        for j in range(60):
            src, dst = customers[(n + j) % 50], customers[(n * 7 + j + 1) % 50]
            if src == dst:
                continue
            m = Movement("CREDITS", 1 + (n * j) % 97, "transfer", idempotency_key=f"w{n}-{j}")
            for _attempt in range(2):  # every request is retried with the same key
                try:
                    await runtime.ledger.transfer(brand, src, dst, m)
                except InsufficientFunds:
                    pass
            done += 1
        return done

    await asyncio.gather(*(worker(n) for n in range(64)))
    rows = [await runtime.ledger.balances(brand, c) for c in customers]
    total = sum(r[0]["counters"].balance for r in rows)
    assert total == 50 * 100_000
    keys = runtime.readers.read_sync(
        lambda c: c.execute("SELECT count(*), count(DISTINCT idempotency_key) FROM transfers"
                            " WHERE idempotency_key IS NOT NULL").fetchone())
    assert keys[0] == keys[1] > 3000
