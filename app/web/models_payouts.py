"""Request and response models of the payout routes (DESIGN §8)."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field

from .models import Amount, AssetCode, CustomerId, In, Out, Timestamp

Status = Literal["pending", "submitted", "confirmed", "failed", "canceled"]


class PayoutIn(In):
    customer_id: CustomerId
    asset: AssetCode
    amount: Amount
    rail: Annotated[str, Field(max_length=16, description="chain | circle | stripe (those configured)")]
    destination: Annotated[dict[str, Any], Field(description='chain: {"address": "0x…"} (EIP-55 checksummed);'
                                                 ' circle: {"address", "chain"}; stripe: {"account": "acct_…"}')]


class CancelIn(In):
    """Cancel takes no fields."""


class PayoutOut(Out):
    id: Annotated[str, Field(description="a UUID; also the provider's idempotency key")]
    status: Status
    customer_id: Annotated[Optional[str], Field(description="the customer paid out; null for a wallet's withdrawal")]
    wallet_id: Annotated[Optional[str], Field(description="the funding wallet withdrawn from; null for a customer's")]
    asset: str
    amount: Annotated[str, Field(description="decimal string in units of the asset")]
    rail: str
    destination: dict[str, Any]
    hold_transfer_id: Annotated[str, Field(description="the pending transfer customer (or wallet) → payout_clearing:"
                                                       " posted when confirmed, voided when failed or canceled")]
    provider_ref: Optional[str]
    tx_hash: Optional[str]
    provider_id: Optional[str]
    attempts: int
    last_error: Optional[str]
    created_at: Timestamp
    updated_at: Timestamp
