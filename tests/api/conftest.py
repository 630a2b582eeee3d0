"""A real listening server on 127.0.0.1 (its own thread and event loop) over a real SQLite file."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from app.clock import ManualClock
from app.runtime import Runtime
from app.web.server import bound_port, prepare_admin_key, start
from tests.conftest import assert_verified, make_config

ADMIN_KEY = "test-admin-key-0123456789"


class LiveServer:
    def __init__(self, tmp_path, clock=None, **overrides) -> None:
        overrides.setdefault("admin_api_key", ADMIN_KEY)
        self.config = make_config(tmp_path, port=0, **overrides)
        self.clock = clock or ManualClock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(30), "server did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def boot() -> None:
            self.runtime = Runtime(self.config, clock=self.clock)
            await prepare_admin_key(self.runtime)
            self.server = await start(self.runtime)
            self.port = bound_port(self.server)
        self.loop.run_until_complete(boot())
        ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.stop()
            await self.server.close_all_connections()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.runtime.close()


class Api:
    """A thin client: `api.post("/v1/...", json=..., key=..., brand=...)` → httpx.Response."""

    def __init__(self, url: str, key: str = ADMIN_KEY, brand: str | None = None) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        self.key, self.brand = key, brand

    def request(self, method: str, path: str, *, key: str | None = None, brand: str | None = None,
                headers: dict | None = None, **kw) -> httpx.Response:
        h = {"X-API-Key": key or self.key}
        if brand or self.brand:
            h["X-Brand"] = brand or self.brand
        h.update(headers or {})
        return self.client.request(method, path, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def serving(tmp_path, clock, **overrides):
    """A live server for a fixture to yield; stopped and its ledger verified afterwards."""
    server = LiveServer(tmp_path, clock, **overrides)
    yield server
    server.stop()
    assert_verified(server.runtime.db)


@pytest.fixture
def live(tmp_path, clock):
    yield from serving(tmp_path, clock)


@pytest.fixture
def admin(live):
    api = Api(live.url)
    yield api
    api.client.close()


@pytest.fixture
def shop(admin, live):
    """Brand `shop` with a brand key; returns an Api bound to that key."""
    assert admin.post("/v1/brands", json={"code": "shop", "name": "Shop"}).status_code == 201
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    api = Api(live.url, key=key)
    yield api
    api.client.close()
