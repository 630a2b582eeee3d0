"""Ledger use cases shared by the web layer, the CLI and the background jobs.

Each use case builds one writer command (all its reads and writes in one transaction) and
awaits it. Amounts are integer minor units here; decimal text is parsed at the edge with
the asset's scale (`asset()` serves the immutable asset rows from a cache).
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from typing import Any, Callable, NamedTuple

from ..clock import SystemClock
from ..ledger.assets import Asset, validate_asset
from ..ledger.errors import BatchFailed, InsufficientFunds, InvalidRequest, LedgerError, NotFound
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..store import balances as balance_store
from ..store import brands as brand_store
from ..store import wallets as wallet_store
from ..store.accounts import ensure_account, load_pair
from ..store.customers import accounts_of_customers, customer_id_of, ensure_customer
from ..store.expiry import SweepResult, expire_due_holds, expire_due_lots
from ..store.readers import Readers
from ..store.rules import zone_of
from ..store.transfers import (BatchItem, TransferRecord, TransferView, batch_refused, create_batch, create_transfer,
                               describe, describe_many, get_transfer, resolve_pending)
from ..store.writer import Writer

# A caller's wrapper around a command, run in the same transaction (e.g. idempotency).
Wrap = Callable[[Callable[[sqlite3.Connection], Any]], Callable[[sqlite3.Connection], Any]] | None
_BRAND_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9@._+:-]{1,128}\Z")


def check_customer_id(customer_id: object) -> str:
    """Customer ids are the brand's own strings (an email, a user id): 1-128 safe characters."""
    if not isinstance(customer_id, str) or not _CUSTOMER_ID.match(customer_id):
        raise InvalidRequest("customer id must be 1-128 characters of A-Z a-z 0-9 @ . _ + : -",
                             field="customer_id")
    return customer_id


def check_time_zone(name: object) -> str:
    """An IANA time zone this machine knows (`UTC`, `Europe/Paris`)."""
    if isinstance(name, str) and 1 <= len(name) <= 64:
        try:
            zone_of(name)
            return name
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass
    raise InvalidRequest("time_zone must be an IANA time zone such as UTC or Europe/Paris", field="time_zone")


class Movement(NamedTuple):
    """What a customer-facing call asks to move, in minor units."""

    asset_code: str
    amount_minor: int
    code: str
    metadata: dict[str, Any] | None = None
    pending: bool = False
    timeout_s: int | None = None
    idempotency_key: str | None = None
    description: str | None = None


class LedgerService:
    def __init__(self, writer: Writer, readers: Readers, clock=None) -> None:
        self.writer = writer
        self.readers = readers
        self.clock = clock or SystemClock()
        self._assets: dict[tuple[int, str], Asset] = {}
        # (asset id, customer) → (issuance account id, customer account id); only ids whose
        # rows have committed are put here, and accounts are never deleted.
        self._credit_accounts: dict[tuple[int, str], tuple[int, int]] = {}

    # -- brands and assets --------------------------------------------------------------
    async def create_brand(self, code: str, name: str, time_zone: str = "UTC", points_expiry_days: int | None = None,
                           wrap: Wrap = None) -> int:
        if not isinstance(code, str) or not _BRAND_CODE.match(code):
            raise InvalidRequest("brand code must be 1-64 of a-z 0-9 _ - (starting with a letter or digit)",
                                 field="code")
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            raise InvalidRequest("brand name must be 1-200 characters", field="name")
        check_time_zone(time_zone)
        validate_asset("POINTS", 0, "points", points_expiry_days)
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: brand_store.create_brand(c, code, name, now, time_zone, points_expiry_days), wrap)

    async def create_asset(self, brand_id: int, code: str, scale: int, kind: str,
                           expiry_days: int | None = None, wrap: Wrap = None) -> Asset:
        validate_asset(code, scale, kind, expiry_days)
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: brand_store.create_asset(c, brand_id, code, scale, kind, expiry_days, now), wrap)

    async def list_assets(self, brand_id: int) -> list[Asset]:
        return await self.readers.read(lambda c: brand_store.list_assets(c, brand_id))

    async def list_brands(self, after_id: int, limit: int) -> list[tuple]:
        """(brand row, its assets) per brand."""
        def query(conn: sqlite3.Connection) -> list[tuple]:
            return [brand_view(conn, row["id"]) for row in brand_store.list_brands(conn, after_id, limit)]
        return await self.readers.read(query)

    async def asset(self, brand_id: int, code: str) -> Asset:
        """An asset by code; assets never change after creation, so they are cached."""
        key = (brand_id, code)
        found = self._assets.get(key)
        if found is None:
            if not isinstance(code, str) or len(code) > 16:
                raise NotFound("no such asset", asset=str(code)[:16])
            found = await self.readers.read(lambda c: brand_store.asset_by_code(c, brand_id, code))
            self._assets[key] = found
        return found

    # -- moving value -------------------------------------------------------------------
    async def credit(self, brand_id: int, customer: str, m: Movement, wrap: Wrap = None,
                     funding_wallet: str | None = None) -> TransferRecord:
        """Issue value to a customer (created on first use): issuance → customer, or funding
        wallet → customer (422 insufficient_funds when the wallet is short)."""
        check_customer_id(customer)
        asset = await self.asset(brand_id, m.asset_code)
        now = self.clock.now_ms()
        if funding_wallet is not None:
            return await self._submit(lambda conn: self._credit_from_wallet(conn, asset, customer, funding_wallet,
                                                                            m, now), wrap)

        key = (asset.id, customer)
        known = self._credit_accounts.get(key)
        learned: dict = {}

        def command(conn: sqlite3.Connection) -> TransferRecord:
            learned.clear()  # a command may run twice (the writer's isolated re-run)
            if known:  # both accounts exist (committed): one query for both
                issuance, to = load_pair(conn, *known)
            else:
                customer_row = ensure_customer(conn, brand_id, customer, now)
                to = ensure_account(conn, asset, "customer", customer, now, customer_row)
                issuance = ensure_account(conn, asset, "system", "issuance", now)
                learned[key] = (issuance.id, to.id)
            return create_transfer(conn, self._spec(asset, issuance.id, to.id, m), now,
                                   {to.id: to, issuance.id: issuance})
        result = await self._submit(command, wrap)
        self._remember(learned)
        return result

    def _credit_from_wallet(self, conn: sqlite3.Connection, asset: Asset, customer: str, wallet_uid: str,
                            m: Movement, now_ms: int) -> TransferRecord:
        wallet = wallet_store.get_wallet(conn, asset.brand_id, wallet_uid)
        if wallet["asset_id"] != asset.id:
            raise InvalidRequest(f"the wallet holds {wallet['asset']}, not {asset.code}", field="funding_wallet")
        customer_row = ensure_customer(conn, asset.brand_id, customer, now_ms)
        to = ensure_account(conn, asset, "customer", customer, now_ms, customer_row)
        return create_transfer(conn, self._spec(asset, wallet["account_id"], to.id, m), now_ms)

    async def debit(self, brand_id: int, customer: str, m: Movement, wrap: Wrap = None) -> TransferRecord:
        """Take value from a customer: customer → revenue. Never below zero available."""
        check_customer_id(customer)
        asset = await self.asset(brand_id, m.asset_code)
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> TransferRecord:
            source = _source_account(conn, brand_id, asset, customer, m.amount_minor, {})
            revenue = ensure_account(conn, asset, "system", "revenue", now)
            return create_transfer(conn, self._spec(asset, source, revenue.id, m), now)
        return await self._submit(command, wrap)

    async def transfer(self, brand_id: int, from_customer: str, to_customer: str,
                       m: Movement, wrap: Wrap = None) -> TransferRecord:
        """Move value between two existing customers of the brand."""
        asset = await self.asset(brand_id, m.asset_code)
        now = self.clock.now_ms()
        return await self._submit(
            lambda conn: create_transfer(conn, self._customer_spec(conn, brand_id, asset, from_customer,
                                                                   to_customer, m, now), now), wrap)

    async def transfer_batch(self, brand_id: int, items: list[tuple[str, str, Movement] | LedgerError],
                             atomic: bool, wrap: Wrap = None) -> list[BatchItem]:
        """Many customer-to-customer transfers in one transaction: all or none if `atomic`.

        An item may already be its error (an unknown asset, a bad amount, found while reading
        the request): it fails as that item, like one that fails here."""
        moves = [item for item in items if not isinstance(item, LedgerError)]
        assets = {code: await self.asset(brand_id, code) for code in {m.asset_code for _, _, m in moves}}
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> list[BatchItem]:
            specs, early = [], {}
            known: dict = {}  # customers and accounts resolved once per batch
            for asset in assets.values():
                names = sorted({n for s, d, m in moves if m.asset_code == asset.code for n in (s, d)})
                for name, ids in accounts_of_customers(conn, brand_id, asset.id, names).items():
                    known[(asset.id, name)] = ids
            for index, item in enumerate(items):
                if isinstance(item, LedgerError):
                    early[index] = item
                    specs.append(None)
                    continue
                src, dst, m = item
                try:
                    specs.append(self._customer_spec(conn, brand_id, assets[m.asset_code], src, dst, m, now, known))
                except (NotFound, InvalidRequest, InsufficientFunds) as exc:
                    early[index] = exc
                    specs.append(None)
            return _merge_batch(conn, specs, early, atomic, now)
        return await self._submit(command, wrap)

    async def post(self, brand_id: int, transfer_id: int, amount_minor: int | None = None,
                   key: str | None = None, wrap: Wrap = None) -> TransferRecord:
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: resolve_pending(c, brand_id, transfer_id, "post", now, amount_minor, key), wrap)

    async def void(self, brand_id: int, transfer_id: int, key: str | None = None,
                   wrap: Wrap = None) -> TransferRecord:
        now = self.clock.now_ms()
        return await self._submit(
            lambda c: resolve_pending(c, brand_id, transfer_id, "void", now, None, key), wrap)

    async def get_transfer(self, brand_id: int, transfer_id: int) -> TransferView:
        return self.readers.read_now(lambda c: describe(c, get_transfer(c, brand_id, transfer_id)))

    async def movements(self, brand_id: int, customer: str, asset_code: str | None, before_id: int,
                        limit: int) -> list[sqlite3.Row]:
        check_customer_id(customer)

        def query(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            customer_id_of(conn, brand_id, customer)
            return balance_store.movements(conn, brand_id, customer, asset_code, before_id, limit)
        return await self.readers.read(query)

    # -- time ---------------------------------------------------------------------------
    async def sweep(self, limit: int) -> tuple[SweepResult, SweepResult]:
        """Expire due holds, then due lots; at most `limit` of each."""
        now = self.clock.now_ms()
        return await self.writer.submit(
            lambda c: (expire_due_holds(c, now, limit), expire_due_lots(c, now, limit)))

    # -- reads ----------------------------------------------------------------------------
    async def balances(self, brand_id: int, customer: str, as_of_ms: int | None = None) -> list[dict]:
        """Per asset: (code, scale, Counters) of the customer, now or as of a moment."""
        check_customer_id(customer)
        if as_of_ms is None:  # one indexed query: run it in place
            rows = self.readers.read_now(lambda c: balance_store.customer_balances(c, brand_id, customer),
                                         single_statement=True)
            if rows is None:
                raise NotFound("no such customer", customer_id=customer)
            return [{"asset": code, "scale": scale, "counters": counters} for code, scale, counters in rows]

        def query(conn: sqlite3.Connection) -> list[dict]:
            customer_id_of(conn, brand_id, customer)
            return [{"asset": code, "scale": scale,
                     "counters": balance_store.counters_as_of(conn, account_id, as_of_ms)}
                    for code, scale, account_id in balance_store.customer_accounts(conn, brand_id, customer)]
        return await self.readers.read(query)

    # -- helpers ----------------------------------------------------------------------------
    MAX_REMEMBERED = 100_000

    def _remember(self, learned: dict) -> None:
        """Keep account ids a committed command created or found (bounded)."""
        if len(self._credit_accounts) + len(learned) > self.MAX_REMEMBERED:
            self._credit_accounts.clear()
        self._credit_accounts.update(learned)

    async def _submit(self, command: Callable[[sqlite3.Connection], Any], wrap: Wrap) -> Any:
        """Submit `command`, wrapped first when the caller adds to it (e.g. idempotency)."""
        return await self.writer.submit(wrap(command) if wrap else command)

    @staticmethod
    def _spec(asset: Asset, debit_id: int, credit_id: int, m: Movement) -> TransferSpec:
        return TransferSpec(brand_id=asset.brand_id, asset_id=asset.id, debit_account_id=debit_id,
                            credit_account_id=credit_id, amount=m.amount_minor, code=m.code,
                            pending=m.pending, timeout_s=m.timeout_s, metadata=m.metadata,
                            idempotency_key=m.idempotency_key, description=m.description)

    def _customer_spec(self, conn: sqlite3.Connection, brand_id: int, asset: Asset, src: str, dst: str,
                       m: Movement, now_ms: int, known: dict | None = None) -> TransferSpec:
        """The spec of a customer-to-customer transfer. `known` memoises account ids within
        one command (one transaction), where they cannot change."""
        if src == dst:
            raise InvalidRequest("from_customer and to_customer must differ")
        known = {} if known is None else known
        source = _source_account(conn, brand_id, asset, src, m.amount_minor, known)
        customer_row, target = _customer_account(conn, brand_id, asset, dst, known)
        if target is None:
            target = ensure_account(conn, asset, "customer", dst, now_ms, customer_row).id
            known[(asset.id, dst)] = (customer_row, target)
        return self._spec(asset, source, target, m)


def _customer_account(conn: sqlite3.Connection, brand_id: int, asset: Asset, name: str,
                      known: dict) -> tuple[int, int | None]:
    """(customer row id, its account id for the asset or None); NotFound for no such customer.
    `known` memoises within one command (one transaction), where ids cannot change."""
    if (asset.id, name) not in known:
        check_customer_id(name)
        known[(asset.id, name)] = accounts_of_customers(conn, brand_id, asset.id, [name]).get(name)
    found = known[(asset.id, name)]
    if found is None:
        raise NotFound("no such customer", customer_id=name)
    return found


def _source_account(conn: sqlite3.Connection, brand_id: int, asset: Asset, name: str, amount_minor: int,
                    known: dict) -> int:
    """The account value is taken from; a customer with no account yet has nothing to spend."""
    account_id = _customer_account(conn, brand_id, asset, name, known)[1]
    if account_id is None:
        raise insufficient_funds(asset.code, asset.scale, 0, amount_minor, name)
    return account_id


def _merge_batch(conn: sqlite3.Connection, specs: list, early: dict, atomic: bool,
                 now_ms: int) -> list[BatchItem]:
    """Run the batch over the items that resolved to specs, keeping per-item order and errors.

    An atomic batch with items that failed early still runs the others, so that its
    `batch_failed` names every failing item (an insufficient balance too); raising then
    undoes whatever they wrote."""
    try:
        ran = iter(create_batch(conn, [s for s in specs if s is not None], atomic, now_ms))
        failed_later: list = []
    except BatchFailed as exc:
        ran, failed_later = iter(()), exc.failures
    if atomic and (early or failed_later):
        resolved = [i for i, spec in enumerate(specs) if spec is not None]  # batch position → item index
        failures = sorted([*early.items(), *((resolved[i], e) for i, e in failed_later)])
        raise batch_refused(failures)
    out = []
    for index, spec in enumerate(specs):
        if spec is None:
            out.append(BatchItem(index, error=early[index]))
        else:
            item = next(ran)
            out.append(BatchItem(index, item.record, item.error))
    return out


def batch_item_key(request_key: str | None, index: int) -> str | None:
    """The transfer key of a batch's item `index`, derived from the request's Idempotency-Key.

    It outlives the stored response (IDEMPOTENCY_TTL_S): a retry after that still cannot
    apply an item twice. The space in it keeps it apart from any key a client can send
    (visible ASCII only), and hashing keeps it within the 200-character limit."""
    if request_key is None:
        return None
    return f"batch {hashlib.sha256(request_key.encode()).hexdigest()[:40]} {index}"


def brand_view(conn: sqlite3.Connection, brand_id: int) -> tuple:
    """(brand row, its assets): what a brand's description shows."""
    return brand_store.brand_by_id(conn, brand_id), brand_store.list_assets(conn, brand_id)


def with_view(command: Callable[[sqlite3.Connection], Any]) -> Callable[[sqlite3.Connection], Any]:
    """The command, returning `TransferView`s (with accounts and status) instead of records."""
    def viewed(conn: sqlite3.Connection) -> Any:
        result = command(conn)
        if isinstance(result, TransferRecord):
            return describe(conn, result)
        if isinstance(result, list):
            views = iter(describe_many(conn, [i.record for i in result if i.record]))
            return [BatchItem(i.index, next(views) if i.record else None, i.error) for i in result]
        return result
    return viewed
