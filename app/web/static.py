"""Swagger UI's static files for /docs, from the swagger-ui-py package (no CDN).

Served like every other response: an `X-Request-Id`, a route name in the request log and
metrics (`/docs/static/{path}`, see `routes.route_names`), and errors in the JSON envelope.
"""
from __future__ import annotations

import json
from typing import Any

import tornado.web

from ..resources import package_data_dir
from .errors import envelope, for_http_status
from .request_ids import new_request_id

# swagger-ui-py's static/ folder (in the one-file executable, its bundled copy).
SWAGGER_UI_DIR = package_data_dir("swagger_ui")


class DocsStaticHandler(tornado.web.StaticFileHandler):
    def initialize(self, path: str, default_filename: str | None = None) -> None:
        super().initialize(path, default_filename)
        self.request_id = new_request_id()
        self.set_header("X-Request-Id", self.request_id)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # send_error() cleared the headers set so far: set the ones an error needs here.
        self.set_header("X-Request-Id", self.request_id)
        if status_code == 405:
            self.set_header("Allow", "GET, HEAD")
        code, message = for_http_status(status_code, self._reason)
        if status_code == 404:
            message = "no such file"
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(envelope(code, message), separators=(",", ":")))
