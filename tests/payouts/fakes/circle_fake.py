"""A fake of Circle's transfers API (the part the Circle rail uses), as Circle documents it:

- `POST /v1/transfers` and `GET /v1/transfers/{id}` with `Authorization: Bearer <key>`;
- the body's `idempotencyKey` must be a UUID in version-4 format; a key seen before gets
  the original response back, without executing again (whatever the new body says:
  developers.circle.com/api-reference/idempotent-requests);
- errors are `{"code", "message", "errors": [{error, location, message}]}` with a 4xx/5xx;
- a transfer starts `pending` and later becomes `complete` (with a `transactionHash`) or
  `failed` with an `errorCode` (`insufficient_funds` when the wallet cannot cover it,
  `transfer_denied` for an address the test denies late): after `complete_after_polls`
  reads, or when the test calls `settle`.

`created_for(key)` counts the transfers created per idempotency key: the rail's tests
assert it is never more than one.
"""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from decimal import Decimal
from typing import Optional

import tornado.web

from . import FakeServer

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
_USD = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?\Z")
_CHAINS = {"ETH", "MATIC", "AVAX", "ARB", "BASE", "OP", "SOL"}

DEFAULT_ERRORS = {429: {"code": 429, "message": "Too many requests."},
                  500: {"code": -1, "message": "Something went wrong."},
                  503: {"code": -1, "message": "Something went wrong."}}


class CircleFake(FakeServer):
    def __init__(self, api_key: str = "TEST_API_KEY:abc:def", wallet_id: str = "1000216185",
                 balance_usd: str = "1000000.00", complete_after_polls: Optional[int] = None) -> None:
        self.api_key, self.wallet_id = api_key, wallet_id
        self.balance = Decimal(balance_usd)
        self.complete_after_polls = complete_after_polls
        self.transfers: dict[str, dict] = {}
        self.by_key: dict[str, tuple[int, dict]] = {}   # idempotencyKey → original (status, body)
        self.created: dict[str, int] = {}
        self.denied_now: set[str] = set()
        self.denied_later: set[str] = set()
        super().__init__()

    def app(self) -> tornado.web.Application:
        return tornado.web.Application([(r"/v1/transfers", _Create, {"fake": self}),
                                        (r"/v1/transfers/([^/]+)", _Get, {"fake": self})])

    # what a test arranges or inspects
    def created_for(self, key: str) -> int:
        with self.lock:
            return self.created.get(key, 0)

    def deny(self, address: str, *, later: bool = False) -> None:
        """Refuse transfers to `address`: at once (a 400), or `later` (the transfer fails)."""
        with self.lock:
            (self.denied_later if later else self.denied_now).add(address.lower())

    def settle(self, transfer_id: str) -> dict:
        with self.lock:
            t = self.transfers[transfer_id]
            if t["status"] == "pending":
                amount = Decimal(t["amount"]["amount"])
                if t["destination"]["address"].lower() in self.denied_later:
                    t.update(status="failed", errorCode="transfer_denied")
                elif amount > self.balance:
                    t.update(status="failed", errorCode="insufficient_funds")
                else:
                    self.balance -= amount
                    t.update(status="complete", transactionHash="0x" + uuid.uuid4().hex * 2)
            return dict(t)

    # request handling
    def create(self, raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"code": 2, "message": "Invalid entity. The body is not JSON."}
        errors = self._invalid(body) if isinstance(body, dict) else [{"error": "invalid_value",
                                                                       "location": "", "message": "not an object"}]
        if errors:
            return 400, {"code": 2, "message": "Invalid entity. " + errors[0]["message"], "errors": errors}
        with self.lock:
            key = body["idempotencyKey"]
            if key in self.by_key:
                return self.by_key[key]
            if body["destination"]["address"].lower() in self.denied_now:
                answer = (400, {"code": 2, "message": "Invalid entity. destination.address is not an approved "
                                "recipient address", "errors": [{"error": "invalid_value",
                                "location": "destination.address", "message": "address not allowed"}]})
            else:
                t = {"id": str(uuid.uuid4()), "source": {"type": "wallet", "id": self.wallet_id},
                     "destination": dict(body["destination"]), "amount": dict(body["amount"]),
                     "transactionHash": None, "status": "pending", "createDate": "2026-11-22T06:00:00.000Z",
                     "_polls": 0}
                self.transfers[t["id"]] = t
                self.created[key] = self.created.get(key, 0) + 1
                answer = (201, {"data": _public(t)})
            self.by_key[key] = answer
            return answer

    def read(self, transfer_id: str) -> tuple[int, dict]:
        with self.lock:
            t = self.transfers.get(transfer_id)
            if t is None:
                return 404, {"code": 2, "message": "Resource not found."}
            t["_polls"] += 1
            if self.complete_after_polls is not None and t["_polls"] >= self.complete_after_polls:
                self.settle(transfer_id)
            return 200, {"data": _public(t)}

    def _invalid(self, body: dict) -> list[dict]:
        def err(location: str, message: str, error: str = "invalid_value") -> dict:
            return {"error": error, "location": location, "message": f"{location} {message}"}
        if not isinstance(body.get("idempotencyKey"), str) or not _UUID4.match(body["idempotencyKey"]):
            return [err("idempotencyKey", "must be a UUID v4", "pattern_mismatch")]
        source, dest, amount = body.get("source") or {}, body.get("destination") or {}, body.get("amount") or {}
        if source != {"type": "wallet", "id": self.wallet_id}:
            return [err("source", "must be a wallet of this account")]
        if dest.get("type") != "blockchain" or dest.get("chain") not in _CHAINS:
            return [err("destination", "must be a blockchain address on a supported chain")]
        if not isinstance(dest.get("address"), str) or not dest["address"]:
            return [err("destination.address", "may not be empty", "required")]
        if amount.get("currency") != "USD":
            return [err("amount.currency", "must be USD")]
        if not isinstance(amount.get("amount"), str) or not _USD.match(amount["amount"]):
            return [err("amount.amount", "must be a decimal with at most 2 places", "number_format")]
        if Decimal(amount["amount"]) <= 0:
            return [err("amount.amount", "must be greater than 0", "min_value")]
        return []


def _public(t: dict) -> dict:
    return {k: v for k, v in t.items() if not k.startswith("_") and v is not None}


class _Handler(tornado.web.RequestHandler):
    def initialize(self, fake: CircleFake) -> None:
        self.fake = fake

    def answer(self, status: int, body, headers: Optional[dict] = None) -> None:
        self.set_status(status)
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        if isinstance(body, str):   # a page from something in front of the API, not the API
            self.set_header("Content-Type", "text/html")
            return self.finish(body)
        self.finish(json.dumps(body))

    async def handle(self, work) -> None:
        with self.fake.lock:
            self.fake.requests.append((self.request.method, self.request.path))
        if self.request.headers.get("Authorization") != f"Bearer {self.fake.api_key}":
            return self.answer(401, {"code": 4, "message": "Malformed authorization. Is the authorization type "
                                     "missing?"})
        fault = self.fake.take_fault()
        if fault and not fault.delay_s and not fault.after_execute:
            return self.answer(fault.status, fault.body or DEFAULT_ERRORS.get(fault.status, {"code": -1,
                               "message": "Something went wrong."}), fault.headers)
        status, body = work()
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.after_execute:
            return self.answer(fault.status, fault.body or DEFAULT_ERRORS.get(fault.status, {}), fault.headers)
        self.answer(status, body)


class _Create(_Handler):
    async def post(self) -> None:
        await self.handle(lambda: self.fake.create(self.request.body))


class _Get(_Handler):
    async def get(self, transfer_id: str) -> None:
        await self.handle(lambda: self.fake.read(transfer_id))
