"""Request ids: 16 hex characters, random, one per request (X-Request-Id, log lines)."""
from __future__ import annotations

import os


def new_request_id() -> str:
    # os.urandom directly: uuid4() builds a UUID object around the same 16 bytes, per request.
    return os.urandom(8).hex()
