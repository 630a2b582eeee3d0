"""Ops routes, no key needed: /health, /livez, /metrics, /openapi.json, /docs (Swagger UI, local files)."""
from __future__ import annotations

from ..jobs.scheduler import LEASE_NAME
from ..store.jobs import lease
from ..store.migrations import schema_version
from ..times import rfc3339
from .base import ApiHandler, Op
from .models import HealthOut

# Swagger UI 5 (the first to read OpenAPI 3.1), files from swagger-ui-py: see static.py.
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rewards ledger API</title>
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


class HealthHandler(ApiHandler):
    OPS = {"get": Op("Liveness and readiness: database reachable, writer queue, schema version",
                     access="public", response=HealthOut, errors=(503,))}

    async def get(self) -> None:
        try:
            version, ok = await self.runtime.readers.read(schema_version), True
            held = await self.runtime.readers.read(lambda c: lease(c, LEASE_NAME))
        except Exception:  # noqa: BLE001 - health reports failure, it never raises
            version, ok, held = None, False, None
        self.reply(200 if ok else 503, {"status": "ok" if ok else "unavailable", "database": ok,
                                        "schema_version": version,
                                        "writer_queue_depth": self.runtime.writer.queue_depth,
                                        "scheduler": {"lease_holder": held["holder"] if held else None,
                                                      "lease_expires_at": rfc3339(held["expires_at_ms"]) if held
                                                      else None}})


class LivenessHandler(ApiHandler):
    OPS = {"get": Op("Liveness: the process answers (no database access)", access="public")}

    async def get(self) -> None:
        self.reply(200, {"status": "ok"})


class MetricsHandler(ApiHandler):
    OPS = {"get": Op("Prometheus metrics (text format)", access="public")}

    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(self.web.metrics.render())


class OpenApiHandler(ApiHandler):
    OPS = {"get": Op("This API's OpenAPI 3.1 document", access="public")}

    async def get(self) -> None:
        self.reply(200, self.web.openapi)


class DocsHandler(ApiHandler):
    OPS = {"get": Op("Swagger UI for /openapi.json", access="public")}

    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(DOCS_HTML)
