"""Brand routes of gift cards (seed 001): issue, list, look up and redeem by code, void.

Lookups and redemptions by code are guarded per client address: each code that names no
card of the brand costs the address a token (`GUESS_BURST`, refilled at
`GUESS_REFILL_PER_S`); an address out of tokens is answered 429 `rate_limited` with
Retry-After for every code, right or wrong, so guessing gains nothing by going on. A right
code costs nothing: a brand's backend redeeming many cards from one address is never held
back, while 100 random bits per code leave a guesser with no hits to spend.
"""
from __future__ import annotations

import time

from ..store.giftcards import GiftCardNotFound
from ..times import parse_time_ms
from .api_customers import PAGE_QUERY
from .base import ApiHandler, Op
from .errors import ApiError
from .models import page_of
from .models_referrals import GiftCardIn, GiftCardOut, GiftCardRedeemIn, GiftCardRedeemOut, VoidIn
from .ratelimit import TokenBuckets

GUESS_BURST = 10               # wrong codes an address may send before it is held back
GUESS_REFILL_PER_S = 1 / 30    # then one more every 30 s
_GUARD = "gift_card_guesses"   # the application setting that holds the per-address counts


class GuessGuard:
    """Per-address token buckets where only a wrong code takes a token."""

    def __init__(self, burst: int = GUESS_BURST, refill_per_s: float = GUESS_REFILL_PER_S,
                 now=time.monotonic) -> None:
        self.burst, self.refill_per_s, self._now = burst, refill_per_s, now
        self._tokens: dict[str, tuple[float, float]] = {}

    def _current(self, address: str) -> float:
        tokens, last = self._tokens.get(address, (float(self.burst), self._now()))
        return min(float(self.burst), tokens + (self._now() - last) * self.refill_per_s)

    def wait_s(self, address: str) -> float:
        """0 when the address may try a code now; else the seconds until it may."""
        tokens = self._current(address)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.refill_per_s

    def wrong(self, address: str) -> None:
        self._tokens[address] = (max(0.0, self._current(address) - 1.0), self._now())
        if len(self._tokens) > TokenBuckets.MAX_KEYS:
            self._tokens.pop(next(iter(self._tokens)))


def card_body(view: dict, code: str | None = None) -> dict:
    return {"id": view["id"], "code": code, **{k: v for k, v in view.items() if k != "id"}}


class _ByCode(ApiHandler):
    """A route that takes a card's code: guarded against guessing per client address."""

    def guard(self) -> GuessGuard:
        return self.settings.setdefault(_GUARD, GuessGuard())

    async def guarded(self, call):
        address = self.request.remote_ip or "?"
        wait_s = self.guard().wait_s(address)
        if wait_s:
            raise ApiError("rate_limited", "too many unknown gift card codes from this address",
                           retry_after_s=TokenBuckets.retry_after_s(wait_s))
        try:
            return await call()
        except GiftCardNotFound:
            self.guard().wrong(address)
            raise


class GiftCardsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's gift cards (never their codes)", response=page_of(GiftCardOut),
                     query={**PAGE_QUERY, "status": "active | voided | expired"}),
           "post": Op("Issue a gift card funded from issuance; the full code is in this response only",
                      body=GiftCardIn, response=GiftCardOut, status=201, errors=(404,))}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.giftcards.list(self.brand_id, self.query_text("status"), self.cursor(), limit)
        self.reply(200, {"data": [card_body(view) for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(GiftCardIn)
        expires_ms = None if d.expires_at is None else parse_time_ms(d.expires_at, "expires_at")
        # The stored replay never holds the code: a replay shows it as null.
        await self.write_through(
            lambda wrap: self.runtime.giftcards.create(self.brand_id, d.asset, d.amount, expires_ms, wrap=wrap),
            lambda made: (201, card_body(made[0])), raw, reply_render=lambda made: (201, card_body(*made)))


class GiftCardHandler(_ByCode):
    OPS = {"get": Op("A gift card by its code: balance and status (unknown codes count against the caller's"
                     " address: 429 after a few)", response=GiftCardOut, errors=(404, 429))}

    async def get(self, code: str) -> None:
        view = await self.guarded(lambda: self.runtime.giftcards.get(self.brand_id, code))
        self.reply(200, card_body(view))


class GiftCardRedeemHandler(_ByCode):
    OPS = {"post": Op("Redeem a gift card into an existing customer, in part or in full: a giftcard transfer"
                      " card → customer (404 unknown card or customer; 422 gift_card_expired, gift_card_voided,"
                      " insufficient_funds; 429 after a few unknown codes)", body=GiftCardRedeemIn,
                      response=GiftCardRedeemOut, status=201, errors=(404, 422, 429))}

    async def post(self, code: str) -> None:
        raw = self.json_body()
        d = self.body(GiftCardRedeemIn)

        async def call() -> None:
            await self.write_through(lambda wrap: self.runtime.giftcards.redeem(
                self.brand_id, code, d.customer_id, d.amount, wrap=wrap),
                lambda made: (201, {**made, "gift_card": card_body(made["gift_card"])}), raw)
        await self.guarded(call)


class GiftCardVoidHandler(ApiHandler):
    OPS = {"post": Op("Void a gift card by id: what remains goes back to issuance (again: the card as it is;"
                      " 422 gift_card_expired)", body=VoidIn, response=GiftCardOut, errors=(404, 422))}

    async def post(self, card_id: str) -> None:
        raw = self.json_body()
        self.body(VoidIn)
        card = self.path_id(card_id, "gift_card_id")
        await self.write_through(lambda wrap: self.runtime.giftcards.void(self.brand_id, card, wrap=wrap),
                                 lambda view: (200, card_body(view)), raw)

