"""Idempotent requests: run a command once per key; replay its stored response after.

`idempotent(request, command)` wraps a writer command: inside the same transaction it looks
the key up; a stored response for the same request is returned as a `Replay`; for a
different request it raises `IdempotencyConflict` naming the first field that differs;
otherwise it runs the command, renders the response with the caller's pure `render`, stores
it beside the effect and returns it as `Stored` (so it is rendered once). Failed commands store nothing, so a retry runs again.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from ..ledger.errors import IdempotencyConflict
from ..ledger.json_text import canonical_json
from ..store import idempotency as store


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


@dataclass(frozen=True)
class Stored:
    """A first response: the command's result and the response stored for its replays."""

    result: Any
    status: int
    body: dict


@dataclass(frozen=True)
class IdempotentRequest:
    scope: str
    key: str
    method: str
    path: str
    body: dict
    now_ms: int


def _exact(value: Any) -> Any:
    """A JSON number parsed as Decimal, kept exact (and apart from strings and floats)."""
    if isinstance(value, Decimal):
        return {"$decimal": format(value.normalize(), "f")}
    raise TypeError(f"{type(value).__name__} is not JSON")


def request_text(body: Any) -> str:
    """What identifies a request body: canonical JSON whose numbers keep every digit and
    whose types stay apart (`1` is not `true`, `1.0000000000000001` is not `1`). Two bodies
    are the same request exactly when their texts are equal."""
    return canonical_json(body, number=_exact)


def differing_field(stored_text: str, wanted: dict) -> str:
    stored = json.loads(stored_text)
    wanted = json.loads(request_text(wanted))
    if not isinstance(stored, dict):
        return "body"
    for name in sorted(set(stored) | set(wanted)):
        if request_text(stored.get(name)) != request_text(wanted.get(name)):
            return name
    return "body"


def idempotent(request: IdempotentRequest, command: Callable[[sqlite3.Connection], Any],
               render: Callable[[Any], tuple[int, dict]]) -> Callable[[sqlite3.Connection], Any]:
    def wrapped(conn: sqlite3.Connection) -> Any:
        found = store.find(conn, request.scope, request.key)
        if found is not None:
            if (found["method"], found["path"]) != (request.method, request.path):
                raise IdempotencyConflict("idempotency key was used for another endpoint",
                                          field="path", first_path=found["path"])
            if found["request"] != request_text(request.body):
                raise IdempotencyConflict("idempotency key was used with a different request",
                                          field=differing_field(found["request"], request.body))
            return Replay(found["status"], json.loads(found["response"]))
        result = command(conn)
        status, body = render(result)
        store.insert(conn, request.scope, request.key, request.method, request.path,
                     request_text(request.body), status, canonical_json(body), request.now_ms)
        return Stored(result, status, body)
    return wrapped
