"""The group-commit writer: batching, per-command rollback, bounded queue, concurrency."""
import asyncio
import sqlite3

import pytest

from app.ledger.errors import InsufficientFunds, Unavailable
from app.services.ledger import Movement
from app.store.sqlite import DbSettings, connect
from app.store.writer import Writer


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
