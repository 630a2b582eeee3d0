"""Brand routes of funding wallets (DESIGN §8, seed 000): create, list, read with deposits,
withdraw (a chain payout from the wallet; Idempotency-Key required)."""
from __future__ import annotations

from ..ledger.errors import InvalidRequest
from .api_customers import PAGE_QUERY
from .base import ApiHandler, Op
from .models import page_of
from .models_payouts import PayoutOut
from .models_wallets import WalletDetailOut, WalletIn, WalletOut, WithdrawIn


class WalletsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's funding wallets with their balances", response=page_of(WalletOut),
                     query=PAGE_QUERY),
           "post": Op("Create a funding wallet of an asset payable on chain, with its own deposit address (HD"
                      " derived); deposits to it are credited once after CHAIN_CONFIRMATIONS",
                      body=WalletIn, response=WalletOut, status=201, errors=(400, 404, 503))}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.wallets.list(self.brand_id, self.cursor(), limit)
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(WalletIn)
        await self.write_through(lambda wrap: self.runtime.wallets.create(self.brand_id, d.name, d.asset, wrap=wrap),
                                 lambda view: (201, view), raw)


class WalletHandler(ApiHandler):
    OPS = {"get": Op("A funding wallet: balance, deposit address and its newest deposits",
                     response=WalletDetailOut, errors=(404,))}

    async def get(self, wallet_id: str) -> None:
        self.reply(200, await self.runtime.wallets.get(self.brand_id, wallet_id))


class WalletWithdrawHandler(ApiHandler):
    OPS = {"post": Op("Withdraw from a funding wallet to an address: a chain payout of the wallet's asset (held,"
                      " queued and drained like any payout). Idempotency-Key is required (400 without);"
                      " 422 insufficient_funds / limit_exceeded", body=WithdrawIn, response=PayoutOut,
                      status=202, errors=(400, 404, 409, 422), key_required=True)}

    async def post(self, wallet_id: str) -> None:
        key = self.idempotency_key()
        if key is None:
            raise InvalidRequest("a withdrawal needs an Idempotency-Key header: a retry must never pay twice",
                                 field="Idempotency-Key")
        raw = self.json_body()
        d = self.body(WithdrawIn)
        await self.write_through(
            lambda wrap: self.runtime.payouts.withdraw(self.brand_id, wallet_id, d.amount, {"address": d.address},
                                                       key, wrap=wrap),
            lambda view: (202, view), raw)
