"""The single writer: one thread owns the only write connection and group-commits.

Callers submit a *command*, a plain function of the connection, and await its result.
The thread takes every command waiting (up to `batch_max`), runs them in one
`BEGIN IMMEDIATE … COMMIT` and resolves the futures only after COMMIT: a result means
durable. A failing command rolls back alone and raises its own error to its own caller:
the batch first runs without savepoints (the common case, two statements fewer per
command); if a command fails, the transaction is rolled back and the batch runs again with
each command in its own SAVEPOINT. One thread hop per batch, not per statement.
A `Mergeable` command runs together with the commands of the same key queued right after
it (the fast path only): one call does the work of all of them, for commands that share
reads and writes (events of one brand: `event_batch`).
The queue is bounded: when it is full, `submit` raises `Unavailable` at once.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

from ..ledger.errors import Unavailable
from .sqlite import DbSettings, begin, connect, rollback, rollback_to

log = logging.getLogger(__name__)
T = TypeVar("T")
Command = Callable[[sqlite3.Connection], T]
_STOP = object()


@dataclass
class WriterStats:
    """Counters for /metrics and /health; read without a lock (ints are atomic enough)."""

    batches: int = 0
    commands: int = 0
    failed_commands: int = 0
    merged_commands: int = 0  # commands run together with their neighbours (`Mergeable`)
    last_batch_size: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)
    longest_transaction_ms: float = 0.0  # wall time BEGIN → COMMIT of the longest group commit

    def record(self, size: int, commit_ms: float, transaction_ms: float = 0.0) -> None:
        self.batches += 1
        if transaction_ms > self.longest_transaction_ms:
            self.longest_transaction_ms = transaction_ms
        self.commands += size
        self.last_batch_size = size
        # Bounded buffers drained by the metrics collector.
        if len(self.batch_sizes) < 10_000:
            self.batch_sizes.append(size)
            self.commit_ms.append(commit_ms)


@dataclass(frozen=True, eq=False)
class Mergeable:
    """A command that may run as one call with the `Mergeable`s of the same `key` queued
    next to it: `many(conn, items)` answers each item's (result, error) in order, an item's
    error leaving nothing of that item and keeping the others. Alone (no neighbour, or the
    batch re-run isolated after a failure) it is `one(conn, item)`, a plain command."""

    key: Hashable
    item: Any
    one: Callable[[sqlite3.Connection, Any], Any]
    many: Callable[[sqlite3.Connection, list], list[tuple[Any, BaseException | None]]]

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.one(conn, self.item)


class Writer:
    def __init__(self, db: DbSettings, *, queue_max: int = 20_000, batch_max: int = 512) -> None:
        self._db = db
        # A deque (appends and pops are atomic) plus an event that wakes the thread when it
        # sleeps: cheaper per command than queue.Queue's lock and two conditions.
        self._items: deque = deque()
        self._wakeup = threading.Event()
        self._queue_max = queue_max
        self._batch_max = batch_max
        self._thread: threading.Thread | None = None
        self._closed = False
        self.stats = WriterStats()

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> "Writer":
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="sqlite-writer", daemon=True)
        self._thread.start()
        ready.result()  # re-raises a failure to open the database
        return self

    def close(self) -> None:
        """Finish every queued command, then stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._items.append(_STOP)
        self._wakeup.set()
        if self._thread:
            self._thread.join()

    @property
    def queue_depth(self) -> int:
        return len(self._items)

    # -- submitting ---------------------------------------------------------------------
    def _put(self, item: tuple) -> None:
        if self._closed:
            raise Unavailable("the writer is shut down")
        if len(self._items) >= self._queue_max:
            raise Unavailable("too many writes waiting; retry shortly", queue_max=self._queue_max)
        self._items.append(item)
        if not self._wakeup.is_set():
            self._wakeup.set()

    async def submit(self, command: Command[T]) -> T:
        """Run `command` in the next batch; its result once the batch has committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put((command, future, loop))
        return await future

    def submit_sync(self, command: Command[T], timeout_s: float = 60.0) -> T:
        """Blocking `submit` for threads without an event loop (CLI, tests)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._put((command, future, None))
        return future.result(timeout=timeout_s)

    # -- the thread ---------------------------------------------------------------------
    def _run(self, ready: concurrent.futures.Future) -> None:
        try:
            conn = connect(self._db, check_same_thread=True)
        except Exception as exc:  # noqa: BLE001 - reported to start()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while True:
                batch, stop = self._take_batch()
                if batch:
                    try:
                        self._run_batch(conn, batch)
                    except Exception as exc:  # noqa: BLE001 - the thread must outlive a bug
                        log.exception("writer failed a batch of %d", len(batch))
                        rollback(conn)
                        self._resolve(batch, [(None, Unavailable(f"write failed: {type(exc).__name__}"))]
                                      * len(batch))
                if stop:
                    break
        finally:
            try:  # everything committed is copied into the database file before it closes
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:  # another process holds a read snapshot: it checkpoints later
                pass
            conn.close()

    def _take_batch(self) -> tuple[list[tuple], bool]:
        items = self._items
        while not items:
            self._wakeup.clear()
            if not items:  # re-check after clear: a put in between has set the event again
                self._wakeup.wait()
        batch: list[tuple] = []
        while items and len(batch) < self._batch_max:
            item = items.popleft()
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[tuple]) -> None:
        try:
            outcomes = self._attempt(conn, batch, isolated=False)
            if outcomes is None:  # a command failed: run the batch again, each in a SAVEPOINT
                outcomes = self._attempt(conn, batch, isolated=True)
        except sqlite3.Error as exc:
            log.error("writer batch of %d failed: %s", len(batch), exc)
            rollback(conn)
            failure = Unavailable("the database could not commit; nothing was written")
            outcomes = [(None, failure)] * len(batch)
        self.stats.failed_commands += sum(1 for _, exc in outcomes if exc is not None)
        self._resolve(batch, outcomes)

    def _attempt(self, conn: sqlite3.Connection, batch: list[tuple],
                 isolated: bool) -> list[tuple[Any, BaseException | None]] | None:
        """Run the batch in one transaction and commit it.

        Fast path (`isolated` False): no SAVEPOINTs; the first failing command rolls the whole
        transaction back and returns None, and the caller re-runs the batch isolated: each
        command in its own SAVEPOINT, so the failing one rolls back alone. Commands are plain
        functions of the connection, so running one again after a rollback is safe."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        began = time.perf_counter()
        begin(conn)
        if isolated:
            outcomes = [self._run_one(conn, command) for command, _future, _loop in batch]
        else:
            for run in _runs(batch):
                try:
                    if len(run) > 1:
                        merged = run[0].many(conn, [command.item for command in run])
                        assert len(merged) == len(run)
                        outcomes.extend(merged)
                        self.stats.merged_commands += len(run)
                    else:
                        outcomes.append((run[0](conn), None))
                except Exception:  # noqa: BLE001 - retried isolated, where it reports its own error
                    rollback(conn)
                    return None
        started = time.perf_counter()
        conn.execute("COMMIT")
        ended = time.perf_counter()
        self.stats.record(len(batch), (ended - started) * 1000, (ended - began) * 1000)
        return outcomes

    @staticmethod
    def _run_one(conn: sqlite3.Connection, command: Command) -> tuple[Any, BaseException | None]:
        conn.execute("SAVEPOINT command")
        try:
            result = command(conn)
        except Exception as exc:  # noqa: BLE001 - each command's error goes to its caller
            rollback_to(conn, "command")
            return None, exc
        conn.execute("RELEASE command")
        return result, None

    @staticmethod
    def _resolve(batch: list[tuple], outcomes: list[tuple[Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
        for (_command, future, loop), outcome in zip(batch, outcomes):
            if loop is None:
                result, exc = outcome
                future.set_exception(exc) if exc else future.set_result(result)
            else:
                by_loop[loop].append((future, outcome))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # the loop closed while its commands ran
                log.warning("event loop closed before %d results were delivered", len(items))


def _runs(batch: list[tuple]) -> list[list]:
    """The batch's commands in order, as runs: neighbouring `Mergeable`s of one key together,
    every other command alone."""
    runs: list[list] = []
    for command, _future, _loop in batch:
        if runs and type(command) is Mergeable and type(runs[-1][0]) is Mergeable and runs[-1][0].key == command.key:
            runs[-1].append(command)
        else:
            runs.append([command])
    return runs


def _settle(items: list) -> None:
    for future, (result, exc) in items:
        if future.done():  # the caller was cancelled; the command has committed anyway
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
