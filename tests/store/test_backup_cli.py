"""CLI: migrate, create-brand, create-key, verify, backup while another process writes, restore."""
import os
import sqlite3
import subprocess
import sys
import threading

from app.store.sqlite import DbSettings, connect
from app.store.verify import verify
from tests.conftest import ROOT


def cli(tmp_path, *args, db="app.db"):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "PORT")}
    env["DATABASE_PATH"] = str(tmp_path / db)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_lifecycle(tmp_path):
    assert "0001_ledger.sql" in cli(tmp_path, "migrate").stdout
    assert "up to date" in cli(tmp_path, "migrate").stdout
    assert cli(tmp_path, "create-brand", "acme").returncode == 0
    dup = cli(tmp_path, "create-brand", "acme")
    assert dup.returncode == 1 and "conflict" in dup.stderr
    key = cli(tmp_path, "create-key", "--brand", "acme", "--role", "brand")
    assert key.returncode == 0 and "rl_" in key.stdout
    stored = connect(DbSettings(str(tmp_path / "app.db"))).execute("SELECT key_hash, prefix FROM api_keys").fetchone()
    assert key.stdout.strip().splitlines()[-1] not in stored[0]
    ok = cli(tmp_path, "verify")
    assert ok.returncode == 0 and "ok" in ok.stdout


def test_verify_exits_nonzero_and_names_the_problem(tmp_path):
    cli(tmp_path, "create-brand", "acme")
    conn = connect(DbSettings(str(tmp_path / "app.db")))
    conn.execute("INSERT INTO accounts (brand_id, asset_id, kind, owner, no_overdraft, tracks_lots,"
                 " credits_posted, created_at_ms) VALUES (1, 1, 'system', 'x', 0, 0, 5, 0)")
    conn.close()
    bad = cli(tmp_path, "verify")
    assert bad.returncode == 1 and "sum of transfers" in bad.stderr


def test_bad_setting_stops_with_one_line(tmp_path):
    env = dict(os.environ, PORT="not-a-port")
    r = subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "PORT" in r.stderr


def test_backup_while_another_process_writes_then_restore(tmp_path):
    db = str(tmp_path / "live.db")
    writer = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_child", db, "B"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    drain = threading.Thread(target=writer.stdout.read)
    drain.start()
    try:
        backups = []
        for n in range(3):
            r = cli(tmp_path, "backup", str(tmp_path / f"b{n}.db"), db="live.db")
            assert r.returncode == 0, r.stderr
            backups.append(tmp_path / f"b{n}.db")
    finally:
        writer.kill()
        writer.wait()
        drain.join()
    counts = [sqlite3.connect(b).execute("SELECT count(*) FROM transfers").fetchone()[0] for b in backups]
    assert counts[-1] > 0 and counts == sorted(counts)
    # Restore the first backup over a fresh database and verify the result.
    r = cli(tmp_path, "restore", str(backups[0]), db="restored.db")
    assert r.returncode == 0, r.stderr
    conn = connect(DbSettings(str(tmp_path / "restored.db")), readonly=True)
    assert conn.execute("SELECT count(*) FROM transfers").fetchone()[0] == counts[0]
    assert verify(conn) == []


def test_restore_refuses_a_file_that_does_not_verify(tmp_path):
    cli(tmp_path, "create-brand", "acme", db="good.db")
    bad = tmp_path / "bad.db"
    src = sqlite3.connect(tmp_path / "good.db")
    dst = sqlite3.connect(bad)
    src.backup(dst)
    dst.execute("INSERT INTO accounts (brand_id, asset_id, kind, owner, no_overdraft, tracks_lots,"
                " credits_posted, created_at_ms) VALUES (1, 1, 'system', 'x', 0, 0, 5, 0)")
    dst.commit()
    dst.close()
    r = cli(tmp_path, "restore", str(bad), db="target.db")
    assert r.returncode == 1 and "does not verify" in r.stderr
    assert not os.path.exists(tmp_path / "target.db")


# -- operator mistakes end in one clear line, a non-zero exit and nothing left behind ---------
def one_line_error(r, *words):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    for word in words:
        assert word in r.stderr, r.stderr


def test_verify_and_backup_of_a_missing_database(tmp_path):
    one_line_error(cli(tmp_path, "verify", db="nothing.db"), "no database at", "nothing.db", "DATABASE_PATH")
    one_line_error(cli(tmp_path, "backup", str(tmp_path / "b.db"), db="nothing.db"), "no database at")
    assert os.listdir(tmp_path) == []


def test_backup_into_a_missing_folder(tmp_path):
    cli(tmp_path, "create-brand", "acme")
    one_line_error(cli(tmp_path, "backup", str(tmp_path / "no" / "such" / "b.db")), "does not exist")
    assert not os.path.exists(tmp_path / "no")


def test_restore_of_a_file_that_is_not_sqlite(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database\n" * 100)
    one_line_error(cli(tmp_path, "restore", str(junk), db="target.db"), "not a SQLite database")
    assert sorted(os.listdir(tmp_path)) == ["junk.db"]  # no target, no .restoring leftovers


def test_restore_of_a_sqlite_file_of_another_schema(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.commit()
    conn.close()
    one_line_error(cli(tmp_path, "restore", str(other), db="target.db"), "not a database of this service")
    assert sorted(os.listdir(tmp_path)) == ["other.db"]


def test_each_subcommand_says_what_it_does_and_which_database(tmp_path):
    for command in ("serve", "migrate", "verify", "backup", "restore", "create-brand", "create-key"):
        r = cli(tmp_path, command, "--help")
        assert r.returncode == 0 and "DATABASE_PATH" in r.stdout, (command, r.stdout)
    assert "online copy" in cli(tmp_path, "backup", "--help").stdout


def test_verify_reports_progress_on_a_large_ledger(tmp_path):
    from app.store import verify as verify_module
    cli(tmp_path, "create-brand", "acme")
    seen = []
    conn = connect(DbSettings(str(tmp_path / "app.db")), readonly=True)
    old = verify_module.PROGRESS_EVERY_ROWS
    verify_module.PROGRESS_EVERY_ROWS = 1
    try:
        assert verify(conn, lambda *a: seen.append(a)) == []
    finally:
        verify_module.PROGRESS_EVERY_ROWS = old
        conn.close()
    assert seen and seen[-1][0] == "transfers" and seen[-1][1] == seen[-1][2]


def test_revoked_admin_key_stops_start_up_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "PORT")}
    env.update(DATABASE_PATH=str(tmp_path / "app.db"), ADMIN_API_KEY="admin-key-that-leaked-0123", PORT="0")
    cli(tmp_path, "migrate")
    from app.services.keys import ensure_admin_key_command
    conn = connect(DbSettings(str(tmp_path / "app.db")))
    key_id = ensure_admin_key_command("admin-key-that-leaked-0123", 0)(conn)
    conn.execute("UPDATE api_keys SET revoked_at_ms = 1 WHERE id = ?", (key_id,))
    conn.close()
    r = subprocess.run([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    one_line_error(r, "ADMIN_API_KEY", "revoked")
    assert r.returncode == 2
    rows = sqlite3.connect(tmp_path / "app.db").execute("SELECT revoked_at_ms FROM api_keys").fetchall()
    assert rows == [(1,)]  # still revoked, nothing added


def test_restore_refuses_while_a_service_runs_on_the_database(tmp_path):
    """Swapping the file under a running service lost every write it acknowledged after."""
    from app.config import load_config
    from app.runtime import Runtime
    cli(tmp_path, "create-brand", "acme")
    assert cli(tmp_path, "backup", str(tmp_path / "b.db")).returncode == 0
    runtime = Runtime(load_config(environ={}, env_file=None, database_path=str(tmp_path / "app.db")))
    try:
        one_line_error(cli(tmp_path, "restore", str(tmp_path / "b.db")), "service is running", "stop it")
    finally:
        runtime.close()
    assert cli(tmp_path, "restore", str(tmp_path / "b.db")).returncode == 0  # stopped: allowed


def test_cli_refuses_files_that_are_not_its_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all\n" * 100)
    for args in (("verify",), ("migrate",), ("backup", str(tmp_path / "b.db")), ("create-brand", "x")):
        one_line_error(cli(tmp_path, *args, db="junk.db"))
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE foo (x)")
    conn.commit()
    conn.close()
    one_line_error(cli(tmp_path, "migrate", db="other.db"), "not one of this service")
    assert [r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")] == ["foo"]
    cli(tmp_path, "create-brand", "acme")
    one_line_error(cli(tmp_path, "restore", str(tmp_path / "app.db"), db="other.db"), "not a database of this service")
    one_line_error(cli(tmp_path, "backup", ""), "FILE must name")
    (tmp_path / "adir").mkdir()
    one_line_error(cli(tmp_path, "restore", str(tmp_path / "app.db"), db="adir"), "is a folder")
    # No new database, backup or .restoring file (SQLite's -wal/-shm and the .lock file of
    # the lock that guards restore are SQLite's and the service's own companions).
    left = sorted(n for n in os.listdir(tmp_path) if not n.endswith(("-wal", "-shm", ".lock")))
    assert left == ["adir", "app.db", "junk.db", "other.db"]
