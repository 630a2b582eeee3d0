"""The rails this process can pay through, built from the settings (DESIGN §8).

- `chain`: always (the embedded dev chain without WEB3_PROVIDER_URL, a node with it);
- `circle`: `app.payouts.circle.CircleRail` when CIRCLE_API_KEY is set;
- `stripe`: `app.payouts.stripe_rail.StripeRail` when STRIPE_API_KEY is set.
Provider modules are imported lazily: a rail whose module or library is missing is simply
unavailable (logged once), and a payout naming an unavailable rail is refused with 400.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Optional

from ..config import Config
from .chain import ChainRail

log = logging.getLogger("app.payouts")


class Rails:
    def __init__(self, rails: dict[str, Any]) -> None:
        self._rails = rails

    def get(self, name: Any) -> Optional[Any]:
        return self._rails.get(name) if isinstance(name, str) else None

    def available(self) -> list[str]:
        return list(self._rails)

    def items(self):
        return self._rails.items()

    def close(self) -> None:
        for rail in self._rails.values():
            close = getattr(rail, "close", None)
            if close is not None:
                close()


def _optional(module: str, cls: str, *args: Any) -> Optional[Any]:
    try:
        return getattr(importlib.import_module(f"app.payouts.{module}"), cls)(*args)
    except ImportError as exc:
        log.warning("payout rail %s unavailable: %s", module, exc)
        return None


def build_rails(config: Config, writer, readers) -> Rails:
    rails: dict[str, Any] = {"chain": ChainRail(config, writer, readers)}
    if config.circle_api_key:
        rails["circle"] = _optional("circle", "CircleRail", config.circle_api_url, config.circle_api_key,
                                    config.circle_source_wallet_id)
    if config.stripe_api_key:
        rails["stripe"] = _optional("stripe_rail", "StripeRail", config.stripe_api_url, config.stripe_api_key)
    return Rails({name: rail for name, rail in rails.items() if rail is not None})
