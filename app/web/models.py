"""Request and response models, declared once: they validate input and make /openapi.json.

Amounts are decimal strings at the edge (`"12.50"`); JSON numbers are accepted when exact
(they are parsed as Decimal, never float) and converted with the asset's scale later.
Unknown fields are refused.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from ..ledger.json_text import canonical_json
from ..ledger.money import MAX_AMOUNT_MINOR, MAX_SCALE
from ..ledger.transfers import MAX_DESCRIPTION_CHARS, MAX_METADATA_BYTES


def _amount_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('amount must be a decimal string such as "12.50"')
    return value


Amount = Annotated[Any, BeforeValidator(_amount_value), WithJsonSchema(
    {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,36})(\.[0-9]{1,18})?$", "maxLength": 40,
     "examples": ["12.50"], "description": f"decimal string in units of the asset; at most the asset's"
     f" scale in decimals and {MAX_AMOUNT_MINOR} minor units"})]
CustomerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9@._+:-]{1,128}$")]
AssetCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
def _within_json_bytes(value: dict) -> dict:
    """Free-form JSON is bounded here, on arrival, before anything else handles it."""
    if len(canonical_json(value).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


FreeJson = Annotated[dict[str, Any], AfterValidator(_within_json_bytes),
                     Field(description=f"free-form JSON object, at most {MAX_METADATA_BYTES} bytes")]
Metadata = FreeJson
Description = Annotated[str, StringConstraints(min_length=1, max_length=MAX_DESCRIPTION_CHARS),
                        Field(description="free text shown in movements", examples=["Gemini API call"])]
Timestamp = Annotated[str, Field(description="RFC 3339 UTC time", examples=["2026-01-01T00:00:00.000Z"])]
Decimal_ = Annotated[str, Field(description="decimal string", examples=["99.75"])]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors and pages -----------------------------------------------------------------------
class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Out):
    error: ErrorBody


# -- brands, keys, assets ---------------------------------------------------------------------
class BrandIn(In):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64), Field(
        description="IANA time zone the rules read weekdays, hours, birthdays and bonus periods in",
        examples=["Europe/Paris"])] = "UTC"
    points_expiry_days: Optional[Annotated[int, Field(ge=1, le=36500)]] = Field(
        None, description="POINTS earned expire after this many days (FIFO lots; expiry lowers status points)")


class AssetIn(In):
    code: AssetCode
    scale: Annotated[int, Field(ge=0, le=MAX_SCALE, description=f"decimal places, 0..{MAX_SCALE}: every balance"
                                " counter is a signed 64-bit integer of minor units")]
    kind: Literal["points", "credits", "fiat", "crypto"]
    expiry_days: Optional[Annotated[int, Field(ge=1, le=36500)]] = None


class AssetOut(Out):
    code: str
    scale: int
    kind: str
    expiry_days: Optional[int]


class BrandOut(Out):
    id: int
    code: str
    name: str
    time_zone: str
    created_at: Timestamp
    assets: list[AssetOut]


class ApiKeyIn(In):
    role: Literal["admin", "brand", "readonly"]
    brand: Optional[Annotated[str, StringConstraints(max_length=64)]] = None
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class ApiKeyOut(Out):
    id: int
    role: str
    brand: Optional[str]
    name: str
    prefix: str
    created_at: Timestamp
    revoked_at: Optional[Timestamp]
    key: Optional[str] = Field(None, description="the key itself; only in the response that created it")


# -- customers ---------------------------------------------------------------------------------
def _real_date(value: str) -> str:
    date.fromisoformat(value)  # ValueError for 1990-02-31
    return value


Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CustomerIn(In):
    name: Optional[Annotated[str, StringConstraints(max_length=200)]] = None
    email: Optional[Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]] = None
    status: Literal["active", "inactive", "blocked"] = "active"
    tags: Annotated[list[Tag], Field(max_length=50)] = []
    attributes: FreeJson = {}
    birthdate: Optional[Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"),
                                  AfterValidator(_real_date)]] = None


class CustomerOut(Out):
    customer_id: str
    name: Optional[str]
    email: Optional[str]
    status: str
    tags: list[str]
    attributes: dict[str, Any]
    birthdate: Optional[str]
    created_at: Timestamp
    updated_at: Timestamp


class BalanceOut(Out):
    asset: str
    balance: Decimal_
    available: Annotated[str, Field(description="balance less what pending debits reserve")]
    pending: Annotated[str, Field(description="what pending credits add once posted")]


class BalancesOut(Out):
    customer_id: str
    as_of: Optional[Timestamp]
    balances: list[BalanceOut]


class MovementOut(Out):
    transfer_id: str
    asset: str
    amount: Annotated[str, Field(description="signed: positive into the customer's account")]
    kind: str
    code: str
    counterparty: str
    balance_after: Decimal_
    metadata: dict[str, Any]
    description: Optional[str]
    created_at: Timestamp


# -- money movement ------------------------------------------------------------------------------
class _MoveIn(In):
    """What every request that moves value says."""

    asset: AssetCode
    amount: Amount
    metadata: Metadata = Field(default_factory=dict)
    description: Optional[Description] = None
    pending: bool = False
    timeout_s: Optional[Annotated[int, Field(ge=1, le=365 * 86400)]] = None


class DebitIn(_MoveIn):
    reason: Optional[Code] = Field(None, description="transfer code; default spend")


class CreditIn(_MoveIn):
    reason: Optional[Code] = Field(None, description="transfer code; default earn")
    funding_wallet: Optional[Annotated[str, Field(max_length=64)]] = Field(
        None, description="a funding wallet's id: the value comes out of the wallet instead of issuance"
                          " (422 insufficient_funds when the wallet is short)")


class TransferIn(_MoveIn):
    from_customer: CustomerId
    to_customer: CustomerId
    reason: Optional[Code] = Field(None, description="transfer code; default transfer")


class BatchIn(In):
    atomic: bool = True
    transfers: Annotated[list[TransferIn], Field(min_length=1, max_length=10_000)]


class PostIn(In):
    amount: Optional[Amount] = None


class VoidIn(In):
    pass


class AccountRef(Out):
    kind: str
    owner: str


class TransferOut(Out):
    transfer_id: str
    kind: Literal["posted", "pending", "post_pending", "void_pending", "expire_pending"]
    status: Literal["posted", "pending", "voided", "expired"]
    asset: str
    amount: Decimal_
    code: str
    debit_account: AccountRef
    credit_account: AccountRef
    pending_id: Optional[str]
    timeout_at: Optional[Timestamp]
    metadata: dict[str, Any]
    description: Optional[str]
    created_at: Timestamp


class CustomerTransferOut(TransferOut):
    customer_id: str
    balance: Decimal_
    available: Decimal_
    pending: Decimal_


class BatchResultOut(Out):
    index: int
    ok: bool
    transfer_id: Optional[str] = None
    status: Optional[Literal["posted", "pending"]] = None
    error: Optional[ErrorBody] = None


class BatchOut(Out):
    atomic: bool
    applied: int
    results: list[BatchResultOut]


class HealthOut(Out):
    status: Literal["ok", "unavailable"]
    database: bool
    schema_version: Optional[int]
    writer_queue_depth: int
    scheduler: dict[str, Optional[str]] = Field(description="lease_holder: the process running the scheduler"
                                                " (host:pid:id), and when its lease expires unless renewed")


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """`{"data": [...], "next_cursor": ...}` of `item`."""
    return type(f"{item.__name__}Page", (Out,), {
        "__annotations__": {"data": list[item], "next_cursor": Optional[str]},
        "__module__": __name__})
