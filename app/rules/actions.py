"""Actions: the action vocabulary of DESIGN §6a in one table, and the planner.

`ACTIONS` maps each action type to its `ActionSpec`: the pydantic model that validates it
(and gives the catalog its JSON Schema), the planner that turns a validated action into
effects, and an example. A new action type is one model, one planner and one row here:
validation, planning and the catalog pick it up.

`validate_actions` checks a rule's actions against the brand (its assets as code → scale,
and, when given, its bonus definitions and reward codes) and returns every problem with
its JSON path (`actions[1].rate_bps`). `plan` validates again (rules are stored as JSON)
and returns the effects, or the problems when the event cannot be processed as the rule
asks (a source amount that is missing or not an exact amount): never a partial plan.

Decisions where DESIGN §6a is silent:
- `amount`, `min`, `max` are decimal strings (or exact JSON numbers) in units of the
  action's asset: positive, at most the asset's scale in decimals, as the API takes them;
- `credit_rate`/`commission` read their source from `of` (a `payload.<path>`) with
  `parse_amount`'s rules at the scale `of_scale` (0..9) when the action names it, else at
  the decimals the amount is written with (at most 9; `rates.read_source`): the payload's
  amount is in the event's currency, which the ledger need not know, so "100.00" and
  "100" both read, and "1 point per unit" (`rate_bps` 10000 into POINTS) and "5% into
  USD" both work with no extra field. A rule that wants the currency's precision
  enforced sets `of_scale: 2` ("100.005" is then refused);
- a missing source is a problem (`invalid_amount` at `actions[i].of`), not "earns
  nothing": add `{"fact": "payload.amount", "op": "present"}` to make it optional;
  a zero source earns nothing; `min`/`max` bound a positive source's earning after rounding;
- an empty action list is allowed: a `stop_after` rule with no action shields lower ones;
- a bonus already awarded in its period gives no effect (DESIGN: skipped, not an error);
- `add_tag`/`remove_tag`/`set_status` are emitted even when the snapshot already agrees:
  the shell applies them idempotently, and the execution shows what the rule asked for.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Callable, Literal, Mapping, NamedTuple, Optional

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints,
                      ValidationError, ValidationInfo, WithJsonSchema, field_validator)

from ..ledger.errors import InvalidAmount, LimitExceeded
from ..ledger.money import MAX_AMOUNT_MINOR, MAX_SCALE, parse_amount
from .effects import (BONUS_PERIODS, AddTag, AwardBonus, Credit, Debit, DowngradeTier, Effect, IssueReward,
                      PayCommission, RemoveTag, ResetStatusPoints, SetStatus, period_key)
from .facts import ABSENT, CODE_PATTERN, Facts, parse_fact
from .problems import Problem, item_path, key_path
from .rates import MAX_RATE_BPS, MAX_SOURCE_DECIMALS, rate_amount_minor, read_source

MAX_ACTIONS = 20
STATUSES = ("active", "inactive", "blocked")  # the customers table's CHECK


class BonusDefinition(NamedTuple):
    code: str
    period: str                    # once | year | month | week | day
    max_awards: Optional[int] = None  # across all customers: enforced by the store


# -- field types ---------------------------------------------------------------------------------
def _context(info: ValidationInfo, name: str) -> Any:
    return (info.context or {}).get(name)


def _known_asset(code: str, info: ValidationInfo) -> str:
    assets = _context(info, "assets")
    assert assets is not None, "actions are validated against the brand's assets"
    if code not in assets:
        raise ValueError(f"unknown asset {code!r}; the brand's assets: {', '.join(sorted(assets))}")
    return code


def _known(kind: str, label: str) -> Callable[[str, ValidationInfo], str]:
    def check(code: str, info: ValidationInfo) -> str:
        known = _context(info, kind)
        if known is not None and code not in known:
            raise ValueError(f"unknown {label} {code!r}")
        return code
    return check


def _amount_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('must be a decimal string such as "12.50"')
    return value


def _payload_fact(name: str) -> str:
    if not name.startswith("payload.") or parse_fact(name) is None:
        raise ValueError('must be a payload fact such as "payload.amount"')
    return name


AssetCode = Annotated[str, StringConstraints(max_length=16), AfterValidator(_known_asset),
                      Field(description="one of the brand's asset codes", examples=["USD"])]
Amount = Annotated[Any, BeforeValidator(_amount_value), WithJsonSchema(
    {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,36})(\.[0-9]{1,18})?$", "maxLength": 40,
     "examples": ["5.00"], "description": "decimal string in units of the asset, positive, at most the"
     " asset's scale in decimals"})]
Code = Annotated[str, StringConstraints(pattern=f"^{CODE_PATTERN}$")]
PayloadFact = Annotated[str, StringConstraints(max_length=600), AfterValidator(_payload_fact),
                        Field(description="the payload value the rate applies to", examples=["payload.amount"])]
RateBps = Annotated[int, Field(ge=0, le=MAX_RATE_BPS, description="basis points: 500 is 5%, 10000 is 1 per unit")]
SourceScale = Annotated[int, Field(ge=0, le=MAX_SCALE, description="decimals the source may carry (default:"
                                   f" as written, ≤ {MAX_SOURCE_DECIMALS}); 2 refuses a purchase of \"1.005\"")]
Rounding = Annotated[Literal["down", "half_even", "up"], Field(
    description="down (default: never over-pays), half_even (nearest, ties to even) or up")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: str

    @field_validator("amount", "min", "max", check_fields=False)
    @classmethod
    def _amount_in_asset_units(cls, value: Any, info: ValidationInfo) -> Any:
        scale = _context(info, "assets").get(info.data.get("asset"))
        if value is None or scale is None:  # an unknown asset is reported on `asset`
            return value
        try:
            minor = parse_amount(value, scale)
        except InvalidAmount as exc:
            raise ValueError(exc.message) from None
        low = info.data.get("min") if info.field_name == "max" else None
        if low is not None and parse_amount(low, scale) > minor:
            raise ValueError("max is below min")
        return value


# -- the models ----------------------------------------------------------------------------------
class CreditAction(_Action):
    """Credit a fixed amount of an asset to the customer."""

    type: Literal["credit"]
    asset: AssetCode
    amount: Amount


class DebitAction(_Action):
    """Debit a fixed amount of an asset from the customer (the event fails when short)."""

    type: Literal["debit"]
    asset: AssetCode
    amount: Amount


class _RateOf(_Action):
    asset: AssetCode
    of: PayloadFact
    rate_bps: RateBps
    of_scale: Optional[SourceScale] = None
    rounding: Rounding = "down"


class CreditRateAction(_RateOf):
    """Credit rate_bps of a payload amount (e.g. 5% cashback), exactly, rounded by `rounding`."""

    type: Literal["credit_rate"]
    min: Optional[Amount] = None
    max: Optional[Amount] = None


class BonusAction(_Action):
    """Credit a bonus at most once per its definition's period (skipped when already awarded)."""

    type: Literal["bonus"]
    bonus: Annotated[Code, AfterValidator(_known("bonuses", "bonus"))]
    asset: AssetCode
    amount: Amount


class IssueRewardAction(_Action):
    """Issue a reward from the catalog, free of charge."""

    type: Literal["issue_reward"]
    reward: Annotated[Code, AfterValidator(_known("rewards", "reward"))]


class SetStatusAction(_Action):
    """Set the customer's status."""

    type: Literal["set_status"]
    status: Literal[STATUSES]  # type: ignore[valid-type]


class AddTagAction(_Action):
    """Add a tag to the customer."""

    type: Literal["add_tag"]
    tag: Tag


class RemoveTagAction(_Action):
    """Remove a tag from the customer."""

    type: Literal["remove_tag"]
    tag: Tag


class ResetStatusPointsAction(_Action):
    """Set the customer's status points to zero (lifetime points stay)."""

    type: Literal["reset_status_points"]


class DowngradeTierAction(_Action):
    """Move the customer one tier down (status points drop to that tier's minimum)."""

    type: Literal["downgrade_tier"]


class CommissionAction(_RateOf):
    """Pay the referring ambassador rate_bps of a payload amount (its own or its group's rate first)."""

    type: Literal["commission"]


# -- planners ------------------------------------------------------------------------------------
class PlanContext(NamedTuple):
    facts: Facts
    assets: Mapping[str, int]
    bonuses: Mapping[str, BonusDefinition]
    rule_code: str


class _Refused(Exception):
    """The event cannot be processed as an action asks; becomes a Problem at `field`."""

    def __init__(self, field: str, message: str, code: str = InvalidAmount.code) -> None:
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


def _minor(action: Any, ctx: PlanContext, amount: Any) -> int:
    return parse_amount(amount, ctx.assets[action.asset])  # validated against the same assets


def _source(action: _RateOf, ctx: PlanContext) -> tuple[int, int]:
    """The `of` amount in minor units at its scale, or _Refused."""
    value = parse_fact(action.of).read(ctx.facts)  # type: ignore[union-attr]
    if value is ABSENT:
        raise _Refused("of", f"{action.of} is missing from the event's payload")
    try:
        return read_source(value, action.of_scale)
    except InvalidAmount as exc:
        raise _Refused("of", f"{action.of}: {exc.message}") from None


def _plan_credit_rate(action: CreditRateAction, ctx: PlanContext) -> list[Effect]:
    source, scale = _source(action, ctx)
    if source == 0:
        return []
    target_scale = ctx.assets[action.asset]
    amount = rate_amount_minor(source, scale, action.rate_bps, target_scale, action.rounding)
    if action.min is not None:
        amount = max(amount, parse_amount(action.min, target_scale))
    if action.max is not None:
        amount = min(amount, parse_amount(action.max, target_scale))
    if amount > MAX_AMOUNT_MINOR:
        raise _Refused("of", f"the earning is above the maximum of {MAX_AMOUNT_MINOR} minor units",
                       LimitExceeded.code)
    return [Credit(action.asset, amount, ctx.rule_code, "credit_rate")] if amount else []


def _plan_bonus(action: BonusAction, ctx: PlanContext) -> list[Effect]:
    if action.bonus in ctx.facts.customer.bonuses_awarded:
        return []
    period = ctx.bonuses[action.bonus].period
    if period not in BONUS_PERIODS:
        raise _Refused("bonus", f"bonus {action.bonus!r} has an unknown period {period!r}", "invalid_request")
    return [AwardBonus(action.bonus, action.asset, _minor(action, ctx, action.amount), period,
                       period_key(period, ctx.facts.today), ctx.rule_code)]


def _plan_commission(action: CommissionAction, ctx: PlanContext) -> list[Effect]:
    source, scale = _source(action, ctx)
    if source == 0:
        return []
    code = ctx.facts.event.payload.get("referral_code")
    referral = code if isinstance(code, str) and code else None
    return [PayCommission(action.asset, source, scale, action.rate_bps, action.rounding, referral, ctx.rule_code)]


class ActionSpec(NamedTuple):
    model: type[_Action]
    plan: Callable[[Any, PlanContext], list[Effect]]
    example: dict


ACTIONS: dict[str, ActionSpec] = {
    "credit": ActionSpec(CreditAction, lambda a, ctx: [Credit(a.asset, _minor(a, ctx, a.amount), ctx.rule_code)],
                         {"type": "credit", "asset": "POINTS", "amount": "50"}),
    "debit": ActionSpec(DebitAction, lambda a, ctx: [Debit(a.asset, _minor(a, ctx, a.amount), ctx.rule_code)],
                        {"type": "debit", "asset": "CREDITS", "amount": "1.00"}),
    "credit_rate": ActionSpec(CreditRateAction, _plan_credit_rate,
                              {"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 500,
                               "rounding": "down"}),
    "bonus": ActionSpec(BonusAction, _plan_bonus,
                        {"type": "bonus", "bonus": "BIRTHDAY", "asset": "POINTS", "amount": "100"}),
    "issue_reward": ActionSpec(IssueRewardAction, lambda a, ctx: [IssueReward(a.reward, ctx.rule_code)],
                               {"type": "issue_reward", "reward": "FREE_COFFEE"}),
    "set_status": ActionSpec(SetStatusAction, lambda a, ctx: [SetStatus(a.status, ctx.rule_code)],
                             {"type": "set_status", "status": "inactive"}),
    "add_tag": ActionSpec(AddTagAction, lambda a, ctx: [AddTag(a.tag, ctx.rule_code)],
                          {"type": "add_tag", "tag": "vip"}),
    "remove_tag": ActionSpec(RemoveTagAction, lambda a, ctx: [RemoveTag(a.tag, ctx.rule_code)],
                             {"type": "remove_tag", "tag": "new"}),
    "reset_status_points": ActionSpec(ResetStatusPointsAction, lambda a, ctx: [ResetStatusPoints(ctx.rule_code)],
                                      {"type": "reset_status_points"}),
    "downgrade_tier": ActionSpec(DowngradeTierAction, lambda a, ctx: [DowngradeTier(ctx.rule_code)],
                                 {"type": "downgrade_tier"}),
    "commission": ActionSpec(CommissionAction, _plan_commission,
                             {"type": "commission", "asset": "USD", "rate_bps": 1000, "of": "payload.amount"}),
}


# -- validating and planning -------------------------------------------------------------------
class ParsedActions(NamedTuple):
    actions: tuple[_Action, ...]   # empty when there are problems
    problems: tuple[Problem, ...]


class Planned(NamedTuple):
    effects: tuple[Effect, ...]    # empty when there are problems: never a partial plan
    problems: tuple[Problem, ...]


def parse_actions(actions: Any, assets: Mapping[str, int], *, bonuses: Optional[Mapping[str, Any]] = None,
                  rewards: Optional[Any] = None, path: str = "actions") -> ParsedActions:
    """Validate a rule's action list; `bonuses`/`rewards` (codes, or mappings keyed by code)
    are checked when given and not when None."""
    if not isinstance(actions, (list, tuple)):
        return ParsedActions((), (Problem(path, "actions must be a list"),))
    if len(actions) > MAX_ACTIONS:
        return ParsedActions((), (Problem(path, f"a rule has at most {MAX_ACTIONS} actions", LimitExceeded.code),))
    context = {"assets": assets, "bonuses": bonuses, "rewards": rewards}
    parsed: list[_Action] = []
    problems: list[Problem] = []
    for index, raw in enumerate(actions):
        model, found = _parse_action(raw, item_path(path, index), context)
        parsed.extend([model] if model is not None else [])
        problems.extend(found)
    return ParsedActions((), tuple(problems)) if problems else ParsedActions(tuple(parsed), ())


def validate_actions(actions: Any, assets: Mapping[str, int], *, bonuses: Optional[Mapping[str, Any]] = None,
                     rewards: Optional[Any] = None, path: str = "actions") -> list[Problem]:
    return list(parse_actions(actions, assets, bonuses=bonuses, rewards=rewards, path=path).problems)


def _parse_action(raw: Any, path: str, context: dict) -> tuple[Optional[_Action], list[Problem]]:
    if not isinstance(raw, Mapping):
        return None, [Problem(path, 'an action is an object with a "type"')]
    kind = raw.get("type")
    spec = ACTIONS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        shown = "type is required" if kind is None else f"unknown action type {str(kind)[:40]!r}"
        return None, [Problem(key_path(path, "type"), f"{shown}; action types: {', '.join(ACTIONS)}")]
    try:
        return spec.model.model_validate(dict(raw), context=context), []
    except ValidationError as exc:
        return None, _problems(exc, path)


def _problems(exc: ValidationError, path: str) -> list[Problem]:
    found = []
    for error in exc.errors(include_url=False):
        where = path
        for part in error["loc"]:
            where = item_path(where, part) if isinstance(part, int) else key_path(where, str(part))
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        found.append(Problem(where, message))
    return found


def plan(actions: Any, facts: Facts, assets: Mapping[str, int], *,
         bonuses: Optional[Mapping[str, BonusDefinition]] = None, rule_code: str = "",
         path: str = "actions", parsed: Optional[ParsedActions] = None) -> Planned:
    """The effects of a rule's actions on these facts, in the actions' order; or every
    problem (an invalid action, a bonus with no definition, a source amount that is
    missing or not exact). No I/O: the shell applies the effects. `parsed`, when given, is
    `parse_actions` of the same actions, assets and bonuses, done once before."""
    bonuses = bonuses or {}
    if parsed is None:
        parsed = parse_actions(actions, assets, bonuses=bonuses, path=path)
    if parsed.problems:
        return Planned((), parsed.problems)
    ctx = PlanContext(facts, assets, bonuses, rule_code)
    effects: list[Effect] = []
    problems: list[Problem] = []
    for index, action in enumerate(parsed.actions):
        try:
            effects.extend(ACTIONS[action.type].plan(action, ctx))
        except _Refused as refused:
            problems.append(Problem(key_path(item_path(path, index), refused.field), refused.message, refused.code))
    return Planned((), tuple(problems)) if problems else Planned(tuple(effects), ())
