"""/docs in a real headless Chromium: Swagger UI renders every operation of /openapi.json (3.1)."""
from __future__ import annotations

import json
import logging
import re

import httpx

from app.web.routes import API

OPERATIONS = ".opblock-summary-path"
FAILED = ".errors-wrapper, .version-pragma"  # Swagger UI's own error panels


def test_docs_page_shows_every_operation(live, page):
    requested, failed = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto(live.url + "/docs")
    page.wait_for_selector(f"{OPERATIONS}, {FAILED}")  # whichever Swagger UI renders first

    text = page.inner_text("body").replace("\u200b", "")  # Swagger UI breaks paths with zero-width spaces
    assert "does not specify a valid version field" not in text
    assert page.query_selector(FAILED) is None, page.inner_text(FAILED)
    shown = set(page.eval_on_selector_all(OPERATIONS, "els => els.map(e => e.getAttribute('data-path'))"))
    assert shown == {template for template, _ in API}
    for path in ("/v1/customers/{customer_id}/credit", "/v1/transfers/{transfer_id}/post", "/v1/api-keys"):
        assert path in text
    assert "Rewards" in page.title()
    # Everything came from this server: no CDN, no other host.
    assert requested and all(url.startswith(live.url + "/") for url in requested), requested
    assert failed == []


def test_docs_static_files_have_a_request_id_and_a_route_name(live, caplog):
    with caplog.at_level(logging.INFO, logger="app.http"):
        js = httpx.get(live.url + "/docs/static/swagger-ui-bundle.js")
        missing = httpx.get(live.url + "/docs/static/no-such-file.js")
        # The server logs a request just after sending its response; it serves the next one
        # only after that, so once this answer is here both lines above have been logged.
        metrics = httpx.get(live.url + "/metrics").text
    assert js.status_code == 200 and js.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    for r in (js, missing):
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["X-Request-Id"])  # as ApiHandler's
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "app.http"]
    logged = {line["request_id"]: line["route"] for line in lines}
    assert logged[js.headers["X-Request-Id"]] == logged[missing.headers["X-Request-Id"]] == "/docs/static/{path}"
    assert 'route="/docs/static/{path}",status="200"' in metrics
