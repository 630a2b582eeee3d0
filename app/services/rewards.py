"""Rewards catalog use cases: the catalog, redeeming, using, cancelling and expiring rewards.

Each write is one writer command (one transaction); the store module holds the rules and
the SQL. A paid redemption needs a customer that exists (404 otherwise: it has nothing to
pay with); a free one creates the customer on first use, as a credit does.
"""
from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from typing import Any

from ..ledger.errors import InvalidAmount, InvalidRequest, NotFound
from ..ledger.money import parse_amount
from ..store import rewards as store
from ..store.customers import customer_id_of, ensure_customer
from ..store.expiry import SweepResult
from .ledger import LedgerService, Wrap, check_customer_id

STATUSES = ("issued", "used", "cancelled", "expired")
_ZERO = re.compile(r"^0(\.0+)?\Z")


def cost_minor(value: Any, scale: int) -> int:
    """A reward's cost as decimal text → minor units; unlike a transfer's amount it may be
    zero (a free reward), but never has more decimals than the asset's scale."""
    text = str(value) if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool) else ""
    if _ZERO.match(text) and len(text) <= 2 + scale:
        return 0
    try:
        return parse_amount(value, scale)
    except InvalidAmount as exc:
        exc.details.setdefault("field", "cost_amount")
        raise


class RewardService:
    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self.writer, self.readers, self.clock = ledger.writer, ledger.readers, ledger.clock

    # -- the catalog ------------------------------------------------------------------------------
    async def create(self, brand_id: int, fields: dict, wrap: Wrap = None) -> dict:
        """`fields`: code, name, cost_asset, cost_amount (decimal text), stock, per_customer_limit,
        valid_days, active."""
        try:
            asset = await self.ledger.asset(brand_id, fields["cost_asset"])
        except NotFound as exc:
            exc.details["field"] = "cost_asset"
            raise
        spec = store.RewardSpec(fields["code"], fields["name"], asset, cost_minor(fields["cost_amount"], asset.scale),
                                fields.get("stock"), fields.get("per_customer_limit"), fields.get("valid_days"),
                                fields.get("active", True))
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            return store.create_reward(conn, brand_id, spec, now)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def list(self, brand_id: int, after_id: int, limit: int) -> list[tuple[int, dict]]:
        return await self.readers.read(lambda c: store.list_rewards(c, brand_id, after_id, limit))

    # -- a customer's rewards -------------------------------------------------------------------------
    async def redeem(self, brand_id: int, customer: str, reward_code: str, wrap: Wrap = None) -> dict:
        """Pay the reward's cost and issue it, in one transaction."""
        check_customer_id(customer)
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            free = store.reward_cost(conn, brand_id, reward_code) == 0
            row_id = ensure_customer(conn, brand_id, customer, now) if free else customer_id_of(conn, brand_id, customer)
            return store.issue_reward(conn, brand_id, row_id, reward_code, now, charge=True)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def use(self, brand_id: int, customer: str, issued_id: int, wrap: Wrap = None) -> dict:
        return await self._resolve(store.use_reward, brand_id, customer, issued_id, wrap)

    async def cancel(self, brand_id: int, customer: str, issued_id: int, wrap: Wrap = None) -> dict:
        return await self._resolve(store.cancel_reward, brand_id, customer, issued_id, wrap)

    async def _resolve(self, action, brand_id: int, customer: str, issued_id: int, wrap: Wrap) -> dict:
        check_customer_id(customer)
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            return action(conn, brand_id, customer_id_of(conn, brand_id, customer), issued_id, now)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def list_issued(self, brand_id: int, customer: str, status: str | None, after_id: int,
                          limit: int) -> list[tuple[int, dict]]:
        check_customer_id(customer)
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status")

        def query(conn: sqlite3.Connection) -> list[tuple[int, dict]]:
            row_id = customer_id_of(conn, brand_id, customer)
            return store.list_customer_rewards(conn, brand_id, row_id, status, after_id, limit)
        return await self.readers.read(query)

    # -- time -------------------------------------------------------------------------------------
    async def expire_due(self, limit: int) -> SweepResult:
        """Expire issued rewards past their expiry (at most `limit`); no refund."""
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: store.expire_due_rewards(c, now, limit))
