"""Brand routes: assets, customers, balances and movements."""
from __future__ import annotations

from ..ledger.errors import InvalidRequest
from ..services.ledger import check_customer_id
from . import render
from .base import ApiHandler, Op, parse_time_ms, rfc3339
from .models import AssetIn, AssetOut, BalancesOut, CustomerIn, CustomerOut, MovementOut, page_of

PAGE_QUERY = {"limit": "page size (1-200, default 50)", "cursor": "next_cursor of the previous page"}


class AssetsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's assets", response=page_of(AssetOut)),
           "post": Op("Create an asset", body=AssetIn, response=AssetOut, status=201, errors=(409,))}

    async def get(self) -> None:
        assets = await self.runtime.ledger.list_assets(self.brand_id)
        self.reply(200, {"data": [render.asset(a) for a in assets], "next_cursor": None})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(AssetIn)
        await self.write_through(
            lambda wrap: self.runtime.ledger.create_asset(self.brand_id, d.code, d.scale, d.kind, d.expiry_days,
                                                          wrap=wrap),
            lambda a: (201, render.asset(a)), raw)


class CustomersHandler(ApiHandler):
    OPS = {"get": Op("List customers", response=page_of(CustomerOut),
                     query={**PAGE_QUERY, "status": "active | inactive | blocked", "tag": "has this tag"})}

    async def get(self) -> None:
        status = self.query_text("status")
        if status not in (None, "active", "inactive", "blocked"):
            raise InvalidRequest("status must be active, inactive or blocked", field="status")
        tag = self.query_text("tag")
        if tag is not None and not 1 <= len(tag) <= 64:
            raise InvalidRequest("tag must be 1-64 characters", field="tag")
        limit = self.page_limit()
        rows = await self.web.customers.list(self.brand_id, status, tag, self.cursor(), limit)
        self.reply(200, {"data": [render.customer(r) for r in rows],
                         "next_cursor": self.next_cursor(rows, limit, lambda r: r["id"])})


class CustomerHandler(ApiHandler):
    OPS = {"put": Op("Create or update a customer (the id is the brand's own, e.g. an email)",
                     body=CustomerIn, response=CustomerOut, status=200),
           "get": Op("Get a customer", response=CustomerOut, errors=(404,))}

    async def put(self, customer_id: str) -> None:
        d = self.body(CustomerIn)
        created, row = await self.web.customers.upsert(self.brand_id, customer_id, d.model_dump())
        self.reply(201 if created else 200, render.customer(row))

    async def get(self, customer_id: str) -> None:
        self.reply(200, render.customer(await self.web.customers.get(self.brand_id, customer_id)))


class BalancesHandler(ApiHandler):
    OPS = {"get": Op("A customer's balances per asset, now or as of a moment", response=BalancesOut,
                     query={"as_of": "RFC 3339 time: balances right after the last transfer at or before it"},
                     errors=(404,))}

    async def get(self, customer_id: str) -> None:
        raw = self.query_text("as_of")
        as_of_ms = parse_time_ms(raw, "as_of") if raw else None
        rows = await self.runtime.ledger.balances(self.brand_id, customer_id, as_of_ms)
        self.reply(200, {"customer_id": customer_id, "as_of": rfc3339(as_of_ms), "balances": [
            {"asset": r["asset"], **render.balance_fields(r["counters"], r["scale"])} for r in rows]})


class MovementsHandler(ApiHandler):
    OPS = {"get": Op("A customer's movements, newest first", response=page_of(MovementOut),
                     query={**PAGE_QUERY, "asset": "only this asset"}, errors=(404,))}

    async def get(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        asset = self.query_text("asset")
        limit = self.page_limit()
        rows = await self.runtime.ledger.movements(self.brand_id, customer_id, asset, self.cursor(), limit)
        self.reply(200, {"data": [render.movement(r) for r in rows],
                         "next_cursor": self.next_cursor(rows, limit, lambda r: r["id"])})
