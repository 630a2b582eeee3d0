"""Request and response models of the loyalty engine's routes: event types, rules, events,
tiers, bonus definitions and awards, and a customer's loyalty view.

Conditions and actions are taken as JSON here and validated by the rules core, which
names the JSON path of every mistake (a pydantic union would only say "no match").
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, Field, StringConstraints

from ..ledger.json_text import canonical_json
from ..rules.effects import BONUS_PERIODS
from ..rules.facts import CODE_PATTERN
from .models import BalanceOut, CustomerId, In, Out, Timestamp

MAX_PAYLOAD_BYTES = 16_384
RuleCode = Annotated[str, StringConstraints(pattern=rf"^{CODE_PATTERN}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9@._+:-]{1,128}$")]


def _payload_size(value: dict) -> dict:
    if len(canonical_json(value).encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload must be at most {MAX_PAYLOAD_BYTES} bytes as JSON")
    return value


Payload = Annotated[dict[str, Any], AfterValidator(_payload_size), Field(
    description=f"what happened, as JSON (≤ {MAX_PAYLOAD_BYTES} bytes): rules read it as payload.<path>;"
    ' amounts as decimal strings ("100.00")', examples=[{"amount": "100.00"}])]


# -- event types ----------------------------------------------------------------------------------
class EventTypeIn(In):
    code: RuleCode
    name: Name


class EventTypeOut(Out):
    code: str
    name: str
    internal: bool
    created_at: Timestamp


# -- rules ------------------------------------------------------------------------------------------
_CONDITIONS = Field(None, description='condition tree: {"all": [...]}, {"any": [...]}, {"not": {...}} or a leaf'
                    ' {"fact", "op", "value"}; null matches every event. GET /v1/rules/ui-catalog lists facts'
                    ' and operators')
_ACTIONS = Field(description="what a match does, in order; GET /v1/rules/ui-catalog gives each action's schema")


class RuleIn(In):
    code: RuleCode
    name: Name
    event_type: RuleCode
    priority: int = Field(0, description="lower runs first; ties by code")
    active: bool = True
    stop_after: bool = Field(False, description="once this rule matched, no later rule runs")
    conditions: Optional[Any] = _CONDITIONS
    actions: list[Any] = _ACTIONS
    starts_at: Optional[Timestamp] = None
    ends_at: Optional[Timestamp] = Field(None, description="excluded: the rule runs while starts_at <= now < ends_at")


class RulePatchIn(In):
    """Only the fields given change; the rule gets its next version."""

    name: Optional[Name] = None
    event_type: Optional[RuleCode] = None
    priority: Optional[int] = None
    active: Optional[bool] = None
    stop_after: Optional[bool] = None
    conditions: Optional[Any] = _CONDITIONS
    actions: Optional[list[Any]] = None
    starts_at: Optional[Timestamp] = None
    ends_at: Optional[Timestamp] = None


class RuleOut(Out):
    code: str
    version: int
    name: str
    event_type: str
    priority: int
    active: bool
    stop_after: bool
    conditions: Optional[Any]
    actions: list[Any]
    starts_at: Optional[Timestamp]
    ends_at: Optional[Timestamp]
    deleted: bool
    created_at: Timestamp
    updated_at: Timestamp


class RuleVersionOut(Out):
    version: int
    definition: dict[str, Any]
    created_at: Timestamp


class RuleDetailOut(RuleOut):
    history: list[RuleVersionOut]


class UiCatalogOut(Out):
    facts: list[dict[str, Any]]
    kinds: list[dict[str, Any]]
    operators: list[dict[str, Any]]
    composites: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    rounding: list[str]
    bonus_periods: list[str]
    limits: dict[str, Any]


# -- events -------------------------------------------------------------------------------------------
class EventIn(In):
    event_id: EventId
    event_type: RuleCode
    customer_id: CustomerId
    occurred_at: Optional[Timestamp] = Field(None, description="when it happened (default: now); the rules read"
                                             " weekday, hour and bonus periods from it in the brand's time zone")
    payload: Payload = {}


class EventBatchIn(In):
    events: list[Any] = Field(description="up to 1000 events, each as POST /v1/events takes it")


class EffectOut(Out):
    model_config = {"extra": "allow"}
    type: str


class ExecutionOut(Out):
    rule: str
    version: int
    event_type: str
    effects: list[EffectOut]


class LoyaltyOut(Out):
    tier: Optional[str]
    status_points: int
    lifetime_points: int
    next_tier: Optional[str]
    points_to_next_tier: Optional[int]


class CustomerLoyaltyOut(LoyaltyOut):
    customer_id: str


class EventOut(Out):
    event_id: str
    event_type: str
    customer_id: str
    occurred_at: Timestamp
    status: Literal["processed", "dry_run"]
    executions: list[ExecutionOut]
    balances: list[BalanceOut]
    loyalty: LoyaltyOut


class EventItemOut(Out):
    index: int
    ok: bool
    status: Optional[int] = None
    replayed: Optional[bool] = None
    event: Optional[EventOut] = None
    error: Optional[dict[str, Any]] = None


class EventBatchOut(Out):
    processed: int
    failed: int
    results: list[EventItemOut]


# -- tiers and bonuses ------------------------------------------------------------------------------------
class TierIn(In):
    code: RuleCode
    name: Name
    min_status_points: int = Field(ge=0, le=2**62)


class TierOut(Out):
    code: str
    name: str
    min_status_points: int
    created_at: Timestamp


class BonusDefinitionIn(In):
    code: RuleCode
    name: Name
    period: Literal[BONUS_PERIODS] = Field(description="at most one award per customer per period: "  # type: ignore[valid-type]
                                           + " | ".join(BONUS_PERIODS))
    max_awards: Optional[int] = Field(None, ge=1, le=2**62, description="across all customers; null: no limit")


class BonusDefinitionOut(Out):
    code: str
    name: str
    period: str
    max_awards: Optional[int]
    awarded_count: int
    created_at: Timestamp


class BonusAwardOut(Out):
    id: str
    bonus: str
    customer_id: str
    period_key: str
    asset: str
    amount: str
    transfer_id: str
    event_id: str
    created_at: Timestamp
