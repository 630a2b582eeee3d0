import shutil

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
