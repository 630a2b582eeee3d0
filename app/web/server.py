"""Building the Tornado application and running it until SIGINT/SIGTERM.

How connections are accepted, capped and timed out is `listener`'s; what may reach a log
line is `app.logs`'s (installed here, before the first request)."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass

import tornado.httpserver
import tornado.web

from ..config import Config
from ..jobs.scheduler import Scheduler
from ..logs import install_redaction
from ..runtime import Runtime
from ..secret_files import read_or_create
from ..services.customers import CustomerService
from ..services.keys import Authenticator, KeyService, bootstrap_admin_key_command, ensure_admin_key_command
from . import openapi
from .base import BODY_READ_FACTOR, NotFoundHandler
from .listener import GuardedHTTPServer, raise_open_files_limit
from .metrics import Metrics
from .ratelimit import TokenBuckets
from .routes import API, route_names, tornado_routes

log = logging.getLogger("app.http")
ADMIN_KEY_FILE = "admin_api_key"
COOKIE_SECRET_FILE = "cookie_secret"


@dataclass
class WebState:
    """What handlers share besides the runtime: auth, key and customer services, limits, metrics."""

    auth: Authenticator
    keys: KeyService
    customers: CustomerService
    buckets: TokenBuckets
    metrics: Metrics
    openapi: dict


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """One JSON line per request: never a header, a key or a body."""
    seconds = handler.request.request_time()
    status = handler.get_status()
    route = handler.settings["route_names"].get(type(handler), "unmatched")
    web = handler.settings["web"]
    web.metrics.observe_request(route, handler.request.method, status, seconds)
    if log.isEnabledFor(logging.INFO):
        principal = getattr(handler, "principal", None)
        log.info(json.dumps({"event": "request", "request_id": getattr(handler, "request_id", None),
                             "method": handler.request.method, "route": route, "status": status,
                             "duration_ms": round(seconds * 1000, 2),
                             "key_id": principal.key_id if principal else None}))


def make_app(runtime: Runtime) -> tornado.web.Application:
    auth = Authenticator(runtime.readers)
    cfg = runtime.config
    web = WebState(auth, KeyService(runtime.writer, runtime.readers, runtime.clock, auth),
                   CustomerService(runtime.writer, runtime.readers, runtime.clock),
                   TokenBuckets(cfg.rate_limit_per_s, cfg.rate_limit_burst),
                   Metrics(runtime.writer, runtime.readers, lambda: runtime.scheduler, lambda: runtime.payout_drain,
                           lambda: runtime.deposits),
                   openapi.build(API))
    # xsrf_cookies: every POST of a page carries the _xsrf field (ApiHandler opts out: the API
    # authenticates by a key header, never by a cookie).
    return tornado.web.Application(tornado_routes(), runtime=runtime, web=web, route_names=route_names(),
                                   default_handler_class=NotFoundHandler, log_function=_log_request,
                                   cookie_secret=cookie_secret(cfg), xsrf_cookies=True,
                                   xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax"})


def cookie_secret(config: Config) -> str:
    """COOKIE_SECRET, or the one generated into the data folder (0600) on first start: kept, so
    that a restart signs nobody out and voids no portal link."""
    if config.cookie_secret:
        return config.cookie_secret
    return read_or_create(os.path.join(config.data_dir, COOKIE_SECRET_FILE), lambda: secrets.token_urlsafe(48))


async def prepare_admin_key(runtime: Runtime) -> str | None:
    """Register ADMIN_API_KEY; or, with none set and no admin key yet, create one and write it
    to a 0600 file in the data folder. Returns that file's path when one was written."""
    now = runtime.clock.now_ms()
    if runtime.config.admin_api_key:
        await runtime.writer.submit(ensure_admin_key_command(runtime.config.admin_api_key, now))
        return None
    key = await runtime.writer.submit(bootstrap_admin_key_command(now))
    if key is None:
        return None
    path = os.path.join(runtime.config.data_dir, ADMIN_KEY_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
    return path


async def start(runtime: Runtime) -> tornado.httpserver.HTTPServer:
    """Listen on HOST:PORT with the connection limits of the settings; returns the server."""
    cfg = runtime.config
    install_redaction([cfg.admin_api_key, cfg.payout_private_key, cfg.wallet_seed])
    raise_open_files_limit(cfg.http_max_connections)
    # Bodies up to 4x the limit are read and refused with a 413 envelope; beyond that
    # Tornado answers 400 itself (with our envelope, see listener) and closes the connection.
    server = GuardedHTTPServer(make_app(runtime), max_body_size=cfg.max_body_bytes * BODY_READ_FACTOR, xheaders=False,
                               idle_connection_timeout=cfg.http_header_timeout_s,
                               body_timeout=cfg.http_body_timeout_s, max_connections=cfg.http_max_connections)
    server.listen(cfg.port, cfg.host)
    return server


def bound_port(server: tornado.httpserver.HTTPServer) -> int:
    return next(iter(server._sockets.values())).getsockname()[1]


def serve(config: Config) -> int:
    # before anything of the service can log
    install_redaction([config.admin_api_key, config.payout_private_key, config.wallet_seed])

    async def main() -> None:
        runtime = Runtime(config)
        written = await prepare_admin_key(runtime)
        if written:
            log.warning(json.dumps({"event": "admin_key_created", "path": written,
                                    "note": "read it once, then keep it safe"}))
        server = await start(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runtime.scheduler = Scheduler(runtime)
        runtime.scheduler.start()
        log.warning(json.dumps({"event": "listening", "url": f"http://{config.host}:{bound_port(server)}",
                                "database": config.database_path, "started_at": time.time()}))
        await stop.wait()
        server.stop()
        await runtime.scheduler.stop()
        await server.close_all_connections()
        runtime.close()
    asyncio.run(main())
    return 0
