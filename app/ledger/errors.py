"""The error hierarchy of the ledger and the services.

Each class carries a stable machine `code`; the web layer maps codes to HTTP statuses in
one place (`app.web.errors`). `details` is JSON-safe data that says what was wrong.
"""
from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base class: a request the ledger refused, with a stable code and details."""

    code = "ledger_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(LedgerError):
    """The request is malformed or names values outside the allowed ranges."""

    code = "invalid_request"


class InvalidAmount(InvalidRequest):
    """An amount is not a positive decimal within the asset's scale and the maximum."""

    code = "invalid_amount"


class NotFound(LedgerError):
    """The resource does not exist, or belongs to another brand (never said which)."""

    code = "not_found"


class Conflict(LedgerError):
    """The request conflicts with the current state (e.g. a duplicate name)."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """The idempotency key was used before with a different request."""

    code = "idempotency_key_reused"


class AlreadyResolved(Conflict):
    """A pending transfer was already posted, voided or expired: it resolves exactly once."""

    code = "already_resolved"


class InsufficientFunds(LedgerError):
    """The debit would take an overdraft-forbidden account below zero available."""

    code = "insufficient_funds"


class LimitExceeded(LedgerError):
    """A size limit was hit: a balance past the 64-bit range, a batch too large, …"""

    code = "limit_exceeded"


class OutOfStock(LedgerError):
    """A reward has no stock left to issue."""

    code = "out_of_stock"


class BatchFailed(LedgerError):
    """An atomic batch was refused as a whole; `details.items` says which items failed
    (`failures` holds the same as (index, error) pairs)."""

    code = "batch_failed"
    failures: tuple = ()


class Unavailable(LedgerError):
    """The service cannot take the request now (writer queue full, shutting down)."""

    code = "unavailable"
