"""The base API handler: request id, auth, rate limit, body parsing, replies, errors.

Handlers do HTTP only: parse and validate with a model from `models`, call a service, render.
Each handler class declares its operations in `OPS` (method → `Op`); the same declaration
drives access control here and the OpenAPI document in `openapi`.
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import traceback
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any, Callable

import tornado.web
from pydantic import BaseModel, ValidationError

from ..ledger.errors import InvalidRequest, LedgerError, NotFound
from ..ledger.json_text import compact_json
from ..times import TIME_MAX_MS, TIME_MIN_MS, TIME_RANGE_TEXT, parse_time_ms, rfc3339  # noqa: F401
from ..services.idempotency import IdempotentRequest, Replay, Stored, idempotent
from ..services.keys import Principal
from . import json_input
from .errors import ApiError, envelope, for_http_status, status_of
from .request_ids import new_request_id

log = logging.getLogger("app.http")
MAX_PAGE = 200
MAX_ROW_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range
# Tornado reads bodies up to this many times MAX_BODY_BYTES (server.py) so that a body just
# over the limit is answered 413 with the envelope; beyond it Tornado refuses the request.
BODY_READ_FACTOR = 4
DEFAULT_PAGE = 50
_DIGITS = re.compile(r"^[0-9]{1,18}\Z")  # ASCII only: str.isdigit() accepts "²"
_KEY_HEADER = re.compile(r"^[\x21-\x7e]{1,200}\Z")


@dataclass(frozen=True)
class Op:
    summary: str
    access: str = "brand"  # public | admin | brand
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)  # name → description
    errors: tuple[int, ...] = ()
    text_body: str | None = None  # a non-JSON request body: its media type (e.g. text/csv)
    key_required: bool = False  # the Idempotency-Key header is required (400 without), not optional


_CURSOR_TEXT = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")
_CURSOR_ID = re.compile(r"^[1-9][0-9]{0,18}\Z")


def _cursor_text(row_id: int) -> str:
    return urlsafe_b64encode(str(row_id).encode()).decode().rstrip("=")


def _cursor_id(raw: str) -> int | None:
    """The id in a cursor `_cursor_text` made, or None for anything else."""
    if not _CURSOR_TEXT.match(raw):
        return None
    try:
        text = urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    if not _CURSOR_ID.match(text) or int(text) > MAX_ROW_ID or _cursor_text(int(text)) != raw:
        return None
    return int(text)


_UNPARSED = object()


def validated(model: type[BaseModel], data: Any, what: str = "request body") -> Any:
    """`data` as `model`, or 400 naming (up to 20 of) its invalid fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
                    for e in exc.errors(include_url=False, include_context=False, include_input=False)[:20]]
        raise InvalidRequest(f"{what} is invalid: " + "; ".join(
            f"{p['field']}: {p['problem']}" for p in problems[:3]), errors=problems) from None


@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """Bodies stream in (`data_received`) only after `prepare()` has authenticated the key
    and checked the declared size: an unauthenticated or oversized request is answered
    before its body is read, and no request holds more than MAX_BODY_BYTES in memory."""

    OPS: dict[str, Op] = {}

    def initialize(self) -> None:
        self.runtime = self.settings["runtime"]
        self.web = self.settings["web"]
        self.principal: Principal | None = None
        self.brand_id: int | None = None
        self.request_id = new_request_id()
        self._json: Any = _UNPARSED
        self._chunks: list[bytes] = []
        self._body_bytes = 0
        self._refusal: LedgerError | None = None

    def check_xsrf_cookie(self) -> None:
        """No XSRF check: the API authenticates each request by its key header, which a browser
        never adds on its own, not by a cookie (the pages' handlers keep Tornado's check)."""

    # -- before the method -----------------------------------------------------------------------
    async def prepare(self) -> None:
        """Admit the request before its body is read. A refusal is answered once the body is
        in (read and thrown away, nothing kept; an empty one too): answering earlier makes
        Tornado close the connection, and a close with unread bytes resets it, which can
        destroy the answer. Only a body declared past what the server reads at all is
        answered at once, and the connection closed."""
        self.set_header("X-Request-Id", self.request_id)
        try:
            await self._admit()
        except LedgerError as exc:
            declared = self._declared_bytes()
            if declared is None or declared > self.runtime.config.max_body_bytes * BODY_READ_FACTOR:
                raise
            self._refusal = exc
            setattr(self, self.request.method.lower(), self._refuse)  # what Tornado calls next

    async def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise self._refusal

    def body_limit_bytes(self) -> int:
        """The largest body this route takes (MAX_BODY_BYTES; the CSV imports take more)."""
        return self.runtime.config.max_body_bytes

    def _declared_bytes(self) -> int | None:
        """The body size the request declares (0 without Content-Length), None if unreadable."""
        declared = self.request.headers.get("Content-Length", "0")
        return int(declared) if declared.isdigit() else None

    async def _admit(self) -> None:
        headers = self.request.headers
        if "Content-Length" in headers and "Transfer-Encoding" in headers:
            # Ambiguous framing (request smuggling); Tornado refuses it too, but only after
            # handing us the headers of a streamed body, so it is refused here first.
            raise InvalidRequest("a request may not carry both Content-Length and Transfer-Encoding")
        op = self.OPS.get(self.request.method.lower())
        if op is None:
            raise ApiError("method_not_allowed", f"{self.request.method} is not allowed here",
                           allowed=sorted(m.upper() for m in self.OPS))
        if op.access == "public":
            return
        self.principal = await self.web.auth.principal(self._presented_key())
        if self.principal is None:
            raise ApiError("unauthenticated", "a valid API key is required (X-API-Key or Authorization: Bearer)")
        if (self._declared_bytes() or 0) > self.body_limit_bytes():
            raise self._too_large()
        wait_s = self.web.buckets.take(self.principal.key_id)
        if wait_s:
            raise ApiError("rate_limited", "too many requests for this key",
                           retry_after_s=self.web.buckets.retry_after_s(wait_s))
        if self.request.method not in ("GET", "HEAD") and self.principal.role == "readonly":
            raise ApiError("forbidden", "this key is read-only")
        if op.access == "admin":
            if self.principal.role != "admin":
                raise ApiError("forbidden", "this call needs an admin key")
            return
        self.brand_id = await self._brand_of_request()

    def _presented_key(self) -> str | None:
        key = self.request.headers.get("X-API-Key")
        auth = self.request.headers.get("Authorization")
        bearer = auth[7:].strip() if auth and auth[:7].lower() == "bearer " else None
        if key is not None and bearer is not None and key != bearer:
            # Two different keys: which one the client meant is a guess; refuse to make it.
            raise InvalidRequest("X-API-Key and Authorization name different keys; send one", field="X-API-Key")
        return key or bearer or None

    async def _brand_of_request(self) -> int:
        code = self.request.headers.get("X-Brand")
        if self.principal.role != "admin":
            # A brand key naming another brand is a misconfigured client: say so, never
            # serve it its own brand as if it had asked for that.
            if code is not None and code != self.principal.brand_code:
                raise ApiError("forbidden", "this key belongs to another brand than X-Brand names",
                               field="X-Brand")
            return self.principal.brand_id
        if not code:
            raise InvalidRequest("admin keys name the brand with the X-Brand header", field="X-Brand")
        return await self.web.auth.brand_id(code)

    # -- input ---------------------------------------------------------------------------------
    def json_body(self) -> Any:
        """The request body parsed as JSON (once per request: `body()` reuses it)."""
        if self._json is _UNPARSED:
            self._json = self._parse_json_body()
        return self._json

    def data_received(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        # Kept only for an admitted request and within the limit; otherwise counted and dropped.
        if self._refusal is None and self._body_bytes <= self.body_limit_bytes():
            self._chunks.append(chunk)

    def _too_large(self) -> ApiError:
        return ApiError("body_too_large", "request body too large", max_bytes=self.body_limit_bytes())

    def _parse_json_body(self) -> Any:
        if self._body_bytes > self.body_limit_bytes():
            raise self._too_large()
        raw = b"".join(self._chunks) or b"{}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError("invalid_json", "request body is not UTF-8") from None
        try:
            return json_input.loads(text)
        except json_input.NotUnicode as exc:
            raise InvalidRequest(f"request body is not Unicode text: {exc}") from None
        except json_input.NumberOutOfRange as exc:
            raise InvalidRequest(f"request body has a number out of range: {exc}",
                                 max_number_chars=json_input.MAX_NUMBER_CHARS,
                                 max_exponent=json_input.MAX_EXPONENT) from None
        except (ValueError, RecursionError) as exc:
            raise ApiError("invalid_json", "request body is not valid JSON", reason=str(exc)[:200]) from None

    def body(self, model: type[BaseModel]) -> Any:
        data = self.json_body()
        if not isinstance(data, dict):
            raise InvalidRequest("request body must be a JSON object")
        return validated(model, data)

    def query_text(self, name: str) -> str | None:
        """A query parameter exactly as sent (Tornado's own accessor trims spaces and turns
        control characters into spaces), given at most once."""
        values = self.request.query_arguments.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest(f"{name} is given more than once", field=name)
        try:
            return values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{name} is not UTF-8", field=name) from None

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query_text(name)
        if raw is None:
            return default
        if not _DIGITS.match(raw) or not lo <= int(raw) <= hi:
            raise InvalidRequest(f"{name} must be an integer {lo}..{hi}", field=name)
        return int(raw)

    def page_limit(self) -> int:
        return self.query_int("limit", DEFAULT_PAGE, 1, MAX_PAGE)

    def cursor(self) -> int:
        """The id after which a page starts (0 for the first page). Only cursors this service
        gave out are taken: the text must be exactly what `next_cursor` makes of an id."""
        raw = self.query_text("cursor")
        if not raw:
            return 0
        value = _cursor_id(raw)
        if value is None:
            raise InvalidRequest("cursor is not one this service gave out", field="cursor")
        return value

    @staticmethod
    def next_cursor(rows: list, limit: int, last_id: Callable[[Any], int]) -> str | None:
        if len(rows) < limit:
            return None
        return _cursor_text(last_id(rows[-1]))

    @staticmethod
    def path_id(raw: str, name: str) -> int:
        if not _DIGITS.match(raw) or len(raw) > 18:
            raise NotFound(f"no such {name}", **{name: raw[:40]})
        return int(raw)

    # -- writes ---------------------------------------------------------------------------------
    def idempotency(self, body: Any) -> IdempotentRequest | None:
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not _KEY_HEADER.match(key):
            raise InvalidRequest("Idempotency-Key must be 1-200 visible ASCII characters", field="Idempotency-Key")
        scope = f"brand:{self.brand_id}" if self.brand_id else "admin"
        return IdempotentRequest(scope, key, self.request.method, self.request.path,
                                 body if isinstance(body, dict) else {}, self.runtime.clock.now_ms())

    @staticmethod
    def then(wrap: Callable | None, inner: Callable) -> Callable:
        """A command wrapper: `inner` around the command, then the caller's `wrap` (if any)."""
        return (lambda command: wrap(inner(command))) if wrap else inner

    def idempotency_key(self) -> str | None:
        return self.request.headers.get("Idempotency-Key")

    async def write_through(self, call: Callable[..., Any], render: Callable[[Any], tuple[int, dict]],
                            raw_body: Any, reply_render: Callable[[Any], tuple[int, dict]] | None = None) -> None:
        """Run a service call whose command is wrapped for idempotency; reply with `render`.

        `render` makes the response that is stored for replays; `reply_render`, when given,
        makes the first response instead (e.g. one that shows a secret exactly once)."""
        request = self.idempotency(raw_body)
        wrap = (lambda command: idempotent(request, command, render)) if request else None
        result = await call(wrap)
        if isinstance(result, Replay):
            self.set_header("Idempotent-Replayed", "true")
            self.reply(result.status, result.body)
        elif isinstance(result, Stored) and reply_render is None:
            self.reply(result.status, result.body)
        else:
            self.reply(*(reply_render or render)(result.result if isinstance(result, Stored) else result))

    # -- output ---------------------------------------------------------------------------------
    def reply(self, status: int, body: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(compact_json(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, LedgerError):
            status, body = status_of(exc), envelope(exc.code, exc.message, exc.details)
        elif isinstance(exc, sqlite3.IntegrityError):
            # A SQL constraint caught what the Python checks let through; the command was
            # rolled back, so nothing was written. Logged by log_exception as a fault.
            status, body = 409, envelope("conflict", "the request violates a ledger constraint; nothing was written")
        elif isinstance(exc, tornado.web.HTTPError):
            code, message = for_http_status(exc.status_code, exc.reason)
            status, body = exc.status_code, envelope(code, exc.log_message or message)
        else:
            code, message = for_http_status(status_code, self._reason)
            status, body = status_code, envelope(code, message if status_code < 500 else "internal error")
        # send_error() cleared the headers set so far: set the ones an error needs here.
        self.set_header("X-Request-Id", self.request_id)
        declared = self._declared_bytes()
        if declared is None or self._body_bytes < declared:
            self.set_header("Connection", "close")  # answered before its body: this connection ends
        if status == 405:
            self.set_header("Allow", ", ".join(sorted(m.upper() for m in self.OPS)))
        if status == 429:
            self.set_header("Retry-After", str(body["error"]["details"].get("retry_after_s", 1)))
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(compact_json(body))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (LedgerError, tornado.web.HTTPError)):
            return  # answered with its envelope; an expected outcome, not a fault
        # The exception's message and the path can hold request data (an email, a card number
        # in metadata): log where it happened and what kind of error, never what it said.
        route = self.settings.get("route_names", {}).get(type(self), "unmatched")
        log.error(json.dumps({"event": "unhandled", "request_id": self.request_id, "route": route,
                              "method": self.request.method, "error": typ.__name__,
                              "at": "".join(traceback.format_tb(tb)[-8:])}))


class NotFoundHandler(ApiHandler):
    OPS = {m: Op("no such route", access="public") for m in ("get", "post", "put", "patch", "delete")}

    async def _admit(self) -> None:
        raise ApiError("not_found", "no such route", path=self.request.path[:200])
