"""Ledger write throughput: the group-commit writer vs raw sqlite3, at 10k and 1M transfers.

Prints, from one run (synchronous=FULL, WAL, a real file):
  writer   durable transfers/s through the writer, many concurrent callers, each transfer
           the real `create_transfer` (idempotency key, both accounts, hash chain, snapshots)
  ceiling  the same five-statement transfer (2 SELECT, 2 UPDATE, 1 INSERT) by raw sqlite3
           in 100-transfer transactions, on the same schema
  ratio    writer / ceiling                          (target ≥ 0.4)
  scale    writer at 1M transfers / writer at 10k    (target ≥ 0.8)

Usage: python bench/ledger_bench.py [--big 1000000] [--seconds 5] [--callers 512]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.ledger.transfers import GENESIS_HASH, ChainFields, TransferSpec, chain_hash  # noqa: E402
from app.store import brands  # noqa: E402
from app.store.accounts import ensure_account  # noqa: E402
from app.store.customers import ensure_customer  # noqa: E402
from app.store.migrations import migrate  # noqa: E402
from app.store.sqlite import DbSettings, connect  # noqa: E402
from app.store.transfers import create_transfer  # noqa: E402
from app.store.writer import Writer  # noqa: E402

ACCOUNTS = 1000
START_BALANCE = 10**15


def setup(db: DbSettings) -> tuple[int, int, list[int]]:
    conn = connect(db)
    migrate(conn)
    conn.execute("BEGIN")
    brand = brands.create_brand(conn, "bench", "Bench", 0)
    asset = brands.asset_by_code(conn, brand, "CREDITS")
    issuance = ensure_account(conn, asset, "system", "issuance", 0)
    ids = []
    for i in range(ACCOUNTS):
        cid = ensure_customer(conn, brand, f"c{i}", 0)
        acct = ensure_account(conn, asset, "customer", f"c{i}", 0, cid)
        create_transfer(conn, TransferSpec(brand, asset.id, issuance.id, acct.id, START_BALANCE, "topup"), 0)
        ids.append(acct.id)
    conn.execute("COMMIT")
    conn.close()
    return brand, asset.id, ids


def spec(brand: int, asset: int, ids: list[int], rng: random.Random, key: str) -> TransferSpec:
    a, b = rng.sample(ids, 2)
    return TransferSpec(brand, asset, a, b, rng.randint(1, 1000), "transfer", idempotency_key=key)


def fill(db: DbSettings, brand: int, asset: int, ids: list[int], target: int) -> None:
    """Grow the ledger to `target` transfers with the real store code, 20k per transaction."""
    conn = connect(db)
    rng = random.Random(1)
    have = conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
    started = time.perf_counter()
    while have < target:
        n = min(20_000, target - have)
        conn.execute("BEGIN")
        for i in range(n):
            create_transfer(conn, spec(brand, asset, ids, rng, f"fill-{have + i}"), 1)
        conn.execute("COMMIT")
        have += n
        print(f"  filled {have:,} transfers ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    conn.close()


async def writer_rate(db: DbSettings, brand: int, asset: int, ids: list[int], seconds: float,
                      callers: int, tag: str) -> float:
    writer = Writer(db, queue_max=100_000, batch_max=512).start()
    done = 0
    stop_at = time.perf_counter() + seconds
    now_ms = int(time.time() * 1000)

    async def caller(n: int) -> None:
        nonlocal done
        rng = random.Random(n)
        i = 0
        while time.perf_counter() < stop_at:
            s = spec(brand, asset, ids, rng, f"{tag}-{n}-{i}")
            await writer.submit(lambda c, s=s: create_transfer(c, s, now_ms))
            done += 1
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    elapsed = time.perf_counter() - started
    writer.close()
    return done / elapsed


def raw_rate(db: DbSettings, ids: list[int], asset: int, brand: int, seconds: float, callers: int,
             tag: str) -> float:
    """The ceiling: five statements per transfer, 100 transfers per transaction, no Python ledger.
    Keys follow the writer run's pattern (one sequence per caller), so both update the
    idempotency index alike."""
    conn = connect(db)
    rng = random.Random(7)
    last = conn.execute("SELECT id, hash FROM transfers ORDER BY id DESC LIMIT 1").fetchone()
    heads = dict(conn.execute("SELECT id, last_transfer_id FROM accounts").fetchall())
    next_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(100):
            a, b = rng.sample(ids, 2)
            amount = rng.randint(1, 1000)
            da = conn.execute("SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM accounts WHERE id = ?", (a,)).fetchone()
            cb = conn.execute("SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM accounts WHERE id = ?", (b,)).fetchone()
            conn.execute("UPDATE accounts SET debits_posted = ?, last_transfer_id = ? WHERE id = ?", (da[0] + amount, next_id, a))
            conn.execute("UPDATE accounts SET credits_posted = ?, last_transfer_id = ? WHERE id = ?", (cb[1] + amount, next_id, b))
            key = f"{tag}-{done % callers}-{done // callers}"
            done += 1
            h = chain_hash(prev, ChainFields(next_id, brand, asset, a, b, amount, "posted", "transfer", None, None, key,
                                             "{}", 2, heads[a], heads[b]))
            conn.execute(
                "INSERT INTO transfers (id, brand_id, asset_id, debit_account_id, credit_account_id, amount, kind, code,"
                " idempotency_key, metadata, dr_debits_posted, dr_credits_posted, dr_debits_pending, dr_credits_pending,"
                " cr_debits_posted, cr_credits_posted, cr_debits_pending, cr_credits_pending, dr_prev_id, cr_prev_id,"
                " created_at_ms, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, 'posted', 'transfer', ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 2, ?, ?)",
                (next_id, brand, asset, a, b, amount, key, da[0] + amount, da[1], da[2], da[3],
                 cb[0], cb[1] + amount, cb[2], cb[3], heads[a], heads[b], prev, h))
            heads[a] = heads[b] = next_id
            prev, next_id = h, next_id + 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return done / elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--big", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--callers", type=int, default=512)
    p.add_argument("--cache-mb", type=int, default=64)
    p.add_argument("--checkpoint-pages", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        db = DbSettings(os.path.join(tmp, "bench.db"), synchronous="FULL", cache_mb=args.cache_mb,
                        wal_autocheckpoint_pages=args.checkpoint_pages)
        brand, asset, ids = setup(db)
        fill(db, brand, asset, ids, 10_000)
        w_small = asyncio.run(writer_rate(db, brand, asset, ids, args.seconds, args.callers, "small"))
        raw_small = raw_rate(db, ids, asset, brand, args.seconds, args.callers, "raw-small")
        fill(db, brand, asset, ids, args.big)
        w_big = asyncio.run(writer_rate(db, brand, asset, ids, args.seconds, args.callers, "big"))
        raw_big = raw_rate(db, ids, asset, brand, args.seconds, args.callers, "raw-big")
        conn = connect(db, readonly=True)
        from app.store.verify import verify
        problems = verify(conn) if args.big <= 200_000 else ["(verify skipped above 200k)"]
        conn.close()
    print(f"synchronous=FULL, {args.callers} concurrent callers, {ACCOUNTS} accounts, {args.seconds:.0f} s per figure,"
          f" cache {args.cache_mb} MiB, wal_autocheckpoint {args.checkpoint_pages} pages")
    print(f"writer  @10k : {w_small:10,.0f} transfers/s")
    print(f"ceiling @10k : {raw_small:10,.0f} transfers/s (raw sqlite3, 100 per transaction)")
    print(f"ratio   @10k : {w_small / raw_small:10.2f}   (target >= 0.4)")
    print(f"writer  @{args.big // 1000}k: {w_big:10,.0f} transfers/s")
    print(f"ceiling @{args.big // 1000}k: {raw_big:10,.0f} transfers/s")
    print(f"ratio   @{args.big // 1000}k: {w_big / raw_big:10.2f}")
    print(f"scale {args.big // 1000}k/10k: {w_big / w_small:10.2f}   (target >= 0.8)")
    print(f"verify: {problems or 'ok'}")


if __name__ == "__main__":
    main()
