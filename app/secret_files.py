"""Secrets generated on first start into the data folder (mode 0600) and kept there, so a
restart finds the same value (the cookie key, the funding wallets' HD seed)."""
from __future__ import annotations

import os
import tempfile
from typing import Callable


def read_or_create(path: str, make: Callable[[], str]) -> str:
    """The text in `path`; on first use `make()` is written there (0600, never overwritten:
    two processes starting at once agree on the first one written).

    The value is written to a temporary file, synced, then linked into place and the folder
    synced: a crash leaves the whole value or no file, never an empty one. An existing empty
    file is an error (ValueError), not a value."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        return _create(path, make())
    if not text:
        raise ValueError(f"{path} is empty: restore it from a backup (or remove it to generate a new one)")
    return text


def _create(path: str, value: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".new-", dir=folder)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)  # fails if another process linked its value first
        except FileExistsError:
            return read_or_create(path, lambda: value)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return value
    finally:
        os.unlink(temp)
