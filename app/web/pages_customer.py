"""What a customer's page shows, for the staff console and the customer portal alike:
profile, balances, tier and progress to the next tier, movements, events, rewards, the
rewards catalog and payouts, each read through the service the API uses for it."""
from __future__ import annotations

from typing import Any

from . import render

MOVEMENTS_SHOWN = 20
EVENTS_SHOWN = 10
REWARDS_SHOWN = 50
PAYOUTS_SHOWN = 50


def tier_progress(loyalty: dict, tiers: list) -> dict[str, Any]:
    """The customer's tier, the next one and how far along the way (0-100 %)."""
    by_code = {t["code"]: t for t in tiers}
    low = by_code[loyalty["tier"]]["min_status_points"] if loyalty["tier"] in by_code else 0
    nxt = by_code.get(loyalty["next_tier"])
    if nxt is None:
        return {**loyalty, "percent": 100 if loyalty["tier"] else 0, "next_name": None,
                "tier_name": by_code[loyalty["tier"]]["name"] if loyalty["tier"] in by_code else None}
    span = max(nxt["min_status_points"] - low, 1)
    percent = max(0, min(100, (loyalty["status_points"] - low) * 100 // span))
    return {**loyalty, "percent": percent, "next_name": nxt["name"],
            "tier_name": by_code[loyalty["tier"]]["name"] if loyalty["tier"] in by_code else None}


async def customer_overview(runtime, web, brand_id: int, customer_id: str, *, profile: bool = True) -> dict:
    """Everything a customer page shows; NotFound for a customer the brand does not have."""
    customer = render.customer(await web.customers.get(brand_id, customer_id))
    balances = [{"asset": r["asset"], **render.balance_fields(r["counters"], r["scale"])}
                for r in await runtime.ledger.balances(brand_id, customer_id)]
    loyalty = await runtime.rules.loyalty(brand_id, customer_id)
    tiers = await runtime.rules.tiers(brand_id)
    movements = [render.movement(r) for r in await runtime.ledger.movements(brand_id, customer_id, None, 0,
                                                                           MOVEMENTS_SHOWN)]
    events = [body for _, body in await runtime.events.customer_events(brand_id, customer_id, 0, EVENTS_SHOWN)]
    rewards = [v for _, v in await runtime.rewards.list_issued(brand_id, customer_id, None, 0, REWARDS_SHOWN)]
    catalog = [v for _, v in await runtime.rewards.list(brand_id, 0, 200) if v["active"]]
    payouts = [v for _, v in await runtime.payouts.list(brand_id, customer_id, None, 0, PAYOUTS_SHOWN)]
    return {"customer": customer if profile else {"customer_id": customer_id}, "customer_id": customer_id,
            "balances": balances, "loyalty": tier_progress(loyalty, [dict(t) for t in tiers]),
            "movements": movements, "events": events, "rewards": rewards, "catalog": catalog,
            "payouts": payouts}
