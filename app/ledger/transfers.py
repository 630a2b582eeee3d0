"""Transfers: what one posting does to the two accounts' counters, and what forbids it.

Kinds (TigerBeetle's two-phase model):
- `posted`: moves `amount` at once.
- `pending`: reserves `amount` (debits_pending / credits_pending) until it is resolved.
- `post_pending` (amount ≤ the pending amount; the rest is released), `void_pending`,
  `expire_pending`: resolve one pending transfer, exactly once.
Transfers are immutable; a correction is a new transfer.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

from .accounts import Account, Counters
from .errors import InsufficientFunds, InvalidRequest, LedgerError, LimitExceeded
from .json_text import canonical_json
from .money import MAX_COUNTER_MINOR, format_amount

KINDS = ("posted", "pending", "post_pending", "void_pending", "expire_pending")
RESOLUTIONS = {"post": "post_pending", "void": "void_pending", "expire": "expire_pending"}
GENESIS_HASH = "0" * 64
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")
MAX_METADATA_BYTES = 4096
MAX_DESCRIPTION_CHARS = 500
MAX_KEY_CHARS = 200
# A hold times out after at most this long (a year); longer holds are refused.
MAX_TIMEOUT_S = 365 * 86400


class TransferSpec(NamedTuple):
    """What a caller asks for: one debit account, one credit account, one amount."""

    brand_id: int
    asset_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str
    pending: bool = False
    timeout_s: int | None = None
    metadata: dict[str, Any] | None = None  # None: no metadata
    idempotency_key: str | None = None
    # For a debit of a lot-tracked account: consume this lot first (used by expiry).
    from_lot_id: int | None = None
    # For a credit that creates a lot: explicit expiry instead of the asset's expiry_days.
    expires_at_ms: int | None = None
    description: str | None = None  # free text shown in movements


def validate_spec(spec: TransferSpec) -> str:
    """Raise `InvalidRequest` for a spec no account state could make valid; else return the
    metadata's canonical JSON."""
    if not _CODE.match(spec.code):
        raise InvalidRequest("code must be lower-case letters, digits and _ (≤ 32)", code=spec.code)
    if spec.debit_account_id == spec.credit_account_id:
        raise InvalidRequest("debit and credit accounts must differ")
    if spec.amount <= 0:
        raise InvalidRequest("amount must be greater than zero")
    if spec.timeout_s is not None and (not spec.pending or not 1 <= spec.timeout_s <= MAX_TIMEOUT_S):
        raise InvalidRequest(f"timeout_s applies to pending transfers and must be 1..{MAX_TIMEOUT_S}")
    if spec.idempotency_key is not None and not 1 <= len(spec.idempotency_key) <= MAX_KEY_CHARS:
        raise InvalidRequest(f"idempotency key must be 1..{MAX_KEY_CHARS} characters")
    if spec.description is not None and not 1 <= len(spec.description) <= MAX_DESCRIPTION_CHARS:
        raise InvalidRequest(f"description must be 1..{MAX_DESCRIPTION_CHARS} characters", field="description")
    metadata = canonical_json(spec.metadata) if spec.metadata else "{}"
    if len(metadata.encode()) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return metadata


def apply_transfer(kind: str, dr: Counters, cr: Counters, amount: int,
                   pending_amount: int = 0) -> tuple[Counters, Counters]:
    """Counters of the debit and credit accounts after one transfer of `kind`.

    For a resolution, `pending_amount` is the amount the pending transfer reserved and
    `amount` is what gets posted (post) or released (void/expire: amount == pending_amount).
    """
    if kind == "posted":
        return (Counters(dr.debits_posted + amount, dr.credits_posted, dr.debits_pending, dr.credits_pending),
                Counters(cr.debits_posted, cr.credits_posted + amount, cr.debits_pending, cr.credits_pending))
    if kind == "pending":
        return (Counters(dr.debits_posted, dr.credits_posted, dr.debits_pending + amount, dr.credits_pending),
                Counters(cr.debits_posted, cr.credits_posted, cr.debits_pending, cr.credits_pending + amount))
    posted = amount if kind == "post_pending" else 0
    return (Counters(dr.debits_posted + posted, dr.credits_posted, dr.debits_pending - pending_amount,
                     dr.credits_pending),
            Counters(cr.debits_posted, cr.credits_posted + posted, cr.debits_pending,
                     cr.credits_pending - pending_amount))


def posting_problem(account: Account, after: Counters) -> str | None:
    """Why `account` may not take on counters `after` ("insufficient_funds" or "limit_exceeded"),
    or None when it may. Funds come first: a debit beyond the balance is refused for that,
    whatever it would do to the 64-bit counters."""
    if account.no_overdraft and after.debits_posted + after.debits_pending > after.credits_posted:
        return InsufficientFunds.code
    if after.credits_posted > MAX_COUNTER_MINOR or after.debits_posted > MAX_COUNTER_MINOR \
            or after.credits_pending > MAX_COUNTER_MINOR or after.debits_pending > MAX_COUNTER_MINOR:
        return LimitExceeded.code
    return None


def posting_refusal(problem: str, account: Account, after: Counters, asset_code: str,
                    scale: int) -> LedgerError:
    """The error for `posting_problem`'s answer, in the asset's units and names (never an
    internal id): what is available and what was asked, or which account is full."""
    if problem == InsufficientFunds.code:
        requested = (after.debits_posted + after.debits_pending
                     - account.counters.debits_posted - account.counters.debits_pending)
        return insufficient_funds(asset_code, scale, account.counters.available, requested,
                                  account.owner if account.kind == "customer" else None)
    return LimitExceeded(
        "the transfer would take an account past its lifetime limit of 2^63-1 minor units"
        " (README, Money model)", asset=asset_code, account=f"{account.kind}:{account.owner}",
        limit=format_amount(MAX_COUNTER_MINOR, scale))


def insufficient_funds(asset_code: str, scale: int, available_minor: int, requested_minor: int,
                       customer: str | None = None) -> InsufficientFunds:
    details = {"asset": asset_code, "available": format_amount(max(available_minor, 0), scale),
               "requested": format_amount(requested_minor, scale)}
    if customer is not None:
        details["customer_id"] = customer
    return InsufficientFunds("insufficient funds", **details)


class ChainFields(NamedTuple):
    """The content a transfer's hash covers, in a fixed order; a transfer with a description
    adds it at the end (`chain_content`), so rows without one hash as they always did."""

    id: int
    brand_id: int
    asset_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    code: str
    pending_id: int | None
    timeout_at_ms: int | None
    idempotency_key: str | None
    metadata: str
    created_at_ms: int
    dr_prev_id: int | None = None
    cr_prev_id: int | None = None


def chain_content(fields: tuple, description: str | None) -> tuple:
    return fields if description is None else (*fields, description)


def chain_hash(prev_hash: str, f: ChainFields | tuple) -> str:
    """SHA-256 over the previous hash and this transfer's content (the ChainFields values, in
    that order, joined by |)."""
    text = prev_hash + "|" + "|".join(map(str, f))
    return hashlib.sha256(text.encode()).hexdigest()
