"""The one JSON error envelope and the map from error codes to HTTP statuses.

`{"error": {"code": "...", "message": "...", "details": {...}}}` is produced here and only
here, for domain errors, HTTP-level errors and anything unexpected (which is logged and
answered 500 without a traceback).
"""
from __future__ import annotations

from ..ledger.errors import LedgerError

STATUS = {
    "invalid_request": 400, "invalid_amount": 400, "invalid_json": 400,
    "unauthenticated": 401, "forbidden": 403, "not_found": 404, "method_not_allowed": 405,
    "conflict": 409, "idempotency_key_reused": 409, "already_resolved": 409,
    "body_too_large": 413, "unsupported_media_type": 415,
    "insufficient_funds": 422, "limit_exceeded": 422, "out_of_stock": 422,
    "gift_card_unusable": 422, "gift_card_expired": 422, "gift_card_voided": 422, "batch_failed": 422, "lots_inconsistent": 500,
    "rate_limited": 429, "internal_error": 500, "unavailable": 503, "wallet_seed_unusable": 503,
}


class ApiError(LedgerError):
    """An error of the HTTP layer itself (auth, rate limit, body size, routing)."""

    def __init__(self, code: str, message: str, **details) -> None:
        super().__init__(message, **details)
        self.code = code


def status_of(error: LedgerError) -> int:
    return STATUS.get(error.code, 400)


def envelope(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_TORNADO = {400: ("invalid_request", "bad request"), 403: ("forbidden", "forbidden"),
            404: ("not_found", "no such route"), 405: ("method_not_allowed", "method not allowed"),
            413: ("body_too_large", "request body too large")}


def for_http_status(status: int, reason: str | None) -> tuple[str, str]:
    """Code and message for a bare HTTP status raised by Tornado itself."""
    code, message = _TORNADO.get(status, ("internal_error" if status >= 500 else "invalid_request",
                                          reason or "error"))
    return code, message
