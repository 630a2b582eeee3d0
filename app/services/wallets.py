"""Funding wallet use cases (DESIGN §8, seed 000's developer sub-wallets): create, read, list.

A wallet is a ledger account (kind 'wallet', owner its id, never below zero) of one asset
that the chain rail can pay (CHAIN_ASSETS), with a deposit address derived from the HD seed
at the next free index. What it holds comes from deposits (`app.payouts.deposits`); it pays
rewards (`POST /v1/customers/{id}/credit {funding_wallet}`, in `LedgerService.credit`) and
withdrawals (`PayoutService.withdraw`).
"""
from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from ..ledger.errors import InvalidRequest, NotFound
from ..payouts.hd_seed import SeedUnusable
from ..payouts.rails import check_asset
from ..store import wallets as store
from ..store.accounts import ensure_account
from .ledger import LedgerService, Wrap

DEPOSITS_SHOWN = 50


class WalletService:
    def __init__(self, ledger: LedgerService, rails, seed, deposits) -> None:
        self.ledger, self.rails, self.seed = ledger, rails, seed  # seed: app.payouts.hd_seed.HdSeed
        self.deposits = deposits  # app.payouts.deposits.DepositScanner
        self.writer, self.readers, self.clock = ledger.writer, ledger.readers, ledger.clock
        self._seed_checked = False

    async def create(self, brand_id: int, name: Any, asset_code: Any, wrap: Wrap = None) -> dict:
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            raise InvalidRequest("name must be 1-200 characters", field="name")
        try:
            asset = await self.ledger.asset(brand_id, asset_code)
        except NotFound as exc:
            exc.details["field"] = "asset"
            raise
        check_asset(self.rails.get("chain"), asset.code, asset.scale)
        await self._check_seed()
        index = await self.readers.read(store.next_hd_index)
        address = self.seed.address(index)  # ~10 ms: derived before the writer's transaction
        uid, now = str(uuid.uuid4()), self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> dict:
            at, there = store.next_hd_index(conn), address
            if at != index:  # another wallet took the index meanwhile (rare): derive in place
                there = self.seed.address(at)
            account = ensure_account(conn, asset, "wallet", uid, now)
            row_id = store.insert_wallet(conn, store.NewWallet(uid, brand_id, name, asset.id, account.id, at, there),
                                         now)
            return store.wallet_view(store.wallet_by_row_id(conn, row_id))
        made = await self.writer.submit(wrap(command) if wrap else command)
        await self.deposits.begin()
        return made

    async def _check_seed(self) -> None:
        """The seed must derive the first wallet's address: a lost or swapped seed file would
        otherwise give new wallets addresses nobody holds the keys of, silently."""
        if self._seed_checked:
            return
        first = await self.readers.read(store.first_wallet)
        if first is not None and self.seed.address(first[0]) != first[1]:
            raise SeedUnusable("the wallet seed (WALLET_SEED or data/wallet_seed) does not derive this database's"
                               " deposit addresses: restore the seed the wallets were made with")
        self._seed_checked = True

    async def get(self, brand_id: int, uid: str) -> dict:
        def query(conn: sqlite3.Connection) -> dict:
            row = store.get_wallet(conn, brand_id, uid)
            view = store.wallet_view(row)
            view["deposits"] = [store.deposit_view(d, row["scale"])
                                for d in store.deposits_of(conn, row["id"], DEPOSITS_SHOWN)]
            return view
        return await self.readers.read(query)

    async def list(self, brand_id: int, after_id: int, limit: int) -> list[tuple[int, dict]]:
        rows = await self.readers.read(lambda c: store.list_wallets(c, brand_id, after_id, limit))
        return [(row["id"], store.wallet_view(row)) for row in rows]
