"""Lots: how expiring value is held, consumed first-to-expire, and expired.

A credit of an expiring asset into a lot-tracked account creates a lot. A posted debit
consumes lots in order of expiry (then age). Expiry moves what remains of an expired lot
to `breakage`, but never more than the account's available balance: value reserved by a
pending debit stays until the hold resolves, so no balance goes negative through expiry.
Invariant: an account's live lots sum to its posted balance.
"""
from __future__ import annotations

from typing import NamedTuple

from .errors import LedgerError

MS_PER_DAY = 86_400_000


class Lot(NamedTuple):
    id: int
    remaining: int
    expires_at_ms: int


class Take(NamedTuple):
    lot_id: int
    amount: int
    expires_at_ms: int


class LotsInconsistent(LedgerError):
    """The lots of an account do not cover its balance: the lot invariant is broken."""

    code = "lots_inconsistent"


def plan_consumption(lots: list[Lot], amount: int, first_lot_id: int | None = None) -> list[Take]:
    """Which lots a debit of `amount` consumes: `first_lot_id` first, then by expiry."""
    ordered = sorted(lots, key=lambda lot: (lot.id != first_lot_id, lot.expires_at_ms, lot.id))
    takes: list[Take] = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            takes.append(Take(lot.id, take, lot.expires_at_ms))
            left -= take
    if left:
        raise LotsInconsistent("lots do not cover the debit", missing=str(left))
    return takes


def expirable(lot_remaining: int, available: int) -> int:
    """How much of an expired lot may move to breakage now (never below zero available)."""
    return max(0, min(lot_remaining, available))


def lot_expiry_ms(now_ms: int, expiry_days: int) -> int:
    return now_ms + expiry_days * MS_PER_DAY
