"""Referral network use cases (seed 001): groups, ambassadors, QR codes and their scans.

Each write is one writer command (one transaction); the rules and the SQL live in
`app.store.referrals`. Referral links and commissions are made by the events engine
(`app.services.events`), inside the transaction of the event that carries the code.
"""
from __future__ import annotations

import sqlite3
from typing import Optional

from ..store import referrals as store
from .ledger import LedgerService, Wrap, check_customer_id


class ReferralService:
    def __init__(self, ledger: LedgerService) -> None:
        self.writer, self.readers, self.clock = ledger.writer, ledger.readers, ledger.clock

    async def _write(self, command, wrap: Wrap):
        return await self.writer.submit(wrap(command) if wrap else command)

    # -- groups and ambassadors ---------------------------------------------------------------------
    async def create_group(self, brand_id: int, code: str, name: str, commission_bps: Optional[int],
                           wrap: Wrap = None) -> dict:
        now = self.clock.now_ms()
        return await self._write(lambda c: store.create_group(c, brand_id, code, name, commission_bps, now), wrap)

    async def list_groups(self, brand_id: int, after_id: int, limit: int) -> list[tuple[int, dict]]:
        return await self.readers.read(lambda c: store.list_groups(c, brand_id, after_id, limit))

    async def create_ambassador(self, brand_id: int, customer: str, group: Optional[str],
                                commission_bps: Optional[int], referral_code: Optional[str],
                                wrap: Wrap = None) -> dict:
        check_customer_id(customer)
        now = self.clock.now_ms()
        return await self._write(lambda c: store.create_ambassador(c, brand_id, customer, group, commission_bps,
                                                                   referral_code, now), wrap)

    async def list_ambassadors(self, brand_id: int, group: Optional[str], after_id: int,
                               limit: int) -> list[tuple[int, dict]]:
        return await self.readers.read(lambda c: store.list_ambassadors(c, brand_id, group, after_id, limit))

    # -- QR codes ---------------------------------------------------------------------------------
    async def create_qr(self, brand_id: int, ambassador_id: int, target_url: Optional[str],
                        wrap: Wrap = None) -> dict:
        now = self.clock.now_ms()
        return await self._write(lambda c: store.create_qr(c, brand_id, ambassador_id, target_url, now), wrap)

    async def get_qr(self, brand_id: int, code: str) -> dict:
        return self.readers.read_now(lambda c: store.get_qr(c, brand_id, code))

    async def scan(self, code: str) -> Optional[dict]:
        """Count a public scan; None for an unknown code (nothing written)."""
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> Optional[dict]:
            return store.scan_qr(conn, code, now)
        return await self.writer.submit(command)
