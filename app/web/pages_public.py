"""Public pages, no key: the landing of a scanned QR code (`GET /q/{code}`).

A scan is counted, then the visitor is sent to the ambassador's `target_url` with
`?ref=<referral code>` added, or shown a small page with the referral code when there is
none. Unknown codes are a 404 page. Pages are Jinja2 templates from `templates/`
(`app.resources`), HTML-escaped. Errors are pages for a browser (an Accept that names
text/html, as every browser's does) and the API's JSON envelope for anything else.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2

from ..ledger.errors import LedgerError, NotFound
from ..resources import TEMPLATES_DIR
from .api_referrals import QR_CODE_PATTERN
from .base import ApiHandler, Op
from .errors import status_of


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                              autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                              undefined=jinja2.StrictUndefined)


def with_ref(target_url: str, referral_code: str) -> str:
    """`target_url` with `ref=<referral code>` in its query (replacing a `ref` it had)."""
    parts = urlsplit(target_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("ref", referral_code)])))


class QrLandingHandler(ApiHandler):
    OPS = {"get": Op("A scanned QR code (public, HTML): counts the scan, then redirects to the ambassador's"
                     " target_url?ref=<referral code> or shows a landing page; unknown codes: a 404 page",
                     access="public", errors=(404,))}

    def wants_html(self) -> bool:
        return "text/html" in self.request.headers.get("Accept", "")

    def page(self, status: int, template: str, **values: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")  # every scan reaches us and counts
        self.finish(templates().get_template(template).render(**values))

    async def get(self, code: str) -> None:
        scanned = await self.runtime.referrals.scan(code) if QR_CODE_PATTERN.match(code) else None
        if scanned is None:
            if not self.wants_html():
                raise NotFound("no such QR code")
            self.page(404, "public/error.html", title="Not found", message="This code is not one of ours.")
        elif scanned["target_url"]:
            self.set_header("Cache-Control", "no-store")
            self.redirect(with_ref(scanned["target_url"], scanned["referral_code"]))
        else:
            self.page(200, "public/qr_landing.html", brand=scanned["brand_name"],
                      referral_code=scanned["referral_code"])

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if not self.wants_html():
            return super().write_error(status_code, **kwargs)
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status = status_of(exc) if isinstance(exc, LedgerError) else status_code
        self.set_header("X-Request-Id", self.request_id)
        self.page(status, "public/error.html", title="Sorry", message="Something went wrong; please try again later."
                  if status >= 500 else "This request cannot be served.")
