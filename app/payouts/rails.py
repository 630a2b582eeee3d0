"""The interface between the payout drain and a rail (DESIGN §8).

The drain calls a rail outside any writer transaction, with a `PayoutOrder` (what to pay,
in the rail's own units) and, for a payout already submitted, the `Submission` it stored.
A rail never decides twice for one payout: it is idempotent on `PayoutOrder.payout_id`
(the provider's idempotency key, or for the chain the stored signed transaction).

Outcomes are values, not exceptions:
- `Submitted(provider_ref, detail)`: handed over (a chain tx hash, a Circle transfer id, a
  Stripe payout id); the drain stores it and later asks `check`;
- `Confirmed(provider_ref)`: final success (the drain posts the hold);
- `Failed(reason, final=True)`: final failure (the drain voids the hold: funds return);
- `Retry(reason, after_s)`: transient (a 5xx, a timeout, rate limiting): try again later,
  the same way (same idempotency key, same signed bytes);
- `Pending(provider_ref)`: submitted and not final yet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol, Union


@dataclass(frozen=True)
class PayoutOrder:
    payout_id: str             # stable, unique: the provider's idempotency key
    brand_id: int
    asset: str                 # the ledger asset code (e.g. USD, CREDITS, ETH)
    amount_minor: int          # in the ledger asset's minor units
    scale: int                 # the ledger asset's scale
    destination: Mapping[str, Any]   # rail-specific, validated by `Rail.check_destination`
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Submitted:
    provider_ref: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    provider_ref: str


@dataclass(frozen=True)
class Confirmed:
    provider_ref: str


@dataclass(frozen=True)
class Failed:
    reason: str
    final: bool = True


@dataclass(frozen=True)
class Retry:
    reason: str
    after_s: float = 5.0


Outcome = Union[Submitted, Pending, Confirmed, Failed, Retry]


class Rail(Protocol):
    name: str  # "chain" | "circle" | "stripe"

    def check_destination(self, destination: Any) -> dict:
        """The destination normalised, or raise app.ledger.errors.InvalidRequest naming the field."""

    async def submit(self, order: PayoutOrder) -> Outcome:
        """Hand the payout over, idempotently on `order.payout_id`."""

    async def check(self, order: PayoutOrder, provider_ref: str) -> Outcome:
        """Where a submitted payout stands now."""


def provider_ref_of(outcome: Outcome) -> Optional[str]:
    return getattr(outcome, "provider_ref", None)


# Optional hooks a rail may add (the drain and the service look for them with `getattr`):
# - `check_asset(asset_code, scale)`: raise InvalidRequest when the rail cannot pay this
#   ledger asset, so that POST /v1/payouts refuses it with 400 before any hold is taken;
# - `async ready() -> bool`: connect and check the provider (the chain rail checks the
#   chain id); a rail not ready is skipped by the drain this tick and nothing is claimed;
# - `async prepare(orders) -> Any` and `stage(conn, order, prepared, now_ms) -> str`: work
#   done when a payout is claimed (pending → submitted). `prepare` runs outside any
#   transaction (the chain rail fetches fees); `stage` runs inside the claiming writer
#   transaction, does no I/O, and returns the provider_ref known before the first submit
#   (the chain rail allocates the nonce, signs and stores the transaction: its hash);
# - `async aclose()`: release connections at shutdown.


def check_asset(rail: Any, asset_code: str, scale: int) -> None:
    """The rail's `check_asset` hook, when it has one."""
    hook = getattr(rail, "check_asset", None)
    if hook is not None:
        hook(asset_code, scale)
