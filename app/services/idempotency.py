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


def _differing_field(stored: dict, wanted: dict) -> str:
    for name in sorted(set(stored) | set(wanted)):
        if stored.get(name) != wanted.get(name):
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
            stored = json.loads(found["request"])
            wanted = json.loads(canonical_json(request.body))
            if stored != wanted:
                raise IdempotencyConflict("idempotency key was used with a different request",
                                          field=_differing_field(stored, wanted))
            return Replay(found["status"], json.loads(found["response"]))
        result = command(conn)
        status, body = render(result)
        store.insert(conn, request.scope, request.key, request.method, request.path,
                     canonical_json(request.body), status, canonical_json(body), request.now_ms)
        return Stored(result, status, body)
    return wrapped
