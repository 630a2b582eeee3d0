"""Assets: what a brand counts in (points, credits, fiat, crypto) and at what scale."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidRequest
from .money import MAX_SCALE

ASSET_KINDS = ("points", "credits", "fiat", "crypto")
_ASSET_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}\Z")
MAX_EXPIRY_DAYS = 36500


@dataclass(frozen=True, slots=True)
class Asset:
    id: int
    brand_id: int
    code: str
    scale: int
    kind: str
    expiry_days: int | None


# Every new brand starts with these (code, scale, kind).
DEFAULT_ASSETS = (("POINTS", 0, "points"), ("CREDITS", 2, "credits"), ("USD", 2, "fiat"))


def validate_asset(code: object, scale: object, kind: object, expiry_days: object) -> None:
    if not isinstance(code, str) or not _ASSET_CODE.match(code):
        raise InvalidRequest("asset code must be 1-16 upper-case letters, digits or _", field="code")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= MAX_SCALE:
        raise InvalidRequest(f"scale must be an integer 0..{MAX_SCALE}: balances are 64-bit integers of minor"
                             f" units; hold an 18-decimal token at scale {MAX_SCALE} or less", field="scale",
                             max_scale=MAX_SCALE)
    if kind not in ASSET_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(ASSET_KINDS)}", field="kind")
    if expiry_days is not None and (isinstance(expiry_days, bool) or not isinstance(expiry_days, int)
                                    or not 1 <= expiry_days <= MAX_EXPIRY_DAYS):
        raise InvalidRequest(f"expiry_days must be 1..{MAX_EXPIRY_DAYS} or null", field="expiry_days")
