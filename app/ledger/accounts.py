"""Accounts and their four counters (TigerBeetle's model).

Sign convention, decided once: every account is credit-normal. `balance` is
credits_posted - debits_posted; a customer's earnings are credits to its account, and the
brand's `issuance` system account is debited for them, so issuance runs negative by what
the brand has issued. `available` subtracts what pending debits reserve; `pending` is
what pending credits will add once posted.
"""
from __future__ import annotations

from typing import NamedTuple

ACCOUNT_KINDS = ("customer", "system", "wallet", "giftcard")
# Per-brand, per-asset system accounts; they may run negative (no overdraft check).
SYSTEM_ACCOUNTS = ("issuance", "revenue", "breakage", "payout_clearing")


class Counters(NamedTuple):
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def pending(self) -> int:
        return self.credits_pending


class Account(NamedTuple):
    id: int
    brand_id: int
    asset_id: int
    kind: str
    owner: str
    no_overdraft: bool
    tracks_lots: bool
    expiry_days: int | None
    counters: Counters
    last_transfer_id: int | None = None  # head of the account's history chain


def overdraft_forbidden_for(kind: str) -> bool:
    """Holders of value (customers, wallets, gift cards) never go below zero."""
    return kind != "system"
