"""Opening SQLite connections with every PRAGMA set explicitly."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from ..ledger.errors import LedgerError


@dataclass(frozen=True)
class DbSettings:
    path: str
    synchronous: str = "FULL"
    busy_timeout_ms: int = 5000
    cache_mb: int = 64
    wal_autocheckpoint_pages: int = 1000

    @classmethod
    def from_config(cls, config, role: str = "writer") -> "DbSettings":
        """Settings of the writer's connection or (`role="reader"`) of each read connection."""
        writer_mb, reader_mb = cache_budget_mb(config.memory_budget_mb, config.reader_pool_size)
        return cls(config.database_path, config.sqlite_synchronous, config.sqlite_busy_timeout_ms,
                   writer_mb if role == "writer" else reader_mb, config.sqlite_wal_autocheckpoint_pages)


def cache_budget_mb(memory_budget_mb: int, reader_pool_size: int) -> tuple[int, int]:
    """(writer, each reader) page cache in MiB from the process's memory budget.

    Half the budget goes to SQLite's page caches: a third of that to the writer (the hot
    pages of accounts and indexes it updates), the rest split over the read connections
    (the pool plus the event loop's own, for point reads). The other half is Python's: the
    interpreter, request buffers (each at most MAX_BODY_BYTES) and the bounded in-process
    caches (keys, assets, account ids, immutable rows per connection)."""
    caches_mb = memory_budget_mb // 2
    writer_mb = max(2, caches_mb // 3)
    reader_mb = max(2, (caches_mb - writer_mb) // (reader_pool_size + 1))
    return writer_mb, reader_mb


class LedgerConnection(sqlite3.Connection):
    """A connection that remembers the newest transfer (id, hash, time) it wrote in the open
    transaction, so the next transfer need not read it back. The memory is cleared at every
    BEGIN and every rollback (`begin`, `rollback`, `rollback_to`), the only ways the tip can
    change other than by writing a transfer; within a write transaction no other
    connection can write."""

    chain_tip: tuple[int, str, int] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Rows that never change once written, by id: (code, scale) of assets and
        # (kind, owner) of accounts. A rollback can undo a row and let its id be reused,
        # so every rollback forgets them all (`forget_uncommitted`).
        self.assets: dict[int, tuple[str, int]] = {}
        self.account_refs: dict[int, tuple[str, str]] = {}
        # brand id → its loyalty configuration (`rules.brand_config`), checked against the
        # brand's config_version; a rollback can undo a version, so it is forgotten too.
        self.loyalty_configs: dict = {}
        # (asset id, kind, owner) → account id, for accounts this connection has seen.
        self.account_ids: dict[tuple[int, str, str], int] = {}

    def forget_uncommitted(self) -> None:
        self.chain_tip = None
        if self.assets or self.account_refs or self.loyalty_configs or self.account_ids:
            self.assets = {}
            self.account_refs = {}
            self.loyalty_configs = {}
            self.account_ids = {}


def begin(conn: sqlite3.Connection) -> None:
    conn.chain_tip = None
    conn.execute("BEGIN IMMEDIATE")


def rollback(conn: sqlite3.Connection) -> None:
    conn.forget_uncommitted()
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def rollback_to(conn: sqlite3.Connection, savepoint: str) -> None:
    """Undo everything since SAVEPOINT `savepoint`, and close it."""
    conn.forget_uncommitted()
    conn.execute(f"ROLLBACK TO {savepoint}")
    conn.execute(f"RELEASE {savepoint}")


def each_alone(conn: sqlite3.Connection, items: list, apply, savepoint: str = "item") -> list:
    """`apply(item)` for each item in its own SAVEPOINT, in order: a `LedgerError` rolls that
    item back alone and is its result; an item that already is a `LedgerError` stays one."""
    out: list = []
    for item in items:
        if isinstance(item, LedgerError):
            out.append(item)
            continue
        conn.execute(f"SAVEPOINT {savepoint}")
        try:
            out.append(apply(item))
            conn.execute(f"RELEASE {savepoint}")
        except LedgerError as exc:
            rollback_to(conn, savepoint)
            out.append(exc)
    return out


def connect(db: DbSettings, *, readonly: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on."""
    if readonly:
        conn = sqlite3.connect(f"file:{os.path.abspath(db.path)}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=check_same_thread,
                               factory=LedgerConnection)
    else:
        folder = os.path.dirname(os.path.abspath(db.path))
        os.makedirs(folder, exist_ok=True)
        conn = sqlite3.connect(db.path, isolation_level=None, check_same_thread=check_same_thread,
                               factory=LedgerConnection)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(db.busy_timeout_ms)}")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"could not switch {db.path} to WAL (got {mode})")
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(db.wal_autocheckpoint_pages)}")
    conn.execute(f"PRAGMA synchronous = {db.synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = {-1024 * int(db.cache_mb)}")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn
