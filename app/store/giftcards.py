"""Gift cards (seed 001, issue 11): each card is a ledger account of kind 'giftcard'.

Issuing a card funds its account from the brand's `issuance` (a `giftcard` transfer); every
redemption is a `giftcard` transfer card → customer (partial ones too); voiding moves what
remains back to `issuance` (the value was never handed to anyone: the issue is undone);
expiry moves what remains to `breakage` (value sold or given and never used), as expired
lots do. The card account never goes below zero (its kind forbids overdraft, in Python and
in SQL), so concurrent redemptions can never take more than the card holds. Card rows are
never deleted; a card is voided or expires once.

The code is shown once, at creation: only its SHA-256 and its last four characters are
stored. A code carries 100 random bits, so the hash cannot be reversed by trying codes,
and a lookup is one indexed read of the hash.
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from typing import Optional

from ..ledger.assets import Asset
from ..ledger.errors import LedgerError, NotFound
from ..ledger.money import format_amount
from ..ledger.transfers import TransferSpec, insufficient_funds
from ..times import rfc3339
from .accounts import ensure_account, load_account
from .brands import asset_by_id
from .customers import customer_id_of
from .expiry import SweepResult, _each
from .referrals import random_code
from .transfers import create_transfer

CODE_CHARS = 20  # 100 random bits (DESIGN: at least 80)
_NORMALISED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}\Z")
# What people mistype when they copy a code from paper (Crockford's decoding rules).
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
STATUSES = ("active", "voided", "expired")


class GiftCardNotFound(NotFound):
    """No card of the brand has this code (a wrong guess: the web layer counts these)."""


class GiftCardUnusable(LedgerError):
    """The card cannot be redeemed any more (422)."""

    code = "gift_card_unusable"


class GiftCardExpired(GiftCardUnusable):
    """The card is past its expires_at: what remained went (or goes) to breakage."""

    code = "gift_card_expired"


class GiftCardVoided(GiftCardUnusable):
    """The card was voided: what remained went back to issuance."""

    code = "gift_card_voided"


def normalise(code: object) -> Optional[str]:
    """The code as stored (upper case, without the dashes and spaces it is shown with), or None
    when it cannot be a code at all."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = re.sub(r"[\s-]", "", code).upper().translate(_ALIASES)
    return text if _NORMALISED.match(text) else None


def code_hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


def shown(normalised: str) -> str:
    """`ABCDE-FGHJK-MNPQR-STVWX`: how the code is printed."""
    return "-".join(normalised[i:i + 5] for i in range(0, len(normalised), 5))


_CARD = ("SELECT g.*, s.code AS asset, s.scale, a.credits_posted - a.debits_posted AS balance"
         " FROM gift_cards g JOIN assets s ON s.id = g.asset_id JOIN accounts a ON a.id = g.account_id")


def card_view(row: sqlite3.Row) -> dict:
    return {"id": str(row["id"]), "last4": row["last4"], "asset": row["asset"],
            "amount": format_amount(row["initial_amount"], row["scale"]),
            "balance": format_amount(row["balance"], row["scale"]), "status": row["status"],
            "expires_at": rfc3339(row["expires_at_ms"]), "created_at": rfc3339(row["created_at_ms"]),
            "resolved_at": rfc3339(row["resolved_at_ms"])}


def _card(conn: sqlite3.Connection, where: str, *args) -> sqlite3.Row:
    row = conn.execute(_CARD + f" WHERE {where}", args).fetchone()
    if row is None:
        raise GiftCardNotFound("no such gift card")
    return row


def _spec(card_id: int, asset: Asset, dr: int, cr: int, amount: int, action: str, code: str = "giftcard",
          **extra) -> TransferSpec:
    return TransferSpec(brand_id=asset.brand_id, asset_id=asset.id, debit_account_id=dr, credit_account_id=cr,
                        amount=amount, code=code, metadata={"gift_card_id": str(card_id), "action": action, **extra})


def create_card(conn: sqlite3.Connection, asset: Asset, amount_minor: int, expires_at_ms: Optional[int],
                now_ms: int) -> tuple[dict, str]:
    """Issue a card funded from issuance; (its view, the code as shown, once)."""
    assert amount_minor > 0 and (expires_at_ms is None or expires_at_ms > now_ms)
    code = random_code(CODE_CHARS)
    # The id is taken first so that the account can be named after the card; the writer is
    # the only connection that writes, so nothing else can take it meanwhile.
    card_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM gift_cards").fetchone()[0]
    account = ensure_account(conn, asset, "giftcard", f"card-{card_id}", now_ms)
    issuance = ensure_account(conn, asset, "system", "issuance", now_ms)
    funded = create_transfer(conn, _spec(card_id, asset, issuance.id, account.id, amount_minor, "issue"), now_ms)
    conn.execute("INSERT INTO gift_cards (id, brand_id, asset_id, account_id, code_hash, last4, initial_amount,"
                 " status, expires_at_ms, fund_transfer_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'active',"
                 " ?, ?, ?)", (card_id, asset.brand_id, asset.id, account.id, code_hash(code), code[-4:],
                               amount_minor, expires_at_ms, funded.id, now_ms))
    return card_view(_card(conn, "g.id = ?", card_id)), shown(code)


def card_by_hash(conn: sqlite3.Connection, brand_id: int, hashed: str) -> dict:
    return card_view(_card(conn, "g.code_hash = ? AND g.brand_id = ?", hashed, brand_id))


def list_cards(conn: sqlite3.Connection, brand_id: int, status: Optional[str], after_id: int,
               limit: int) -> list[tuple[int, dict]]:
    where, args = "g.brand_id = ? AND g.id > ?", [brand_id, after_id]
    if status is not None:
        where += " AND g.status = ?"
        args.append(status)
    rows = conn.execute(_CARD + f" WHERE {where} ORDER BY g.id LIMIT ?", (*args, limit)).fetchall()
    return [(row["id"], card_view(row)) for row in rows]


def _usable(row: sqlite3.Row, now_ms: int) -> None:
    if row["status"] == "voided":
        raise GiftCardVoided("this gift card was voided", gift_card_id=str(row["id"]))
    if row["status"] == "expired" or (row["expires_at_ms"] is not None and row["expires_at_ms"] <= now_ms):
        raise GiftCardExpired("this gift card has expired", gift_card_id=str(row["id"]),
                              expired_at=rfc3339(row["expires_at_ms"]))


def redeem(conn: sqlite3.Connection, brand_id: int, hashed: str, customer: str, amount_minor: Optional[int],
           now_ms: int) -> dict:
    """Move `amount_minor` (None: all that remains) from the card to an existing customer."""
    row = _card(conn, "g.code_hash = ? AND g.brand_id = ?", hashed, brand_id)
    customer_row = customer_id_of(conn, brand_id, customer)
    _usable(row, now_ms)
    amount = row["balance"] if amount_minor is None else amount_minor
    if amount <= 0 or amount > row["balance"]:
        raise insufficient_funds(row["asset"], row["scale"], row["balance"], max(amount, 0))
    asset = asset_by_id(conn, row["asset_id"])
    target = ensure_account(conn, asset, "customer", customer, now_ms, customer_row)
    moved = create_transfer(conn, _spec(row["id"], asset, row["account_id"], target.id, amount, "redeem"), now_ms)
    counters = moved.cr_after
    return {"gift_card": card_view(_card(conn, "g.id = ?", row["id"])), "customer_id": customer,
            "asset": row["asset"], "amount": format_amount(amount, row["scale"]), "transfer_id": str(moved.id),
            "customer_balance": format_amount(counters.balance, row["scale"])}


def _close(conn: sqlite3.Connection, row: sqlite3.Row, status: str, to_system: str, code: str,
           now_ms: int) -> None:
    """Move what remains on the card to a system account and mark it `status`, in one go."""
    account = load_account(conn, row["account_id"])
    remaining = account.counters.available
    transfer_id = None
    if remaining > 0:
        asset = asset_by_id(conn, row["asset_id"])
        system = ensure_account(conn, asset, "system", to_system, now_ms)
        transfer_id = create_transfer(conn, _spec(row["id"], asset, account.id, system.id, remaining,
                                                  status, code), now_ms).id
    conn.execute("UPDATE gift_cards SET status = ?, resolved_at_ms = ?, close_transfer_id = ? WHERE id = ?",
                 (status, now_ms, transfer_id, row["id"]))


def void(conn: sqlite3.Connection, brand_id: int, card_id: int, now_ms: int) -> dict:
    """Void an active card: what remains goes back to issuance. Voiding a voided card is
    answered with it as it is (the same outcome); an expired one is 422."""
    row = _card(conn, "g.id = ? AND g.brand_id = ?", card_id, brand_id)
    if row["status"] == "expired":
        raise GiftCardExpired("this gift card has expired; its remaining value went to breakage",
                              gift_card_id=str(card_id))
    if row["status"] == "active":
        _close(conn, row, "voided", "issuance", "giftcard", now_ms)
    return card_view(_card(conn, "g.id = ?", card_id))


def expire_due(conn: sqlite3.Connection, now_ms: int, limit: int) -> SweepResult:
    """Cards past expiry: what remains goes to breakage (an `expiry` transfer), at most `limit`."""
    rows = conn.execute(_CARD + " WHERE g.status = 'active' AND g.expires_at_ms IS NOT NULL"
                        " AND g.expires_at_ms <= ? ORDER BY g.expires_at_ms, g.id LIMIT ?", (now_ms, limit)).fetchall()
    return _each(conn, rows, lambda row: _close(conn, row, "expired", "breakage", "expiry", now_ms))
