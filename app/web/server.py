"""Building the Tornado application and running it until SIGINT/SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import signal

import tornado.httpserver
import tornado.web

from ..config import Config
from ..runtime import Runtime
from .routes import routes

log = logging.getLogger(__name__)


def make_app(runtime: Runtime) -> tornado.web.Application:
    return tornado.web.Application(routes(), runtime=runtime, default_handler_class=None)


async def start(runtime: Runtime) -> tornado.httpserver.HTTPServer:
    server = tornado.httpserver.HTTPServer(make_app(runtime), max_body_size=runtime.config.max_body_bytes)
    server.listen(runtime.config.port, runtime.config.host)
    return server


def serve(config: Config) -> int:
    async def main() -> None:
        runtime = Runtime(config)
        server = await start(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("listening on http://%s:%d (database %s)", config.host, config.port, config.database_path)
        await stop.wait()
        server.stop()
        await server.close_all_connections()
        runtime.close()
    asyncio.run(main())
    return 0
