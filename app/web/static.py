"""Swagger UI's static files for /docs, from the swagger-ui-py package (no CDN).

Served like every other response: an `X-Request-Id`, a route name in the request log and
metrics (`/docs/static/{path}`, see `routes.route_names`), and errors in the JSON envelope.
"""
from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

import tornado.web

from .errors import envelope, for_http_status
from .request_ids import new_request_id

# The package's directory, found without importing it: `import swagger_ui` loads its
# framework adapters, Jinja2 and PyYAML, and only its static/ folder is used here.
SWAGGER_UI_DIR = os.path.join(importlib.util.find_spec("swagger_ui").submodule_search_locations[0], "static")


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
