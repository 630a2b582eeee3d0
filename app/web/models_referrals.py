"""Request and response models of the referral network and gift card routes (seed 001)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, StringConstraints

from ..rules.facts import CODE_PATTERN
from .models import Amount, AssetCode, CustomerId, In, Out, Timestamp

Bps = Annotated[int, Field(ge=0, le=10000, description="basis points: 500 is 5%")]
GroupCode = Annotated[str, StringConstraints(pattern=f"^{CODE_PATTERN}$"),
                      Field(description="the group's code, unique in the brand", examples=["north"])]
ReferralCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"), Field(
    description="what customers give in payload.referral_code; unique in the brand whatever its case",
    examples=["JANE-2026"])]
ObjectId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}$"), Field(examples=["1"])]
TargetUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s<>\"]+$", max_length=2000), Field(
    description="where a scan leads, with ?ref=<referral code> added; none: a landing page of ours",
    examples=["https://shop.example/welcome"])]


class GroupIn(In):
    code: GroupCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    commission_bps: Optional[Bps] = Field(None, description="the commission of its ambassadors that have no"
                                          " rate of their own; null: the rule's rate")


class GroupOut(Out):
    code: str
    name: str
    commission_bps: Optional[int]
    ambassadors: int
    created_at: Timestamp


class AmbassadorIn(In):
    customer_id: Annotated[CustomerId, Field(description="the customer who becomes an ambassador (created on"
                                             " first use)")]
    group: Optional[GroupCode] = Field(None, description="the group's code; an ambassador is in at most one")
    commission_bps: Optional[Bps] = Field(None, description="its own rate; null: its group's, else the rule's")
    referral_code: Optional[ReferralCode] = Field(None, description="null: a random 12-character code")


class AmbassadorOut(Out):
    id: str
    customer_id: str
    group: Optional[str]
    commission_bps: Optional[int]
    effective_commission_bps: Optional[int] = Field(description="its own rate, else its group's; null: the rule's")
    referral_code: str
    referred_customers: int
    created_at: Timestamp


class QrIn(In):
    ambassador_id: ObjectId
    target_url: Optional[TargetUrl] = None


class QrOut(Out):
    code: str
    ambassador_id: str
    referral_code: str
    target_url: Optional[str]
    scans: int
    last_scan_at: Optional[Timestamp]
    created_at: Timestamp
    url: Annotated[str, Field(description="the public URL the QR code holds: GET /q/{code}")]
    svg_url: str
    png_url: str


# -- gift cards ---------------------------------------------------------------------------------
class GiftCardIn(In):
    asset: AssetCode
    amount: Amount
    expires_at: Optional[Annotated[str, Field(description="RFC 3339; what remains then goes to breakage",
                                              examples=["2027-01-01T00:00:00Z"])]] = None


class GiftCardOut(Out):
    id: str
    code: Optional[str] = Field(None, description="the full code: only in the response that created the card"
                                " (a replay shows null)")
    last4: str
    asset: str
    amount: Annotated[str, Field(description="the value it was issued with")]
    balance: str
    status: Literal["active", "voided", "expired"]
    expires_at: Optional[Timestamp]
    created_at: Timestamp
    resolved_at: Optional[Timestamp]


class GiftCardRedeemIn(In):
    customer_id: CustomerId
    amount: Optional[Amount] = Field(None, description="null: all that remains on the card")


class GiftCardRedeemOut(Out):
    gift_card: GiftCardOut
    customer_id: str
    asset: str
    amount: str
    transfer_id: str
    customer_balance: str


class VoidIn(In):
    """Voiding takes no fields."""
