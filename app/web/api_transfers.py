"""Brand routes that move value: credit, debit, transfers, batches, post and void."""
from __future__ import annotations

from ..ledger.errors import InvalidRequest, LimitExceeded, NotFound
from ..ledger.money import parse_amount
from ..services.ledger import Movement, batch_item_key, check_customer_id, with_view
from . import render
from .base import ApiHandler, Op
from .errors import envelope
from .models import BatchIn, BatchOut, CreditIn, DebitIn, CustomerTransferOut, PostIn, TransferIn, TransferOut, VoidIn

MONEY_ERRORS = (400, 404, 409, 422)


class CreditHandler(ApiHandler):
    """POST /v1/customers/{id}/credit and /debit: the direction comes from the route."""

    DIRECTION = "credit"
    OPS = {"post": Op("Credit a customer (issuance → customer, or funding_wallet → customer); created on first"
                      " use", body=CreditIn,
                      response=CustomerTransferOut, status=201, errors=MONEY_ERRORS)}

    async def post(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        raw = self.json_body()
        d = self.body(self.OPS["post"].body)
        ledger = self.runtime.ledger
        asset = await ledger.asset(self.brand_id, d.asset)
        m = Movement(d.asset, parse_amount(d.amount, asset.scale),
                     d.reason or ("earn" if self.DIRECTION == "credit" else "spend"), d.metadata,
                     d.pending, d.timeout_s, self.idempotency_key(), d.description)
        if self.DIRECTION == "credit":
            def call(wrap):
                return ledger.credit(self.brand_id, customer_id, m, wrap=wrap, funding_wallet=d.funding_wallet)
        else:
            def call(wrap):
                return ledger.debit(self.brand_id, customer_id, m, wrap=wrap)
        await self.write_through(lambda wrap: call(self.then(wrap, with_view)),
                                 lambda view: (201, render.customer_transfer(view, customer_id)), raw)


class DebitHandler(CreditHandler):
    DIRECTION = "debit"
    OPS = {"post": Op("Debit a customer (customer → revenue); 422 insufficient_funds beyond available",
                      body=DebitIn, response=CustomerTransferOut, status=201, errors=MONEY_ERRORS)}


def movement_of(d: TransferIn, scale: int, key: str | None) -> Movement:
    return Movement(d.asset, parse_amount(d.amount, scale), d.reason or "transfer", d.metadata, d.pending,
                    d.timeout_s, key, d.description)


class TransfersHandler(ApiHandler):
    OPS = {"post": Op("Transfer between two customers (pending: true reserves until post/void/timeout)",
                      body=TransferIn, response=TransferOut, status=201, errors=MONEY_ERRORS)}

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(TransferIn)
        ledger = self.runtime.ledger
        m = movement_of(d, (await ledger.asset(self.brand_id, d.asset)).scale, self.idempotency_key())
        await self.write_through(
            lambda wrap: ledger.transfer(self.brand_id, d.from_customer, d.to_customer, m, wrap=self.then(wrap, with_view)),
            lambda view: (201, render.transfer(view)), raw)


def batch_body(items: list, atomic: bool) -> dict:
    """Per item: its transfer id and status, or its error (GET /v1/transfers/{id} for more)."""
    results = []
    for item in items:
        if item.record is not None:
            results.append({"index": item.index, "ok": True, "transfer_id": str(item.record.record.id),
                            "status": item.record.status})
        else:
            results.append({"index": item.index, "ok": False,
                            "error": envelope(item.error.code, item.error.message, item.error.details)["error"]})
    return {"atomic": atomic, "applied": sum(1 for r in results if r["ok"]), "results": results}


class BatchHandler(ApiHandler):
    OPS = {"post": Op("Many transfers in one transaction; atomic: all or none (422 batch_failed names the items)",
                      body=BatchIn, response=BatchOut, status=201, errors=MONEY_ERRORS)}

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(BatchIn)
        limit = self.runtime.config.batch_max_transfers
        if len(d.transfers) > limit:
            raise LimitExceeded(f"a batch holds at most {limit} transfers", max_transfers=limit)
        ledger = self.runtime.ledger
        key = self.idempotency_key()
        items = []
        for index, t in enumerate(d.transfers):
            try:  # an unknown asset or a bad amount is that item's error, not the request's
                scale = (await ledger.asset(self.brand_id, t.asset)).scale
                items.append((t.from_customer, t.to_customer, movement_of(t, scale, batch_item_key(key, index))))
            except (NotFound, InvalidRequest) as exc:
                items.append(exc)
        await self.write_through(
            lambda wrap: ledger.transfer_batch(self.brand_id, items, d.atomic, wrap=self.then(wrap, with_view)),
            lambda results: (201, batch_body(results, d.atomic)), raw)


class TransferHandler(ApiHandler):
    OPS = {"get": Op("Get a transfer with its status", response=TransferOut, errors=(404,))}

    async def get(self, transfer_id: str) -> None:
        view = await self.runtime.ledger.get_transfer(self.brand_id, self.path_id(transfer_id, "transfer_id"))
        self.reply(200, render.transfer(view))


class PostHandler(ApiHandler):
    OPS = {"post": Op("Post a pending transfer, all of it or `amount` (the rest is released)", body=PostIn,
                      response=TransferOut, status=201, errors=(400, 404, 409, 422))}

    async def post(self, transfer_id: str) -> None:
        tid = self.path_id(transfer_id, "transfer_id")
        raw = self.json_body()
        d = self.body(PostIn)
        ledger = self.runtime.ledger
        amount_minor = None
        if d.amount is not None:
            pending = await ledger.get_transfer(self.brand_id, tid)
            amount_minor = parse_amount(d.amount, pending.scale)
        await self.write_through(
            lambda wrap: ledger.post(self.brand_id, tid, amount_minor, self.idempotency_key(), wrap=self.then(wrap, with_view)),
            lambda view: (201, render.transfer(view)), raw)


class VoidHandler(ApiHandler):
    OPS = {"post": Op("Void a pending transfer: the reserved funds return", body=VoidIn, response=TransferOut,
                      status=201, errors=(404, 409))}

    async def post(self, transfer_id: str) -> None:
        tid = self.path_id(transfer_id, "transfer_id")
        raw = self.json_body()
        self.body(VoidIn)
        ledger = self.runtime.ledger
        await self.write_through(
            lambda wrap: ledger.void(self.brand_id, tid, self.idempotency_key(), wrap=self.then(wrap, with_view)),
            lambda view: (201, render.transfer(view)), raw)
