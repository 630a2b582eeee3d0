"""Per-key token buckets: `rate_per_s` tokens refill each second up to `burst`."""
from __future__ import annotations

import math
import time


class TokenBuckets:
    MAX_KEYS = 100_000  # a bound on memory; the oldest buckets are dropped past it

    def __init__(self, rate_per_s: int, burst: int, now=time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._now = now
        self._buckets: dict[object, tuple[float, float]] = {}

    def take(self, key: object) -> float:
        """0 when a request may go now; else the seconds until one token is back."""
        if self.rate_per_s <= 0:
            return 0.0
        now = self._now()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.MAX_KEYS:
            self._buckets.pop(next(iter(self._buckets)))
        return (1.0 - tokens) / self.rate_per_s

    @staticmethod
    def retry_after_s(wait_s: float) -> int:
        return max(1, math.ceil(wait_s))
