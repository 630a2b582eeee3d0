"""Secrets generated on first start into the data folder (mode 0600) and kept there, so a
restart finds the same value (the cookie key, the funding wallets' HD seed)."""
from __future__ import annotations

import os
from typing import Callable


def read_or_create(path: str, make: Callable[[], str]) -> str:
    """The text in `path`; on first use `make()` is written there (0600, never overwritten:
    two processes starting at once agree on the first one written)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(make() + "\n")
    return read_or_create(path, make)
