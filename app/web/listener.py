"""The HTTP listener: how connections are accepted, capped, timed out and, when Tornado
answers by itself, answered.

`GuardedHTTPServer` is Tornado's `HTTPServer` with its own accept loop in place of
`tornado.netutil.add_accept_handler`, because that one re-raises any `accept()` error out of
the IOLoop callback: out of file descriptors (EMFILE), the listening socket stays readable,
so the loop spins and writes one traceback per iteration. This module owns:

- the accept loop: on EMFILE / ENFILE / ENOBUFS / ENOMEM (or any other unexpected accept
  error) it stops accepting for `ACCEPT_PAUSE_S`, then resumes; waiting clients stay in the
  kernel's listen backlog. It logs one line per `LOG_INTERVAL_S` at most, with a count of the
  failures since the previous line, never a traceback;
- the connection cap: a connection accepted while `max_connections` are open (idle keep-alive
  ones included) gets a fixed 503 `unavailable` envelope with `Connection: close` and is
  closed at once, without its request being read;
- the header and body timeouts (`idle_connection_timeout` also bounds the idle time between
  keep-alive requests), kept by one sweep over the open connections instead of Tornado's
  timer per request;
- the JSON envelope on the 400 Tornado writes by itself for a malformed request (see
  `_EnvelopeStream`);
- `raise_open_files_limit()`: the soft RLIMIT_NOFILE raised to the hard limit at start.

TLS is not handled here (the service sits behind a proxy for that), so `ssl_options` is refused.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import time
from email.utils import formatdate
from typing import Any, Callable, Iterable

import tornado.httpserver
import tornado.httputil
import tornado.ioloop
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

from .errors import envelope
from .request_ids import new_request_id

log = logging.getLogger("app.listener")  # this module's own events: limits, accept failures, refusals
request_log = logging.getLogger("app.http")  # one line per request, as ApiHandler writes them

ACCEPT_PAUSE_S = 0.1  # how long accepting stops after accept() failed
LOG_INTERVAL_S = 10.0  # at most one line per kind of trouble per interval
ACCEPT_BATCH_MAX = 128  # connections accepted per readiness event, so other callbacks still run
OPEN_FILES_RESERVE = 64  # descriptors kept for SQLite, the event loop and the rest of the process
# Tornado's whole reply to a malformed request (tornado/http1connection.py, _read_message_inner).
TORNADO_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"


def fixed_response(status: int, reason: str, code: str, message: str, request_id: str,
                   headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response carrying the error envelope, after which the server closes."""
    body = json.dumps(envelope(code, message), separators=(",", ":")).encode()
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}",
             "Content-Type: application/json; charset=utf-8", f"Content-Length: {len(body)}",
             "Connection: close", f"X-Request-Id: {request_id}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin1") + body


class _EveryInterval:
    """Counts events and says when a log line is due: at most one per `interval_s`."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.count = 0
        self.last_line_at_s: float | None = None

    def due(self) -> int | None:
        """Count one event; the number counted since the last line when a line is due now."""
        self.count += 1
        now_s = time.monotonic()
        if self.last_line_at_s is not None and now_s - self.last_line_at_s < self.interval_s:
            return None
        count, self.count, self.last_line_at_s = self.count, 0, now_s
        return count


class _EnvelopeStream(IOStream):
    """An IOStream that turns Tornado's bare 400 into the service's error envelope.

    For a malformed request (a control character or no colon in a header line, both
    Content-Length and Transfer-Encoding, ...) Tornado's HTTP1Connection writes exactly
    `TORNADO_BAD_REQUEST`, with no body, and closes; no hook of Tornado's runs in between.
    That byte string is not something the application can write (every response of ours has
    headers), so replacing it here, at the one place it passes, is exact and needs no copy
    of Tornado's parser."""

    def write(self, data: bytes | memoryview) -> Any:
        if len(data) == len(TORNADO_BAD_REQUEST) and bytes(data) == TORNADO_BAD_REQUEST:
            request_id = new_request_id()
            data = fixed_response(400, "Bad Request", "invalid_request",
                                  "the request is not well-formed HTTP/1.1 (a header line, a control "
                                  "character or the message framing); nothing was processed", request_id)
            # The request log line that ApiHandler would have written (Tornado has already
            # logged why, without the request's content: see app/logs.py).
            request_log.info(json.dumps({"event": "request", "request_id": request_id, "method": None,
                                         "route": "malformed", "status": 400, "duration_ms": None,
                                         "key_id": None}))
        return super().write(data)


class _Acceptor:
    """Accepts connections on one listening socket; pauses instead of spinning when accept fails."""

    def __init__(self, sock: socket.socket, on_connection: Callable[[socket.socket, Any], None],
                 failures: _EveryInterval) -> None:
        self.sock = sock
        self.on_connection = on_connection
        self.failures = failures
        self.io_loop = IOLoop.current()
        self.watching = False
        self.stopped = False
        self.resume_handle: object | None = None

    def start(self) -> None:
        self.io_loop.add_handler(self.sock, self._on_readable, IOLoop.READ)
        self.watching = True

    def stop(self) -> None:
        """Stop for good (the server is stopping); the caller closes the socket."""
        self.stopped = True
        if self.resume_handle is not None:
            self.io_loop.remove_timeout(self.resume_handle)
            self.resume_handle = None
        if self.watching:
            self.io_loop.remove_handler(self.sock)
            self.watching = False

    def _on_readable(self, fd: Any, events: int) -> None:
        for _ in range(ACCEPT_BATCH_MAX):
            if self.stopped or not self.watching:
                return
            try:
                connection, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # every waiting connection is accepted
            except ConnectionAbortedError:
                continue  # the client gave up while it waited in the backlog
            except OSError as exc:
                self._pause(exc)
                return
            self.on_connection(connection, address)

    def _pause(self, exc: OSError) -> None:
        """Stop watching the socket for ACCEPT_PAUSE_S: out of descriptors or memory, it stays
        readable, and accepting again at once would only fail again."""
        self.io_loop.remove_handler(self.sock)
        self.watching = False
        self.resume_handle = self.io_loop.call_later(ACCEPT_PAUSE_S, self._resume)
        count = self.failures.due()
        if count is not None:
            name = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else type(exc).__name__
            hint = ("out of file descriptors or memory" if exc.errno in
                    (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM) else "unexpected accept error")
            log.warning(json.dumps({"event": "accept_failed", "errno": name, "failures": count,
                                    "interval_s": LOG_INTERVAL_S, "pause_ms": round(ACCEPT_PAUSE_S * 1000),
                                    "note": f"{hint}: accepting pauses, waiting clients stay queued"}))

    def _resume(self) -> None:
        self.resume_handle = None
        if not self.stopped:
            self.start()


class _Watched(tornado.httputil.HTTPMessageDelegate):
    """One request's delegate, passed through, telling the server when the request's
    headers and body have arrived so that its deadline moves on (see `GuardedHTTPServer`)."""

    __slots__ = ("inner", "server", "conn")

    def __init__(self, inner: tornado.httputil.HTTPMessageDelegate, server: "GuardedHTTPServer",
                 conn: object) -> None:
        self.inner, self.server, self.conn = inner, server, conn

    def headers_received(self, start_line: Any, headers: Any) -> Any:
        self.server._deadline(self.conn, self.server.body_timeout_s)
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.server._deadlines.pop(self.conn, None)  # read in full: the handler's time is its own
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.server._deadlines.pop(self.conn, None)
        self.inner.on_connection_close()


class GuardedHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer with the accept loop, connection cap and envelope 400s above,
    and the header and body timeouts kept by one sweep.

    Takes HTTPServer's arguments plus `max_connections`; `idle_connection_timeout` (the
    header timeout, which also bounds an idle keep-alive connection) and `body_timeout`
    have HTTPServer's meaning. Tornado would arm and cancel a timer for every request's
    headers and again for its body (10% of the event loop's time under load); here each
    connection has one deadline, moved as the request advances, and a sweep every
    `SWEEP_INTERVAL_S` closes the connections past theirs (so a timeout fires up to that
    much late)."""

    SWEEP_INTERVAL_S = 0.5

    def initialize(self, request_callback: Any, *, max_connections: int, **kwargs: Any) -> None:  # type: ignore[override]
        if kwargs.get("ssl_options") is not None:
            raise ValueError("GuardedHTTPServer serves plain HTTP; terminate TLS in front of it")
        super().initialize(request_callback, **kwargs)
        self.max_connections = max_connections
        self._accept_failures = _EveryInterval(LOG_INTERVAL_S)
        self._refusals = _EveryInterval(LOG_INTERVAL_S)
        self.header_timeout_s = self.conn_params.header_timeout
        self.body_timeout_s = self.conn_params.body_timeout
        self.conn_params.header_timeout = self.conn_params.body_timeout = None  # the sweep keeps them
        self._deadlines: dict[object, float] = {}
        self._sweeper: tornado.ioloop.PeriodicCallback | None = None

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Listen on `sockets` with this module's accept loop (TCPServer.listen and bind/start come here)."""
        for sock in sockets:
            acceptor = _Acceptor(sock, self._on_connection, self._accept_failures)
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = acceptor.stop
            acceptor.start()
        if self._sweeper is None:
            self._sweeper = tornado.ioloop.PeriodicCallback(self._sweep, self.SWEEP_INTERVAL_S * 1000)
            self._sweeper.start()

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        super().stop()

    def start_request(self, server_conn: object, request_conn: Any) -> tornado.httputil.HTTPMessageDelegate:
        self._deadline(server_conn, self.header_timeout_s)  # waiting for (the next) headers
        return _Watched(super().start_request(server_conn, request_conn), self, server_conn)

    def on_close(self, server_conn: object) -> None:
        self._deadlines.pop(server_conn, None)
        super().on_close(server_conn)

    def _deadline(self, conn: object, timeout_s: float | None) -> None:
        if timeout_s is None:
            self._deadlines.pop(conn, None)
        else:
            self._deadlines[conn] = time.monotonic() + timeout_s

    def _sweep(self) -> None:
        now = time.monotonic()
        late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
        for conn in late:
            del self._deadlines[conn]
            conn.stream.close()  # what Tornado's own timeouts do: the pending read fails, the connection ends

    def _on_connection(self, connection: socket.socket, address: Any) -> None:
        if len(self._connections) >= self.max_connections:
            self._refuse(connection)
            return
        try:
            stream = _EnvelopeStream(connection, max_buffer_size=self.max_buffer_size,
                                     read_chunk_size=self.read_chunk_size)
            self.handle_stream(stream, address)
        except Exception as exc:  # noqa: BLE001 - one bad connection must not stop the accept loop
            connection.close()
            log.error(json.dumps({"event": "connection_setup_failed", "error": repr(exc)[:300]}))

    def _refuse(self, connection: socket.socket) -> None:
        """Answer 503 and close without reading the request. Whatever the client has already
        sent is discarded first, so that closing sends a FIN after the reply, not a reset that
        could destroy it. The reply fits any socket send buffer: one non-blocking send."""
        try:
            with contextlib.suppress(OSError):  # the client may be gone: then nobody is answered
                connection.setblocking(False)
                with contextlib.suppress(OSError):  # nothing sent yet (EAGAIN)
                    connection.recv(65536)
                connection.send(fixed_response(503, "Service Unavailable", "unavailable",
                                               "too many open connections; retry shortly", new_request_id(),
                                               {"Retry-After": "1"}))
                connection.shutdown(socket.SHUT_WR)
        finally:
            connection.close()
        count = self._refusals.due()
        if count is not None:
            log.warning(json.dumps({"event": "connections_refused", "refused": count,
                                    "interval_s": LOG_INTERVAL_S, "max_connections": self.max_connections}))


def raise_open_files_limit(max_connections: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (best effort) and log the outcome; warn
    when the limit leaves less than `max_connections` plus a reserve for the rest of the process."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    was = soft
    # An unlimited hard limit (macOS) is not a valid soft limit; ask for a large finite one.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning(json.dumps({"event": "open_files_limit_unchanged", "soft": soft, "hard": hard,
                                    "error": repr(exc)[:200]}))
    log.info(json.dumps({"event": "open_files_limit", "soft": soft, "hard": hard, "was": was}))
    if soft != resource.RLIM_INFINITY and soft < max_connections + OPEN_FILES_RESERVE:
        log.warning(json.dumps({"event": "open_files_limit_low", "soft": soft,
                                "max_connections": max_connections,
                                "note": "fewer descriptors than HTTP_MAX_CONNECTIONS needs: accepting will "
                                        "pause on EMFILE before the cap refuses connections"}))
