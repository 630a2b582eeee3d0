"""Payout use cases (DESIGN §8): request, read, list and cancel; the drain is `app.payouts.outbox`.

A request takes the hold (a pending transfer from the customer, or for a withdrawal the
funding wallet, → the brand's `payout_clearing` system account, code `payout`, no timeout:
only its payout resolves it) and writes the
outbox row in one writer command. Limits (PAYOUT_LIMITS) are checked in that command too,
so the daily cap holds under concurrent requests. A payout exists once per
Idempotency-Key, for ever (the payouts table's UNIQUE key), beyond the HTTP replay window.
"""
from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from typing import Any, Optional

from ..ledger.assets import Asset
from ..ledger.errors import Conflict, InvalidRequest, LimitExceeded, NotFound
from ..ledger.money import format_amount, parse_amount
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..payouts.conversion import PayoutLimit
from ..payouts.rails import check_asset
from ..store import payouts as store
from ..store import wallets as wallet_store
from ..store.accounts import ensure_account
from ..store.customers import accounts_of_customers, customer_id_of
from ..store.transfers import create_transfer, resolve_pending
from .ledger import LedgerService, Wrap, check_customer_id

STATUSES = ("pending", "submitted", "confirmed", "failed", "canceled")
DAY_MS = 86_400_000
CLEARING = "payout_clearing"


class PayoutService:
    def __init__(self, ledger: LedgerService, rails, limits: tuple[PayoutLimit, ...]) -> None:
        self.ledger = ledger
        self.rails = rails  # app.payouts.registry.Rails
        self.writer, self.readers, self.clock = ledger.writer, ledger.readers, ledger.clock
        self.limits = {limit.code: limit for limit in limits}

    # -- requesting -------------------------------------------------------------------------------
    async def request(self, brand_id: int, customer: str, asset_code: str, amount: Any, rail_name: str,
                      destination: Any, key: str, wrap: Wrap = None) -> dict:
        """A customer's payout."""
        check_customer_id(customer)
        return await self._request(brand_id, ("customer", customer), asset_code, amount, rail_name, destination,
                                   key, wrap)

    async def withdraw(self, brand_id: int, wallet_uid: str, amount: Any, destination: Any, key: str,
                       wrap: Wrap = None) -> dict:
        """A funding wallet's withdrawal: a chain payout of the wallet's asset (no daily cap: that is
        per customer; the amount limits apply)."""
        asset_code = await self.readers.read(lambda c: wallet_store.get_wallet(c, brand_id, wallet_uid)["asset"])
        return await self._request(brand_id, ("wallet", wallet_uid), asset_code, amount, "chain", destination,
                                   key, wrap)

    async def _request(self, brand_id: int, source: tuple[str, str], asset_code: str, amount: Any, rail_name: str,
                       destination: Any, key: str, wrap: Wrap) -> dict:
        rail = self.rails.get(rail_name)
        if rail is None:
            raise InvalidRequest(f"rail {rail_name} is not available", field="rail",
                                 available=sorted(self.rails.available()))
        try:
            asset = await self.ledger.asset(brand_id, asset_code)
        except NotFound as exc:
            exc.details["field"] = "asset"
            raise
        amount_minor = parse_amount(amount, asset.scale)
        destination = rail.check_destination(destination)
        check_asset(rail, asset.code, asset.scale)
        limit = self.limits.get(asset.code)
        if limit is not None:
            self._check_amount_limits(limit, asset, amount_minor)
        uid, now = str(uuid.uuid4()), self.clock.now_ms()
        kind, owner = source
        wanted = {f"{kind}_id": owner, "asset": asset.code, "amount_minor": amount_minor, "rail": rail_name,
                  "destination": destination}

        def command(conn: sqlite3.Connection) -> dict:
            found = store.by_key(conn, brand_id, key)
            if found is not None:
                store.check_same_request(found, wanted)
                return store.payout_view(found)
            if kind == "wallet":
                wallet = wallet_store.get_wallet(conn, brand_id, owner)
                customer_row, wallet_row, account_id = None, wallet["id"], wallet["account_id"]
            else:
                customer_row, account_id = accounts_of_customers(conn, brand_id, asset.id, [owner]).get(
                    owner, (None, None))
                if customer_row is None:
                    raise NotFound("no such customer", customer_id=owner)
                wallet_row = None
                if limit is not None and limit.daily_units is not None:
                    self._check_daily_cap(conn, limit, asset, customer_row, amount_minor, now)
                if account_id is None:
                    raise insufficient_funds(asset.code, asset.scale, 0, amount_minor, owner)
            clearing = ensure_account(conn, asset, "system", CLEARING, now)
            hold = create_transfer(conn, TransferSpec(brand_id, asset.id, account_id, clearing.id, amount_minor,
                                                      "payout", pending=True, metadata={"payout_id": uid}), now)
            payout_id = store.insert_payout(conn, store.NewPayout(
                uid, brand_id, customer_row, wallet_row, asset.id, amount_minor, rail_name, destination, hold.id,
                key), now)
            return store.payout_view(store.payout_by_id(conn, payout_id))
        return await self.writer.submit(wrap(command) if wrap else command)

    @staticmethod
    def _check_amount_limits(limit: PayoutLimit, asset: Asset, amount_minor: int) -> None:
        lo, hi, _ = limit.in_minor(asset.scale)
        if lo is not None and amount_minor < lo:
            raise LimitExceeded("the amount is below the smallest payout", field="amount", asset=asset.code,
                                limit="min", min_amount=_units(lo, asset.scale))
        if hi is not None and amount_minor > hi:
            raise LimitExceeded("the amount is above the largest payout", field="amount", asset=asset.code,
                                limit="max", max_amount=_units(hi, asset.scale))

    @staticmethod
    def _check_daily_cap(conn: sqlite3.Connection, limit: PayoutLimit, asset: Asset, customer_row: int,
                         amount_minor: int, now_ms: int) -> None:
        cap = limit.in_minor(asset.scale)[2]
        used = store.paid_out_since(conn, customer_row, asset.id, now_ms - DAY_MS)
        if used + amount_minor > cap:
            raise LimitExceeded("the customer's payouts in the last 24 hours would pass the daily cap",
                                field="amount", asset=asset.code, limit="daily", daily_cap=_units(cap, asset.scale),
                                paid_out_last_24h=format_amount(used, asset.scale),
                                remaining=_units(max(cap - used, Decimal(0)), asset.scale))

    # -- reading ----------------------------------------------------------------------------------
    async def get(self, brand_id: int, uid: str) -> dict:
        if not isinstance(uid, str) or len(uid) != 36:
            raise NotFound("no such payout", payout_id=str(uid)[:40])
        return self.readers.read_now(lambda c: store.payout_view(store.get_payout(c, brand_id, uid)))

    async def list(self, brand_id: int, customer: Optional[str], status: Optional[str], after_id: int,
                   limit: int, wallet: Optional[str] = None) -> list[tuple[int, dict]]:
        if customer is not None:
            check_customer_id(customer)
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status")

        def query(conn: sqlite3.Connection) -> list[tuple[int, dict]]:
            row_id = customer_id_of(conn, brand_id, customer) if customer is not None else None
            wallet_row = wallet_store.get_wallet(conn, brand_id, wallet)["id"] if wallet is not None else None
            rows = store.list_payouts(conn, brand_id, row_id, status, after_id, limit, wallet_row)
            return [(row["id"], store.payout_view(row)) for row in rows]
        return await self.readers.read(query)

    # -- canceling --------------------------------------------------------------------------------
    async def cancel(self, brand_id: int, uid: str, wrap: Wrap = None) -> dict:
        """Cancel a payout the drain has not claimed yet: its hold is voided (the funds return)."""
        if not isinstance(uid, str) or len(uid) != 36:
            raise NotFound("no such payout", payout_id=str(uid)[:40])
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            row = store.get_payout(conn, brand_id, uid)
            if not store.move(conn, row["id"], "pending", "canceled", now):
                raise Conflict(f"the payout is {row['status']}: only a pending payout can be canceled",
                               payout_id=uid, status=row["status"])
            resolve_pending(conn, brand_id, row["hold_transfer_id"], "void", now)
            store.note_attempt(conn, row["id"], "resolve", "canceled", "canceled by request", now, counts=False)
            return store.payout_view(store.payout_by_id(conn, row["id"]))
        return await self.writer.submit(wrap(command) if wrap else command)


def _units(minor: Decimal, scale: int) -> str:
    """A limit in minor units as the asset's decimal text (a limit finer than the scale shows all its digits)."""
    if minor == minor.to_integral_value():
        return format_amount(int(minor), scale)
    return format(minor / Decimal(10) ** scale, "f")
