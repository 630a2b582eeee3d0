"""No log line, ours or a library's, carries an API key or a request header value.

Against a real listening server (whose `start()` installs the redaction), and directly on
the logging layer for loggers and messages the service does not own.
"""
from __future__ import annotations

import logging
import socket

import pytest

from app.logs import install_redaction
from app.services.keys import new_key
from tests.api.conftest import ADMIN_KEY, Api, LiveServer

READ_TIMEOUT_S = 15


@pytest.fixture
def live(tmp_path):
    server = LiveServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def brand_key(live) -> str:
    """A real brand key (`rl_` + 43 characters) issued by the running service."""
    admin = Api(live.url)
    try:
        assert admin.post("/v1/brands", json={"code": "shop", "name": "Shop"}).status_code == 201
        return admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    finally:
        admin.client.close()


def _send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _all_log_text(caplog) -> str:
    """Every record as a handler would see it: the message and the fully formatted line."""
    return "\n".join(rec.getMessage() + "\n" + caplog.handler.format(rec) for rec in caplog.records)


def test_a_malformed_key_header_never_reaches_the_logs(live, brand_key, caplog):
    caplog.set_level(logging.DEBUG)
    for key in (ADMIN_KEY, brand_key):
        for name in (b"X-API-Key", b"Authorization"):
            value = (b"Bearer " if name == b"Authorization" else b"") + key.encode() + b"\x01"
            reply = _send_raw(live.port, b"GET /v1/customers HTTP/1.1\r\nHost: x\r\n" + name + b": " + value
                              + b"\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 400 ")
    text = _all_log_text(caplog) + caplog.text
    assert ADMIN_KEY not in text and brand_key not in text
    assert "\\x01" not in text
    malformed = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("Malformed HTTP message")]
    assert len(malformed) == 4
    assert all("127.0.0.1" in line and "HTTPInputError" in line for line in malformed), malformed


def test_any_logger_masks_known_secrets_and_key_shaped_text(caplog):
    secret = "configured-admin-secret-value"
    install_redaction([secret])
    install_redaction([secret])  # idempotent: a second install changes nothing
    key = new_key()
    other = logging.getLogger("some.library")
    caplog.set_level(logging.DEBUG)
    other.debug("header was %r and %s", secret + "\x01", key)
    other.warning(f"inline {key} and {secret}")
    other.info("mapping %(k)s", {"k": key})
    try:
        raise ValueError(f"bad key {key} / {secret}")
    except ValueError:
        other.exception("failed with %s", secret)
    text = _all_log_text(caplog) + caplog.text
    assert secret not in text and key not in text
    assert key[:7] not in text  # nothing of a key shape survives, not even its start
    assert text.count("[redacted]") >= 8
    assert "ValueError" in text and "failed with" in text and "some.library" in caplog.text


def test_key_like_words_that_are_not_keys_are_left_alone(caplog):
    install_redaction()
    caplog.set_level(logging.INFO)
    logging.getLogger("app.test").info("curl_easy_perform_was_called_with_a_long_name and rl_short")
    assert caplog.records[-1].getMessage() == "curl_easy_perform_was_called_with_a_long_name and rl_short"
