"""The Circle rail (DESIGN §8): USDC transfers from one Circle wallet to a blockchain address.

Circle API followed (Circle Mint / Core API, https://developers.circle.com):
- `POST /v1/transfers` "Create a transfer"
  (developers.circle.com/api-reference/circle-mint/accounts/create-transfer):
  `{idempotencyKey, source: {type: "wallet", id}, destination: {type: "blockchain", address,
  chain}, amount: {amount: "12.34", currency: "USD"}}` → `{"data": {id, status, amount,
  destination, transactionHash, errorCode, …}}`. USDC is `currency: "USD"` on every chain.
- `GET /v1/transfers/{id}`: the same transfer object; `status` is `pending` (also
  `processing` on newer products) → `complete` | `failed`
  (developers.circle.com/digital-asset-accounts/references/transaction-states).
- Idempotency (developers.circle.com/api-reference/idempotent-requests): the key is in the
  body, must be a UUID in version-4 format, and a request with a key already seen returns
  the original response instead of executing again.
- Errors (developers.circle.com/circle-mint/references/error-codes,
  /circle-mint/circle-apis-api-errors, /docs/entity-errors): synchronous errors are an HTTP
  status (400, 401, 403, 404, 409, 429, 500) with `{"code": n, "message": "…", "errors":
  [{error, location, message}]}`; `code: -1` "Something went wrong" is the transient
  fallback (retry with backoff); asynchronous failures end a transfer `failed` with an
  `errorCode` (`transfer_failed`, `transfer_denied`, `blockchain_error`,
  `insufficient_funds`). Auth is `Authorization: Bearer <key>`.

Decisions:
- The idempotency key is a UUID derived from the payout id (SHA-256 over a fixed namespace
  and the id, then the version-4 and variant bits set, as uuid5 does for version 5): the
  same payout always sends the same key, and Circle's "UUID v4 format" check accepts it.
- Amounts: the ledger's minor units at the asset's scale become USD with two decimals,
  exactly (a scale finer than cents converts only when the sub-cent digits are zero; else
  the payout is refused, never rounded). Assets paid as USD are configured (`usd_assets`).
- A 4xx on create (validation, an address Circle refuses, insufficient funds) is a final
  failure with Circle's message. 401/403/404 say our configuration is wrong (key, wallet,
  URL), not the payout: retried slowly, never refunded on that ground. 409, 429, 5xx,
  `code: -1`, timeouts and connection errors are retried; Retry-After is honoured.
- The key is the payout: whatever Circle created under it is this payout's transfer. If
  it does not match what we asked (amount, address, chain), money may have moved
  differently: the rail neither confirms nor refunds it, and asks for an operator
  (a slow Retry whose reason says so).
- `check` never turns a failed *read* into a failed payout: only a transfer's own
  `failed` status does.
"""
from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import re
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Optional

import httpx

from ..ledger.errors import InvalidRequest
from ..ledger.money import format_amount
from .rails import Confirmed, Failed, Outcome, Pending, PayoutOrder, Retry, Submitted

log = logging.getLogger("app.payouts.circle")

_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_SOLANA_ADDRESS = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}\Z")
# Circle's chain codes for USDC, each with the address form it takes.
CHAINS = {"ETH": _EVM_ADDRESS, "MATIC": _EVM_ADDRESS, "AVAX": _EVM_ADDRESS, "ARB": _EVM_ADDRESS,
          "BASE": _EVM_ADDRESS, "OP": _EVM_ADDRESS, "SOL": _SOLANA_ADDRESS}
USD_SCALE = 2
_KEY_NAMESPACE = b"rewards-ledger/payout/circle\x00"

RETRY_SERVER_S = 10.0       # a 5xx or code -1 without Retry-After
RETRY_RATE_LIMIT_S = 30.0   # a 429 without Retry-After
RETRY_NETWORK_S = 5.0       # a timeout or a refused connection
RETRY_CONFIG_S = 300.0      # our key/wallet/URL is refused: slow until an operator fixes it
RETRY_OPERATOR_S = 3600.0   # the provider holds something we cannot settle alone
MAX_RETRY_AFTER_S = 3600.0


def idempotency_key(payout_id: str) -> str:
    """The payout's Circle idempotency key: the same UUID for the same payout, always."""
    digest = bytearray(hashlib.sha256(_KEY_NAMESPACE + payout_id.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40   # version 4 (Circle checks the format)
    digest[8] = (digest[8] & 0x3F) | 0x80   # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(digest)))


def rescale_exact(amount_minor: int, scale: int, to_scale: int) -> Optional[int]:
    """`amount_minor` at `scale` expressed at `to_scale`, or None when that would round."""
    if to_scale >= scale:
        return amount_minor * 10 ** (to_scale - scale)
    whole, rest = divmod(amount_minor, 10 ** (scale - to_scale))
    return None if rest else whole


def retry_after_s(headers: Mapping[str, str], default_s: float) -> float:
    """The provider's Retry-After (seconds or an HTTP date), bounded; else `default_s`."""
    value = headers.get("retry-after")
    if not value:
        return default_s
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default_s
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class CircleRail:
    name = "circle"

    def __init__(self, base_url: str, api_key: str, source_wallet_id: str, *,
                 timeout_s: float = 10.0, usd_assets: Iterable[str] = ("USD", "USDC")) -> None:
        self.base_url = base_url.rstrip("/")
        self.source_wallet_id = source_wallet_id
        self.usd_assets = frozenset(usd_assets)
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = httpx.Timeout(timeout_s)
        self._client: Optional[httpx.AsyncClient] = None
        self._client_loop: Optional[asyncio.AbstractEventLoop] = None

    def check_destination(self, destination: Any) -> dict:
        if not isinstance(destination, Mapping):
            raise InvalidRequest('destination must be an object {"address", "chain"}', field="destination")
        extra = set(destination) - {"address", "chain"}
        if extra:
            raise InvalidRequest(f"destination has unknown fields: {', '.join(sorted(extra))}",
                                 field=f"destination.{sorted(extra)[0]}")
        chain = destination.get("chain")
        if chain not in CHAINS:
            raise InvalidRequest(f"destination.chain must be one of {', '.join(CHAINS)}",
                                 field="destination.chain")
        address = destination.get("address")
        if not isinstance(address, str) or not CHAINS[chain].match(address):
            raise InvalidRequest(f"destination.address is not a {chain} address", field="destination.address")
        return {"address": address, "chain": chain}

    def check_asset(self, asset_code: str, scale: int) -> None:
        """Refuse (before any hold) a ledger asset this rail does not pay as USD."""
        if asset_code not in self.usd_assets:
            raise InvalidRequest(f"the circle rail pays {', '.join(sorted(self.usd_assets))}, not {asset_code}",
                                 field="asset")

    def amount_text(self, order: PayoutOrder) -> str:
        """The order's amount as Circle's USD decimal text, or raise InvalidRequest."""
        self.check_asset(order.asset, order.scale)
        cents = rescale_exact(order.amount_minor, order.scale, USD_SCALE)
        if cents is None:
            raise InvalidRequest("amount has digits below one cent: Circle pays whole cents", field="amount")
        return format_amount(cents, USD_SCALE)

    async def submit(self, order: PayoutOrder) -> Outcome:
        try:
            destination = self.check_destination(order.destination)
            amount = self.amount_text(order)
        except InvalidRequest as e:
            return Failed(f"circle: {e.message}")
        key = idempotency_key(order.payout_id)
        body = {"idempotencyKey": key,
                "source": {"type": "wallet", "id": self.source_wallet_id},
                "destination": {"type": "blockchain", **destination},
                "amount": {"amount": amount, "currency": "USD"}}
        response = await self._request("POST", "/v1/transfers", json=body)
        if isinstance(response, Retry):
            return response
        if response.status_code >= 300:
            return self._create_error(response)
        transfer = _data(response)
        if transfer is None:
            return Retry("circle: a 2xx without a transfer object (outcome unknown)", RETRY_SERVER_S)
        mismatch = _mismatch(transfer, body)
        if mismatch:
            log.error("circle transfer %s under payout %s differs: %s", transfer.get("id"), order.payout_id, mismatch)
            return Retry(f"circle: transfer {transfer.get('id')} made under this payout's idempotency key "
                         f"{mismatch}: needs an operator (neither confirmed nor refunded)", RETRY_OPERATOR_S)
        return _outcome(transfer, submitted=True, key=key)

    async def check(self, order: PayoutOrder, provider_ref: str) -> Outcome:
        response = await self._request("GET", f"/v1/transfers/{provider_ref}")
        if isinstance(response, Retry):
            return response
        if response.status_code >= 300:
            status = response.status_code
            delay = RETRY_RATE_LIMIT_S if status == 429 else RETRY_SERVER_S if status >= 500 else RETRY_CONFIG_S
            return Retry(f"circle: reading transfer {provider_ref}: {_error_text(response)}",
                         retry_after_s(response.headers, delay))
        transfer = _data(response)
        if transfer is None:
            return Retry("circle: a 2xx without a transfer object", RETRY_SERVER_S)
        return _outcome(transfer, submitted=False)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        # One pooled client per event loop: an httpx client must not outlive its loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=self._headers,
                                             timeout=self._timeout)
            self._client_loop = loop
        return self._client

    async def _request(self, method: str, path: str, **kw) -> httpx.Response | Retry:
        try:
            return await self._http().request(method, path, **kw)
        except httpx.TimeoutException as e:
            return Retry(f"circle: {method} {path} timed out ({type(e).__name__}); the same key is resent",
                         RETRY_NETWORK_S)
        except httpx.TransportError as e:
            return Retry(f"circle: {method} {path} failed: {type(e).__name__}: {e}", RETRY_NETWORK_S)

    def _create_error(self, response: httpx.Response) -> Outcome:
        status, text = response.status_code, _error_text(response)
        if _error_code(response) == -1 or status >= 500:
            return Retry(f"circle: {status} {text}", retry_after_s(response.headers, RETRY_SERVER_S))
        if status == 429:
            return Retry(f"circle: rate limited: {text}", retry_after_s(response.headers, RETRY_RATE_LIMIT_S))
        if status == 409:
            return Retry(f"circle: conflict: {text}", retry_after_s(response.headers, RETRY_NETWORK_S))
        if status in (401, 403, 404) or not 400 <= status < 500:
            return Retry(f"circle refused our configuration (API key, wallet or URL), not the payout: "
                         f"{status} {text}", RETRY_CONFIG_S)
        return Failed(f"circle declined the transfer: {status} {text}")


def _data(response: httpx.Response) -> Optional[dict]:
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def _error_code(response: httpx.Response) -> Any:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = str(body.get("message") or "")
        fields = "; ".join(f"{e.get('location')}: {e.get('message')}" for e in body.get("errors") or []
                           if isinstance(e, dict))
    except (ValueError, AttributeError):
        return response.text[:200]
    return f"{message} ({fields})" if fields else message


def _mismatch(transfer: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    got_amount = (transfer.get("amount") or {}).get("amount")
    got_to = transfer.get("destination") or {}
    want_to = body["destination"]
    if got_amount is not None and _decimal(got_amount) != _decimal(body["amount"]["amount"]):
        return f"is for {got_amount} USD, not {body['amount']['amount']}"
    if got_to and (str(got_to.get("address", "")).lower() != want_to["address"].lower()
                   or got_to.get("chain") != want_to["chain"]):
        return f"pays {got_to.get('chain')}:{got_to.get('address')}, not {want_to['chain']}:{want_to['address']}"
    return ""


def _decimal(text: Any) -> Optional[Decimal]:
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def _outcome(transfer: Mapping[str, Any], *, submitted: bool, key: str = "") -> Outcome:
    ref, status = transfer["id"], transfer.get("status")
    if status == "complete":
        return Confirmed(ref)
    if status == "failed":
        return Failed(f"circle transfer {ref} failed: {transfer.get('errorCode') or 'no errorCode'}")
    if submitted:
        return Submitted(ref, {"status": status, "idempotency_key": key})
    return Pending(ref)
