"""Migrations: numbered SQL files applied in order, each recorded with its checksum.

A file that landed must never change: start-up refuses a database whose recorded
checksum differs from the file on disk, and a database newer than the code.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass

from ..resources import MIGRATIONS_DIR

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql\Z")


class MigrationError(RuntimeError):
    """The database and the migration files disagree; the message says how."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: str = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for name in sorted(os.listdir(folder)):
        match = _NAME.match(name)
        if match:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                found.append(Migration(int(match.group(1)), name, fh.read()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1..N without gaps, found {versions}")
    return found


def _applied(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "schema_migrations" not in tables:  # never add our tables to another's file
        raise MigrationError(f"the database holds tables ({', '.join(sorted(tables)[:5])}) but is not one of"
                             " this service (no schema_migrations); choose another DATABASE_PATH")
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                 " name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT")
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT version, name, checksum FROM schema_migrations")}


def migrate(conn: sqlite3.Connection, folder: str = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations, each in its own transaction; return their names."""
    migrations = load_migrations(folder)
    applied = _applied(conn)
    for version, (name, checksum) in applied.items():
        if version > len(migrations):
            raise MigrationError(f"database has migration {name} that this code does not know")
        if migrations[version - 1].checksum != checksum:
            raise MigrationError(f"migration {name} changed after it was applied; restore the original file")
    done = []
    for m in migrations:
        if m.version in applied:
            continue
        record = (f"INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}', "
                  f"'{m.checksum}', {int(time.time() * 1000)});")
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{m.sql}\n;{record}\nCOMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(f"migration {m.name} failed: {exc}") from exc
        done.append(m.name)
    return done


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return row[0] or 0
