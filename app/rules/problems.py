"""Problems: errors as data, each naming where in the submitted JSON it is.

A `Problem` says what is wrong (`message`), where (`path`, e.g. `conditions.all[2].op` or
`actions[1].rate_bps`), and which stable error code the edge should answer with. The
validators collect every problem they find instead of stopping at the first, so a rule
builder can mark every bad field at once. `InvalidRule` is the one exception for a caller
that wants to refuse with them (400 `invalid_request`, `details.problems`).
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from ..ledger.errors import InvalidRequest


class Problem(NamedTuple):
    path: str
    message: str
    # A stable code from app.ledger.errors (invalid_request, invalid_amount, limit_exceeded).
    code: str = InvalidRequest.code

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "code": self.code}


class InvalidRule(InvalidRequest):
    """A rule's conditions or actions (or an event they ran on) failed validation;
    `details.problems` lists each `{path, message, code}`."""

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> "InvalidRule":
        listed = [p.as_json() for p in problems]
        first = listed[0]["message"] if listed else "invalid rule"
        return cls(f"{first}" + (f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""),
                   problems=listed)


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def item_path(path: str, index: int) -> str:
    return f"{path}[{index}]"
