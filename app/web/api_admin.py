"""Admin routes: brands and API keys."""
from __future__ import annotations

from ..services.ledger import brand_view
from . import render
from .base import ApiHandler, Op, rfc3339
from .models import ApiKeyIn, ApiKeyOut, BrandIn, BrandOut, page_of


def brand_body(view: tuple) -> dict:
    row, assets = view
    return {"id": row["id"], "code": row["code"], "name": row["name"], "time_zone": row["time_zone"],
            "created_at": rfc3339(row["created_at_ms"]), "assets": [render.asset(a) for a in assets]}


class BrandsHandler(ApiHandler):
    OPS = {"post": Op("Create a brand with the default assets", "admin", BrandIn, BrandOut, 201, errors=(409,)),
           "get": Op("List brands", "admin", response=page_of(BrandOut), query={"limit": "page size", "cursor": "from next_cursor"})}

    async def post(self) -> None:
        raw = self.json_body()
        data = self.body(BrandIn)

        def as_view(command):
            return lambda conn: brand_view(conn, command(conn))
        await self.write_through(
            lambda wrap: self.runtime.ledger.create_brand(
                data.code, data.name, data.time_zone, data.points_expiry_days, wrap=self.then(wrap, as_view)),
            lambda view: (201, brand_body(view)), raw)

    async def get(self) -> None:
        limit = self.page_limit()
        views = await self.runtime.ledger.list_brands(self.cursor(), limit)
        self.reply(200, {"data": [brand_body(v) for v in views],
                         "next_cursor": self.next_cursor(views, limit, lambda v: v[0]["id"])})


class ApiKeysHandler(ApiHandler):
    OPS = {"post": Op("Create an API key (the key is shown once)", "admin", ApiKeyIn, ApiKeyOut, 201),
           "get": Op("List API keys (never the keys themselves)", "admin", response=page_of(ApiKeyOut),
                     query={"limit": "page size", "cursor": "from next_cursor"})}

    async def post(self) -> None:
        raw = self.json_body()
        data = self.body(ApiKeyIn)
        keys = self.web.keys
        # The stored replay never holds the key itself: a replay shows it as null.
        await self.write_through(lambda wrap: keys.create(data.brand, data.role, data.name, wrap),
                                 lambda made: (201, render.api_key(made[0])), raw,
                                 reply_render=lambda made: (201, render.api_key(*made)))

    async def get(self) -> None:
        limit = self.page_limit()
        rows = await self.web.keys.list(self.cursor(), limit)
        self.reply(200, {"data": [render.api_key(r) for r in rows],
                         "next_cursor": self.next_cursor(rows, limit, lambda r: r["id"])})


class ApiKeyHandler(ApiHandler):
    OPS = {"delete": Op("Revoke an API key", "admin", status=204, errors=(404,))}

    async def delete(self, key_id: str) -> None:
        await self.web.keys.revoke(self.path_id(key_id, "key_id"))
        self.set_status(204)
        self.finish()
