"""Online backup and verified restore of the SQLite file.

Both refuse what they cannot do safely with one clear `BackupError` (no database, a missing
folder, a file that is not SQLite or not this service's) and leave nothing behind.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Callable

from . import service_lock
from .sqlite import DbSettings, connect
from .verify import Progress, verify

# Pages copied per backup step; between steps the progress callback runs.
BACKUP_STEP_PAGES = 4096
LEDGER_TABLES = ("brands", "assets", "accounts", "transfers", "schema_migrations")


class BackupError(RuntimeError):
    """A backup or restore could not be made safely; nothing was replaced."""


def _remove(*paths: str) -> None:
    for path in paths:
        for name in (path, path + "-wal", path + "-shm", path + "-journal"):
            if os.path.exists(name):
                os.remove(name)


def _check_ledger_file(conn: sqlite3.Connection, label: str) -> None:
    """`label` is a SQLite database of this service, else BackupError."""
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        raise BackupError(f"{label} is not a SQLite database") from None
    missing = [t for t in LEDGER_TABLES if t not in names]
    if missing:
        raise BackupError(f"{label} is not a database of this service (no {', '.join(missing)} table)")


def backup(db: DbSettings, target_path: str, progress: Progress | None = None) -> list[str]:
    """Copy the live database to `target_path` (one consistent snapshot); verify the copy.

    The source keeps one read transaction open across the steps, so the copy is one
    snapshot even while the service writes (a WAL reader never sees later commits)."""
    if not os.path.isfile(db.path):
        raise BackupError(f"no database at {db.path} (DATABASE_PATH)")
    if not target_path.strip() or target_path.endswith(os.sep):
        raise BackupError("FILE must name the new backup file")
    folder = os.path.dirname(os.path.abspath(target_path))
    if not os.path.isdir(folder):
        raise BackupError(f"folder {folder} does not exist")
    if os.path.exists(target_path):
        raise BackupError(f"{target_path} exists; choose a new file")
    src = connect(db, readonly=True)
    try:
        _check_ledger_file(src, db.path)
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        dst = sqlite3.connect(target_path)
        try:
            src.backup(dst, pages=BACKUP_STEP_PAGES, progress=_pages(progress))
        finally:
            dst.close()
    except (sqlite3.Error, OSError) as exc:
        _remove(target_path)
        raise BackupError(f"backup failed: {exc}") from None
    except BaseException:
        _remove(target_path)
        raise
    finally:
        src.close()
    copy = connect(DbSettings(target_path))
    try:
        copy.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
        return verify(copy, progress)
    finally:
        copy.close()


def _pages(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    return lambda _status, remaining, total: progress("pages", total - remaining, total)


def restore(db: DbSettings, source_path: str, progress: Progress | None = None) -> None:
    """Verify `source_path`, then swap it in as the database. The server must be stopped."""
    if not os.path.isfile(source_path):
        raise BackupError(f"{source_path} does not exist")
    if os.path.isdir(db.path):
        raise BackupError(f"{db.path} (DATABASE_PATH) is a folder, not a database file")
    folder = os.path.dirname(os.path.abspath(db.path))
    if not os.path.isdir(folder):
        raise BackupError(f"folder {folder} does not exist")
    _check_file(source_path)
    if os.path.exists(db.path):  # never overwrite what is not a database of this service
        _check_file(db.path, "(DATABASE_PATH)")
    try:
        lock = service_lock.take_exclusive(db.path)
    except service_lock.DatabaseInUse as exc:
        raise BackupError(str(exc)) from None
    staging = db.path + ".restoring"
    try:
        _remove(staging)
        try:
            _stage(source_path, staging, progress)
        except BaseException:
            _remove(staging)
            raise
        _remove(db.path + "-wal", db.path + "-shm")
        os.replace(staging, db.path)
    finally:
        service_lock.release(lock)
        if not os.path.exists(db.path):  # nothing was restored: leave nothing behind
            os.remove(service_lock.lock_path(db.path))


def _check_file(path: str, label: str = "") -> None:
    """`path` is a SQLite database of this service, else BackupError; reads only."""
    try:
        conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened: {exc}") from None
    try:
        _check_ledger_file(conn, f"{path} {label}".strip())
    finally:
        conn.close()


def _stage(source_path: str, staging: str, progress: Progress | None) -> None:
    """Copy `source_path` to `staging` and verify it there; BackupError when it is unusable."""
    try:
        src = sqlite3.connect(f"file:{os.path.abspath(source_path)}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{source_path} cannot be opened: {exc}") from None
    try:
        _check_ledger_file(src, source_path)
        dst = sqlite3.connect(staging)
        try:
            src.backup(dst, pages=BACKUP_STEP_PAGES, progress=_pages(progress))
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source_path} could not be copied: {exc}") from None
    finally:
        src.close()
    check = connect(DbSettings(staging))
    try:
        problems = verify(check, progress)
        check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(f"{source_path} does not verify: {exc}") from None
    finally:
        check.close()
    if problems:
        raise BackupError("the backup does not verify: " + "; ".join(problems[:5]))
