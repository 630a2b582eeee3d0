"""Request ids: 16 hex characters, one per request (X-Request-Id, log lines).

Unique, not secret: 8 random hex characters drawn once per process, then a counter. (A
random id per request costs a getrandom() system call each: 3% of the event loop's time.)
"""
from __future__ import annotations

import itertools
import os

_PREFIX = os.urandom(4).hex()
_NEXT = itertools.count(1).__next__  # atomic under the GIL


def new_request_id() -> str:
    return f"{_PREFIX}{_NEXT() & 0xFFFFFFFF:08x}"
