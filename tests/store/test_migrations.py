import os
import shutil
import sqlite3

import pytest

from app.store.migrations import MIGRATIONS_DIR, MigrationError, load_migrations, migrate, schema_version
from app.store.sqlite import DbSettings, connect


def test_migrations_apply_once_in_order(tmp_path):
    conn = connect(DbSettings(str(tmp_path / "m.db")))
    applied = migrate(conn)
    assert applied == [m.name for m in load_migrations()]
    assert migrate(conn) == []
    assert schema_version(conn) == len(applied)
    strict = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type='table' AND sql LIKE '%STRICT'").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchone()[0]
    assert strict == tables


def test_a_changed_landed_migration_is_refused(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = connect(DbSettings(str(tmp_path / "m.db")))
    migrate(conn, str(folder))
    first = sorted(folder.iterdir())[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed"):
        migrate(conn, str(folder))


def test_a_failing_migration_leaves_nothing(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    n = len(load_migrations(str(folder))) + 1
    (folder / f"{n:04d}_broken.sql").write_text("CREATE TABLE x (a INTEGER) STRICT; SELECT nonsense(;")
    conn = connect(DbSettings(str(tmp_path / "m.db")))
    with pytest.raises(MigrationError, match="broken"):
        migrate(conn, str(folder))
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'x'").fetchone()[0] == 0
    assert schema_version(conn) == n - 1


def test_0010_rebuilds_payouts_keeping_every_row_and_link(tmp_path):
    """Payouts made before the funding wallets keep their ids, attempts, signed transactions and
    the rule that only a payout resolves its hold."""
    from app.ledger.transfers import TransferSpec
    from app.store.accounts import ensure_account
    from app.store.brands import asset_by_code, create_brand
    from app.store.customers import ensure_customer
    from app.store.transfers import create_transfer, resolve_pending

    folder = tmp_path / "before"
    folder.mkdir()
    for name in sorted(p for p in os.listdir(MIGRATIONS_DIR) if p[:4].isdigit() and p[:4] < "0010"):
        shutil.copy(f"{MIGRATIONS_DIR}/{name}", folder / name)
    conn = connect(DbSettings(str(tmp_path / "m.db")))
    migrate(conn, str(folder))
    conn.execute("BEGIN")
    brand = create_brand(conn, "shop", "Shop", 1)
    asset = asset_by_code(conn, brand, "CREDITS")
    row = ensure_customer(conn, brand, "ann", 1)
    ann = ensure_account(conn, asset, "customer", "ann", 1, row)
    issuance = ensure_account(conn, asset, "system", "issuance", 1)
    clearing = ensure_account(conn, asset, "system", "payout_clearing", 1)
    create_transfer(conn, TransferSpec(brand, asset.id, issuance.id, ann.id, 500, "earn"), 1)
    hold = create_transfer(conn, TransferSpec(brand, asset.id, ann.id, clearing.id, 200, "payout", pending=True), 1)
    conn.execute("INSERT INTO payouts (id, uid, brand_id, customer_id, asset_id, amount, rail, destination, status,"
                 " hold_transfer_id, idempotency_key, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms)"
                 " VALUES (7, ?, ?, ?, ?, 200, 'chain', '{\"address\": \"0x\"}', 'submitted', ?, 'k1', 1, 5, 1, 2)",
                 ("1" * 36, brand, row, asset.id, hold.id))
    conn.execute("INSERT INTO payout_attempts (payout_id, action, outcome, at_ms) VALUES (7, 'claim', 'claimed', 2)")
    conn.execute("INSERT INTO chain_txs (payout_id, chain_key, chain_id, from_address, nonce, to_address, value,"
                 " raw_tx, tx_hash, status, created_at_ms, updated_at_ms) VALUES (7, 'dev:x', 1, ?, 0, ?, '2000000',"
                 " '0x00', ?, 'broadcast', 2, 2)", ("0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 64))
    conn.execute("COMMIT")
    before = conn.execute("SELECT * FROM payouts").fetchall()

    assert migrate(conn) == ["0010_wallets.sql"]
    after = conn.execute("SELECT id, uid, brand_id, customer_id, asset_id, amount, rail, destination, status,"
                         " hold_transfer_id, idempotency_key, provider_ref, attempts, last_error,"
                         " next_attempt_at_ms, created_at_ms, updated_at_ms FROM payouts").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert conn.execute("SELECT wallet_id FROM payouts").fetchone()[0] is None
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT payout_id FROM chain_txs").fetchone()[0] == 7
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError, match="resolved by its payout only"):
        resolve_pending(conn, brand, hold.id, "void", 3)
    conn.execute("ROLLBACK")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM payouts")
    with pytest.raises(sqlite3.IntegrityError, match="cannot move"):
        conn.execute("UPDATE payouts SET status = 'pending'")
