"""A fake of Stripe's Transfers API (the part the Stripe rail uses), as Stripe documents it:

- `POST /v1/transfers` (form-encoded: amount, currency, destination, transfer_group,
  metadata[…]), `GET /v1/transfers/{id}`, `GET /v1/transfers?transfer_group=&limit=`;
  `Authorization: Bearer sk_…` (or Basic with the key as user name);
- `Idempotency-Key`: once the endpoint began executing, the first status and body are
  saved and replayed (`Idempotent-Replayed: true`), errors and 500s included; the same key
  with other parameters is a 400 `idempotency_error`; parameter validation and faults
  armed before execution (a 500 in front, a 429 from the rate limiter) are not saved;
- errors are `{"error": {type, code, message, param}}`: an unknown destination, an account
  without the transfers capability (`insufficient_capabilities_for_transfer`) and a short
  platform balance (`balance_insufficient`) are `invalid_request_error`s;
- a transfer is done when created; `reverse` marks it reversed.

`created_for(key)` counts transfers created per idempotency key.
"""
from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Optional
from urllib.parse import parse_qsl

import tornado.web

from . import FakeServer

CURRENCIES = {"usd", "eur", "gbp", "jpy", "kwd"}

DEFAULT_ERRORS = {
    429: {"error": {"type": "invalid_request_error", "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly."}},
    500: {"error": {"type": "api_error", "message": "An unknown error occurred"}},
}


def error(kind: str, message: str, code: Optional[str] = None, param: Optional[str] = None) -> dict:
    body = {"type": kind, "message": message}
    if code:
        body.update(code=code, doc_url=f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}")
    if param:
        body["param"] = param
    return {"error": body}


class StripeFake(FakeServer):
    def __init__(self, api_key: str = "sk_test_fake_123", balance: Optional[dict] = None,
                 accounts: tuple = ("acct_1MTfjCQ9PRzxEwkZ",)) -> None:
        self.api_key = api_key
        self.balance = dict(balance or {"usd": 10**9, "jpy": 10**9, "kwd": 10**9})
        self.accounts = {a: {"transfers": True} for a in accounts}
        self.transfers: dict[str, dict] = {}
        self.by_key: dict[str, tuple[list, int, dict]] = {}  # key → (params, status, body)
        self.created: dict[str, int] = {}
        super().__init__()

    def app(self) -> tornado.web.Application:
        return tornado.web.Application([(r"/v1/transfers", _Transfers, {"fake": self}),
                                        (r"/v1/transfers/([^/]+)", _Transfer, {"fake": self})])

    def created_for(self, key: str) -> int:
        with self.lock:
            return self.created.get(key, 0)

    def add_account(self, account: str, *, transfers: bool = True) -> None:
        with self.lock:
            self.accounts[account] = {"transfers": transfers}

    def reverse(self, transfer_id: str) -> None:
        with self.lock:
            t = self.transfers[transfer_id]
            t.update(reversed=True, amount_reversed=t["amount"])
            self.balance[t["currency"]] += t["amount"]

    # request handling
    def create(self, params: list) -> tuple[int, dict]:
        fields = dict(params)
        invalid = self._invalid(fields)
        if invalid:
            return 400, invalid
        amount, currency, account = int(fields["amount"]), fields["currency"], fields["destination"]
        with self.lock:
            if account not in self.accounts:
                return 400, error("invalid_request_error", f"No such destination: '{account}'", param="destination")
            if not self.accounts[account]["transfers"]:
                return 400, error("invalid_request_error", "Your destination account needs to have at least one of "
                                  "the following capabilities enabled: transfers, crypto_transfers, legacy_payments",
                                  "insufficient_capabilities_for_transfer", "destination")
            if self.balance.get(currency, 0) < amount:
                return 400, error("invalid_request_error", "You have insufficient available funds in your Stripe "
                                  "account. Try adding funds directly to your available balance by creating Charges "
                                  "using the 4000000000000077 test card.", "balance_insufficient")
            self.balance[currency] -= amount
            t = {"id": "tr_" + uuid.uuid4().hex[:24], "object": "transfer", "amount": amount, "amount_reversed": 0,
                 "balance_transaction": "txn_" + uuid.uuid4().hex[:24], "created": int(time.time()),
                 "currency": currency, "description": fields.get("description"), "destination": account,
                 "destination_payment": "py_" + uuid.uuid4().hex[:24], "livemode": False,
                 "metadata": {k[9:-1]: v for k, v in params if k.startswith("metadata[")},
                 "reversed": False, "source_transaction": None, "source_type": "card",
                 "transfer_group": fields.get("transfer_group")}
            self.transfers[t["id"]] = t
            return 200, self.public(t)

    def public(self, t: dict) -> dict:
        return {**t, "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                                   "url": f"/v1/transfers/{t['id']}/reversals"}}

    def _invalid(self, fields: dict) -> Optional[dict]:
        for name in ("amount", "currency", "destination"):
            if not fields.get(name):
                return error("invalid_request_error", f"Missing required param: {name}.", "parameter_missing", name)
        if not fields["amount"].isdigit() or int(fields["amount"]) <= 0:
            return error("invalid_request_error", "Invalid positive integer", "parameter_invalid_integer", "amount")
        if fields["currency"] not in CURRENCIES:
            return error("invalid_request_error", f"Invalid currency: {fields['currency']}.", "invalid_currency",
                         "currency")
        return None


class _Handler(tornado.web.RequestHandler):
    def initialize(self, fake: StripeFake) -> None:
        self.fake = fake

    def answer(self, status: int, body, headers: Optional[dict] = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Request-Id", "req_" + uuid.uuid4().hex[:14])
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        if isinstance(body, str):   # a page from something in front of the API, not the API
            self.set_header("Content-Type", "text/html")
            return self.finish(body)
        self.finish(json.dumps(body))

    def authorized(self) -> bool:
        given = self.request.headers.get("Authorization", "")
        if given == f"Bearer {self.fake.api_key}":
            return True
        if given.startswith("Basic "):
            try:
                return base64.b64decode(given[6:]).decode().split(":", 1)[0] == self.fake.api_key
            except ValueError:
                return False
        return False

    def prepare(self) -> None:
        with self.fake.lock:
            self.fake.requests.append((self.request.method, self.request.uri))
        if not self.authorized():
            self.answer(401, error("invalid_request_error", "Invalid API Key provided: sk_test_****"))
            return
        fault = self.fake.take_fault()
        if fault and not fault.delay_s and not fault.after_execute:
            self.answer(fault.status, fault.body or DEFAULT_ERRORS.get(fault.status, DEFAULT_ERRORS[500]),
                        fault.headers)
        self.fault = fault


class _Transfers(_Handler):
    async def post(self) -> None:
        params = sorted(parse_qsl(self.request.body.decode(), keep_blank_values=True))
        key = self.request.headers.get("Idempotency-Key")
        fault = self.fault
        with self.fake.lock:
            saved = self.fake.by_key.get(key) if key else None
            if saved is None:
                status, body = self.fake.create(params)
                if status == 200:
                    self.fake.created[key] = self.fake.created.get(key, 0) + 1
                if fault and fault.after_execute:
                    status, body = fault.status, fault.body or DEFAULT_ERRORS.get(fault.status, DEFAULT_ERRORS[500])
                # Parameter validation runs before execution: its 400s are not saved.
                if key and not (status == 400 and body["error"].get("code", "").startswith("parameter_")):
                    self.fake.by_key[key] = (params, status, body)
                replayed = False
            elif saved[0] != params:
                status, body = 400, error("idempotency_error", "Keys for idempotent requests can only be used with "
                                          "the same parameters they were first used with. Try using a key other "
                                          f"than '{key}' if you meant to execute a different request.")
                replayed = False
            else:
                _, status, body = saved
                replayed = True
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        self.answer(status, body, {"Idempotent-Replayed": "true"} if replayed else None)

    async def get(self) -> None:
        group = self.get_query_argument("transfer_group", None)
        limit = int(self.get_query_argument("limit", "10"))
        with self.fake.lock:
            found = [self.fake.public(t) for t in reversed(list(self.fake.transfers.values()))
                     if group is None or t["transfer_group"] == group][:limit]
        self.answer(200, {"object": "list", "data": found, "has_more": False, "url": "/v1/transfers"})


class _Transfer(_Handler):
    async def get(self, transfer_id: str) -> None:
        with self.fake.lock:
            t = self.fake.transfers.get(transfer_id)
            body = self.fake.public(t) if t else None
        if body is None:
            return self.answer(404, error("invalid_request_error", f"No such transfer: '{transfer_id}'",
                                          "resource_missing", "id"))
        self.answer(200, body)
