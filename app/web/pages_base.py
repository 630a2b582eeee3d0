"""The base of the HTML pages (staff console and customer portal): Jinja2 rendering, signed
cookies, XSRF, form tokens, form validation with the API's models, friendly error pages.

Pages call the same services as the JSON API and validate with the same pydantic models
(in lax mode: a form sends text, so "5" is read as 5 and a checked box as true). Every
POST is XSRF-checked by Tornado (`xsrf_cookies`, server.py) before the handler runs. A
form that writes carries a hidden one-time token: it is the idempotency key of the write
(`app/services/idempotency.py`), so a double submit or a reload replays the first result
instead of doing it again; and every successful POST redirects (303) to a page.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any, Awaitable, Callable

import jinja2
import tornado.web
from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from ..ledger.errors import LedgerError
from ..resources import TEMPLATES_DIR
from ..services.idempotency import IdempotentRequest, Replay, Stored, idempotent
from .base import ApiHandler
from .errors import ApiError, status_of
from .request_ids import new_request_id
from .static import DocsStaticHandler

log = logging.getLogger("app.http")

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True)
# Forms' hidden one-time token; the space keeps form keys apart from any Idempotency-Key a
# client can send (visible ASCII only), like the batch items' keys.
TOKEN_FIELD = "form_token"
_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
FLASH_COOKIE = "flash"
MAX_FIELD_CHARS = 20_000  # a rule's JSON is the longest field a form sends
# Paths under the pages' prefixes that no page matched: answered by `PageNotFound` (a page);
# every other unknown path keeps the API's JSON 404.
PAGE_FALLBACK = r"/(?:console|portal)(?:/.*)?$"

# No script, no frame, nothing from another origin; the pygal chart is an <img> (same origin).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
TITLES = {400: "That did not work", 401: "Please sign in", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 409: "Already done", 413: "Too large", 422: "That did not work",
          429: "Slow down", 503: "Busy"}


def new_form_token() -> str:
    return secrets.token_urlsafe(18)


def form_errors(exc: ValidationError) -> dict[str, str]:
    """Field → first problem, from a model's validation error."""
    errors: dict[str, str] = {}
    for e in exc.errors(include_url=False, include_context=False, include_input=False):
        errors.setdefault(str(e["loc"][0]) if e["loc"] else "form", e["msg"])
    return errors


def error_fields(exc: LedgerError, fields: tuple[str, ...] = ()) -> dict[str, str]:
    """Where a service's refusal goes on a form: its field when it names one the form has
    (a rule's problems by the first part of their JSON path), else the form as a whole."""
    out: dict[str, str] = {}
    for problem in exc.details.get("problems", []) if isinstance(exc.details.get("problems"), list) else []:
        head = str(problem.get("path", "")).split(".")[0].split("[")[0]
        out.setdefault(head if head in fields else "form", problem.get("message", exc.message))
    if not out and exc.code == "insufficient_funds" and "amount" in fields:
        out["amount"] = f"insufficient funds: {exc.details.get('available')} {exc.details.get('asset')} available"
    if not out:
        field = str(exc.details.get("field", "")).split(".")[0]  # destination.address → destination
        out[field if field in fields else "form"] = exc.message
    return out


class FormInvalid(Exception):
    """A form's input was refused: field → message, shown next to each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form invalid")
        self.errors = errors


def validate_form(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise FormInvalid(form_errors(exc)) from None


class PageHandler(tornado.web.RequestHandler):
    """An HTML page: request id, security headers, templates, errors as pages."""

    def initialize(self) -> None:
        self.runtime = self.settings["runtime"]
        self.web = self.settings["web"]
        self.principal = None
        self.request_id = new_request_id()

    async def prepare(self) -> None:
        self.set_header("X-Request-Id", self.request_id)
        self._page_headers()
        for values in self.request.body_arguments.values():
            if len(values) > 1 or any(len(v) > MAX_FIELD_CHARS for v in values):
                raise ApiError("invalid_request", "a form field is repeated or too long")

    def _page_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        # Portal links carry their token in the path: never send it on to another site.
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    # -- cookies -----------------------------------------------------------------------------
    def set_page_cookie(self, name: str, value: str) -> None:
        """A signed, HttpOnly, SameSite=Lax cookie for the browser session (Secure over https)."""
        self.set_signed_cookie(name, value, expires_days=None, httponly=True, samesite="Lax",
                               secure=self.request.protocol == "https", path="/")

    def page_cookie(self, name: str, max_age_s: int) -> str | None:
        raw = self.get_signed_cookie(name, max_age_days=max_age_s / 86400)
        try:
            return raw.decode("utf-8") if raw else None
        except UnicodeDecodeError:
            return None

    def flash(self, text: str) -> None:
        """A one-line notice shown on the next page (after the redirect)."""
        self.set_page_cookie(FLASH_COOKIE, text[:300])

    def _take_flash(self) -> str | None:
        text = self.page_cookie(FLASH_COOKIE, 600)
        if self.get_cookie(FLASH_COOKIE) is not None:
            self.clear_cookie(FLASH_COOKIE, path="/")
        return text

    # -- input -----------------------------------------------------------------------------
    def field(self, name: str, default: str = "") -> str:
        return self.get_body_argument(name, default) or default

    def fields(self, *names: str) -> dict[str, str]:
        """The named form fields as sent (stripped; empty ones left out)."""
        return {n: v for n in names if (v := self.get_body_argument(n, "").strip())}

    def form_token(self) -> str:
        token = self.get_body_argument(TOKEN_FIELD, "")
        if not 16 <= len(token) <= 64 or not set(token) <= _TOKEN_CHARS:
            raise FormInvalid({"form": "this form is missing its token: reload the page and try again"})
        return token

    # -- writes ------------------------------------------------------------------------------
    async def once(self, scope: str, body: dict, call: Callable[[Any], Awaitable[Any]],
                   render: Callable[[Any], tuple[str, str]],
                   reveal: Callable[[Any], str] | None = None) -> None:
        """Run a write at most once per form token, then redirect (303).

        `call(wrap)` runs the service call with the idempotency wrapper; `render(result)` gives
        (where to go, what to say), stored for replays. A replay (a second click, a reload)
        goes to the same place and says that nothing was done again. `reveal(result)`, when
        given, is said instead the first time only and never stored (a secret shown once)."""
        request = IdempotentRequest(scope, "form " + self.form_token(), "POST", self.request.path, body,
                                    self.runtime.clock.now_ms())
        result = await call(lambda command: idempotent(
            request, command, lambda r: (201, dict(zip(("location", "notice"), render(r))))))
        if isinstance(result, Replay):
            self.flash("Already done: this form was sent before, so nothing was done twice.")
        elif isinstance(result, Stored):
            self.flash(reveal(result.result) if reveal else result.body["notice"])
        self.redirect(result.body["location"], status=303)

    # -- output ------------------------------------------------------------------------------
    def context(self) -> dict[str, Any]:
        return {"xsrf": Markup(self.xsrf_form_html()), "path": self.request.path, "flash": self._take_flash(),
                "token_field": TOKEN_FIELD, "new_token": new_form_token}

    def page(self, template: str, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(ENV.get_template(template).render(**self.context(), **values))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A page saying what went wrong, in words; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, LedgerError):
            status, message = status_of(exc), exc.message
        elif isinstance(exc, tornado.web.HTTPError) and status_code == 403 and "xsrf" in (exc.log_message or "").lower():
            status, message = 403, "This form expired or did not come from this site. Go back, reload the page and try again."
        elif status_code < 500:
            status, message = status_code, {404: "There is no such page."}.get(status_code, self._reason)
        else:
            status, message = status_code, "Something went wrong on our side. It has been logged; please try again."
        self.clear_header("Content-Disposition")
        self.set_header("X-Request-Id", self.request_id)
        self._page_headers()
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(ENV.get_template("console/error.html").render(
            status=status, title=TITLES.get(status, "Error"), message=message, request_id=self.request_id,
            home=self.home()))

    def home(self) -> str:
        return "/"

    # The API's: logs where an unexpected error happened and its kind, never its message.
    log_exception = ApiHandler.log_exception


class PageNotFound(PageHandler):
    """Unknown paths under the page prefixes: the 404 page (elsewhere the JSON 404 stays)."""

    async def prepare(self) -> None:
        await super().prepare()
        raise tornado.web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        """A 404 whatever the method: no form posts here."""


class PageStatic(DocsStaticHandler):
    """The pages' own files (`static/`: console.css), served like /docs's: a class of its own
    so that their requests carry their own route name in the logs and metrics."""
