"""Gift card use cases (seed 001): issue, look up, redeem, list, void, expire.

Each write is one writer command (one transaction); the rules and the SQL live in
`app.store.giftcards`. A code that cannot be a card's code (wrong length or letters) is
answered like an unknown one, 404, without touching the database.
"""
from __future__ import annotations

from typing import Any, Optional

from ..ledger.errors import InvalidRequest, NotFound
from ..ledger.money import parse_amount
from ..store import giftcards as store
from ..store.expiry import SweepResult
from .ledger import LedgerService, Wrap, check_customer_id


def hashed_code(code: str) -> str:
    """The stored hash of a presented code; NotFound when it cannot be a code."""
    normalised = store.normalise(code)
    if normalised is None:
        raise store.GiftCardNotFound("no such gift card")
    return store.code_hash(normalised)


class GiftCardService:
    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self.writer, self.readers, self.clock = ledger.writer, ledger.readers, ledger.clock

    async def _amount(self, brand_id: int, asset_code: str, amount: Any) -> tuple[Any, int]:
        try:
            asset = await self.ledger.asset(brand_id, asset_code)
        except NotFound as exc:
            exc.details["field"] = "asset"
            raise
        return asset, parse_amount(amount, asset.scale)

    async def create(self, brand_id: int, asset_code: str, amount: Any, expires_at_ms: Optional[int],
                     wrap: Wrap = None) -> tuple[dict, str]:
        """(the card's view, its code shown once)."""
        asset, amount_minor = await self._amount(brand_id, asset_code, amount)
        now = self.clock.now_ms()
        if expires_at_ms is not None and expires_at_ms <= now:
            raise InvalidRequest("expires_at must be in the future", field="expires_at")

        def command(conn):
            return store.create_card(conn, asset, amount_minor, expires_at_ms, now)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def get(self, brand_id: int, code: str) -> dict:
        hashed = hashed_code(code)
        return self.readers.read_now(lambda c: store.card_by_hash(c, brand_id, hashed))

    async def list(self, brand_id: int, status: Optional[str], after_id: int, limit: int) -> list[tuple[int, dict]]:
        if status is not None and status not in store.STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(store.STATUSES)}", field="status")
        return await self.readers.read(lambda c: store.list_cards(c, brand_id, status, after_id, limit))

    async def redeem(self, brand_id: int, code: str, customer: str, amount: Any = None,
                     wrap: Wrap = None) -> dict:
        hashed = hashed_code(code)
        check_customer_id(customer)
        scale = None
        if amount is not None:
            card = await self.get(brand_id, code)
            scale = (await self.ledger.asset(brand_id, card["asset"])).scale
        amount_minor = None if amount is None else parse_amount(amount, scale)
        now = self.clock.now_ms()

        def command(conn):
            return store.redeem(conn, brand_id, hashed, customer, amount_minor, now)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def void(self, brand_id: int, card_id: int, wrap: Wrap = None) -> dict:
        now = self.clock.now_ms()

        def command(conn):
            return store.void(conn, brand_id, card_id, now)
        return await self.writer.submit(wrap(command) if wrap else command)

    async def expire_due(self, limit: int) -> SweepResult:
        """Cards past expiry: what remains goes to breakage (at most `limit` cards)."""
        now = self.clock.now_ms()
        return await self.writer.submit(lambda c: store.expire_due(c, now, limit))
