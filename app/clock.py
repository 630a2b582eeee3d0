"""Time as an injectable dependency: the system clock, or a manual one tests move."""
from __future__ import annotations

import threading
import time


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, now_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self._now_ms = now_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def advance(self, *, ms: int = 0, s: int = 0, days: int = 0) -> int:
        with self._lock:
            self._now_ms += ms + s * 1000 + days * 86_400_000
            return self._now_ms
