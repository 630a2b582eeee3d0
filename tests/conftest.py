"""Shared fixtures: a real SQLite file in a temp dir, a runtime with a manual clock."""
from __future__ import annotations

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from app.clock import ManualClock  # noqa: E402
from app.config import load_config  # noqa: E402
from app.runtime import Runtime  # noqa: E402
from app.store.sqlite import connect  # noqa: E402
from app.store.verify import verify  # noqa: E402


def make_config(tmp_path, **overrides):
    return load_config(environ={}, env_file=None, database_path=str(tmp_path / "app.db"), **overrides)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def runtime(tmp_path, clock):
    rt = Runtime(make_config(tmp_path), clock=clock)
    yield rt
    rt.close()
    assert_verified(rt.db)


def assert_verified(db) -> None:
    conn = connect(db, readonly=True)
    try:
        assert verify(conn) == []
    finally:
        conn.close()


@pytest.fixture
async def brand(runtime):
    return await runtime.ledger.create_brand("shop", "Small Shop")


def listening_port(log_path) -> int | None:
    """The port a `serve` process logged in its "listening" line, or None (not yet)."""
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if '"listening"' in line:
                return int(json.loads(line)["url"].rsplit(":", 1)[1])
    return None
