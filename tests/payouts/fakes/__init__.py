"""Fakes of the payout providers (DESIGN §10): real HTTP on 127.0.0.1, behaving as the
providers document (idempotency, asynchronous status changes, error bodies), with fault
injection a test arms before a request.

`FakeServer` runs a Tornado application on its own thread and event loop, so the code
under test talks to it over a real socket from any loop. State is shared with the test
thread under one lock.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Optional

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets


@dataclass
class Fault:
    """What the next matching request gets instead of (or after) normal handling.

    - `status`/`body`/`headers`: answered before the provider's idempotency layer (nothing
      is executed or remembered), as a load balancer's 500 or a rate limiter's 429 is;
    - `delay_s`: the request is executed, then the answer is held back that long (a client
      with a shorter timeout sees a timeout although the object exists);
    - `after_execute`: with `status`, the request is executed and *then* answered with
      that error, which the idempotency layer remembers (Stripe documents replaying 500s).
    """
    status: int = 500
    body: Optional[dict | str] = None   # a str is sent as an HTML page
    headers: Optional[dict] = None
    delay_s: float = 0.0
    after_execute: bool = False


class FakeServer:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "fake did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def app(self) -> tornado.web.Application:
        raise NotImplementedError

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.server = HTTPServer(self.app())
        self.server.add_sockets(sockets)
        ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.stop()
            await self.server.close_all_connections()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def fail_next(self, status: int = 500, body: Optional[dict | str] = None, *, headers: Optional[dict] = None,
                  times: int = 1, after_execute: bool = False) -> None:
        with self.lock:
            self.faults.extend(Fault(status, body, headers, after_execute=after_execute) for _ in range(times))

    def delay_next(self, delay_s: float) -> None:
        with self.lock:
            self.faults.append(Fault(delay_s=delay_s))

    def take_fault(self) -> Optional[Fault]:
        with self.lock:
            return self.faults.pop(0) if self.faults else None
