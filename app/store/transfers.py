"""Transfers: create, resolve (post / void / expire) and batch, inside the writer's transaction.

Each function takes the write connection and runs inside the caller's SAVEPOINT: it either
writes the transfer row, both accounts' counters, the hold index and the lots, or raises
and leaves nothing. The rules come from `app.ledger`; this module only reads and writes.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..ledger.accounts import Account, Counters
from ..ledger.errors import (AlreadyResolved, BatchFailed, IdempotencyConflict, InvalidRequest,
                             LedgerError, NotFound)
from ..ledger.json_text import canonical_json
from ..ledger.lots import Lot, Take, lot_expiry_ms, plan_consumption
from ..ledger.money import format_amount
from ..ledger.transfers import (GENESIS_HASH, RESOLUTIONS, TransferSpec, apply_transfer,
                                chain_content, chain_hash, posting_problem, posting_refusal, validate_spec)
from .accounts import load_many, load_pair, save_many, save_pair
from .sqlite import LedgerConnection, rollback_to

COLUMNS = ("id, brand_id, asset_id, debit_account_id, credit_account_id, amount, kind, code,"
           " pending_id, timeout_at_ms, idempotency_key, metadata, created_at_ms,"
           " dr_debits_posted, dr_credits_posted, dr_debits_pending, dr_credits_pending,"
           " cr_debits_posted, cr_credits_posted, cr_debits_pending, cr_credits_pending, description")


class TransferRecord(NamedTuple):
    id: int
    brand_id: int
    asset_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    code: str
    pending_id: int | None
    timeout_at_ms: int | None
    idempotency_key: str | None
    metadata: dict[str, Any]
    created_at_ms: int
    dr_after: Counters
    cr_after: Counters
    description: str | None = None
    replayed: bool = False
    fresh: bool = False  # written by the running command (so a pending one is unresolved)


def record_from_row(row: sqlite3.Row | tuple) -> TransferRecord:
    return TransferRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                          row[9], row[10], json.loads(row[11]), row[12],
                          Counters(row[13], row[14], row[15], row[16]),
                          Counters(row[17], row[18], row[19], row[20]), row[21])


def get_transfer(conn: sqlite3.Connection, brand_id: int, transfer_id: int) -> TransferRecord:
    row = conn.execute(f"SELECT {COLUMNS} FROM transfers WHERE id = ? AND brand_id = ?",
                       (transfer_id, brand_id)).fetchone()
    if row is None:
        raise NotFound("no such transfer", transfer_id=str(transfer_id))
    return record_from_row(row)


def _by_key(conn: sqlite3.Connection, brand_id: int, key: str | None) -> TransferRecord | None:
    if key is None:
        return None
    row = conn.execute(f"SELECT {COLUMNS} FROM transfers WHERE brand_id = ? AND idempotency_key = ?",
                       (brand_id, key)).fetchone()
    return record_from_row(row)._replace(replayed=True) if row else None


def _check_replay(found: TransferRecord, wanted: dict[str, Any]) -> TransferRecord:
    """The original transfer when `wanted` matches it; else a conflict naming the field."""
    for name, value in wanted.items():
        if getattr(found, name) != value:
            raise IdempotencyConflict("idempotency key was used for a different transfer",
                                      field=name, transfer_id=str(found.id))
    return found


_INSERT = (
    "INSERT INTO transfers (id, brand_id, asset_id, debit_account_id, credit_account_id, amount,"
    " kind, code, pending_id, timeout_at_ms, idempotency_key, metadata,"
    " dr_debits_posted, dr_credits_posted, dr_debits_pending, dr_credits_pending,"
    " cr_debits_posted, cr_credits_posted, cr_debits_pending, cr_credits_pending,"
    " dr_prev_id, cr_prev_id, created_at_ms, prev_hash, hash, description)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


class _Deferred:
    """Rows a batch writes at its end in a few `executemany` calls instead of item by item.

    Every check runs in Python on the accounts the batch holds in memory, so an item that
    fails has written nothing; the batch's rows, holds and final account states are then
    written together. `tip` is the newest transfer, written or not."""

    def __init__(self, tip: tuple | None) -> None:
        self.tip = tip
        self.rows: list[tuple] = []
        self.holds: list[tuple] = []


def _tip(conn: sqlite3.Connection) -> tuple | None:
    return getattr(conn, "chain_tip", None) or conn.execute(
        "SELECT id, hash, created_at_ms FROM transfers ORDER BY id DESC LIMIT 1").fetchone()


def _insert(conn: sqlite3.Connection, *, brand_id: int, asset_id: int, dr: Account, cr: Account,
            amount: int, kind: str, code: str, pending_id: int | None, timeout_at_ms: int | None,
            key: str | None, meta: str, now_ms: int, dr_after: Counters,
            cr_after: Counters, deferred: _Deferred | None = None, description: str | None = None) -> TransferRecord:
    """Append the transfer row (hash-chained), then both accounts' counters (or, `deferred`,
    queue the row: the batch writes rows and accounts at its end).

    The INSERT comes first: when it fails (a duplicate idempotency key) nothing is written."""
    last = deferred.tip if deferred else _tip(conn)
    new_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    if last and last[2] > now_ms:  # time never runs backwards along the ledger
        now_ms = last[2]
    # The ChainFields order, as a plain tuple (building the NamedTuple costs more than hashing).
    new_hash = chain_hash(prev_hash, chain_content((new_id, brand_id, asset_id, dr.id, cr.id, amount, kind, code,
                                                    pending_id, timeout_at_ms, key, meta, now_ms, dr.last_transfer_id,
                                                    cr.last_transfer_id), description))
    values = (new_id, brand_id, asset_id, dr.id, cr.id, amount, kind, code, pending_id, timeout_at_ms,
              key, meta, *dr_after, *cr_after, dr.last_transfer_id, cr.last_transfer_id, now_ms,
              prev_hash, new_hash, description)
    if deferred:
        deferred.rows.append(values)
        deferred.tip = (new_id, new_hash, now_ms)
    else:
        conn.execute(_INSERT, values)
        if isinstance(conn, LedgerConnection):
            conn.chain_tip = (new_id, new_hash, now_ms)
        save_pair(conn, dr.id, dr_after, cr.id, cr_after, new_id)
    return TransferRecord(new_id, brand_id, asset_id, dr.id, cr.id, amount, kind, code, pending_id,
                          timeout_at_ms, key, json.loads(meta) if meta != "{}" else {}, now_ms,
                          dr_after, cr_after, description, fresh=True)


def _asset_of(conn: sqlite3.Connection, asset_id: int) -> tuple[str, int]:
    """(code, scale) of an asset, for errors that speak in its units."""
    return _known(conn, "assets", {asset_id}, _ASSETS_BY_ID)[asset_id]


def _apply_checked(conn: sqlite3.Connection, kind: str, dr: Account, cr: Account, amount: int,
                   pending_amount: int = 0) -> tuple[Counters, Counters]:
    dr_after, cr_after = apply_transfer(kind, dr.counters, cr.counters, amount, pending_amount)
    for account, after in ((dr, dr_after), (cr, cr_after)):
        problem = posting_problem(account, after)
        if problem:  # the refusal names the asset: one read, on this path only
            raise posting_refusal(problem, account, after, *_asset_of(conn, account.asset_id))
    return dr_after, cr_after


def _replay_of(conn: sqlite3.Connection, spec: TransferSpec, kind: str, meta: str) -> TransferRecord | None:
    """The transfer an earlier request with the spec's key made, if any (checked to match)."""
    found = _by_key(conn, spec.brand_id, spec.idempotency_key)
    if found is None:
        return None
    _check_replay(found, {
        "kind": kind, "asset_id": spec.asset_id, "debit_account_id": spec.debit_account_id,
        "credit_account_id": spec.credit_account_id, "amount": spec.amount, "code": spec.code,
        "description": spec.description})
    if canonical_json(found.metadata) != meta:  # as text: as parsed values, 1 would equal true
        raise IdempotencyConflict("idempotency key was used for a different transfer",
                                  field="metadata", transfer_id=str(found.id))
    return found


def create_transfer(conn: sqlite3.Connection, spec: TransferSpec, now_ms: int,
                    accounts: dict[int, Account] | None = None,
                    deferred: _Deferred | None = None) -> TransferRecord:
    """Write one posted or pending transfer, or raise and write nothing.

    A replay (same idempotency key) returns the original. The key is looked up only when the
    transfer cannot be written as new (refused, or its INSERT hits the unique key), which keeps
    the lookup off the common path; nothing is written before that point.

    `accounts`, when given, holds accounts as this transaction last wrote them (a batch keeps
    them between its items instead of reading them again); it is updated here."""
    meta = validate_spec(spec)
    kind = "pending" if spec.pending else "posted"
    try:
        if accounts is not None and spec.debit_account_id in accounts and spec.credit_account_id in accounts:
            dr, cr = accounts[spec.debit_account_id], accounts[spec.credit_account_id]
        else:
            dr, cr = load_pair(conn, spec.debit_account_id, spec.credit_account_id)
        for account in (dr, cr):
            if account.brand_id != spec.brand_id or account.asset_id != spec.asset_id:
                raise InvalidRequest("both accounts must belong to the transfer's brand and asset",
                                     account_id=account.id)
        dr_after, cr_after = _apply_checked(conn, kind, dr, cr, spec.amount)
        timeout_at_ms = now_ms + spec.timeout_s * 1000 if spec.timeout_s else None
        record = _insert(conn, brand_id=spec.brand_id, asset_id=spec.asset_id, dr=dr, cr=cr,
                         amount=spec.amount, kind=kind, code=spec.code, pending_id=None,
                         timeout_at_ms=timeout_at_ms, key=spec.idempotency_key, meta=meta,
                         now_ms=now_ms, dr_after=dr_after, cr_after=cr_after, deferred=deferred,
                         description=spec.description)
    except (LedgerError, sqlite3.IntegrityError):
        replay = _replay_of(conn, spec, kind, meta) if spec.idempotency_key else None
        if replay is None:
            raise
        return replay
    if accounts is not None:
        accounts[dr.id] = Account(*dr[:8], record.dr_after, record.id)  # Account._replace is slow
        accounts[cr.id] = Account(*cr[:8], record.cr_after, record.id)
    if kind == "pending":
        hold = (record.id, spec.brand_id, timeout_at_ms)
        if deferred:
            deferred.holds.append(hold)
        else:
            conn.execute("INSERT INTO open_holds (transfer_id, brand_id, timeout_at_ms) VALUES (?, ?, ?)", hold)
    else:
        _move_lots(conn, dr, cr, spec.amount, record.id, now_ms, spec.from_lot_id, spec.expires_at_ms)
    return record


def resolution_of(conn: sqlite3.Connection, pending_id: int) -> TransferRecord | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM transfers WHERE pending_id = ?", (pending_id,)).fetchone()
    return record_from_row(row) if row else None


def resolve_pending(conn: sqlite3.Connection, brand_id: int, pending_id: int, action: str, now_ms: int,
                    amount: int | None = None, key: str | None = None) -> TransferRecord:
    """Post (all or `amount` of it), void or expire a pending transfer, exactly once."""
    kind = RESOLUTIONS[action]
    pending = get_transfer(conn, brand_id, pending_id)
    if pending.kind != "pending":
        raise InvalidRequest("only a pending transfer can be posted or voided", transfer_id=str(pending_id))
    posted = pending.amount if amount is None or kind != "post_pending" else amount
    found = _by_key(conn, brand_id, key)
    if found:
        return _check_replay(found, {"pending_id": pending_id, "kind": kind, "amount": posted})
    done = resolution_of(conn, pending_id)
    if done:
        status = status_of_resolution(done.kind)
        raise AlreadyResolved(f"transfer was already {status}", transfer_id=str(pending_id),
                              resolution_id=str(done.id), status=status)
    if not 1 <= posted <= pending.amount:
        code, scale = _asset_of(conn, pending.asset_id)
        raise InvalidRequest("amount to post must be more than zero and at most the pending amount",
                             field="amount", asset=code, pending_amount=format_amount(pending.amount, scale))
    if kind != "expire_pending" and pending.timeout_at_ms is not None and now_ms >= pending.timeout_at_ms:
        raise AlreadyResolved("the pending transfer has timed out", transfer_id=str(pending_id),
                              status="expired")
    dr, cr = load_pair(conn, pending.debit_account_id, pending.credit_account_id)
    dr_after, cr_after = _apply_checked(conn, kind, dr, cr, posted, pending.amount)
    record = _insert(conn, brand_id=brand_id, asset_id=pending.asset_id, dr=dr, cr=cr, amount=posted,
                     kind=kind, code=pending.code, pending_id=pending_id, timeout_at_ms=None, key=key,
                     meta=canonical_json(pending.metadata), now_ms=now_ms, dr_after=dr_after,
                     cr_after=cr_after)
    conn.execute("DELETE FROM open_holds WHERE transfer_id = ?", (pending_id,))
    if kind == "post_pending":
        _move_lots(conn, dr, cr, posted, record.id, now_ms, None, None)
    return record


def status_of_resolution(kind: str) -> str:
    return {"post_pending": "posted", "void_pending": "voided", "expire_pending": "expired"}[kind]


@dataclass(frozen=True)
class BatchItem:
    index: int
    record: TransferRecord | None = None
    error: LedgerError | None = None


def create_batch(conn: sqlite3.Connection, specs: list[TransferSpec], atomic: bool,
                 now_ms: int) -> list[BatchItem]:
    """All-or-nothing (`atomic`) or item-by-item; each item's result or error, in order.

    Items after a failure still run, so that the error names every failing item. Most
    batches are checked in memory and written at the end (`_Deferred`): a failing item has
    written nothing. The others (replayed idempotency keys, lots) write item by item; then an atomic
    batch relies on the caller's transaction to undo everything when it raises
    `BatchFailed`, and a non-atomic one puts each item in its own SAVEPOINT."""
    items: list[BatchItem] = []
    accounts: dict[int, Account] = {}
    deferred = _deferrable(conn, specs, accounts)
    for index, spec in enumerate(specs):
        isolate = not atomic and deferred is None
        if isolate:
            conn.execute("SAVEPOINT batch_item")
        try:
            items.append(BatchItem(index, record=create_transfer(conn, spec, now_ms, accounts, deferred)))
            if isolate:
                conn.execute("RELEASE batch_item")
        except LedgerError as exc:
            if isolate:
                rollback_to(conn, "batch_item")
                accounts.clear()  # what the rolled-back item wrote is gone: read afresh
            items.append(BatchItem(index, error=exc))
    if atomic and any(i.error for i in items):
        raise batch_refused([(i.index, i.error) for i in items if i.error])
    if deferred is not None:
        _flush(conn, deferred, accounts, items)
    return items


def batch_refused(failures: list[tuple[int, LedgerError]]) -> BatchFailed:
    """The error of an atomic batch: every failing item's index, code, message and details
    (`failures` stays on the error for a caller that merges several lists)."""
    error = BatchFailed("the batch was refused: no transfer was applied", items=[
        {"index": index, "code": e.code, "message": e.message, "details": e.details} for index, e in failures])
    error.failures = tuple(failures)
    return error


def _deferrable(conn: sqlite3.Connection, specs: list[TransferSpec],
                accounts: dict[int, Account]) -> _Deferred | None:
    """A `_Deferred` when every item can be checked in memory: no lots (their consumption
    reads the lots table), and idempotency keys only when none of them is taken yet nor
    given twice (one query for all: then no item can be a replay, and no other writer can
    take a key before the batch's rows are written in this transaction). A batch that
    replays, in part or whole, goes item by item, where each replay is checked. Loads the
    batch's accounts into `accounts` either way."""
    ids = {s.debit_account_id for s in specs} | {s.credit_account_id for s in specs}
    accounts.update(load_many(conn, ids))
    if any(s.from_lot_id or s.expires_at_ms for s in specs) or any(a.tracks_lots for a in accounts.values()):
        return None
    keys = [(s.brand_id, s.idempotency_key) for s in specs if s.idempotency_key]
    if keys and (len(set(keys)) != len(keys) or _any_key_taken(conn, keys)):
        return None
    return _Deferred(_tip(conn))


def _any_key_taken(conn: sqlite3.Connection, keys: list[tuple[int, str]]) -> bool:
    return conn.execute(
        "SELECT 1 FROM transfers t JOIN json_each(?) k ON t.brand_id = k.value ->> 0"
        " AND t.idempotency_key = k.value ->> 1 LIMIT 1", (json.dumps(keys),)).fetchone() is not None


def _flush(conn: sqlite3.Connection, deferred: _Deferred, accounts: dict[int, Account],
           items: list[BatchItem]) -> None:
    touched = set()
    for item in items:
        if item.record:
            touched.update((item.record.debit_account_id, item.record.credit_account_id))
    flush_deferred(conn, deferred, accounts, touched)


def start_deferred(conn: sqlite3.Connection) -> _Deferred:
    """Rows to write later in a few statements (`create_transfer(..., deferred=)`), for a
    caller whose transfers touch no lot-tracking account and carry no idempotency key."""
    return _Deferred(_tip(conn))


def flush_deferred(conn: sqlite3.Connection, deferred: _Deferred, accounts: dict[int, Account],
                   touched: set[int]) -> None:
    """Write the deferred rows, holds and the touched accounts as `accounts` holds them."""
    if not deferred.rows:
        return
    conn.executemany(_INSERT, deferred.rows)
    if deferred.holds:
        conn.executemany("INSERT INTO open_holds (transfer_id, brand_id, timeout_at_ms) VALUES (?, ?, ?)",
                         deferred.holds)
    save_many(conn, [accounts[a] for a in sorted(touched)])
    deferred.rows, deferred.holds = [], []
    if isinstance(conn, LedgerConnection):
        conn.chain_tip = deferred.tip


# -- lots ------------------------------------------------------------------------------
def _live_lots(conn: sqlite3.Connection, account_id: int, amount: int, first_lot_id: int | None) -> list[Lot]:
    """Just enough live lots, soonest to expire first, to cover `amount`."""
    lots: list[Lot] = []
    if first_lot_id is not None:
        row = conn.execute("SELECT id, remaining, expires_at_ms FROM lots WHERE id = ? AND account_id = ?",
                           (first_lot_id, account_id)).fetchone()
        if row:
            lots.append(Lot(*row))
    covered = sum(lot.remaining for lot in lots)
    cursor = conn.execute("SELECT id, remaining, expires_at_ms FROM lots WHERE account_id = ? AND"
                          " remaining > 0 ORDER BY expires_at_ms, id", (account_id,))
    for row in cursor:
        if covered >= amount:
            break
        if row[0] != first_lot_id:
            lots.append(Lot(*row))
            covered += row[1]
    cursor.close()
    return lots


def _move_lots(conn: sqlite3.Connection, dr: Account, cr: Account, amount: int, transfer_id: int,
               now_ms: int, first_lot_id: int | None, expires_at_ms: int | None) -> None:
    takes: list[Take] = []
    if dr.tracks_lots:
        takes = plan_consumption(_live_lots(conn, dr.id, amount, first_lot_id), amount, first_lot_id)
        conn.executemany("UPDATE lots SET remaining = remaining - ? WHERE id = ?",
                         [(t.amount, t.lot_id) for t in takes])
    if not cr.tracks_lots:
        return
    if takes:  # value moving between holders keeps its expiry: no refresh by transfer
        new_lots = [(t.amount, t.expires_at_ms) for t in takes]
    else:
        expiry = expires_at_ms or lot_expiry_ms(now_ms, cr.expiry_days or 0)
        new_lots = [(amount, expiry)]
    conn.executemany("INSERT INTO lots (account_id, transfer_id, amount, remaining, expires_at_ms)"
                     " VALUES (?, ?, ?, ?, ?)",
                     [(cr.id, transfer_id, amt, amt, exp) for amt, exp in new_lots])


@dataclass(frozen=True)
class TransferView:
    """A transfer with what a reader needs: asset code and scale, both accounts, status."""

    record: TransferRecord
    asset_code: str
    scale: int
    debit: tuple[str, str]  # (account kind, owner)
    credit: tuple[str, str]
    status: str


def describe(conn: sqlite3.Connection, record: TransferRecord) -> TransferView:
    return describe_many(conn, [record])[0]


def describe_many(conn: sqlite3.Connection, records: list[TransferRecord]) -> list[TransferView]:
    """Views of many transfers with a few queries in all (not a few per transfer); none at all
    when the connection already knows the assets and accounts (immutable rows)."""
    assets = _known(conn, "assets", {t.asset_id for t in records}, _ASSETS_BY_ID)
    refs = _known(conn, "account_refs", {t.debit_account_id for t in records} | {t.credit_account_id for t in records},
                  _ACCOUNT_REFS_BY_ID)
    views = []
    for t in records:
        if t.kind == "pending":
            # One written by this very command cannot have been resolved yet.
            done = None if t.fresh else resolution_of(conn, t.id)
            status = status_of_resolution(done.kind) if done else "pending"
        else:
            status = "posted" if t.kind == "posted" else status_of_resolution(t.kind)
        code, scale = assets[t.asset_id]
        views.append(TransferView(t, code, scale, refs[t.debit_account_id], refs[t.credit_account_id], status))
    return views


MAX_KNOWN_ROWS = 100_000  # per connection and kind; past it the cache starts again
_ASSETS_BY_ID = "SELECT id, code, scale FROM assets WHERE id IN (SELECT value FROM json_each(?))"
_ACCOUNT_REFS_BY_ID = "SELECT id, kind, owner FROM accounts WHERE id IN (SELECT value FROM json_each(?))"


def _known(conn: sqlite3.Connection, cache_name: str, ids: set[int], query: str) -> dict[int, tuple]:
    """id → the row's other columns, from the connection's cache of immutable rows (see
    `LedgerConnection`), reading only the ids it lacks."""
    cache = getattr(conn, cache_name, {})  # a plain sqlite3 connection keeps none
    if len(cache) > MAX_KNOWN_ROWS:
        cache.clear()
    missing = [i for i in ids if i not in cache]
    if missing:
        rows = conn.execute(query, (json.dumps(sorted(missing)),)).fetchall()
        cache.update((r[0], (r[1], r[2])) for r in rows)
    return cache
