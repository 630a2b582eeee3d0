"""The one route table."""
from __future__ import annotations

from .ops import HealthHandler


def routes() -> list:
    return [
        (r"/health", HealthHandler),
    ]
