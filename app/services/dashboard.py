"""Brand-wide reads for the staff console: per-asset totals, recent events, payouts per status,
customer search.

Read-only; each read is one hop to a reader thread (the totals grow with the accounts).
"""
from __future__ import annotations

import sqlite3

from ..ledger.errors import InvalidRequest
from ..ledger.money import format_amount
from ..store import dashboard as store
from ..store.readers import Readers
from .payouts import STATUSES as PAYOUT_STATUSES

MAX_SEARCH_CHARS = 128


class DashboardService:
    def __init__(self, readers: Readers) -> None:
        self.readers = readers

    async def totals(self, brand_id: int) -> list[dict]:
        """Per asset: issued, redeemed, expired and outstanding (customers' balances) as decimal text."""
        rows = await self.readers.read(lambda c: store.asset_totals(c, brand_id))
        return [{"asset": r["code"], "holders": r["holders"],
                 **{name: format_amount(r[name], r["scale"]) for name in ("issued", "redeemed", "expired", "outstanding")}}
                for r in rows]

    async def recent_events(self, brand_id: int, limit: int = 10) -> list[dict]:
        return await self.readers.read(lambda c: store.recent_events(c, brand_id, limit))

    async def payout_counts(self, brand_id: int) -> dict[str, int]:
        """Payouts per status (every status, zeros included), the queue's summary."""
        found = await self.readers.read(lambda c: store.payout_counts(c, brand_id))
        return {status: found.get(status, 0) for status in PAYOUT_STATUSES}

    async def search_customers(self, brand_id: int, text: str, limit: int) -> list[sqlite3.Row]:
        if not 1 <= len(text) <= MAX_SEARCH_CHARS:
            raise InvalidRequest(f"search text must be 1-{MAX_SEARCH_CHARS} characters", field="q")
        return await self.readers.read(lambda c: store.search_customers(c, brand_id, text, limit))
