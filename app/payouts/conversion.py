"""Pure configuration values of the payouts: chain asset mappings and payout limits.

Both are read from settings (`CHAIN_ASSETS`, `PAYOUT_LIMITS`) and checked once, at start-up:
a mapping whose ratio cannot convert a ledger minor unit into a whole number of chain base
units is refused there, never rounded later. No I/O here.

`CHAIN_ASSETS`: comma-separated `CODE:SCALE=TOKEN:RATE`:
- `CODE:SCALE` the ledger asset (a brand's asset with that code *and* scale is payable);
- `TOKEN` `native` (ETH, 18 decimals), `dev` (the embedded dev chain's ERC-20, 6 decimals)
  or `0x<address>@<decimals>` (an ERC-20 on the configured node);
- `RATE` how many whole chain units one whole ledger unit is worth (a decimal).
Base units per minor unit = RATE × 10^decimals / 10^SCALE, which must be a whole number ≥ 1.

`PAYOUT_LIMITS`: comma-separated `CODE=MIN:MAX:DAILY` in units of the asset (decimal
strings; `-` for none): the smallest and largest payout, and what one customer may pay
out in any 24 hours (payouts that failed or were canceled do not count). An asset not
listed has no limit besides the balance.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Optional

NATIVE_DECIMALS = 18
DEV_TOKEN_DECIMALS = 6
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}\Z")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")


class ChainAsset(NamedTuple):
    code: str
    scale: int
    token: Optional[str]    # None: native ETH; "dev": the embedded dev token; else its address
    decimals: int
    base_per_minor: int     # chain base units (wei, token units) per ledger minor unit

    def to_base_units(self, amount_minor: int) -> int:
        return amount_minor * self.base_per_minor


class PayoutLimit(NamedTuple):
    code: str
    min_units: Optional[Decimal]
    max_units: Optional[Decimal]
    daily_units: Optional[Decimal]

    def in_minor(self, scale: int) -> tuple[Optional[Decimal], Optional[Decimal], Optional[Decimal]]:
        """The limits in minor units of an asset of `scale` (exact Decimals, compared exactly)."""
        unit = Decimal(10) ** scale
        return tuple(None if v is None else v * unit for v in (self.min_units, self.max_units, self.daily_units))


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a decimal") from None
    if not value.is_finite() or value <= 0 or "e" in text.lower():
        raise ValueError(f"{what} {text!r} must be a plain positive decimal")
    return value


def parse_chain_assets(raw: str) -> tuple[ChainAsset, ...]:
    found: dict[str, ChainAsset] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        left, sep, right = entry.partition("=")
        code, _, scale_text = left.partition(":")
        token_text, _, rate_text = right.rpartition(":")
        if not sep or not _CODE.match(code) or not scale_text.isdigit() or not token_text:
            raise ValueError(f"entry {entry!r} is not CODE:SCALE=TOKEN:RATE")
        scale = int(scale_text)
        if scale > 18:
            raise ValueError(f"entry {entry!r}: scale must be 0..18")
        if token_text == "native":
            token, decimals = None, NATIVE_DECIMALS
        elif token_text == "dev":
            token, decimals = "dev", DEV_TOKEN_DECIMALS
        else:
            address, _, decimals_text = token_text.partition("@")
            if not _ADDRESS.match(address) or not decimals_text.isdigit() or int(decimals_text) > 36:
                raise ValueError(f"entry {entry!r}: token must be native, dev or 0x<40 hex>@<decimals>")
            token, decimals = address, int(decimals_text)
        per_minor = _decimal(rate_text, f"entry {entry!r}: rate") * Decimal(10) ** decimals / Decimal(10) ** scale
        if per_minor != per_minor.to_integral_value() or per_minor < 1:
            raise ValueError(f"entry {entry!r}: one minor unit would be {per_minor} base units; the ratio must"
                             " convert every minor unit into a whole number of base units")
        if code in found:
            raise ValueError(f"asset {code} is mapped twice")
        found[code] = ChainAsset(code, scale, token, decimals, int(per_minor))
    return tuple(found.values())


def parse_payout_limits(raw: str) -> tuple[PayoutLimit, ...]:
    found: dict[str, PayoutLimit] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        code, sep, rest = entry.partition("=")
        parts = rest.split(":")
        if not sep or not _CODE.match(code) or len(parts) != 3:
            raise ValueError(f"entry {entry!r} is not CODE=MIN:MAX:DAILY")
        values = [None if p.strip() == "-" else _decimal(p.strip(), f"entry {entry!r}: limit") for p in parts]
        lo, hi, daily = values
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"entry {entry!r}: MIN is above MAX")
        if code in found:
            raise ValueError(f"asset {code} has two limits")
        found[code] = PayoutLimit(code, lo, hi, daily)
    return tuple(found.values())
