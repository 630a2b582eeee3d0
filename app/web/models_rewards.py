"""Request and response models of the rewards catalog routes (DESIGN §6a)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, StringConstraints

from ..rules.facts import CODE_PATTERN
from .models import Amount, AssetCode, In, Out, Timestamp

# The codes rules name in an `issue_reward` action: the same pattern.
RewardCode = Annotated[str, StringConstraints(pattern=f"^{CODE_PATTERN}$"),
                       Field(description="the reward's code, unique in the brand", examples=["FREE_COFFEE"])]
MAX_STOCK = 10**9


class RewardIn(In):
    code: RewardCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    cost_asset: AssetCode
    cost_amount: Annotated[Amount, Field(description='decimal string in units of cost_asset; "0" is a free reward')]
    stock: Optional[Annotated[int, Field(ge=0, le=MAX_STOCK, description="how many can be issued; null: unlimited")]] = None
    per_customer_limit: Optional[Annotated[int, Field(
        ge=1, le=MAX_STOCK, description="how many one customer may hold (cancelled ones do not count); null: no limit")]] = None
    valid_days: Optional[Annotated[int, Field(
        ge=1, le=36500, description="an issued reward expires this many days after issue; null: never")]] = None
    active: bool = Field(True, description="only active rewards can be redeemed or issued by rules")


class RewardOut(Out):
    code: str
    name: str
    cost_asset: str
    cost_amount: str
    stock: Optional[int]
    per_customer_limit: Optional[int]
    valid_days: Optional[int]
    active: bool
    created_at: Timestamp


class RedeemIn(In):
    reward: RewardCode


class ResolveIn(In):
    """`use` and `cancel` take no fields."""


class CustomerRewardOut(Out):
    id: str
    reward: str
    name: str
    customer_id: str
    status: Literal["issued", "used", "cancelled", "expired"]
    redemption_code: Annotated[str, Field(description="random and unguessable: what the holder shows")]
    source: Annotated[str, Field(description="redeem (the customer paid) or what issued it, e.g. a rule")]
    event_id: Optional[str]
    cost_asset: str
    cost_amount: Annotated[str, Field(description='what was charged; "0" for a free issue')]
    charge_transfer_id: Optional[str]
    refund_transfer_id: Optional[str]
    issued_at: Timestamp
    expires_at: Optional[Timestamp]
    resolved_at: Optional[Annotated[str, Field(description="when it was used, cancelled or expired")]]
