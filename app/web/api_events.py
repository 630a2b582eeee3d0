"""Brand routes of events: ingest one (or a dry run), a batch, read one, a customer's list.

Events are idempotent on `event_id` (not on the Idempotency-Key header): the same id with
the same body answers the stored result (200, `Idempotent-Replayed: true`), with another
body 409 `idempotency_key_reused`.
"""
from __future__ import annotations

from typing import Any

from ..ledger.errors import InvalidRequest, LedgerError, LimitExceeded
from ..services.events import MAX_EVENTS_PER_BATCH, EventAnswer
from ..services.events import EventIn as Event
from ..services.ledger import check_customer_id
from ..times import parse_time_ms
from .base import ApiHandler, Op, validated
from .errors import envelope
from .models import page_of
from .models_loyalty import EventBatchIn, EventBatchOut, EventIn, EventOut

EVENT_ERRORS = (400, 409, 422)


def event_of(raw: Any, where: str = "") -> Event:
    """A request's event, checked for shape (the rules check the rest in the writer)."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where}: an event must be a JSON object" if where else "an event must be a JSON object")
    d = validated(EventIn, raw, f"{where} event" if where else "event")
    occurred = parse_time_ms(d.occurred_at, "occurred_at") if d.occurred_at is not None else None
    return Event(d.event_id, d.event_type, d.customer_id, occurred, d.payload, raw)


class EventsHandler(ApiHandler):
    OPS = {"post": Op("Ingest an event: every matching rule applied in one transaction (idempotent on event_id;"
                      " ?dry_run=true answers what would happen and writes nothing)", body=EventIn, response=EventOut,
                      status=201, query={"dry_run": "true: evaluate and answer, store nothing"}, errors=EVENT_ERRORS)}

    async def post(self) -> None:
        dry = self.query_text("dry_run")
        if dry not in (None, "true", "false"):
            raise InvalidRequest("dry_run must be true or false", field="dry_run")
        event = event_of(self.json_body())
        answer = await self.runtime.events.ingest(self.brand_id, event, dry_run=dry == "true")
        if answer.replayed:
            self.set_header("Idempotent-Replayed", "true")
        self.reply(answer.status, answer.body)


class EventBatchHandler(ApiHandler):
    OPS = {"post": Op(f"Ingest up to {MAX_EVENTS_PER_BATCH} events in one transaction; per-item results (a failing"
                      " event stores nothing and does not stop the others)", body=EventBatchIn,
                      response=EventBatchOut, status=201, errors=EVENT_ERRORS)}

    async def post(self) -> None:
        d = self.body(EventBatchIn)
        if len(d.events) > MAX_EVENTS_PER_BATCH:
            raise LimitExceeded(f"a batch holds at most {MAX_EVENTS_PER_BATCH} events", max_events=MAX_EVENTS_PER_BATCH)
        events: list = []
        for index, raw in enumerate(d.events):
            try:
                events.append(event_of(raw, f"events[{index}]"))
            except LedgerError as exc:
                events.append(exc)
        answers = await self.runtime.events.ingest_batch(self.brand_id, events)
        self.reply(201, batch_body(answers))


def batch_body(answers: list[EventAnswer | LedgerError]) -> dict:
    results = []
    for index, answer in enumerate(answers):
        if isinstance(answer, LedgerError):
            results.append({"index": index, "ok": False,
                            "error": envelope(answer.code, answer.message, answer.details)["error"]})
        else:
            results.append({"index": index, "ok": True, "status": answer.status, "replayed": answer.replayed,
                            "event": answer.body})
    ok = sum(1 for r in results if r["ok"])
    return {"processed": ok, "failed": len(results) - ok, "results": results}


class EventHandler(ApiHandler):
    OPS = {"get": Op("An event's stored answer", response=EventOut, errors=(404,))}

    async def get(self, event_id: str) -> None:
        self.reply(200, await self.runtime.events.get(self.brand_id, event_id))


class CustomerEventsHandler(ApiHandler):
    OPS = {"get": Op("A customer's events, newest first", response=page_of(EventOut),
                     query={"limit": "page size (1-200, default 50)", "cursor": "next_cursor of the previous page"},
                     errors=(404,))}

    async def get(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        limit = self.page_limit()
        rows = await self.runtime.events.customer_events(self.brand_id, customer_id, self.cursor(), limit)
        self.reply(200, {"data": [body for _, body in rows], "next_cursor": self.next_cursor(rows, limit, lambda r: r[0])})
