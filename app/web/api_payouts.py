"""Brand routes of payouts (DESIGN §8): request (Idempotency-Key required), read, list, cancel."""
from __future__ import annotations

from ..ledger.errors import InvalidRequest
from .api_customers import PAGE_QUERY
from .base import ApiHandler, Op
from .models import page_of
from .models_payouts import CancelIn, PayoutIn, PayoutOut


class PayoutsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's payouts, oldest first", response=page_of(PayoutOut),
                     query={**PAGE_QUERY, "customer_id": "only this customer's",
                            "wallet_id": "only this funding wallet's withdrawals",
                            "status": "pending | submitted | confirmed | failed | canceled"}, errors=(404,)),
           "post": Op("Request a payout: the amount is held (pending transfer to payout_clearing) and the payout"
                      " queued, in one transaction; the drain pays it. Idempotency-Key is required (400 without)."
                      " 422 insufficient_funds / limit_exceeded; 400 for a rail, asset or destination it cannot pay",
                      body=PayoutIn, response=PayoutOut, status=202, errors=(400, 404, 409, 422), key_required=True)}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.payouts.list(self.brand_id, self.query_text("customer_id"),
                                                self.query_text("status"), self.cursor(), limit,
                                                wallet=self.query_text("wallet_id"))
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        key = self.idempotency_key()
        if key is None:
            raise InvalidRequest("POST /v1/payouts needs an Idempotency-Key header: a retry must never pay twice",
                                 field="Idempotency-Key")
        raw = self.json_body()
        d = self.body(PayoutIn)
        payouts = self.runtime.payouts
        await self.write_through(
            lambda wrap: payouts.request(self.brand_id, d.customer_id, d.asset, d.amount, d.rail, d.destination,
                                         key, wrap=wrap),
            lambda view: (202, view), raw)


class PayoutHandler(ApiHandler):
    OPS = {"get": Op("Get a payout: status, provider reference (tx hash), attempts, last error", response=PayoutOut,
                     errors=(404,))}

    async def get(self, payout_id: str) -> None:
        self.reply(200, await self.runtime.payouts.get(self.brand_id, payout_id))


class PayoutCancelHandler(ApiHandler):
    OPS = {"post": Op("Cancel a pending payout: its hold is voided and the funds return (409 once the drain has"
                      " submitted it)", body=CancelIn, response=PayoutOut, errors=(404, 409))}

    async def post(self, payout_id: str) -> None:
        raw = self.json_body()
        self.body(CancelIn)
        await self.write_through(lambda wrap: self.runtime.payouts.cancel(self.brand_id, payout_id, wrap=wrap),
                                 lambda view: (200, view), raw)
