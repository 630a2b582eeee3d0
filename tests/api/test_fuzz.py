"""Schema-driven fuzzing of every route from our own OpenAPI document (schemathesis).

Bounded: a few examples per operation against one live server on 127.0.0.1. Every answer
must be below 500, and every error must be the JSON envelope.
"""
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.web import openapi
from app.web.routes import API
from tests.api.conftest import ADMIN_KEY, LiveServer

schema = schemathesis.openapi.from_dict(openapi.build(API))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("fuzz"), rate_limit_per_s=0)
    h = {"X-API-Key": ADMIN_KEY}
    httpx.post(server.url + "/v1/brands", json={"code": "shop", "name": "Shop"}, headers=h)
    httpx.post(server.url + "/v1/customers/alice/credit", json={"asset": "CREDITS", "amount": "10.00"},
               headers={**h, "X-Brand": "shop"})
    yield server
    server.stop()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_or_a_bare_error(case, fuzz_server):
    if case.path == "/v1/api-keys/{key_id}" and case.method == "DELETE":
        case.path_parameters = {"key_id": "999999"}  # never revoke the admin key mid-run
    response = case.call(base_url=fuzz_server.url, headers={"X-API-Key": ADMIN_KEY, "X-Brand": "shop"})
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
