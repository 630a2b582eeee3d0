"""Log redaction: no log line, ours or a library's, carries an API key or a request header value.

This module owns one process-wide hook, `install_redaction(secrets)`. It wraps the `logging`
record factory, so it acts on every record of every logger before any handler or formatter
sees it (ours, Tornado's, asyncio's, pytest's caplog handler alike). For each record it
renders the message once, rewrites it, and stores the result as the record's message with no
arguments left, so a handler that formats the record again cannot bring the original back:

- Tornado's "Malformed HTTP message from %s: %s" quotes the offending header line or value
  (e.g. an X-API-Key followed by a control character). It becomes a fixed text that keeps the
  client address, the error class and, for Tornado's known messages, their fixed wording,
  never the header name, line or value. Any other Tornado `HTTPInputError` in a record's
  arguments or in its exception gets the same treatment.
- Every known secret (the configured ADMIN_API_KEY) and anything shaped like our keys
  (`rl_` and at least 20 URL-safe characters: a whole key is 43) becomes `[redacted]`, in the
  message, in the exception text (rendered here into `exc_text`, which formatters print
  instead of rendering the traceback themselves) and in the stack text.

Extra fields a caller attaches to a record (`extra=`) are not examined: the service does not
log secrets or headers that way.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable, Iterable

from tornado.httputil import HTTPInputError

MASK = "[redacted]"
# Our keys are "rl_" + 43 URL-safe characters (app/services/keys.py). 20 is enough to catch a
# key cut short by a length limit; a letter or digit just before "rl_" ("curl_…") is no key.
_KEY_SHAPE = r"(?<![A-Za-z0-9])rl_[A-Za-z0-9_-]{20,}"
TORNADO_MALFORMED = "Malformed HTTP message from %s: %s"
# Tornado's HTTPInputError texts (tornado/httputil.py, tornado/http1connection.py) start with
# one of these fixed phrases; what follows them may quote the request. Only the phrase is kept.
_INPUT_ERROR_PHRASES = tuple(sorted((
    "Invalid header name", "Invalid header value", "no colon in header line",
    "header line cannot start with whitespace, folding not supported", "Malformed HTTP request line",
    "Unexpected HTTP version", "Missing Host header", "Invalid Host header", "Multiple host headers not allowed",
    "Multiple unequal Content-Lengths", "Only integer Content-Length is allowed", "Content-Length too long",
    "Message with both Transfer-Encoding and Content-Length", "Unsupported Transfer-Encoding",
    "Unsupported Content-Encoding", "Body too long", "chunked body too large", "decompressed body too large",
    "improperly terminated chunked request", "improperly terminated chunk", "invalid chunk size",
    "invalid gzip data", "Invalid query string", "Invalid x-www-form-urlencoded body",
    "Invalid multipart/form-data", "Invalid content type", "multipart", "Error parsing response start line",
), key=len, reverse=True))  # longest first: the most specific phrase wins

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern = re.compile(_KEY_SHAPE)
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Redact every log record from now on; `secrets` (e.g. ADMIN_API_KEY) are masked as well.

    Idempotent: the record factory is wrapped once; a later call only adds secrets."""
    global _pattern, _previous_factory
    with _lock:
        _secrets.update(s for s in secrets if s)
        # Longest first, so a secret that contains another is masked whole.
        alternatives = [re.escape(s) for s in sorted(_secrets, key=len, reverse=True)] + [_KEY_SHAPE]
        _pattern = re.compile("|".join(alternatives))
        if logging.getLogRecordFactory() is not _redacting_factory:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def redact(text: str) -> str:
    """`text` with every known secret and key-shaped word replaced by `[redacted]`."""
    return _pattern.sub(MASK, text)


def describe_input_error(exc: BaseException) -> str:
    """A malformed-request error without anything the client sent: its class and fixed phrase."""
    return f"{type(exc).__name__}: {_fixed_text(exc)}"


def _fixed_text(exc: BaseException) -> str:
    text = str(exc)
    phrase = next((p for p in _INPUT_ERROR_PHRASES if text.startswith(p)), None)
    if phrase is None:
        return "(detail withheld)"
    return phrase + (" (value withheld)" if text != phrase else "")


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = (_previous_factory or logging.LogRecord)(*args, **kwargs)
    try:
        _redact_record(record)
    except Exception as exc:  # noqa: BLE001 - a log call must never raise; keep nothing risky
        record.msg, record.args = f"(log message withheld: redaction failed with {type(exc).__name__})", None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
    return record


def _redact_record(record: logging.LogRecord) -> None:
    args = record.args
    if record.msg == TORNADO_MALFORMED and isinstance(args, tuple) and len(args) == 2:
        message = f"Malformed HTTP message from {args[0]}: " + (
            describe_input_error(args[1]) if isinstance(args[1], BaseException) else "(detail withheld)")
    else:
        if isinstance(args, tuple) and any(isinstance(a, HTTPInputError) for a in args):
            record.args = tuple(describe_input_error(a) if isinstance(a, HTTPInputError) else a for a in args)
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a bad format string: keep the template only
            message = f"{record.msg} (arguments withheld: {type(exc).__name__})"
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(_exception_text(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _exception_text(exc_info: Any) -> str:
    """The traceback as `logging.Formatter` prints it, with any HTTPInputError's text replaced."""
    text = logging.Formatter().formatException(exc_info)
    exc, seen = exc_info[1], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, HTTPInputError) and str(exc):
            text = text.replace(str(exc), _fixed_text(exc))
        exc = exc.__cause__ or exc.__context__
    return text
