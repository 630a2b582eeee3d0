"""Connection hardening against a real listening server: slow and half-open clients, the
open-connection cap, Tornado's own 400s, and accept() running out of file descriptors.

Every test is bounded: a fixed number of sockets, socket timeouts on every read, and a
deadline on every wait; none asserts how long something took.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, LiveServer
from tests.conftest import ROOT, listening_port

READ_TIMEOUT_S = 15
HALF_OPEN_SOCKETS = 60
CAP = 20


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by READ_TIMEOUT_S)."""
    sock.settimeout(READ_TIMEOUT_S)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def assert_envelope(raw: bytes, status: int, code: str, details: dict | None = None) -> dict[str, str]:
    got_status, headers, body = split_response(raw)
    assert got_status == status, raw[:200]
    assert headers["content-type"].startswith("application/json")
    assert int(headers["content-length"]) == len(body)
    assert headers["connection"].lower() == "close"
    assert headers["x-request-id"]
    doc = json.loads(body)
    assert doc["error"]["code"] == code
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"]
    assert doc["error"]["details"] == (details or {})
    return headers


@pytest.fixture
def guarded(tmp_path):
    server = LiveServer(tmp_path, http_max_connections=CAP, http_header_timeout_s=1, http_body_timeout_s=1)
    yield server
    server.stop()


def test_half_open_connections_are_capped_then_timed_out(guarded):
    """60 slowloris sockets against a cap of 20: the first 20 are admitted and closed silently by
    the header timeout; a connection beyond the cap gets the 503 envelope and is closed without
    the server waiting for its request; afterwards the server answers other clients."""
    sockets = []
    try:
        for i in range(HALF_OPEN_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=READ_TIMEOUT_S)
            if i % 2 == 0:  # half send an unfinished request, half send nothing at all
                sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        replies = [read_until_closed(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    # The kernel hands connections over in order and nothing else is connected: the first
    # CAP are admitted, and an admitted half-open connection gets no reply, just a close.
    assert replies[:CAP] == [b""] * CAP
    refused = [raw for raw in replies[CAP:] if raw]
    assert refused, "no connection beyond the cap was refused"
    for raw in refused:
        assert_envelope(raw, 503, "unavailable")
    with httpx.Client(base_url=guarded.url, timeout=READ_TIMEOUT_S) as client:
        assert client.get("/livez").status_code == 200


def test_a_stalled_body_is_cut_by_the_body_timeout(guarded):
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=READ_TIMEOUT_S) as sock:
        # With a valid key (without one, the 401 comes before the body is read at all).
        sock.sendall(b"POST /v1/brands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-API-Key: " + ADMIN_KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"code\":")
        assert read_until_closed(sock) == b""
    with httpx.Client(base_url=guarded.url, timeout=READ_TIMEOUT_S) as client:
        assert client.get("/livez").status_code == 200


@pytest.mark.parametrize("key,status,code", [(None, 401, "unauthenticated"), ("wrong-key-0123456789", 401, "unauthenticated"),
                                             (ADMIN_KEY, 413, "body_too_large")])
def test_refused_before_the_body_is_read(live, key, status, code):
    """The key and the declared size are checked before a body byte is read: an unknown
    client cannot make the server hold megabytes, and a large body is refused at once."""
    # Declared past what the server would read at all (4 x MAX_BODY_BYTES): answered at once.
    head = (b"POST /v1/brands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + (b"X-API-Key: " + key.encode() + b"\r\n" if key else b"")
            + b"Content-Length: %d\r\n\r\n" % (live.config.max_body_bytes * 4 + 1))
    with socket.create_connection(("127.0.0.1", live.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(head)  # and no body at all: the answer cannot be waiting for it
        raw = read_until_closed(sock)
    assert_envelope(raw, status, code, {"max_bytes": live.config.max_body_bytes} if status == 413 else None)


MALFORMED = {
    "control character in a header": b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Thing: a\x01b\r\n\r\n",
    "header line without a colon": b"GET /livez HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    "Content-Length and Transfer-Encoding": (b"POST /v1/brands HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_tornado_400s_carry_the_json_envelope(live, request_bytes, caplog):
    """Requests Tornado refuses before any handler runs still get the envelope, and a request
    log line with the same request id."""
    caplog.set_level(logging.INFO, logger="app.http")
    with socket.create_connection(("127.0.0.1", live.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(request_bytes)
        raw = read_until_closed(sock)
    headers = assert_envelope(raw, 400, "invalid_request")
    deadline = time.monotonic() + READ_TIMEOUT_S  # the log line may follow the answer
    while time.monotonic() < deadline:
        lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "app.http"]
        mine = [line for line in lines if line.get("request_id") == headers["x-request-id"]]
        if mine:
            break
        time.sleep(0.01)
    # Ambiguous framing reaches our handler first (its body streams), which refuses it there.
    assert mine and mine[0]["status"] == 400 and mine[0]["route"] in ("malformed", "/v1/brands")


# -- accept() out of file descriptors -------------------------------------------------------------

OPEN_FILES_LIMIT = 64
CLIENT_SOCKETS = 200
EXHAUSTED_S = 2.5  # how long the test keeps the server out of descriptors (a duration, not a check)


def _limit_open_files() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))


def _wait_for(predicate, deadline_s: float, what: str):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _livez(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_out_of_file_descriptors_sheds_load_quietly_and_recovers(tmp_path):
    """The service with RLIMIT_NOFILE 64 and 200 clients: accept() fails with EMFILE; the
    server pauses accepting, logs a line with a count (not a traceback per failure), and
    answers again once the clients are gone."""
    log_path = tmp_path / "server.log"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ROOT, "DATABASE_PATH": str(tmp_path / "app.db"),
           "PORT": "0", "ADMIN_API_KEY": ADMIN_KEY, "LOG_LEVEL": "WARNING", "READER_POOL_SIZE": "1"}
    with open(log_path, "wb") as log_file:
        child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=tmp_path, env=env,
                                 stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=_limit_open_files)
    clients: list[socket.socket] = []
    try:
        port = _wait_for(lambda: child.poll() is None and listening_port(log_path), 30, "the server to listen")
        for _ in range(CLIENT_SOCKETS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            clients.append(sock)
            sock.connect_ex(("127.0.0.1", port))  # EINPROGRESS once the listen backlog is full
        time.sleep(EXHAUSTED_S)
        for sock in clients:
            sock.close()
        clients.clear()
        _wait_for(lambda: _livez(port), 30, "/livez to answer after the clients left")
        assert child.poll() is None
    finally:
        for sock in clients:
            sock.close()
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    assert "Traceback" not in text, text[:3000]
    assert len(lines) <= 10, text[:3000]
    failures = [json.loads(line) for line in lines if '"accept_failed"' in line]
    assert failures and failures[0]["errno"] == "EMFILE" and failures[0]["failures"] >= 1, text[:3000]
