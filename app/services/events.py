"""Event ingestion: the shell around the pure rules core (DESIGN §6a).

One event is one writer command: read the brand's configuration (cached per connection,
reloaded when its version moves) and the customer's snapshot, `engine.run` the rules,
apply every effect (transfers, points, tags, status, bonus awards, issued rewards), run
the internal tier events they raise (at most `MAX_TIER_DEPTH` deep), and store the event
row with its answer: all in one transaction, so a refusal (422 insufficient funds, 400 a
payload the rules cannot read) stores nothing and a corrected retry with the same
`event_id` runs. The same `event_id` with the same body replays the stored answer; with
another body it is 409. A dry run does all of it inside a savepoint it rolls back.

A batch is one command: `ingest_each` runs each event in its own savepoint, so a failing
event rolls back alone and the rest commit together in the writer's one transaction;
`event_batch` gets the same result with a few statements per batch where it can.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from functools import partial
from typing import Any, NamedTuple, Optional

from ..clock import SystemClock
from ..ledger.accounts import Account
from ..ledger.assets import Asset
from ..ledger.errors import IdempotencyConflict, InvalidAmount, InvalidRequest, LedgerError, LimitExceeded
from ..ledger.money import format_amount
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..rules import effects as fx
from ..rules.engine import run
from ..rules.facts import EventFacts, Facts
from ..rules.problems import InvalidRule, Problem
from ..rules.tiers import (TIER_ASSET, TIER_DOWNGRADED, TIER_UPGRADED, LoyaltyPoints, loyalty_view, next_tier_event,
                           points_after)
from ..store import balances as balance_store
from ..store import events as event_store
from ..store import referrals as referral_store
from ..store import rewards as reward_store
from ..store.accounts import ensure_account, find_account, load_many
from ..store.customers import customer_id_of, ensure_customer
from ..store.readers import Readers
from ..store.rules import BrandConfig, brand_config
from ..store.sqlite import rollback_to
from ..store.transfers import create_transfer, flush_deferred, start_deferred
from ..store.writer import Mergeable, Writer
from ..times import rfc3339
from .idempotency import differing_field, request_text
from .ledger import check_customer_id

MAX_EVENTS_PER_BATCH = 1000
JOB_EVENT_PREFIX = "job-"  # the event ids cron jobs make (services.jobs.event_id_of)
MAX_KNOWN_ACCOUNTS = 100_000  # account ids remembered per connection (see LedgerConnection)
_TRANSFER_CODES = {"credit": "earn", "credit_rate": "cashback", "debit": "spend", "bonus": "bonus"}
# The system account on the other side of the customer's, per effect that moves value.
_SYSTEM_SIDE = {fx.Credit: "issuance", fx.AwardBonus: "issuance", fx.Debit: "revenue"}


class EventIn(NamedTuple):
    """An event as the API (or an import row) gives it, already checked for shape."""

    event_id: str
    event_type: str
    customer_id: str
    occurred_at_ms: Optional[int]
    payload: dict
    body: Any  # the request as sent: a replay must match it exactly


class EventAnswer(NamedTuple):
    status: int       # 201 processed, 200 replayed
    body: dict
    replayed: bool


class _Ingest:
    """One event's processing inside the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection, brand_id: int, event: EventIn, now_ms: int,
                 raised_by_job: bool = False) -> None:
        self.conn, self.brand_id, self.event, self.now_ms = conn, brand_id, event, now_ms
        self.raised_by_job = raised_by_job
        self.config: BrandConfig = brand_config(conn, brand_id)
        self.customer_row = 0
        self.executions: list[dict] = []
        # Accounts as this event last wrote them, and their ids by (asset id, kind, owner):
        # an event's effects often touch the same accounts (create_transfer keeps them current).
        self.accounts: dict[int, Account] = {}
        self.account_ids: dict[tuple[int, str, str], int] = {}
        # Transfer rows and account counters written in a few statements when the event is
        # done (`flush`), unless an account tracks lots (lot moves read the lots table).
        self.deferred = None
        self.touched: set[int] = set()
        self.defer_ok = True
        # The customer's tags as this event changed them, and its accounts by asset id (all of
        # them, for the answer's balances; None once something moved value outside this memo).
        self.tags: set[str] = set()
        self.customer_accounts: Optional[dict[int, int]] = None

    def run(self) -> dict:
        ev, config = self.event, self.config
        internal = config.event_types.get(ev.event_type)
        if internal is None:
            raise InvalidRequest("unknown event type: create it first (POST /v1/event-types)", field="event_type",
                                 event_type=ev.event_type, known=sorted(t for t, i in config.event_types.items()
                                                                        if not i))
        if internal and not (self.raised_by_job and ev.event_type not in (TIER_UPGRADED, TIER_DOWNGRADED)):
            raise InvalidRequest("internal event types are raised by the service (its jobs and tier changes),"
                                 " never sent", field="event_type", event_type=ev.event_type)
        occurred_ms = self.now_ms if ev.occurred_at_ms is None else ev.occurred_at_ms
        local = datetime.fromtimestamp(occurred_ms / 1000, tz=config.zone)
        now = datetime.fromtimestamp(self.now_ms / 1000, tz=timezone.utc)
        today = local.date()
        found = event_store.find_customer_snapshot(self.conn, self.brand_id, ev.customer_id, config, today)
        if found is None:
            ensure_customer(self.conn, self.brand_id, ev.customer_id, self.now_ms)
            found = event_store.find_customer_snapshot(self.conn, self.brand_id, ev.customer_id, config, today)
        self.customer_row, snapshot, points = found
        if ev.event_type in referral_store.REFERRAL_EVENT_TYPES:  # the first code that names an ambassador links
            if referral_store.link_referral(self.conn, self.brand_id, self.customer_row,
                                            ev.payload.get("referral_code"), ev.event_id, self.now_ms):
                snapshot, points = event_store.customer_snapshot(self.conn, self.customer_row, config, today)
        event_type, payload, depth = ev.event_type, ev.payload, 0
        while True:
            if depth:  # a tier event: the customer as the previous run left it
                snapshot, points = event_store.customer_snapshot(self.conn, self.customer_row, config, today)
            self.tags = set(snapshot.tags)
            outcome = run(config.rules, Facts(EventFacts(event_type, local, payload), snapshot, today),
                          config.scales, now=now, bonuses=config.bonuses)
            if outcome.problems:
                raise _refusal(outcome.problems)
            applied: list = []
            self._prefetch(outcome.effects)
            for execution in outcome.executions:
                shown = [self._apply(effect, execution.rule_version, applied) for effect in execution.effects]
                self.executions.append({"rule": execution.rule_code, "version": execution.rule_version,
                                        "event_type": event_type, "effects": [s for s in shown if s]})
            after = points_after(points, applied, config.tiers)
            event_store.save_points(self.conn, self.customer_row, after, occurred_ms, self.now_ms)
            event_store.count_event(self.conn, self.customer_row, event_type)
            step = next_tier_event(config.tiers, points.status_points, after.status_points, depth)
            points = after
            if step.problem:
                raise _refusal([step.problem])
            if step.event is None:
                break
            event_type, payload, depth = step.event.type, dict(step.event.payload), step.event.depth
        self.flush()
        return self._answer(occurred_ms, points)

    # -- effects ------------------------------------------------------------------------------
    def _apply(self, effect: fx.Effect, version: int, applied: list) -> Optional[dict]:
        """Apply one effect; its description for the answer (None: nothing to show)."""
        shown = fx.describe(effect, self.config.scales) if not isinstance(effect, fx.PayCommission) else None
        if isinstance(effect, fx.AwardBonus):
            definition_id = self.config.bonus_ids[effect.bonus]
            if not event_store.take_bonus_budget(self.conn, definition_id):
                return {**shown, "skipped": "max_awards reached"}
            transfer = self._credit(effect, "bonus", version)
            self.flush()  # the award row references the transfer row
            event_store.record_award(self.conn, self.brand_id, definition_id, self.customer_row, effect.period_key,
                                     effect.amount_minor, self.config.assets[effect.asset].id, transfer,
                                     self.event.event_id, self.now_ms)
            shown["transfer_id"] = str(transfer)
        elif isinstance(effect, fx.Credit):
            shown["transfer_id"] = str(self._credit(effect, effect.action, version))
        elif isinstance(effect, fx.Debit):
            shown["transfer_id"] = str(self._debit(effect, version))
        elif isinstance(effect, fx.IssueReward):
            self.flush()  # it reads and may write accounts and transfers itself
            issued = reward_store.issue_reward(self.conn, self.brand_id, self.customer_row, effect.reward,
                                               self.now_ms, charge=False, source="rule",
                                               event_id=self.event.event_id)
            shown["customer_reward"] = issued
            self.accounts.clear()  # a reward with a cost moves value outside this memo
            self.customer_accounts = None
        elif isinstance(effect, (fx.AddTag, fx.RemoveTag)):
            adding = isinstance(effect, fx.AddTag)
            if (effect.tag in self.tags) != adding:
                (self.tags.add if adding else self.tags.discard)(effect.tag)
                event_store.save_tags(self.conn, self.customer_row, self.tags, self.now_ms)
        elif isinstance(effect, fx.SetStatus):
            event_store.set_status(self.conn, self.customer_row, effect.status, self.now_ms)
        elif isinstance(effect, fx.PayCommission):
            shown = self._pay_commission(effect, version)
            if shown is None:
                return None  # no ambassador, or a commission that rounds to nothing: no effect
        applied.append(effect)
        return shown

    def _metadata(self, rule_code: str, version: int) -> dict:
        return {"event_id": self.event.event_id, "rule": rule_code, "rule_version": version}

    def _prefetch(self, effects: tuple) -> None:
        """Read, in one query, every account of the customer (the first time) and every
        system account the effects move that this connection knows the id of (a brand's
        issuance account)."""
        known: dict = getattr(self.conn, "account_ids", {})
        wanted = {}
        for effect in effects:
            side = _SYSTEM_SIDE.get(type(effect))
            if side is not None:
                key = (self.config.assets[effect.asset].id, "system", side)
                if key not in self.account_ids and key in known:
                    wanted[key] = known[key]
        first = self.customer_accounts is None and not self.accounts
        if not wanted and not first:
            return
        loaded = load_many(self.conn, set(wanted.values()), self.customer_row if first else None)
        for key, account_id in wanted.items():
            if account_id in loaded:
                self.account_ids[key] = account_id
                self.accounts.setdefault(account_id, loaded[account_id])
        if first:
            self.customer_accounts = {}
            for account in loaded.values():
                if account.kind == "customer":
                    self.account_ids[(account.asset_id, "customer", account.owner)] = account.id
                    self.accounts.setdefault(account.id, account)
                    self.customer_accounts[account.asset_id] = account.id

    def _account(self, asset: Asset, kind: str, owner: str, create: bool = True) -> Optional[int]:
        """The id of `owner`'s account of `asset`, created on first use when `create`."""
        key = (asset.id, kind, owner)
        found = self.account_ids.get(key)
        if found is None:
            account = (ensure_account(self.conn, asset, kind, owner, self.now_ms,
                                      self.customer_row if kind == "customer" else None)
                       if create else find_account(self.conn, asset, kind, owner))
            if account is None:
                return None
            found = self.account_ids[key] = account.id
            self.accounts.setdefault(found, account)  # current: read in this transaction
            if kind == "customer" and self.customer_accounts is not None:
                self.customer_accounts[asset.id] = found
            known = getattr(self.conn, "account_ids", None)
            if known is not None:
                if len(known) > MAX_KNOWN_ACCOUNTS:
                    known.clear()
                known[key] = found
        return found

    def _credit(self, effect: Any, action: str, version: int) -> int:
        asset = self.config.assets[effect.asset]
        to = self._account(asset, "customer", self.event.customer_id)
        issuance = self._account(asset, "system", "issuance")
        code = "earn" if action == "credit_rate" and asset.code == TIER_ASSET else _TRANSFER_CODES[action]
        return self._transfer(asset, issuance, to, effect.amount_minor, code, effect.rule_code, version)

    def _pay_commission(self, effect: fx.PayCommission, version: int) -> Optional[dict]:
        """Pay the ambassador the event's referral code names, else the customer's referrer, at
        its own rate, else its group's, else the action's; its description, or None."""
        payee = referral_store.commission_payee(self.conn, self.brand_id, self.customer_row, effect.referral_code)
        if payee is None:
            return None
        asset = self.config.assets[effect.asset]
        rate_bps = effect.default_rate_bps if payee.rate_bps is None else payee.rate_bps
        amount = effect.amount_minor(rate_bps, asset.scale)
        if amount == 0:
            return None
        key = (asset.id, "customer", payee.customer)
        to = self.account_ids.get(key)
        if to is None:  # `_account` makes accounts of the event's customer; this one is the ambassador's
            account = ensure_account(self.conn, asset, "customer", payee.customer, self.now_ms, payee.customer_row)
            to = self.account_ids[key] = account.id
            self.accounts.setdefault(to, account)
        issuance = self._account(asset, "system", "issuance")
        transfer = self._transfer(asset, issuance, to, amount, "commission", effect.rule_code, version)
        return {**fx.describe(effect, self.config.scales), "ambassador_id": str(payee.ambassador_id),
                "ambassador_customer_id": payee.customer, "rate_bps": rate_bps,
                "amount": format_amount(amount, asset.scale), "transfer_id": str(transfer)}

    def _debit(self, effect: fx.Debit, version: int) -> int:
        asset = self.config.assets[effect.asset]
        source = self._account(asset, "customer", self.event.customer_id, create=False)
        if source is None:
            raise insufficient_funds(asset.code, asset.scale, 0, effect.amount_minor, self.event.customer_id)
        revenue = self._account(asset, "system", "revenue")
        return self._transfer(asset, source, revenue, effect.amount_minor, "spend", effect.rule_code, version)

    def _transfer(self, asset: Asset, dr: int, cr: int, amount: int, code: str, rule_code: str,
                  version: int) -> int:
        spec = TransferSpec(brand_id=self.brand_id, asset_id=asset.id, debit_account_id=dr,
                            credit_account_id=cr, amount=amount, code=code,
                            metadata=self._metadata(rule_code, version),
                            description=self.config.rule_names.get(rule_code))
        lots = any(self.accounts[i].tracks_lots if i in self.accounts else True for i in (dr, cr))
        if lots or not self.defer_ok:
            self.flush()
            self.defer_ok = False  # from here on, in order, one transfer at a time
            return create_transfer(self.conn, spec, self.now_ms, self.accounts).id
        if self.deferred is None:
            self.deferred = start_deferred(self.conn)
        self.touched.update((dr, cr))
        return create_transfer(self.conn, spec, self.now_ms, self.accounts, self.deferred).id

    def flush(self) -> None:
        """Write what the event's transfers deferred (rows, then account counters)."""
        if self.deferred is not None:
            flush_deferred(self.conn, self.deferred, self.accounts, self.touched)
            self.deferred, self.touched = None, set()

    # -- the answer ---------------------------------------------------------------------------
    def _answer(self, occurred_ms: int, points: LoyaltyPoints) -> dict:
        ev = self.event
        if self.customer_accounts is not None:  # every account of the customer, as this event left it
            assets = self.config.assets_by_id
            rows = sorted((assets[asset_id].code, assets[asset_id].scale, self.accounts[account_id].counters)
                          for asset_id, account_id in self.customer_accounts.items())
        else:
            rows = balance_store.customer_balances(self.conn, self.brand_id, ev.customer_id) or []
        return {"event_id": ev.event_id, "event_type": ev.event_type, "customer_id": ev.customer_id,
                "occurred_at": rfc3339(occurred_ms), "status": "processed", "executions": self.executions,
                "balances": [{"asset": code, **balance_fields(counters, scale)} for code, scale, counters in rows],
                "loyalty": loyalty_json(self.config.tiers, points)}


def balance_fields(counters, scale: int) -> dict:
    return {"balance": format_amount(counters.balance, scale), "available": format_amount(counters.available, scale),
            "pending": format_amount(counters.pending, scale)}


def loyalty_json(tiers, points: LoyaltyPoints) -> dict:
    """`loyalty` of an event's answer and of GET /v1/customers/{id}/loyalty."""
    view = loyalty_view(tiers, points)
    return {"tier": view.tier.code if view.tier else None, "status_points": view.status_points,
            "lifetime_points": view.lifetime_points, "next_tier": view.next_tier.code if view.next_tier else None,
            "points_to_next_tier": view.points_to_next_tier}


def _refusal(problems: list[Problem] | tuple[Problem, ...]) -> LedgerError:
    """The error an event's problems answer with: 422 for a limit, else 400 with every problem."""
    listed = [p.as_json() for p in problems]
    codes = {p.code for p in problems}
    if LimitExceeded.code in codes:
        return LimitExceeded(problems[0].message, problems=listed)
    if InvalidAmount.code in codes:
        return InvalidAmount(problems[0].message, problems=listed)
    return InvalidRule.of(problems)


def _process(conn: sqlite3.Connection, brand_id: int, event: EventIn, now_ms: int, dry_run: bool,
             raised_by_job: bool = False) -> EventAnswer:
    if not raised_by_job and event.event_id.startswith(JOB_EVENT_PREFIX):
        raise InvalidRequest(f"event ids starting with {JOB_EVENT_PREFIX!r} are the service's own (its cron jobs)",
                             field="event_id")
    found = event_store.find_event(conn, brand_id, event.event_id)
    text = request_text(event.body)
    if found is not None:
        if found["request"] != text:
            raise IdempotencyConflict("event_id was used with a different event", field=differing_field(
                found["request"], event.body), event_id=event.event_id)
        return EventAnswer(200, json.loads(found["response"]), True)
    if dry_run:
        conn.execute("SAVEPOINT dry_run")
        try:
            body = _Ingest(conn, brand_id, event, now_ms).run()
        finally:
            rollback_to(conn, "dry_run")
        return EventAnswer(200, {**body, "status": "dry_run"}, False)
    ingest = _Ingest(conn, brand_id, event, now_ms, raised_by_job)
    body = ingest.run()
    event_store.insert_event(conn, brand_id, event.event_id, event.event_type, ingest.customer_row,
                             event.occurred_at_ms if event.occurred_at_ms is not None else now_ms, text, body, now_ms)
    return EventAnswer(201, body, False)


def ingest_each(conn: sqlite3.Connection, brand_id: int, events: list[EventIn | LedgerError], now_ms: int,
                raised_by_job: bool = False) -> list[EventAnswer | LedgerError]:
    """Each event in its own savepoint, inside the caller's transaction: per-item answers or
    errors (an item may already be its error). `raised_by_job`: the service's own jobs may
    raise internal event types (never the tier events)."""
    out: list = []
    for event in events:
        if isinstance(event, LedgerError):
            out.append(event)
            continue
        conn.execute("SAVEPOINT batch_event")
        try:
            check_customer_id(event.customer_id)
            out.append(_process(conn, brand_id, event, now_ms, False, raised_by_job))
            conn.execute("RELEASE batch_event")
        except LedgerError as exc:
            rollback_to(conn, "batch_event")
            out.append(exc)
    return out


def _ingest_one(brand_id: int, conn: sqlite3.Connection, item: tuple[EventIn, int]) -> EventAnswer:
    event, now_ms = item
    return _process(conn, brand_id, event, now_ms, False)


def _ingest_many(brand_id: int, conn: sqlite3.Connection,
                 items: list[tuple[EventIn, int]]) -> list[tuple[Optional[EventAnswer], Optional[LedgerError]]]:
    """Single events sent at once, as one batch, each at its own arrival time."""
    from .event_batch import ingest_batch
    answers = ingest_batch(conn, brand_id, [event for event, _ in items], items[0][1], [now for _, now in items])
    return [(None, a) if isinstance(a, LedgerError) else (a, None) for a in answers]


class EventService:
    def __init__(self, writer: Writer, readers: Readers, clock=None) -> None:
        self.writer, self.readers, self.clock = writer, readers, clock or SystemClock()

    async def ingest(self, brand_id: int, event: EventIn, *, dry_run: bool = False) -> EventAnswer:
        check_customer_id(event.customer_id)
        now_ms = self.clock.now_ms()
        if dry_run:
            return await self.writer.submit(lambda conn: _process(conn, brand_id, event, now_ms, True))
        # Events of one brand waiting together run as one batch (`event_batch`): the same
        # answers and rows as one by one, with a few statements per group instead of ~10 each.
        return await self.writer.submit(Mergeable(("events", brand_id), (event, now_ms),
                                                  partial(_ingest_one, brand_id), partial(_ingest_many, brand_id)))

    async def ingest_batch(self, brand_id: int, events: list[EventIn | LedgerError]) -> list[EventAnswer | LedgerError]:
        """Per-item answers or errors, one transaction: the batch applied as a whole in memory
        where it can be, event by event where it cannot (`event_batch`)."""
        from .event_batch import ingest_batch  # it builds on this module's single-event path
        if len(events) > MAX_EVENTS_PER_BATCH:
            raise LimitExceeded(f"a batch holds at most {MAX_EVENTS_PER_BATCH} events",
                                max_events=MAX_EVENTS_PER_BATCH)
        now_ms = self.clock.now_ms()
        return await self.writer.submit(lambda conn: ingest_batch(conn, brand_id, events, now_ms))

    async def get(self, brand_id: int, event_id: str) -> dict:
        return self.readers.read_now(lambda c: event_store.get_event(c, brand_id, event_id))

    async def customer_events(self, brand_id: int, customer: str, before_id: int, limit: int) -> list:
        check_customer_id(customer)

        def query(conn: sqlite3.Connection) -> list:
            row = customer_id_of(conn, brand_id, customer)
            return event_store.list_customer_events(conn, brand_id, row, before_id, limit)
        return await self.readers.read(query)
