"""The Stripe rail (DESIGN §8): cashback paid to a customer's Stripe connected account.

Transfer, not Payout. Stripe's Connect "Pay out money" guide (docs.stripe.com/connect/
add-and-pay-out-guide) pays sellers by adding funds to the platform balance and *creating a
Transfer* to each connected account (`POST /v1/transfers {amount, currency, destination:
acct_…}`, docs.stripe.com/api/transfers/create); the connected account's own payout
schedule then moves its balance to its bank by ACH (docs.stripe.com/connect/
bank-debit-card-payouts). A Payout (`POST /v1/payouts` with `Stripe-Account`) only spends
a balance the connected account already holds, so it cannot pay our cashback by itself.
A transfer is done when it is created (it has no pending state: "Returns a transfer object
if there were no initial errors"), so `submit` answers `Confirmed`; it is undone only by
a reversal (`reversed`, docs.stripe.com/api/transfers/object), which `check` reports as
a final failure.

Stripe behaviour followed:
- Idempotency (docs.stripe.com/api/idempotent_requests, /error-low-level): the
  `Idempotency-Key` header (here: the payout id); once the endpoint began executing, the
  first status and body are saved and replayed for the same key, *including 500s and
  400s*; a key reused with other parameters is an `idempotency_error`; rate limiting
  (429) runs before the idempotency layer.
- Errors (docs.stripe.com/api/errors): `{"error": {type, code, message, param}}`, `type`
  one of `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`; 400
  bad request, 401/403 key, 402 request failed, 404, 409 conflict (e.g. the same key in
  use concurrently), 429 too many requests, 5xx Stripe's side. The `Stripe-Should-Retry`
  header, when present, overrides the guess.
- `balance_insufficient` (platform balance short) and `insufficient_capabilities_for_
  transfer` (account cannot receive) are `invalid_request_error`s (docs.stripe.com/
  error-codes): final.
- Amounts are integers in the currency's smallest unit; zero-decimal currencies (JPY, …)
  take whole units, three-decimal ones (KWD, …) need a last digit of 0
  (docs.stripe.com/currencies).

Decisions:
- Every transfer carries `transfer_group = payout id`, so the rail can find what a key
  created (`GET /v1/transfers?transfer_group=`): after a 5xx (Stripe replays a saved 500
  forever for the key) or an `idempotency_error`, a transfer found there *is* this payout's
  transfer (adopted, never paid again); none found → a 5xx is retried, an idempotency
  error is a final failure (nothing was paid under the key). A found transfer that does
  not match the order is neither confirmed nor refunded: it needs an operator.
- 401/403 mean our key is wrong, not the payout: retried slowly. 4xx otherwise: final.
- The `stripe` library's own retries are off (`max_network_retries=0`): the drain owns
  retries and records each attempt. Its async methods run on httpx (no thread, the event
  loop is never blocked).
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Mapping, Optional

import stripe

from ..ledger.errors import InvalidRequest
from .circle import (RETRY_CONFIG_S, RETRY_NETWORK_S, RETRY_OPERATOR_S, RETRY_RATE_LIMIT_S, RETRY_SERVER_S,
                     rescale_exact, retry_after_s)
from .rails import Confirmed, Failed, Outcome, PayoutOrder, Retry

log = logging.getLogger("app.payouts.stripe")

_ACCOUNT = re.compile(r"^acct_[0-9A-Za-z]{1,64}\Z")
# docs.stripe.com/currencies: smallest-unit exponents other than 2.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def currency_exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


class StripeRail:
    name = "stripe"

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 10.0,
                 currencies: Optional[Mapping[str, str]] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        # ledger asset code → Stripe currency; an asset not listed is not paid by this rail.
        self.currencies = dict(currencies or {"USD": "usd"})
        self._client: Optional[stripe.StripeClient] = None
        self._client_loop: Optional[asyncio.AbstractEventLoop] = None

    def check_destination(self, destination: Any) -> dict:
        if not isinstance(destination, Mapping):
            raise InvalidRequest('destination must be an object {"account": "acct_…"}', field="destination")
        extra = set(destination) - {"account"}
        if extra:
            raise InvalidRequest(f"destination has unknown fields: {', '.join(sorted(extra))}",
                                 field=f"destination.{sorted(extra)[0]}")
        account = destination.get("account")
        if not isinstance(account, str) or not _ACCOUNT.match(account):
            raise InvalidRequest("destination.account must be a Stripe connected account id (acct_…)",
                                 field="destination.account")
        return {"account": account}

    def check_asset(self, asset_code: str, scale: int) -> None:
        """Refuse (before any hold) a ledger asset this rail has no Stripe currency for."""
        if asset_code not in self.currencies:
            raise InvalidRequest(f"the stripe rail pays {', '.join(sorted(self.currencies))}, not {asset_code}",
                                 field="asset")

    def amount_of(self, order: PayoutOrder) -> tuple[int, str]:
        """(amount in the currency's smallest unit, currency), or raise InvalidRequest."""
        self.check_asset(order.asset, order.scale)
        currency = self.currencies[order.asset]
        exponent = currency_exponent(currency)
        amount = rescale_exact(order.amount_minor, order.scale, exponent)
        if amount is None or (exponent == 3 and amount % 10):
            raise InvalidRequest(f"amount does not convert exactly to {currency.upper()}'s smallest payable unit",
                                 field="amount")
        return amount, currency

    async def submit(self, order: PayoutOrder) -> Outcome:
        try:
            account = self.check_destination(order.destination)["account"]
            amount, currency = self.amount_of(order)
        except InvalidRequest as e:
            return Failed(f"stripe: {e.message}")
        params = {"amount": amount, "currency": currency, "destination": account,
                  "transfer_group": order.payout_id, "metadata": {"payout_id": order.payout_id}}
        try:
            transfer = await self._stripe().v1.transfers.create_async(
                params, {"idempotency_key": order.payout_id})
        except stripe.StripeError as e:
            return await self._create_error(e, params)
        return _outcome(transfer, params)

    async def check(self, order: PayoutOrder, provider_ref: str) -> Outcome:
        try:
            transfer = await self._stripe().v1.transfers.retrieve_async(provider_ref)
        except stripe.StripeError as e:
            return Retry(f"stripe: reading transfer {provider_ref}: {_describe(e)}", _read_delay(e))
        return _outcome(transfer, None)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._http_client.close_async()
            self._client = None

    def _stripe(self) -> stripe.StripeClient:
        # One client per event loop: its httpx pool must not outlive the loop it was used on.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._http_client = stripe.HTTPXClient(timeout=self._timeout_s)
            self._client = stripe.StripeClient(self._api_key, base_addresses={"api": self.base_url},
                                               http_client=self._http_client, max_network_retries=0)
            self._client_loop = loop
        return self._client

    async def _create_error(self, e: stripe.StripeError, params: dict) -> Outcome:
        if isinstance(e, stripe.APIConnectionError):
            return Retry(f"stripe: no answer ({_describe(e)}); the same idempotency key is resent",
                         RETRY_NETWORK_S)
        status, kind, should_retry = e.http_status or 0, _error_type(e), _header(e, "stripe-should-retry")
        # Indeterminate: Stripe's side failed, or the answer is not a Stripe error at all (a 2xx we could
        # not read, a proxy's page): look for what the key made before deciding anything.
        if kind is None or kind == "idempotency_error" or status >= 500 or should_retry == "true":
            found = await self._made_under_key(params)
            if isinstance(found, Retry) or found is not None:
                return found
            if kind == "idempotency_error" and status != 409:
                return Failed(f"stripe refused the idempotency key {params['transfer_group']}: it was used with "
                              f"different parameters and no transfer exists under it ({_describe(e)})")
            delay = RETRY_RATE_LIMIT_S if status == 429 else RETRY_SERVER_S if kind or status >= 500 else RETRY_CONFIG_S
            return Retry(f"stripe: {status} {_describe(e)}", retry_after_s(_headers(e), delay))
        if isinstance(e, stripe.RateLimitError):
            return Retry(f"stripe: rate limited: {_describe(e)}", retry_after_s(_headers(e), RETRY_RATE_LIMIT_S))
        if status == 409 and should_retry != "false":
            return Retry(f"stripe: conflict: {_describe(e)}", retry_after_s(_headers(e), RETRY_NETWORK_S))
        if isinstance(e, (stripe.AuthenticationError, stripe.PermissionError)):
            return Retry(f"stripe refused our API key, not the payout: {status} {_describe(e)}", RETRY_CONFIG_S)
        return Failed(f"stripe declined the transfer: {status} {_describe(e)}")

    async def _made_under_key(self, params: dict) -> Optional[Outcome]:
        """The outcome of a transfer this payout's key already made, None if there is none."""
        try:
            found = await self._stripe().v1.transfers.list_async(
                {"transfer_group": params["transfer_group"], "limit": 10})
        except stripe.StripeError as e:
            return Retry(f"stripe: looking up transfer group {params['transfer_group']}: {_describe(e)}",
                         _read_delay(e))
        transfers = list(found.data)
        if not transfers:
            return None
        if len(transfers) > 1:
            return Retry(f"stripe: {len(transfers)} transfers in group {params['transfer_group']}: needs an operator",
                         RETRY_OPERATOR_S)
        return _outcome(transfers[0], params)


def _outcome(obj: stripe.Transfer, params: Optional[dict]) -> Outcome:
    transfer = obj.to_dict()
    ref = transfer["id"]
    if params is not None:
        destination = transfer.get("destination")
        if isinstance(destination, dict):   # expanded
            destination = destination.get("id")
        if (transfer.get("amount"), transfer.get("currency"), destination) != (
                params["amount"], params["currency"], params["destination"]):
            log.error("stripe transfer %s under payout %s differs from the order", ref, params["transfer_group"])
            return Retry(f"stripe: transfer {ref} made under this payout's key is {transfer.get('amount')} "
                         f"{transfer.get('currency')} to {destination}, not {params['amount']} {params['currency']} "
                         f"to {params['destination']}: needs an operator (neither confirmed nor refunded)",
                         RETRY_OPERATOR_S)
    if transfer.get("reversed"):
        return Failed(f"stripe transfer {ref} was reversed")
    return Confirmed(ref)


def _error_type(e: stripe.StripeError) -> Optional[str]:
    body = e.json_body if isinstance(e.json_body, dict) else {}
    error = body.get("error")
    return error.get("type") if isinstance(error, dict) else None


def _headers(e: stripe.StripeError) -> dict:
    return {str(k).lower(): v for k, v in (e.headers or {}).items()}


def _header(e: stripe.StripeError, name: str) -> Optional[str]:
    return _headers(e).get(name)


def _read_delay(e: stripe.StripeError) -> float:
    if isinstance(e, stripe.APIConnectionError):
        return RETRY_NETWORK_S
    if isinstance(e, stripe.RateLimitError):
        return retry_after_s(_headers(e), RETRY_RATE_LIMIT_S)
    return retry_after_s(_headers(e), RETRY_SERVER_S if (e.http_status or 0) >= 500 else RETRY_CONFIG_S)


def _describe(e: stripe.StripeError) -> str:
    lines = [line.strip() for line in str(e.user_message or "").splitlines() if line.strip()]
    if isinstance(e, stripe.APIConnectionError):   # the library's text ends "(Network error: …)"
        lines = lines[-1:]
    code = f" [{e.code}]" if e.code else ""
    return f"{_error_type(e) or type(e).__name__}{code}: {lines[0] if lines else 'no message'}"
