"""The customer portal: a page for one customer, opened with a signed link that the brand's
backend asks for (`POST /v1/customers/{id}/portal-link`) and hands to its customer.

The link names the brand and the customer and is signed with COOKIE_SECRET (Tornado's
signed values: HMAC-SHA256 over the value and its creation time); it is valid for
PORTAL_LINK_TTL_S by the service's clock. The page shows only that customer: balances,
history, tier, payouts and the rewards catalog; it redeems rewards and requests payouts to
the customer's own address (XSRF-checked, one-time tokens).
"""
from __future__ import annotations

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

import tornado.web
from pydantic import Field

from ..ledger.errors import LedgerError
from ..services.ledger import check_customer_id
from ..times import rfc3339
from .base import ApiHandler, Op
from .errors import ApiError
from .models import Out, Timestamp
from .models_payouts import PayoutIn
from .models_rewards import RedeemIn
from .pages_base import FormInvalid, PageHandler, error_fields, validate_form
from .pages_customer import customer_overview

SIGNED_NAME = "portal"
MAX_TOKEN_CHARS = 600


def _seconds(clock) -> Any:
    return lambda: clock.now_ms() / 1000


def make_token(settings: dict, brand_id: int, customer_id: str) -> str:
    runtime = settings["runtime"]
    value = json.dumps({"b": brand_id, "c": customer_id}, separators=(",", ":"))
    signed = tornado.web.create_signed_value(settings["cookie_secret"], SIGNED_NAME, value,
                                             clock=_seconds(runtime.clock))
    return urlsafe_b64encode(signed).decode("ascii").rstrip("=")


def read_token(settings: dict, token: str) -> tuple[int, str] | None:
    """(brand id, customer id) of a valid, unexpired link; None otherwise."""
    runtime = settings["runtime"]
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        signed = urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    value = tornado.web.decode_signed_value(settings["cookie_secret"], SIGNED_NAME, signed,
                                            max_age_days=runtime.config.portal_link_ttl_s / 86400,
                                            clock=_seconds(runtime.clock))
    if value is None:
        return None
    found = json.loads(value)
    return found["b"], found["c"]


class PortalLinkOut(Out):
    customer_id: str
    url: str = Field(description="the portal page, on the host this request was sent to")
    path: str = Field(description="the same page as a path, to put behind the brand's own public URL")
    expires_at: Timestamp


class PortalLinkHandler(ApiHandler):
    OPS = {"post": Op("A signed link to the customer's own portal page (balances, history, tier, rewards),"
                      " valid for PORTAL_LINK_TTL_S", response=PortalLinkOut, status=201, errors=(404,))}

    async def post(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        await self.web.customers.get(self.brand_id, customer_id)  # 404 for a customer the brand has not
        path = "/portal/" + make_token(self.settings, self.brand_id, customer_id)
        expires_ms = self.runtime.clock.now_ms() + self.runtime.config.portal_link_ttl_s * 1000
        self.reply(201, {"customer_id": customer_id, "url": f"{self.request.protocol}://{self.request.host}{path}",
                         "path": path, "expires_at": rfc3339(expires_ms)})


class PortalHandler(PageHandler):
    async def prepare(self) -> None:
        await super().prepare()
        found = read_token(self.settings, self.path_kwargs.get("token", ""))
        if found is None:
            raise ApiError("forbidden", "This link has expired or is not valid. Ask for a new one where you got it.")
        self.brand_id, self.customer_id = found

    async def show(self, token: str, errors: dict, status: int = 200, payout_values: dict | None = None) -> None:
        overview = await customer_overview(self.runtime, self.web, self.brand_id, self.customer_id, profile=False)
        self.page("portal/customer.html", status=status, c=overview, token=token, errors=errors,
                  payout_values=payout_values or {}, can_pay_out="chain" in self.runtime.rails.available())


class PortalPage(PortalHandler):
    async def get(self, token: str) -> None:
        await self.show(token, {})


class PortalRedeem(PortalHandler):
    async def post(self, token: str) -> None:
        try:
            d = validate_form(RedeemIn, {"reward": self.get_body_argument("reward", "")})
            await self.once(f"brand:{self.brand_id}", {"reward": d.reward, "customer": self.customer_id},
                            lambda wrap: self.runtime.rewards.redeem(self.brand_id, self.customer_id, d.reward, wrap=wrap),
                            lambda view: (f"/portal/{token}", f"You redeemed {view['name']}: show the code"
                                                              f" {view['redemption_code']}."))
        except FormInvalid as exc:
            await self.show(token, exc.errors, 400)
        except LedgerError as exc:
            await self.show(token, error_fields(exc, ("reward",)), 422)


class PortalPayout(PortalHandler):
    """The customer asks to be paid out to its own address (the chain rail); the form's
    one-time token is the payout's idempotency key."""

    async def post(self, token: str) -> None:
        values = {n: self.get_body_argument(n, "").strip() for n in ("asset", "amount", "destination")}
        try:
            d = validate_form(PayoutIn, {"customer_id": self.customer_id, "asset": values["asset"],
                                         "amount": values["amount"], "rail": "chain",
                                         "destination": {"address": values["destination"]}})
            key = "portal-" + self.form_token()
            await self.once(f"brand:{self.brand_id}", {**values, "customer": self.customer_id},
                            lambda wrap: self.runtime.payouts.request(self.brand_id, self.customer_id, d.asset,
                                                                      d.amount, d.rail, d.destination, key, wrap=wrap),
                            lambda view: (f"/portal/{token}", f"Payout of {view['amount']} {view['asset']} requested:"
                                                              " it shows below as it goes."))
        except FormInvalid as exc:
            await self.show(token, exc.errors, 400, payout_values=values)
        except LedgerError as exc:
            await self.show(token, error_fields(exc, PAYOUT_FIELDS), 422, payout_values=values)


PAYOUT_FIELDS = ("asset", "amount", "destination", "form")

ROUTES = [
    ("/portal/{token}", PortalPage),
    ("/portal/{token}/redeem", PortalRedeem),
    ("/portal/{token}/payout", PortalPayout),
]
