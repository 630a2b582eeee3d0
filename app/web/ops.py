"""Ops routes without a key: /health."""
from __future__ import annotations

import json

import tornado.web

from ..store.migrations import schema_version


class HealthHandler(tornado.web.RequestHandler):
    async def get(self) -> None:
        runtime = self.settings["runtime"]
        try:
            version = await runtime.readers.read(schema_version)
            ok = True
        except Exception:  # noqa: BLE001 - health reports, never raises
            version, ok = None, False
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok" if ok else "unavailable", "database": ok,
                                "schema_version": version,
                                "writer_queue_depth": runtime.writer.queue_depth}))
