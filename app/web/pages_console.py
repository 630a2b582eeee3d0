"""The staff console (DESIGN §9): sign in with an API key, then the brand's dashboard,
customers, credit and debit, events (and dry runs), rewards, payouts, gift cards, rules and
jobs, funding wallets.

The key is kept in a signed, HttpOnly, SameSite=Lax cookie (Secure over https) and is
checked again on every page, with the same roles as the API: an admin key picks a brand
with the switcher, a brand key sees only its brand, a readonly key sees every page with
its forms disabled (and any POST refused). Handlers do HTTP only: each page calls the
services the API calls, and each form is validated with the API's own model.
"""
from __future__ import annotations

import json
from typing import Any

from ..ledger.errors import InvalidAmount, InvalidRequest, LedgerError, NotFound
from ..ledger.money import parse_amount
from ..services.dashboard import DashboardService
from ..services.events import EventIn as Event
from ..services.ledger import Movement, check_customer_id
from ..times import parse_time_ms
from . import json_input, render
from .api_loyalty import _times
from .errors import ApiError, status_of
from .models import CreditIn
from .models_loyalty import EventIn, RuleIn, RulePatchIn
from .models_payouts import PayoutIn
from .models_referrals import GiftCardIn
from .models_rewards import RedeemIn
from .models_wallets import WalletIn
from .pages_base import FormInvalid, PageHandler, error_fields, validate_form
from .pages_chart import balance_chart_svg
from .pages_customer import customer_overview

SESSION_COOKIE = "session"
BRAND_COOKIE = "brand"
MAX_BRANDS_LISTED = 200
LIST_PAGE = 50
READONLY_REASON = "This key is read-only: it can look at every page but not change anything."


def local_path(raw: str | None, default: str = "/console") -> str:
    """A redirect target from a form: only a path of this console (never another site)."""
    if raw and raw.startswith("/console") and "//" not in raw and "\\" not in raw:
        return raw
    return default


class SignInPage(PageHandler):
    """`/`: the sign-in form; a signed-in browser goes on to the console."""

    async def get(self) -> None:
        key = self.page_cookie(SESSION_COOKIE, self.runtime.config.console_session_s)
        if await self.web.auth.principal(key) is not None:
            self.redirect("/console")
            return
        self.page("console/sign_in.html", errors={})

    async def post(self) -> None:
        key = self.get_body_argument("api_key", "").strip()
        principal = await self.web.auth.principal(key)
        if principal is None:
            # The key is never written back into the page, right or wrong.
            self.page("console/sign_in.html", status=401,
                      errors={"api_key": "This key is not valid, or it was revoked."})
            return
        self.set_page_cookie(SESSION_COOKIE, key)
        self.clear_cookie(BRAND_COOKIE, path="/")
        self.flash(f"Signed in with a {principal.role} key.")
        self.redirect("/console", status=303)


class SignOut(PageHandler):
    async def post(self) -> None:
        self.clear_cookie(SESSION_COOKIE, path="/")
        self.clear_cookie(BRAND_COOKIE, path="/")
        self.flash("Signed out.")
        self.redirect("/", status=303)


class ConsoleHandler(PageHandler):
    """A console page: a signed-in key, its brand (the chosen one for an admin key)."""

    async def prepare(self) -> None:
        await super().prepare()
        key = self.page_cookie(SESSION_COOKIE, self.runtime.config.console_session_s)
        self.principal = await self.web.auth.principal(key)
        if self.principal is None:
            if self.request.method in ("GET", "HEAD"):
                self.redirect("/")
                return
            raise ApiError("unauthenticated", "Your sign-in has ended: sign in again.")
        wait_s = self.web.buckets.take(self.principal.key_id)
        if wait_s:
            raise ApiError("rate_limited", "Too many requests for this key: wait a moment.")
        self.readonly = self.principal.role == "readonly"
        if self.readonly and self.request.method not in ("GET", "HEAD"):
            raise ApiError("forbidden", READONLY_REASON)
        await self._choose_brand()

    async def _choose_brand(self) -> None:
        ledger = self.runtime.ledger
        self.brands: list[tuple[str, str]] = []
        self.brand_id: int | None = self.principal.brand_id
        self.brand_code: str | None = self.principal.brand_code
        if self.principal.role == "admin":
            listed = await ledger.list_brands(0, MAX_BRANDS_LISTED)
            self.brands = [(row["code"], row["name"]) for row, _ in listed]
            wanted = self.page_cookie(BRAND_COOKIE, self.runtime.config.console_session_s)
            chosen = next((row for row, _ in listed if row["code"] == wanted), listed[0][0] if listed else None)
            self.brand_id = chosen["id"] if chosen else None
            self.brand_code = chosen["code"] if chosen else None
        self.assets = await ledger.list_assets(self.brand_id) if self.brand_id else []

    def need_brand(self) -> int:
        if self.brand_id is None:
            raise NotFound("There is no brand yet: create one first (POST /v1/brands).")
        return self.brand_id

    @property
    def scope(self) -> str:
        return f"brand:{self.need_brand()}"

    def context(self) -> dict[str, Any]:
        principal = getattr(self, "principal", None)
        return {**super().context(), "principal": principal, "brand_code": getattr(self, "brand_code", None),
                "brands": getattr(self, "brands", []), "assets": getattr(self, "assets", []),
                "readonly": getattr(self, "readonly", False), "readonly_reason": READONLY_REASON}

    def home(self) -> str:
        return "/console"


class BrandSwitch(ConsoleHandler):
    async def post(self) -> None:
        code = self.get_body_argument("brand", "")
        if self.principal.role != "admin" or code not in {c for c, _ in self.brands}:
            raise NotFound("no such brand", brand=code[:64])
        self.set_page_cookie(BRAND_COOKIE, code)
        self.flash(f"Brand: {code}")
        self.redirect(local_path(self.get_body_argument("next", None)), status=303)


class Dashboard(ConsoleHandler):
    async def get(self) -> None:
        totals, events, payouts = [], [], {}
        if self.brand_id is not None:
            dashboard = DashboardService(self.runtime.readers)
            totals = await dashboard.totals(self.brand_id)
            events = await dashboard.recent_events(self.brand_id, 10)
            payouts = await dashboard.payout_counts(self.brand_id)
        self.page("console/dashboard.html", totals=totals, events=events, payouts=payouts, errors={}, values={})


class CustomersPage(ConsoleHandler):
    async def get(self) -> None:
        brand = self.need_brand()
        q = self.get_query_argument("q", "").strip()
        after = self.get_query_argument("after", "0")
        after_id = int(after) if after.isascii() and after.isdigit() and len(after) < 19 else 0
        if q:
            rows = await DashboardService(self.runtime.readers).search_customers(brand, q, LIST_PAGE)
            next_after = None
        else:
            rows = await self.web.customers.list(brand, None, None, after_id, LIST_PAGE)
            next_after = rows[-1]["id"] if len(rows) == LIST_PAGE else None
        self.page("console/customers.html", q=q, customers=[render.customer(r) for r in rows], next_after=next_after)


class CustomerPage(ConsoleHandler):
    async def get(self, customer_id: str) -> None:
        overview = await customer_overview(self.runtime, self.web, self.need_brand(), customer_id)
        self.page("console/customer.html", c=overview, errors={}, values={})


class ChartImage(ConsoleHandler):
    """The balance chart of a customer's page, as an image (no script can run in it)."""

    async def get(self, customer_id: str) -> None:
        brand = self.need_brand()
        check_customer_id(customer_id)
        code = self.get_query_argument("asset", "")
        asset = await self.runtime.ledger.asset(brand, code)
        rows = await self.runtime.ledger.movements(brand, customer_id, asset.code, 0, 200)
        self.set_header("Content-Type", "image/svg+xml; charset=utf-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(balance_chart_svg(rows, asset.code, asset.scale))


# -- forms ---------------------------------------------------------------------------------------
class FormPage(ConsoleHandler):
    """A page with one form: GET shows it, POST runs it or shows it again with the errors
    next to the fields (and the values as typed, except secrets)."""

    TEMPLATE = ""
    FIELDS: tuple[str, ...] = ()

    async def get(self, **path: str) -> None:
        self.show(await self.initial(), {})

    async def post(self, **path: str) -> None:
        values = self.fields(*self.FIELDS)
        try:
            await self.run(values)
        except FormInvalid as exc:
            self.show(values, exc.errors, status=400)
        except LedgerError as exc:
            self.show(values, error_fields(exc, self.FIELDS), status=status_of(exc))

    async def initial(self) -> dict[str, str]:
        return {n: self.get_query_argument(n, "") for n in self.FIELDS}

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        self.page(self.TEMPLATE, status=status, values=values, errors=errors, **extra)

    async def run(self, values: dict) -> None:
        """What the form does (each page overrides it; FormPage itself is never routed)."""
        raise NotImplementedError(f"{type(self).__name__} does not say what its form does")


class CreditPage(FormPage):
    """Award (credit) or take back (debit) an amount of an asset, as the API's credit/debit."""

    TEMPLATE = "console/credit.html"
    FIELDS = ("customer_id", "direction", "asset", "amount", "description")

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        direction = values.get("direction", "credit")
        if direction not in ("credit", "debit"):
            raise FormInvalid({"direction": "choose credit or debit"})
        customer = values.get("customer_id", "")
        try:
            check_customer_id(customer)
        except InvalidRequest as exc:
            raise FormInvalid({"customer_id": exc.message}) from None
        d = validate_form(CreditIn, {k: values[k] for k in ("asset", "amount", "description") if k in values})
        ledger = self.runtime.ledger
        try:
            asset = await ledger.asset(brand, d.asset)
        except NotFound:
            raise FormInvalid({"asset": "no such asset"}) from None
        try:
            amount_minor = parse_amount(d.amount, asset.scale)
        except InvalidAmount as exc:
            raise FormInvalid({"amount": exc.message}) from None
        m = Movement(d.asset, amount_minor, "earn" if direction == "credit" else "spend", None,
                     description=d.description)
        call = ledger.credit if direction == "credit" else ledger.debit
        done = "Credited" if direction == "credit" else "Debited"
        await self.once(self.scope, values, lambda wrap: call(brand, customer, m, wrap=wrap),
                        lambda record: (f"/console/customers/{customer}",
                                        f"{done} {d.amount} {d.asset} (transfer {record.id})."))


class EventPage(FormPage):
    """Send an event through the rules, or dry-run it (nothing is stored)."""

    TEMPLATE = "console/event.html"
    FIELDS = ("customer_id", "event_type", "event_id", "occurred_at", "payload")

    async def initial(self) -> dict[str, str]:
        return {**await super().initial(), "payload": self.get_query_argument("payload", "") or '{"amount": "100.00"}'}

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        extra.setdefault("result", None)
        super().show(values, errors, status=status, event_types=self._types, **extra)

    async def prepare(self) -> None:
        await super().prepare()
        self._types = []
        if self.principal is not None and self.brand_id is not None:
            self._types = [r["code"] for r in await self.runtime.rules.event_types(self.brand_id) if not r["internal"]]

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        dry = self.get_body_argument("action", "send") == "dry_run"
        try:
            payload = json_input.loads(values.get("payload", "{}"))
        except (ValueError, RecursionError, json_input.NotUnicode, json_input.NumberOutOfRange) as exc:
            raise FormInvalid({"payload": f"not valid JSON: {str(exc)[:120]}"}) from None
        # The form's one-time token is the event id unless one is typed: events are
        # idempotent on it, so a second click replays the first answer.
        event_id = values.get("event_id") or ("console-" + self.form_token())
        raw = {"event_id": event_id, "event_type": values.get("event_type", ""),
               "customer_id": values.get("customer_id", ""), "payload": payload}
        if values.get("occurred_at"):
            raw["occurred_at"] = values["occurred_at"]
        d = validate_form(EventIn, raw)
        occurred = parse_time_ms(d.occurred_at, "occurred_at") if d.occurred_at else None
        answer = await self.runtime.events.ingest(brand, Event(d.event_id, d.event_type, d.customer_id, occurred,
                                                               d.payload, raw), dry_run=dry)
        if dry:
            self.show(values, {}, result=answer.body)
            return
        self.flash("Already done: this event was sent before, so nothing was done twice." if answer.replayed
                   else f"Event {d.event_id} processed: {len(answer.body['executions'])} rule(s) ran.")
        self.redirect(f"/console/customers/{d.customer_id}", status=303)


class RedeemPage(FormPage):
    """Redeem a catalog reward for a customer: its cost is debited, one is issued."""

    TEMPLATE = "console/redeem.html"
    FIELDS = ("customer_id", "reward")

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        super().show(values, errors, status=status, catalog=self._catalog, **extra)

    async def prepare(self) -> None:
        await super().prepare()
        self._catalog = []
        if self.principal is not None and self.brand_id is not None:
            self._catalog = [v for _, v in await self.runtime.rewards.list(self.brand_id, 0, 200) if v["active"]]

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        customer = values.get("customer_id", "")
        try:
            check_customer_id(customer)
        except InvalidRequest as exc:
            raise FormInvalid({"customer_id": exc.message}) from None
        d = validate_form(RedeemIn, {"reward": values.get("reward", "")})
        await self.once(self.scope, values, lambda wrap: self.runtime.rewards.redeem(brand, customer, d.reward, wrap=wrap),
                        lambda view: (f"/console/customers/{customer}",
                                      f"Redeemed {view['name']}: code {view['redemption_code']}."))


# -- rules ---------------------------------------------------------------------------------------
class RulesPage(ConsoleHandler):
    async def get(self) -> None:
        rows = await self.runtime.rules.list_rules(self.need_brand(), None, 0, 200)
        self.page("console/rules.html", rules=[r for _, r in rows])


def _json_field(values: dict, name: str, errors: dict) -> Any:
    text = values.get(name, "")
    if not text:
        return None
    try:
        return json_input.loads(text)
    except (ValueError, RecursionError, json_input.NotUnicode, json_input.NumberOutOfRange) as exc:
        errors[name] = f"not valid JSON: {str(exc)[:120]}"
        return None


class RuleEditor(FormPage):
    """Create a rule (`/console/rules/new`) or its next version (`…/{code}/edit`); the UI
    catalog (facts, operators, each action's schema) is shown beside the form as hints."""

    TEMPLATE = "console/rule_edit.html"
    FIELDS = ("code", "name", "event_type", "priority", "conditions", "actions", "active", "stop_after")

    async def prepare(self) -> None:
        await super().prepare()
        self._catalog, self._types = {}, []
        if self.principal is not None and self.brand_id is not None:
            self._catalog = await self.runtime.rules.catalog(self.brand_id)
            self._types = [r["code"] for r in await self.runtime.rules.event_types(self.brand_id)]

    @property
    def code(self) -> str | None:
        """The rule being edited; None on the page that creates one."""
        return self.path_kwargs.get("code")

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        super().show(values, errors, status=status, code=self.code, catalog=self._catalog,
                     event_types=self._types, **extra)

    async def initial(self) -> dict[str, str]:
        if self.code is None:
            return {"priority": "0", "active": "on", "conditions": "",
                    "actions": '[{"type": "credit", "asset": "POINTS", "amount": "10"}]'}
        rule = await self.runtime.rules.get_rule(self.need_brand(), self.code)
        return {"code": rule["code"], "name": rule["name"], "event_type": rule["event_type"],
                "priority": str(rule["priority"]), "active": "on" if rule["active"] else "",
                "stop_after": "on" if rule["stop_after"] else "",
                "conditions": json.dumps(rule["conditions"], indent=2) if rule["conditions"] is not None else "",
                "actions": json.dumps(rule["actions"], indent=2)}

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        errors: dict[str, str] = {}
        data = {"name": values.get("name", ""), "event_type": values.get("event_type", ""),
                "priority": values.get("priority", "0"), "active": "active" in values,
                "stop_after": "stop_after" in values, "conditions": _json_field(values, "conditions", errors),
                "actions": _json_field(values, "actions", errors) or []}
        if errors:
            raise FormInvalid(errors)
        rules = self.runtime.rules
        if self.code is not None:
            fields = _times(validate_form(RulePatchIn, data).model_dump(exclude_unset=True))
            code = self.code
            call = (lambda wrap: rules.patch_rule(brand, code, fields, wrap))
        else:
            fields = _times(validate_form(RuleIn, {**data, "code": values.get("code", "")}).model_dump())
            code = fields.pop("code")
            call = (lambda wrap: rules.create_rule(brand, code, fields, wrap))
        await self.once(self.scope, values, call,
                        lambda rule: ("/console/rules", f"Saved rule {rule['code']} (version {rule['version']})."))


# -- payouts ----------------------------------------------------------------------------------------
PAYOUT_STATUSES = ("pending", "submitted", "confirmed", "failed", "canceled")


def destination_of(rail: str, text: str) -> dict:
    """The payout destination a one-line form field names: a Stripe account, else an address."""
    return {"account": text} if rail == "stripe" else {"address": text}


class PayoutPage(FormPage):
    """Request a payout: the amount is held and queued in one transaction; the drain pays it.
    The form's one-time token is the payout's idempotency key, so it exists once whatever
    the clicks."""

    TEMPLATE = "console/payout.html"
    FIELDS = ("customer_id", "asset", "amount", "rail", "destination")

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        super().show(values, errors, status=status, rails=self.runtime.rails.available(), **extra)

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        rail = values.get("rail", "")
        d = validate_form(PayoutIn, {**{k: values.get(k, "") for k in ("customer_id", "asset", "amount")},
                                     "rail": rail, "destination": destination_of(rail, values.get("destination", ""))})
        key = "console-" + self.form_token()
        payouts = self.runtime.payouts
        await self.once(self.scope, values,
                        lambda wrap: payouts.request(brand, d.customer_id, d.asset, d.amount, d.rail, d.destination,
                                                     key, wrap=wrap),
                        lambda view: ("/console/payouts", f"Payout of {view['amount']} {view['asset']} to"
                                                          f" {view['customer_id']} queued ({view['status']})."))


class PayoutsPage(ConsoleHandler):
    """The payout queue, filtered by status; a pending payout can be cancelled."""

    async def get(self) -> None:
        status = self.get_query_argument("status", "") or None
        if status not in (None, *PAYOUT_STATUSES):
            raise InvalidRequest("no such status", field="status")
        rows = await self.runtime.payouts.list(self.need_brand(), None, status, 0, 200)
        self.page("console/payouts.html", payouts=[v for _, v in rows], current=status, statuses=PAYOUT_STATUSES)


class PayoutCancel(ConsoleHandler):
    async def post(self, payout_id: str) -> None:
        brand = self.need_brand()
        try:
            await self.once(self.scope, {"payout": payout_id},
                            lambda wrap: self.runtime.payouts.cancel(brand, payout_id, wrap=wrap),
                            lambda view: ("/console/payouts", f"Payout {view['id']} canceled: the funds are back."))
        except FormInvalid as exc:
            raise InvalidRequest(exc.errors["form"]) from None


# -- gift cards ---------------------------------------------------------------------------------------
class GiftCardsPage(FormPage):
    """Gift cards: create one (its code is shown once, in the notice after the redirect, and
    never stored in a replayable answer), look one up by its code, void one."""

    TEMPLATE = "console/giftcards.html"
    FIELDS = ("asset", "amount", "expires_at")

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        super().show(values, errors, status=status, cards=self._cards, found=self._found,
                     lookup=self._lookup, **extra)

    async def prepare(self) -> None:
        await super().prepare()
        self._cards, self._found, self._lookup = [], None, self.get_query_argument("code", "").strip()
        if self.principal is None or self.brand_id is None:
            return
        self._cards = [v for _, v in await self.runtime.giftcards.list(self.brand_id, None, 0, 200)]
        if self._lookup:
            try:
                self._found = await self.runtime.giftcards.get(self.brand_id, self._lookup[:64])
            except NotFound:
                self._found = {}

    async def initial(self) -> dict[str, str]:
        return {}

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        d = validate_form(GiftCardIn, values)
        expires_ms = parse_time_ms(d.expires_at, "expires_at") if d.expires_at else None
        cards = self.runtime.giftcards
        await self.once(self.scope, values, lambda wrap: cards.create(brand, d.asset, d.amount, expires_ms, wrap=wrap),
                        lambda made: ("/console/gift-cards", f"Gift card …{made[0]['last4']} created"
                                                             f" ({made[0]['balance']} {made[0]['asset']})."),
                        reveal=lambda made: f"Gift card created: code {made[1]} ({made[0]['balance']}"
                                            f" {made[0]['asset']}). Note it now: it is shown only once.")


class GiftCardVoid(ConsoleHandler):
    async def post(self, card_id: str) -> None:
        brand = self.need_brand()
        if not (card_id.isascii() and card_id.isdigit() and len(card_id) < 19):
            raise NotFound("no such gift card")
        try:
            await self.once(self.scope, {"card": card_id},
                            lambda wrap: self.runtime.giftcards.void(brand, int(card_id), wrap=wrap),
                            lambda view: ("/console/gift-cards", f"Gift card …{view['last4']} voided."))
        except FormInvalid as exc:
            raise InvalidRequest(exc.errors["form"]) from None


# -- funding wallets -------------------------------------------------------------------------------
class WalletsPage(FormPage):
    """Funding wallets: create one (an asset payable on chain), and each wallet's balance and
    deposit address (what to send to it)."""

    TEMPLATE = "console/wallets.html"
    FIELDS = ("name", "asset")

    def show(self, values: dict, errors: dict, status: int = 200, **extra: Any) -> None:
        super().show(values, errors, status=status, wallets=self._wallets, **extra)

    async def prepare(self) -> None:
        await super().prepare()
        self._wallets = []
        if self.principal is not None and self.brand_id is not None:
            self._wallets = [v for _, v in await self.runtime.wallets.list(self.brand_id, 0, 200)]

    async def initial(self) -> dict[str, str]:
        return {}

    async def run(self, values: dict) -> None:
        brand = self.need_brand()
        d = validate_form(WalletIn, values)
        wallets = self.runtime.wallets
        await self.once(self.scope, values, lambda wrap: wallets.create(brand, d.name, d.asset, wrap=wrap),
                        lambda made: ("/console/wallets", f"Wallet {made['name']} created: send {made['asset']}"
                                                          f" to {made['deposit_address']}."))


# -- jobs ------------------------------------------------------------------------------------------
class JobsPage(ConsoleHandler):
    async def get(self) -> None:
        rows = await self.runtime.jobs.list(self.need_brand(), 0, 200)
        self.page("console/jobs.html", jobs=[j for _, j in rows])


class JobPage(ConsoleHandler):
    """A job, who its current occurrence selects (the preview writes nothing) and its runs."""

    async def get(self, code: str) -> None:
        brand = self.need_brand()
        job = await self.runtime.jobs.get(brand, code)
        try:
            preview, preview_error = await self.runtime.jobs.preview(brand, code), None
        except LedgerError as exc:
            preview, preview_error = None, exc.message
        runs = [r for _, r in await self.runtime.jobs.runs(brand, code, 0, 20)]
        self.page("console/job.html", job=job, preview=preview, preview_error=preview_error, runs=runs)


class JobRun(ConsoleHandler):
    """Run now: the job's current occurrence, to the end. Running it again creates nothing
    new (each customer gets one event per occurrence), so a double submit is harmless."""

    async def post(self, code: str) -> None:
        result = await self.runtime.jobs.run_now(self.need_brand(), code)
        self.flash(f"Ran {code} for {result['bucket']}: {result['created']} new event(s),"
                   f" {result['idempotent_existing']} already done, {result['failed']} failed.")
        self.redirect(f"/console/jobs/{code}", status=303)


ROUTES = [
    ("/", SignInPage),
    ("/sign-out", SignOut),
    ("/console", Dashboard),
    ("/console/brand", BrandSwitch),
    ("/console/customers", CustomersPage),
    ("/console/customers/{customer_id}", CustomerPage),
    ("/console/customers/{customer_id}/chart.svg", ChartImage),
    ("/console/credit", CreditPage),
    ("/console/events/new", EventPage),
    ("/console/redeem", RedeemPage),
    ("/console/rules", RulesPage),
    ("/console/rules/new", RuleEditor),
    ("/console/rules/{code}/edit", RuleEditor),
    ("/console/payout", PayoutPage),
    ("/console/payouts", PayoutsPage),
    ("/console/payouts/{payout_id}/cancel", PayoutCancel),
    ("/console/gift-cards", GiftCardsPage),
    ("/console/gift-cards/{card_id}/void", GiftCardVoid),
    ("/console/wallets", WalletsPage),
    ("/console/jobs", JobsPage),
    ("/console/jobs/{code}", JobPage),
    ("/console/jobs/{code}/run", JobRun),
]
