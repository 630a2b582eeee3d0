"""Effects: what a matched rule asks the shell to do, as immutable values.

The planner (`actions.plan`) returns these; the shell applies them, in order, in the one
transaction that stores the event. Amounts are integer minor units of the named asset.
`rule_code` names the rule whose action asked for the effect (the transfer's link to its
rule). Each class has a `type` (the name the API shows in `executions[].effects[].type`);
`describe` renders one as JSON with amounts as decimal strings.

Decisions where DESIGN §6a is silent:
- `Credit.action`/`Debit.action` keep the action type that made them (`credit`,
  `credit_rate`, `debit`) so the shell can choose the transfer code (earn, cashback, spend);
- a bonus's period is keyed by `today` (the brand-local date the rules run for):
  `once`, `2026`, `2026-03`, ISO week `2026-W09`, `2026-03-05`; the shell stores awards
  unique on (customer, bonus, period_key) and enforces `max_awards` (a count across
  customers, which only the store can see);
- `PayCommission` carries the source amount and the action's default rate: who the
  ambassador is and its own or its group's rate live in the store, so the shell finds
  them and calls `amount_minor(rate_bps, scale)`, the same arithmetic as `credit_rate`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Mapping, Optional, Union

from ..ledger.money import format_amount
from .rates import rate_amount_minor

BONUS_PERIODS = ("once", "year", "month", "week", "day")


@dataclass(frozen=True, slots=True)
class Credit:
    type: ClassVar[str] = "credit"
    asset: str
    amount_minor: int
    rule_code: str
    action: str = "credit"  # the action type that made it: credit | credit_rate


@dataclass(frozen=True, slots=True)
class Debit:
    type: ClassVar[str] = "debit"
    asset: str
    amount_minor: int
    rule_code: str
    action: str = "debit"


@dataclass(frozen=True, slots=True)
class AwardBonus:
    type: ClassVar[str] = "bonus"
    bonus: str
    asset: str
    amount_minor: int
    period: str       # once | year | month | week | day
    period_key: str   # which period: "once", "2026", "2026-03", "2026-W09", "2026-03-05"
    rule_code: str


@dataclass(frozen=True, slots=True)
class PayCommission:
    type: ClassVar[str] = "commission"
    asset: str
    source_minor: int         # the `of` amount, at source_scale
    source_scale: int
    default_rate_bps: int     # the action's rate: used when neither ambassador nor group has one
    rounding: str
    referral_code: Optional[str]  # payload.referral_code; None: the customer's referrer, if any
    rule_code: str

    def amount_minor(self, rate_bps: int, target_scale: int) -> int:
        """The commission at the rate the shell settled on, in minor units of `asset`."""
        return rate_amount_minor(self.source_minor, self.source_scale, rate_bps, target_scale, self.rounding)


@dataclass(frozen=True, slots=True)
class IssueReward:
    type: ClassVar[str] = "issue_reward"
    reward: str
    rule_code: str


@dataclass(frozen=True, slots=True)
class SetStatus:
    type: ClassVar[str] = "set_status"
    status: str
    rule_code: str


@dataclass(frozen=True, slots=True)
class AddTag:
    type: ClassVar[str] = "add_tag"
    tag: str
    rule_code: str


@dataclass(frozen=True, slots=True)
class RemoveTag:
    type: ClassVar[str] = "remove_tag"
    tag: str
    rule_code: str


@dataclass(frozen=True, slots=True)
class ResetStatusPoints:
    type: ClassVar[str] = "reset_status_points"
    rule_code: str


@dataclass(frozen=True, slots=True)
class DowngradeTier:
    type: ClassVar[str] = "downgrade_tier"
    rule_code: str


Effect = Union[Credit, Debit, AwardBonus, PayCommission, IssueReward, SetStatus, AddTag, RemoveTag,
               ResetStatusPoints, DowngradeTier]


def period_key(period: str, day: date) -> str:
    """Which period of a bonus `day` falls in; an award is unique per (customer, bonus, key)."""
    if period == "once":
        return "once"
    if period == "year":
        return f"{day.year:04d}"
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "week":
        iso_year, iso_week, _ = day.isocalendar()
        return f"{iso_year:04d}-W{iso_week:02d}"
    if period == "day":
        return day.isoformat()
    raise ValueError(f"unknown bonus period {period!r}; periods: {', '.join(BONUS_PERIODS)}")


def describe(effect: Effect, scales: Mapping[str, int]) -> dict[str, Any]:
    """An effect as the API shows it: `type` first, amounts as decimal strings of the asset,
    without `rule_code` (the execution it sits in names the rule)."""
    shown: dict[str, Any] = {"type": effect.type}
    for name in effect.__slots__:  # the fields, in order (effects hold plain values: no deep copy)
        value = getattr(effect, name)
        if name == "amount_minor":
            shown["amount"] = format_amount(value, scales[effect.asset])  # type: ignore[union-attr]
        elif name == "source_minor":
            shown["source_amount"] = format_amount(value, effect.source_scale)  # type: ignore[union-attr]
        elif name not in ("source_scale", "rule_code"):
            shown[name] = value
    return shown
