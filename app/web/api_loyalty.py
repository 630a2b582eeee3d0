"""Brand routes of the loyalty configuration: event types, rules and their catalog, tiers,
bonus definitions and awards, and a customer's loyalty view."""
from __future__ import annotations

from typing import Any

from ..ledger.errors import InvalidRequest
from ..services.ledger import check_customer_id
from ..times import parse_time_ms, rfc3339
from ..ledger.money import format_amount
from .base import ApiHandler, Op
from .models import page_of
from .models_loyalty import (BonusAwardOut, BonusDefinitionIn, BonusDefinitionOut, CustomerLoyaltyOut, EventTypeIn,
                             EventTypeOut, RuleDetailOut, RuleIn, RuleOut, RulePatchIn, TierIn, TierOut, UiCatalogOut)

PAGE_QUERY = {"limit": "page size (1-200, default 50)", "cursor": "next_cursor of the previous page"}
RULE_ERRORS = (400, 404, 409, 422)


def _times(fields: dict[str, Any]) -> dict[str, Any]:
    """starts_at / ends_at (RFC 3339) → the stored epoch milliseconds."""
    for name in ("starts_at", "ends_at"):
        if name in fields:
            text = fields.pop(name)
            fields[f"{name}_ms"] = None if text is None else parse_time_ms(text, name)
    return fields


def _event_type(row) -> dict:
    return {"code": row["code"], "name": row["name"], "internal": bool(row["internal"]),
            "created_at": rfc3339(row["created_at_ms"])}


class EventTypesHandler(ApiHandler):
    OPS = {"get": Op("List the brand's event types (TIER_UPGRADED/TIER_DOWNGRADED are internal)",
                     response=page_of(EventTypeOut)),
           "post": Op("Create an event type", body=EventTypeIn, response=EventTypeOut, status=201, errors=(409, 422))}

    async def get(self) -> None:
        rows = await self.runtime.rules.event_types(self.brand_id)
        self.reply(200, {"data": [_event_type(r) for r in rows], "next_cursor": None})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(EventTypeIn)
        await self.write_through(lambda wrap: self.runtime.rules.create_event_type(self.brand_id, d.code, d.name, wrap),
                                 lambda row: (201, _event_type(row)), raw)


class RulesHandler(ApiHandler):
    OPS = {"get": Op("List rules", response=page_of(RuleOut), query={**PAGE_QUERY, "event_type": "only this type"}),
           "post": Op("Create a rule (validated strictly: every problem is named by its JSON path)", body=RuleIn,
                      response=RuleOut, status=201, errors=RULE_ERRORS)}

    async def get(self) -> None:
        limit = self.page_limit()
        rows = await self.runtime.rules.list_rules(self.brand_id, self.query_text("event_type"), self.cursor(), limit)
        self.reply(200, {"data": [r for _, r in rows], "next_cursor": self.next_cursor(rows, limit, lambda r: r[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(RuleIn)
        fields = _times(d.model_dump())
        code = fields.pop("code")
        await self.write_through(lambda wrap: self.runtime.rules.create_rule(self.brand_id, code, fields, wrap),
                                 lambda rule: (201, rule), raw)


class RuleHandler(ApiHandler):
    OPS = {"get": Op("Get a rule with its version history", response=RuleDetailOut, errors=(404,)),
           "patch": Op("Change a rule: the fields given, as its next version", body=RulePatchIn, response=RuleOut,
                       errors=RULE_ERRORS),
           "delete": Op("Retire a rule: it stops running; events keep naming its versions", response=RuleOut,
                        errors=(404,))}

    async def get(self, code: str) -> None:
        self.reply(200, await self.runtime.rules.get_rule(self.brand_id, code))

    async def patch(self, code: str) -> None:
        raw = self.json_body()
        d = self.body(RulePatchIn)
        changes = _times(d.model_dump(exclude_unset=True))
        for name, value in changes.items():
            if value is None and name not in ("conditions", "starts_at_ms", "ends_at_ms"):
                raise InvalidRequest(f"{name} cannot be null", field=name)
        await self.write_through(lambda wrap: self.runtime.rules.patch_rule(self.brand_id, code, changes, wrap),
                                 lambda rule: (200, rule), raw)

    async def delete(self, code: str) -> None:
        self.reply(200, await self.runtime.rules.delete_rule(self.brand_id, code))


class UiCatalogHandler(ApiHandler):
    OPS = {"get": Op("What a rule builder may use: facts, operators and each action's JSON Schema (from the"
                     " validators themselves)", response=UiCatalogOut)}

    async def get(self) -> None:
        self.reply(200, await self.runtime.rules.catalog(self.brand_id))


def _tier(row) -> dict:
    return {"code": row["code"], "name": row["name"], "min_status_points": row["min_status_points"],
            "created_at": rfc3339(row["created_at_ms"])}


class TiersHandler(ApiHandler):
    OPS = {"get": Op("List tiers, lowest first", response=page_of(TierOut)),
           "post": Op("Create a tier: a customer holds the highest tier its status points reach", body=TierIn,
                      response=TierOut, status=201, errors=(409,))}

    async def get(self) -> None:
        self.reply(200, {"data": [_tier(r) for r in await self.runtime.rules.tiers(self.brand_id)], "next_cursor": None})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(TierIn)
        await self.write_through(
            lambda wrap: self.runtime.rules.create_tier(self.brand_id, d.code, d.name, d.min_status_points, wrap),
            lambda row: (201, _tier(row)), raw)


class LoyaltyHandler(ApiHandler):
    OPS = {"get": Op("A customer's tier, status and lifetime points, and the next tier", response=CustomerLoyaltyOut,
                     errors=(404,))}

    async def get(self, customer_id: str) -> None:
        self.reply(200, await self.runtime.rules.loyalty(self.brand_id, customer_id))


def _bonus(row) -> dict:
    return {"code": row["code"], "name": row["name"], "period": row["period"], "max_awards": row["max_awards"],
            "awarded_count": row["awarded_count"], "created_at": rfc3339(row["created_at_ms"])}


class BonusDefinitionsHandler(ApiHandler):
    OPS = {"get": Op("List bonus definitions", response=page_of(BonusDefinitionOut)),
           "post": Op("Create a bonus definition: once per customer per period, at most max_awards in all",
                      body=BonusDefinitionIn, response=BonusDefinitionOut, status=201, errors=(409, 422))}

    async def get(self) -> None:
        rows = await self.runtime.rules.bonuses(self.brand_id)
        self.reply(200, {"data": [_bonus(r) for r in rows], "next_cursor": None})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(BonusDefinitionIn)
        await self.write_through(
            lambda wrap: self.runtime.rules.create_bonus(self.brand_id, d.code, d.name, d.period, d.max_awards, wrap),
            lambda row: (201, _bonus(row)), raw)


class BonusAwardsHandler(ApiHandler):
    OPS = {"get": Op("Bonus awards, oldest first", response=page_of(BonusAwardOut),
                     query={**PAGE_QUERY, "customer_id": "only this customer's"})}

    async def get(self) -> None:
        customer = self.query_text("customer_id")
        if customer is not None:
            check_customer_id(customer)
        limit = self.page_limit()
        rows = await self.runtime.rules.awards(self.brand_id, customer, self.cursor(), limit)
        self.reply(200, {"data": [{
            "id": str(r["id"]), "bonus": r["bonus"], "customer_id": r["customer_id"], "period_key": r["period_key"],
            "asset": r["asset"], "amount": format_amount(r["amount"], r["scale"]), "transfer_id": str(r["transfer_id"]),
            "event_id": r["event_id"], "created_at": rfc3339(r["created_at_ms"])} for r in rows],
            "next_cursor": self.next_cursor(rows, limit, lambda r: r["id"])})
