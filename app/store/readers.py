"""Read-only connections: a small pool of threads, each with its own SQLite connection.

A read is a whole function of a connection run in one thread hop (not one hop per
statement), so a request that needs three queries pays one hop; point reads skip the hop
and run on the caller's thread (`read_now`). WAL lets reads run beside the writer.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from .sqlite import DbSettings, connect

T = TypeVar("T")


class Readers:
    def __init__(self, db: DbSettings, size: int = 4) -> None:
        self._db = db
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sqlite-reader")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._db, readonly=True, check_same_thread=False)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for the whole function
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on a pool thread: for reads whose cost grows with the data (lists, history)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def read_now(self, fn: Callable[[sqlite3.Connection], T], *, single_statement: bool = False) -> T:
        """Run `fn` right here on the caller's thread (its own read-only connection).

        For point reads (a few indexed rows, tens of µs): a thread hop costs more than the
        read itself. WAL readers do not wait for the writer, so this does not stall the loop.
        A `single_statement` read is consistent on its own and skips BEGIN/COMMIT."""
        return fn(self._conn()) if single_statement else self._call(fn)

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._pool.submit(self._call, fn).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
