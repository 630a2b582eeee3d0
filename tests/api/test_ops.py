"""Ops routes: /health, /metrics, /openapi.json, /docs (local assets), request ids, JSON logs."""
import json
import logging
import os
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT


def test_health(live):
    r = httpx.get(live.url + "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] is True and body["schema_version"] >= 2
    assert body["writer_queue_depth"] == 0


def test_metrics_after_traffic(live, shop):
    shop.post("/v1/customers/m/credit", json={"asset": "CREDITS", "amount": "1"})
    text = httpx.get(live.url + "/metrics").text
    assert 'http_requests_total{method="POST",route="/v1/customers/{customer_id}/credit",status="201"} 1.0' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "writer_batch_size_count" in text and "writer_commit_seconds_count" in text
    assert "writer_merged_commands 0.0" in text  # one request at a time: nothing to merge


def test_openapi_documents_every_route(live):
    from app.web.routes import API
    doc = httpx.get(live.url + "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    for template, handler in API:
        assert set(handler.OPS) <= set(doc["paths"][template]), template
    credit = doc["paths"]["/v1/customers/{customer_id}/credit"]["post"]
    assert credit["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CreditIn")
    assert doc["components"]["schemas"]["CreditIn"]["additionalProperties"] is False


def test_docs_are_served_from_local_assets(live):
    page = httpx.get(live.url + "/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in page and "http" not in page.split("<body>")[1].replace(
        "/openapi.json", "")
    assert httpx.get(live.url + "/docs/static/swagger-ui-bundle.js").status_code == 200


def test_request_id_and_json_logs_without_secrets(live, shop, caplog):
    with caplog.at_level(logging.INFO, logger="app.http"):
        r = shop.post("/v1/customers/l/credit", json={"asset": "CREDITS", "amount": "1"})
        assert len(r.headers["X-Request-Id"]) == 16

        def logged() -> bool:
            lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "app.http"]
            return any(line["request_id"] == r.headers["X-Request-Id"] and line["status"] == 201 for line in lines)
        # Tornado writes the response before it calls the log function (on the server's
        # thread): wait for the line rather than race it.
        deadline = time.monotonic() + 10
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert logged()
    assert shop.key not in caplog.text


def test_first_start_writes_the_admin_key_to_a_0600_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_API_KEY",)}
    env.update(DATABASE_PATH=str(tmp_path / "data" / "app.db"), PORT="0", LOG_LEVEL="INFO")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url, log_lines = None, []
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            log_lines.append(line)
            if '"listening"' in line:
                url = json.loads(line)["url"]
        assert url, "".join(log_lines)
        key_file = tmp_path / "data" / "admin_api_key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        key = key_file.read_text().strip()
        assert key not in "".join(log_lines) and str(key_file) in "".join(log_lines)
        assert httpx.get(url + "/v1/brands", headers={"X-API-Key": key}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_changing_admin_api_key_rotates_it(tmp_path):
    from tests.api.conftest import ADMIN_KEY, LiveServer
    first = LiveServer(tmp_path)
    first.stop()
    second = LiveServer(tmp_path, admin_api_key="a-new-admin-key-9876543210")
    try:
        old = httpx.get(second.url + "/v1/brands", headers={"X-API-Key": ADMIN_KEY})
        new = httpx.get(second.url + "/v1/brands", headers={"X-API-Key": "a-new-admin-key-9876543210"})
        assert (old.status_code, new.status_code) == (401, 200)
    finally:
        second.stop()
