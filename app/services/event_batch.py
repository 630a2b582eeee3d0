"""A batch of events applied as a whole: POST /v1/events/batch and event imports.

`events.ingest_each` runs the single event's path once per event: a savepoint, the
customer's snapshot read, each account read and written, the event row: about fifteen
statements an event. This module gives the same answers, rows and hash chain with a few
statements per batch: it reads every customer, event count and account the batch names
in one query each, runs each event's rules against that memory, checks its transfers
there (`create_transfer(..., deferred=)`), and writes all transfer rows, account
counters, customer points, tags, status, event counts and event rows at the end with one
`executemany` each.

An event is applied in memory only when everything it does can be: no replay (its id is
new, and not given twice in the batch), no referral code to link, effects among credit,
debit, tags, status and status points (not bonus awards, rewards or commissions, which
read and write their own tables), no lot-tracking asset (expiring points consume lots),
and no tier change (its internal event runs the rules again). Any other event is run by
`ingest_each` in its own savepoint, after what the batch holds in memory is written, and
the memory is read afresh after it. The per-event guarantee is kept both ways: a refused
event leaves nothing (in memory its transfers are undone before anything is written; a
customer or account it created is rolled back to its savepoint), and the others commit
in the writer's one transaction.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from typing import Optional

from ..ledger.accounts import Account
from ..ledger.errors import LedgerError
from ..ledger.json_text import canonical_json
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..rules import effects as fx
from ..rules.engine import run
from ..rules.facts import CustomerSnapshot, EventFacts, Facts
from ..rules.tiers import TIER_ASSET, LoyaltyPoints, next_tier_event, points_after, tier_for
from ..store import events as event_store
from ..store.accounts import _SELECT as ACCOUNT_SELECT
from ..store.accounts import _account as account_of_row
from ..store.accounts import ensure_account, load_many, save_many
from ..store.customers import ensure_customer
from ..store.referrals import REFERRAL_EVENT_TYPES
from ..store.rules import BrandConfig, brand_config
from ..store.sqlite import rollback_to
from ..store.transfers import create_transfer, flush_deferred, start_deferred
from ..times import rfc3339
from .events import (_TRANSFER_CODES, JOB_EVENT_PREFIX, EventAnswer, EventIn, _refusal, balance_fields, ingest_each,
                     loyalty_json)
from .idempotency import request_text
from .ledger import check_customer_id

# What an event may do and still be applied in memory (see the module's docstring).
_IN_MEMORY = (fx.Credit, fx.Debit, fx.AddTag, fx.RemoveTag, fx.SetStatus, fx.ResetStatusPoints, fx.DowngradeTier)
_SYSTEM_SIDE = {fx.Credit: "issuance", fx.Debit: "revenue"}


class _Customer:
    """A customer as the batch holds it: what the rules read, and its accounts by asset id."""

    __slots__ = ("row", "external", "created_at_ms", "status", "tags", "tags_json", "attributes", "attributes_json",
                 "birthdate", "status_points", "lifetime_points", "last_event_at_ms", "counts", "referred", "awards",
                 "accounts", "dirty", "counted", "updated_at_ms")

    def __init__(self, row: tuple) -> None:
        (self.row, self.external, self.created_at_ms, self.status, self.tags_json, self.attributes_json,
         self.birthdate, self.status_points, self.lifetime_points, self.last_event_at_ms, referred) = row
        self.tags: list[str] = json.loads(self.tags_json)
        self.attributes = None  # parsed when a snapshot needs it
        self.referred = bool(referred)
        self.counts: dict[str, int] = {}
        self.awards: set[tuple[int, str]] = set()  # (bonus definition id, period key)
        self.accounts: dict[int, int] = {}         # asset id → account id
        self.dirty = False
        self.counted: set[str] = set()             # event types whose count changed
        self.updated_at_ms = 0                     # when the last event that changed it ran


class _Unsupported(Exception):
    """This event is run by the single event's path (see the module's docstring)."""


def ingest_batch(conn: sqlite3.Connection, brand_id: int, events: list[EventIn | LedgerError],
                 now_ms: int, times_ms: Optional[list[int]] = None) -> list[EventAnswer | LedgerError]:
    """Per-item answers or errors, in order, inside the caller's transaction (an item may
    already be its error). Every event runs at `now_ms`, or at its own time in `times_ms`
    (single events sent apart and run together: each as it would have run alone)."""
    batch = _Batch(conn, brand_id, now_ms)
    out: list = []
    seen: set[str] = set()
    taken = _taken_ids(conn, brand_id, [e.event_id for e in events if isinstance(e, EventIn)])
    batch.load([e.customer_id for e in events if isinstance(e, EventIn)])
    for n, event in enumerate(events):
        if isinstance(event, LedgerError):
            out.append(event)
            continue
        if times_ms is not None:
            batch.at(times_ms[n])
        fresh = event.event_id not in seen and event.event_id not in taken
        seen.add(event.event_id)
        try:
            if not fresh:
                raise _Unsupported
            out.append(batch.apply(event))
        except _Unsupported:
            batch.write()
            answer = ingest_each(conn, brand_id, [event], batch.now_ms)[0]
            if not isinstance(answer, LedgerError):
                batch.forget(event.customer_id)
            out.append(answer)
        except LedgerError as exc:
            out.append(exc)
    batch.write()
    return out


def _taken_ids(conn: sqlite3.Connection, brand_id: int, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return {r[0] for r in conn.execute("SELECT event_id FROM events WHERE brand_id = ? AND event_id IN"
                                       " (SELECT value FROM json_each(?))", (brand_id, json.dumps(ids)))}


class _Batch:
    def __init__(self, conn: sqlite3.Connection, brand_id: int, now_ms: int) -> None:
        self.conn, self.brand_id, self.now_ms = conn, brand_id, now_ms
        self.config: BrandConfig = brand_config(conn, brand_id)
        self.now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
        self.customers: dict[str, _Customer] = {}
        self.accounts: dict[int, Account] = {}
        self.system: dict[tuple[int, str], int] = {}  # (asset id, owner) → account id
        self.deferred = start_deferred(conn)
        self.touched: set[int] = set()
        self.event_rows: list[tuple] = []
        # What the event being applied created (its savepoint is open): the customer's name
        # and the accounts, as (asset id, kind, owner, account id).
        self.savepoint = False
        self.created_customer: Optional[str] = None
        self.created_accounts: list[tuple[int, str, str, int]] = []

    def at(self, now_ms: int) -> None:
        """The moment the next event runs at."""
        if now_ms != self.now_ms:
            self.now_ms, self.now = now_ms, datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)

    # -- memory -------------------------------------------------------------------------------
    def load(self, externals: list[str]) -> None:
        """Read the named customers (those that exist), their event counts, bonus awards and
        accounts, and the brand's system accounts: one query each."""
        self._load_customers(externals)
        assets = json.dumps(sorted(self.config.assets_by_id))  # (brand, asset, kind): the unique index
        for row in self.conn.execute(ACCOUNT_SELECT + " WHERE a.brand_id = ? AND a.asset_id IN"
                                     " (SELECT value FROM json_each(?)) AND a.kind = 'system'", (self.brand_id, assets)):
            account = account_of_row(row)
            self.accounts[account.id] = account
            self.system[(account.asset_id, account.owner)] = account.id

    def _load_customers(self, externals: list[str]) -> None:
        rows = self.conn.execute(
            "SELECT id, external_id, created_at_ms, status, tags, attributes, birthdate, status_points,"
            " lifetime_points, last_event_at_ms, EXISTS (SELECT 1 FROM referrals r WHERE r.customer_id = customers.id)"
            " FROM customers WHERE brand_id = ? AND external_id IN (SELECT value FROM json_each(?))",
            (self.brand_id, json.dumps(list(dict.fromkeys(externals))))).fetchall()
        by_row = {}
        for row in rows:
            by_row[row[0]] = self.customers[row[1]] = _Customer(tuple(row))
        self._load_state(by_row)

    def _load_state(self, by_row: dict[int, _Customer]) -> None:
        if not by_row:
            return
        ids = json.dumps(list(by_row))
        for customer_row, event_type, count in self.conn.execute(
                "SELECT customer_id, event_type, count FROM customer_event_counts"
                " WHERE customer_id IN (SELECT value FROM json_each(?))", (ids,)):
            by_row[customer_row].counts[event_type] = count
        if self.config.bonuses:
            for customer_row, definition_id, key in self.conn.execute(
                    "SELECT customer_id, definition_id, period_key FROM bonus_awards"
                    " WHERE customer_id IN (SELECT value FROM json_each(?))", (ids,)):
                by_row[customer_row].awards.add((definition_id, key))
        for row in self.conn.execute(ACCOUNT_SELECT + " WHERE a.customer_id IN (SELECT value FROM json_each(?))"
                                     " AND a.kind = 'customer'", (ids,)):
            account = account_of_row(row)
            self.accounts[account.id] = account
            customer = self.customers[account.owner]
            customer.accounts[account.asset_id] = account.id

    def forget(self, external: str) -> None:
        """After an event of customer `external` ran on the single path: read again what it
        may have changed, and only that (a batch of such events stays linear): that customer,
        every account its transfers moved, the owners of those accounts (an ambassador paid a
        commission), and the chain's tip."""
        before = self.deferred.tip
        self.deferred = start_deferred(self.conn)
        owners, system = {external}, set()
        if self.deferred.tip != before:  # every account its transfers moved, made by it or not
            for account_id, kind, owner in self.conn.execute(
                    "SELECT a.id, a.kind, a.owner FROM transfers t JOIN accounts a"
                    " ON a.id IN (t.debit_account_id, t.credit_account_id) WHERE t.id > ?",
                    (before[0] if before else 0,)):
                if kind == "customer":
                    owners.add(owner)
                elif account_id in self.accounts:
                    system.add(account_id)
        for owner in owners:  # read again below with their accounts
            customer = self.customers.pop(owner, None)
            if customer is not None:
                for account_id in customer.accounts.values():
                    self.accounts.pop(account_id, None)
        if system:
            self.accounts.update(load_many(self.conn, system))
        self._load_customers(sorted(owners))

    # -- one event ----------------------------------------------------------------------------
    def apply(self, ev: EventIn) -> EventAnswer:
        """The event applied in memory, or `_Unsupported`, or its refusal (nothing kept)."""
        config = self.config
        internal = config.event_types.get(ev.event_type)
        if (internal is None or internal or ev.event_id.startswith(JOB_EVENT_PREFIX)
                or (ev.event_type in REFERRAL_EVENT_TYPES and ev.payload.get("referral_code") is not None)):
            raise _Unsupported  # the single path answers these (errors, links) as it always has
        check_customer_id(ev.customer_id)
        customer = self.customers.get(ev.customer_id)
        occurred_ms = self.now_ms if ev.occurred_at_ms is None else ev.occurred_at_ms
        local = datetime.fromtimestamp(occurred_ms / 1000, tz=config.zone)
        today = local.date()
        snapshot = self._snapshot(customer, today)
        outcome = run(config.rules, Facts(EventFacts(ev.event_type, local, ev.payload), snapshot, today),
                      config.scales, now=self.now, bonuses=config.bonuses)
        if outcome.problems:
            raise _refusal(outcome.problems)
        for effect in outcome.effects:
            if not isinstance(effect, _IN_MEMORY) or (
                    isinstance(effect, (fx.Credit, fx.Debit)) and config.assets[effect.asset].expiry_days is not None):
                raise _Unsupported
        points = LoyaltyPoints(snapshot.status_points, snapshot.lifetime_points)
        after = points_after(points, outcome.effects, config.tiers)
        step = next_tier_event(config.tiers, points.status_points, after.status_points, 0)
        if step.event is not None or step.problem is not None:
            raise _Unsupported
        rows, tip, undo = len(self.deferred.rows), self.deferred.tip, {}
        try:
            if customer is None:
                customer = self._create_customer(ev.customer_id)
            executions = self._transfers(ev, customer, outcome, undo)
        except LedgerError:
            del self.deferred.rows[rows:]
            self.deferred.tip = tip
            self.accounts.update(undo)
            self._undo_created()
            raise
        if self.savepoint:
            self.conn.execute("RELEASE batch_event")
            self.savepoint, self.created_customer, self.created_accounts = False, None, []
        self.touched.update(undo)  # every account the event's transfers moved
        self._change_customer(customer, ev.event_type, outcome.effects, after, occurred_ms)
        body = {"event_id": ev.event_id, "event_type": ev.event_type, "customer_id": ev.customer_id,
                "occurred_at": rfc3339(occurred_ms), "status": "processed", "executions": executions,
                "balances": self._balances(customer), "loyalty": loyalty_json(config.tiers, after)}
        self.event_rows.append((self.brand_id, ev.event_id, ev.event_type, customer.row, occurred_ms,
                                request_text(ev.body), canonical_json(body), self.now_ms))
        return EventAnswer(201, body, False)

    def _snapshot(self, customer: Optional[_Customer], today) -> CustomerSnapshot:
        if customer is None:  # a customer seen for the first time, as `ensure_customer` makes it
            held = tier_for(self.config.tiers, 0)
            return CustomerSnapshot(created_at=self.now, tier=held.code if held else None)
        if customer.attributes is None:
            customer.attributes = json.loads(customer.attributes_json)
        config = self.config
        awarded = frozenset()
        if config.bonuses and customer.awards:
            awarded = frozenset(code for code, d in config.bonuses.items()
                                if (config.bonus_ids[code], fx.period_key(d.period, today)) in customer.awards)
        held = tier_for(config.tiers, customer.status_points)
        last = customer.last_event_at_ms
        return CustomerSnapshot(
            created_at=datetime.fromtimestamp(customer.created_at_ms / 1000, tz=timezone.utc), status=customer.status,
            tier=held.code if held else None, tags=customer.tags, attributes=customer.attributes,
            status_points=customer.status_points, lifetime_points=customer.lifetime_points,
            last_event_at=None if last is None else datetime.fromtimestamp(last / 1000, tz=timezone.utc),
            birthdate=date.fromisoformat(customer.birthdate) if customer.birthdate else None,
            event_counts=customer.counts, bonuses_awarded=awarded, referred=customer.referred)

    def _open_savepoint(self) -> None:
        """Before the event's first row written now (a customer, an account): a refusal
        later in the event rolls them back (`_undo_created`)."""
        if not self.savepoint:
            self.conn.execute("SAVEPOINT batch_event")
            self.savepoint = True

    def _create_customer(self, external: str) -> _Customer:
        self._open_savepoint()
        self.created_customer = external
        ensure_customer(self.conn, self.brand_id, external, self.now_ms)
        row = self.conn.execute(
            "SELECT id, external_id, created_at_ms, status, tags, attributes, birthdate, status_points,"
            " lifetime_points, last_event_at_ms, 0 FROM customers WHERE brand_id = ? AND external_id = ?",
            (self.brand_id, external)).fetchone()
        customer = self.customers[external] = _Customer(tuple(row))
        return customer

    def _undo_created(self) -> None:
        """A refused event: roll back the rows it created and forget them."""
        if not self.savepoint:
            return
        rollback_to(self.conn, "batch_event")
        for asset_id, kind, owner, account_id in self.created_accounts:
            self.accounts.pop(account_id, None)
            if kind == "system":
                self.system.pop((asset_id, owner), None)
            elif owner in self.customers:
                self.customers[owner].accounts.pop(asset_id, None)
        if self.created_customer is not None:
            del self.customers[self.created_customer]
        self.savepoint, self.created_customer, self.created_accounts = False, None, []

    def _account(self, customer: _Customer, asset_id: int) -> int:
        found = customer.accounts.get(asset_id)
        if found is None:
            found = customer.accounts[asset_id] = self._create_account(asset_id, "customer", customer.external,
                                                                       customer.row)
        return found

    def _system(self, asset_id: int, owner: str) -> int:
        found = self.system.get((asset_id, owner))
        if found is None:
            found = self.system[(asset_id, owner)] = self._create_account(asset_id, "system", owner, None)
        return found

    def _create_account(self, asset_id: int, kind: str, owner: str, customer_row: Optional[int]) -> int:
        self._open_savepoint()
        account = ensure_account(self.conn, self.config.assets_by_id[asset_id], kind, owner, self.now_ms, customer_row)
        self.accounts[account.id] = account
        self.created_accounts.append((asset_id, kind, owner, account.id))
        return account.id

    def _transfers(self, ev: EventIn, customer: _Customer, outcome, undo: dict) -> list[dict]:
        """Each execution as the answer shows it, its transfers checked and queued in memory."""
        config, executions = self.config, []
        for execution in outcome.executions:
            shown = []
            for effect in execution.effects:
                described = fx.describe(effect, config.scales)
                side = _SYSTEM_SIDE.get(type(effect))
                if side is not None:
                    asset = config.assets[effect.asset]
                    if isinstance(effect, fx.Credit):  # the customer's account first, as the single path
                        cr = self._account(customer, asset.id)
                        dr = self._system(asset.id, side)
                        code = ("earn" if effect.action == "credit_rate" and asset.code == TIER_ASSET
                                else _TRANSFER_CODES[effect.action])
                    else:
                        source = customer.accounts.get(asset.id)
                        if source is None:
                            raise insufficient_funds(asset.code, asset.scale, 0, effect.amount_minor, ev.customer_id)
                        dr, cr, code = source, self._system(asset.id, side), "spend"
                    for account_id in (dr, cr):
                        if account_id not in undo:
                            undo[account_id] = self.accounts[account_id]
                    spec = TransferSpec(brand_id=self.brand_id, asset_id=asset.id, debit_account_id=dr,
                                        credit_account_id=cr, amount=effect.amount_minor, code=code,
                                        metadata={"event_id": ev.event_id, "rule": effect.rule_code,
                                                  "rule_version": execution.rule_version},
                                        description=config.rule_names.get(effect.rule_code))
                    transfer = create_transfer(self.conn, spec, self.now_ms, self.accounts, self.deferred)
                    described["transfer_id"] = str(transfer.id)
                shown.append(described)
            executions.append({"rule": execution.rule_code, "version": execution.rule_version,
                               "event_type": ev.event_type, "effects": shown})
        return executions

    def _change_customer(self, customer: _Customer, event_type: str, effects: tuple, after: LoyaltyPoints,
                         occurred_ms: int) -> None:
        tags = set(customer.tags)
        for effect in effects:
            if isinstance(effect, fx.AddTag):
                tags.add(effect.tag)
            elif isinstance(effect, fx.RemoveTag):
                tags.discard(effect.tag)
            elif isinstance(effect, fx.SetStatus):
                customer.status = effect.status
        if tags != set(customer.tags):
            customer.tags = sorted(tags)
            customer.tags_json = json.dumps(customer.tags)
        customer.status_points, customer.lifetime_points = after
        last = customer.last_event_at_ms
        customer.last_event_at_ms = occurred_ms if last is None else max(last, occurred_ms)
        customer.counts[event_type] = customer.counts.get(event_type, 0) + 1
        customer.counted.add(event_type)
        customer.dirty = True
        customer.updated_at_ms = self.now_ms

    def _balances(self, customer: _Customer) -> list[dict]:
        shown = []
        for asset_id, account_id in customer.accounts.items():
            asset = self.config.assets_by_id[asset_id]
            shown.append({"asset": asset.code, **balance_fields(self.accounts[account_id].counters, asset.scale)})
        return sorted(shown, key=lambda b: b["asset"])

    # -- writing ------------------------------------------------------------------------------
    def write(self) -> None:
        """Write what the batch holds in memory: transfers and counters, customers, event counts
        and event rows (the events last: they reference the customers)."""
        flush_deferred(self.conn, self.deferred, self.accounts, self.touched)
        self.touched = set()
        dirty = [c for c in self.customers.values() if c.dirty]
        if dirty:
            self.conn.executemany(
                "UPDATE customers SET status = ?, tags = ?, status_points = ?, lifetime_points = ?,"
                " last_event_at_ms = ?, updated_at_ms = ? WHERE id = ?",
                [(c.status, c.tags_json, c.status_points, c.lifetime_points, c.last_event_at_ms, c.updated_at_ms,
                  c.row) for c in dirty])
            self.conn.executemany(
                "INSERT INTO customer_event_counts (customer_id, event_type, count) VALUES (?, ?, ?)"
                " ON CONFLICT (customer_id, event_type) DO UPDATE SET count = excluded.count",
                [(c.row, t, c.counts[t]) for c in dirty for t in c.counted])
            for c in dirty:
                c.dirty, c.counted = False, set()
        if self.event_rows:
            self.conn.executemany(
                "INSERT INTO events (brand_id, event_id, event_type, customer_id, occurred_at_ms, request, response,"
                " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.event_rows)
            self.event_rows = []
