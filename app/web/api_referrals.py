"""Brand routes of the referral network (seed 001): groups, ambassadors, QR codes and their
images. The public side of a QR code (`GET /q/{code}`) is `pages_public`."""
from __future__ import annotations

import io
import re

from ..ledger.errors import InvalidRequest, NotFound
from .api_customers import PAGE_QUERY
from .base import ApiHandler, Op
from .models import page_of
from .models_referrals import AmbassadorIn, AmbassadorOut, GroupIn, GroupOut, QrIn, QrOut

_HOST = re.compile(r"^(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")
QR_CODE_PATTERN = re.compile(r"^[0-9A-Z]{16,64}\Z")
QR_SCALE = 8   # pixels per module of the PNG (and user units of the SVG)
QR_BORDER = 4  # the quiet zone the QR standard asks for, in modules


def public_base(handler: ApiHandler) -> str:
    """Where this service is reached from outside: the URL a printed QR code must hold.
    A `PUBLIC_BASE_URL` setting wins when the configuration has one; otherwise the scheme and
    Host of the request (checked: a Host header is the client's text)."""
    configured = getattr(handler.runtime.config, "public_base_url", None)
    if configured:
        return configured.rstrip("/")
    host = handler.request.host
    if not _HOST.match(host or ""):
        raise InvalidRequest("the Host header is not a host name; QR URLs are built from it", field="Host")
    return f"{handler.request.protocol}://{host}"


def qr_body(handler: ApiHandler, view: dict) -> dict:
    base = public_base(handler)
    return {**view, "url": f"{base}/q/{view['code']}", "svg_url": f"{base}/v1/qrcodes/{view['code']}.svg",
            "png_url": f"{base}/v1/qrcodes/{view['code']}.png"}


def qr_code_of(raw: str) -> str:
    if not QR_CODE_PATTERN.match(raw):
        raise NotFound("no such QR code", code=raw[:64])
    return raw


class GroupsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's ambassador groups", response=page_of(GroupOut), query=PAGE_QUERY),
           "post": Op("Create a group with a default commission (409 for a code in use)", body=GroupIn,
                      response=GroupOut, status=201, errors=(409,))}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.referrals.list_groups(self.brand_id, self.cursor(), limit)
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(GroupIn)
        await self.write_through(lambda wrap: self.runtime.referrals.create_group(
            self.brand_id, d.code, d.name, d.commission_bps, wrap=wrap), lambda view: (201, view), raw)


class AmbassadorsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's ambassadors", response=page_of(AmbassadorOut),
                     query={**PAGE_QUERY, "group": "only this group's"}),
           "post": Op("Make a customer (created on first use) an ambassador, in at most one group, with its own"
                      " rate or its group's (409: already one, or the referral code is taken; 404: no such group)",
                      body=AmbassadorIn, response=AmbassadorOut, status=201, errors=(404, 409))}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.referrals.list_ambassadors(self.brand_id, self.query_text("group"),
                                                              self.cursor(), limit)
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(AmbassadorIn)
        await self.write_through(lambda wrap: self.runtime.referrals.create_ambassador(
            self.brand_id, d.customer_id, d.group, d.commission_bps, d.referral_code, wrap=wrap),
            lambda view: (201, view), raw)


class QrCodesHandler(ApiHandler):
    OPS = {"post": Op("Create a QR code for an ambassador: {code, url, svg_url, png_url}; a scan of url counts"
                      " and leads to target_url?ref=<referral code> or to a landing page", body=QrIn,
                      response=QrOut, status=201, errors=(404,))}

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(QrIn)
        await self.write_through(lambda wrap: self.runtime.referrals.create_qr(
            self.brand_id, int(d.ambassador_id), d.target_url, wrap=wrap),
            lambda view: (201, qr_body(self, view)), raw)


class QrCodeHandler(ApiHandler):
    OPS = {"get": Op("A QR code with its scan count", response=QrOut, errors=(404,))}

    async def get(self, code: str) -> None:
        view = await self.runtime.referrals.get_qr(self.brand_id, qr_code_of(code))
        self.reply(200, qr_body(self, view))


class QrSvgHandler(ApiHandler):
    KIND, MEDIA_TYPE = "svg", "image/svg+xml"
    OPS = {"get": Op("The QR code as an SVG image (it holds the public url)", errors=(404,))}

    async def get(self, code: str) -> None:
        import segno  # on use: QR images are all that need it, and the rest of the API serves without it

        view = await self.runtime.referrals.get_qr(self.brand_id, qr_code_of(code))
        out = io.BytesIO()
        segno.make(qr_body(self, view)["url"], error="m").save(out, kind=self.KIND, scale=QR_SCALE,
                                                                  border=QR_BORDER)
        self.set_header("Content-Type", self.MEDIA_TYPE)
        self.finish(out.getvalue())


class QrPngHandler(QrSvgHandler):
    KIND, MEDIA_TYPE = "png", "image/png"
    OPS = {"get": Op("The QR code as a PNG image (it holds the public url)", errors=(404,))}
