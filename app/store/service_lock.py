"""Who has the database open: a lock file beside it (`<database>.lock`).

A running service holds a shared lock on it for its whole life; `restore` needs it
exclusively, so it refuses while any service runs on the file (swapping the file under a
running service would lose every write acknowledged after the swap: the service keeps
writing to the replaced file's inode). The lock is the kernel's (flock): it is released
when the process ends, however it ends.
"""
from __future__ import annotations

import fcntl
import os


class DatabaseInUse(RuntimeError):
    """Another process holds the database (the service is running on it)."""


def lock_path(db_path: str) -> str:
    return os.path.abspath(db_path) + ".lock"


def hold_shared(db_path: str) -> int:
    """Hold the shared lock until the returned descriptor is closed (or the process ends)."""
    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def take_exclusive(db_path: str) -> int:
    """The exclusive lock, at once, or DatabaseInUse."""
    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUse(f"a service is running on {db_path}; stop it before restoring") from None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)
