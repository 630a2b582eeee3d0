"""Online backup and verified restore of the SQLite file."""
from __future__ import annotations

import os
import sqlite3

from .sqlite import DbSettings, connect
from .verify import verify


class BackupError(RuntimeError):
    """A backup or restore could not be made safely; nothing was replaced."""


def backup(db: DbSettings, target_path: str) -> list[str]:
    """Copy the live database to `target_path` (one consistent snapshot); verify the copy."""
    if os.path.exists(target_path):
        raise BackupError(f"{target_path} exists; choose a new file")
    src = connect(db, readonly=True)
    dst = sqlite3.connect(target_path)
    try:
        src.backup(dst)  # all pages in one step: a single read snapshot, writers go on
    finally:
        dst.close()
        src.close()
    copy = connect(DbSettings(target_path))
    try:
        copy.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
        return verify(copy)
    finally:
        copy.close()


def restore(db: DbSettings, source_path: str) -> None:
    """Verify `source_path`, then swap it in as the database. The server must be stopped."""
    if not os.path.exists(source_path):
        raise BackupError(f"{source_path} does not exist")
    staging = db.path + ".restoring"
    for leftover in (staging, staging + "-wal", staging + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    src = sqlite3.connect(f"file:{os.path.abspath(source_path)}?mode=ro", uri=True)
    dst = sqlite3.connect(staging)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    check = connect(DbSettings(staging))
    try:
        problems = verify(check)
        check.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        check.close()
    if problems:
        os.remove(staging)
        raise BackupError("the backup does not verify: " + "; ".join(problems[:5]))
    for stale in (db.path + "-wal", db.path + "-shm"):
        if os.path.exists(stale):
            os.remove(stale)
    os.replace(staging, db.path)
