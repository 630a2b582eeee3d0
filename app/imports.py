"""CSV imports of customers and events (DESIGN §6a): CSV text → rows → the same service calls
as the API, in chunks, into one report. Shared by `POST /v1/imports/{customers,events}`
(web/api_imports.py) and `python -m app import` (__main__.py).

An edge module like `web`: each row is checked by the API's own models (`CustomerIn`; events
through `event_of`, i.e. `EventIn` and the RFC 3339 check) and then goes through the same
service as the API (`CustomerService.upsert_many`, `EventService.ingest_batch`), at most
`CHUNK_ROWS` rows per writer command, so an import of any size holds one chunk in memory.

- The header row is checked before any row is read: an unknown, repeated or ambiguous
  column, or a missing required one, refuses the whole file (400) and nothing is written.
- Text must be UTF-8 (a leading byte-order mark is skipped); callers check the whole file
  with `Utf8Check` first, so a bad byte anywhere refuses the file before anything is written.
- A bad row fails alone: the report names its line (the header is line 1; a record spanning
  several lines is named by its first) and the field, and the other rows go on. A row's text
  is bounded (MAX_ROW_CHARS, and csv's 128 KiB per cell), so memory is too.
- Empty cells are absent (the model's default applies). Values stay text: the rules read
  amounts as exact decimals, as they do from JSON strings.
- Customers: `tags` holds tags separated by `|`; `attr.<key>` columns become `attributes`
  (a flat key, dots and all). A row is a whole profile, as `PUT /v1/customers/{id}` takes it;
  a row equal to the stored profile is not written and counts as a duplicate.
- Events: `payload.<a>.<b>` columns nest into the payload. The event is the JSON body the API
  would have received, so a re-import replays (`duplicates`) and the same `event_id` with a
  different row fails (409 idempotency_key_reused).
"""
from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, TextIO

from .ledger.errors import InvalidRequest, LedgerError, LimitExceeded
from .services.customers import MAX_CUSTOMERS_PER_CALL, CustomerService
from .services.events import MAX_EVENTS_PER_BATCH, EventAnswer, EventService
from .web.api_events import event_of
from .web.base import validated
from .web.models import CustomerIn

CHUNK_ROWS = 1000
MAX_ERRORS_LISTED = 1000
MAX_COLUMNS = 256
MAX_ROW_CHARS = 1 << 20  # a row's text, all its lines: one row never takes more memory than this
TAG_SEPARATOR = "|"
KINDS = ("customers", "events")
assert CHUNK_ROWS <= min(MAX_CUSTOMERS_PER_CALL, MAX_EVENTS_PER_BATCH)


class Utf8Check:
    """Whether bytes fed in pieces are UTF-8; the line of the first bad byte if not."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._lines = 0
        self.bad_line: Optional[int] = None

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.bad_line is not None:
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            self.bad_line = self._lines + chunk[:max(exc.start, 0)].count(b"\n") + 1
            return
        self._lines += chunk.count(b"\n")

    def check(self) -> None:
        """Raise 400 unless everything fed (now ended) was UTF-8."""
        self.feed(b"", final=True)
        if self.bad_line is not None:
            raise InvalidRequest(f"the file is not UTF-8 text (line {self.bad_line})", line=self.bad_line)


def check_utf8_file(binary: Any, block_bytes: int = 1 << 20) -> None:
    """Read a binary file through `Utf8Check` (raising 400 on a bad byte), then rewind it."""
    check = Utf8Check()
    for block in iter(lambda: binary.read(block_bytes), b""):
        check.feed(block)
        if check.bad_line is not None:
            break
    check.check()
    binary.seek(0)


@dataclass
class Report:
    """`{rows, created, updated, duplicates, failed, errors, errors_omitted}`: one entry per
    problem of a failed row (a row can have several), the first MAX_ERRORS_LISTED listed."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_omitted: int = 0

    def fail(self, line: int, error: LedgerError) -> None:
        self.failed += 1
        for column, message in _problems(error):
            if len(self.errors) < MAX_ERRORS_LISTED:
                self.errors.append({"row": line, "field": column, "code": error.code, "message": message})
            else:
                self.errors_omitted += 1

    def as_json(self) -> dict:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "duplicates": self.duplicates, "failed": self.failed, "errors": self.errors,
                "errors_omitted": self.errors_omitted}


def _problems(error: LedgerError) -> list[tuple[Optional[str], str]]:
    """(field, message) pairs of an error: a model's invalid fields, the rules' problems, or
    the field the error names (None: the row as a whole)."""
    details = error.details
    if details.get("errors"):  # `validated`: field names as the model has them ("tags.2" is tags)
        return [(str(e["field"]).split(".")[0], str(e["problem"])) for e in details["errors"]]
    if details.get("problems"):  # the rules: the payload path a rule could not read is the column
        return [_rule_problem(p) for p in details["problems"]]
    named = details.get("field")
    return [(named if isinstance(named, str) else None, error.message)]


_PAYLOAD_PATH = re.compile(r"^payload(?:\.[^\s:.]+)+")


def _rule_problem(problem: dict) -> tuple[Optional[str], str]:
    """A rule's problem with an event names where in the rule it is (`rules[x].actions[0].of`);
    its message starts with the payload path it read ("payload.amount: not a decimal"), which
    is the column to fix in the file."""
    message, path = str(problem.get("message", "")), problem.get("path") or None
    read = _PAYLOAD_PATH.match(message)
    return (read.group(0), f"{message} ({path})") if read else (path, message)


@dataclass(frozen=True)
class Column:
    name: str                    # as the header has it
    target: str                  # the field of the request body
    path: tuple[str, ...] = ()   # keys inside `target` (attributes, payload)


@dataclass(frozen=True)
class Layout:
    """The columns an import kind takes."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    prefix: str      # "attr." → attributes, "payload." → payload
    target: str
    nested: bool     # whether a dot inside the key nests

    def columns(self, header: list[str]) -> list[Column]:
        """The header's columns, or 400 (nothing read or written yet)."""
        if len(header) > MAX_COLUMNS:
            raise InvalidRequest(f"the header has {len(header)} columns; at most {MAX_COLUMNS}",
                                 max_columns=MAX_COLUMNS)
        columns = [self._column(name.strip()) for name in header]
        unknown = [name for name, c in zip(header, columns) if c is None]
        if unknown:
            raise InvalidRequest(f"unknown column {unknown[0]!r}: the columns are {', '.join(self.fields)}"
                                 f" and {self.prefix}<key>", field=unknown[0], columns=unknown[:20])
        names = [c.name for c in columns]
        for name in names:
            if names.count(name) > 1:
                raise InvalidRequest(f"column {name!r} is given twice", field=name)
        for name in self.required:
            if name not in names:
                raise InvalidRequest(f"column {name!r} is required", field=name)
        paths = sorted(c.path for c in columns if c.path)
        for shorter, longer in zip(paths, paths[1:]):
            if longer[:len(shorter)] == shorter:
                raise InvalidRequest(f"columns {self.prefix}{'.'.join(shorter)} and {self.prefix}{'.'.join(longer)}"
                                     " both set the same key", field=self.prefix + ".".join(longer))
        return columns  # type: ignore[return-value]

    def _column(self, name: str) -> Optional[Column]:
        if name in self.fields:
            return Column(name, name)
        if not name.startswith(self.prefix) or len(name) == len(self.prefix):
            return None
        key = name[len(self.prefix):]
        path = tuple(key.split(".")) if self.nested else (key,)
        return Column(name, self.target, path) if all(path) else None

    @staticmethod
    def raw(columns: list[Column], cells: list[str]) -> dict:
        """The row as a JSON body: empty cells left out, prefixed columns nested."""
        out: dict = {}
        for column, cell in zip(columns, cells):
            if cell == "":
                continue
            if not column.path:
                out[column.target] = cell
                continue
            node = out.setdefault(column.target, {})
            for key in column.path[:-1]:
                node = node.setdefault(key, {})
            node[column.path[-1]] = cell
        return out


CUSTOMERS = Layout(("customer_id", "name", "email", "status", "tags", "birthdate"), ("customer_id",),
                   "attr.", "attributes", nested=False)
EVENTS = Layout(("event_id", "event_type", "customer_id", "occurred_at"), ("event_id", "event_type", "customer_id"),
                "payload.", "payload", nested=True)


def customer_row(raw: dict) -> tuple[str, dict]:
    """A row as `upsert_many` takes it: the customer id and PUT /v1/customers/{id}'s body."""
    customer = raw.pop("customer_id", "")
    if "tags" in raw:
        raw["tags"] = [tag.strip() for tag in raw["tags"].split(TAG_SEPARATOR) if tag.strip()]
    return customer, validated(CustomerIn, raw, "customer").model_dump()


def event_row(raw: dict) -> Any:
    """A row as `ingest_batch` takes it: `event_of` the body POST /v1/events would have had."""
    body = {name: raw[name] for name in EVENTS.fields if name in raw}
    body["payload"] = raw.get("payload", {})
    return event_of(body)


class _RowTooLong(Exception):
    pass


class _Lines:
    """The text's lines for csv.reader, counted (csv's own count misses the lines of a refused
    row), with a bound on the text of one row: csv keeps a row's every cell, and a megabyte of
    commas alone would be a million of them. `start_row()` before each row."""

    def __init__(self, text: TextIO) -> None:
        self.text, self.line_num, self.row_chars = text, 0, 0

    def start_row(self) -> int:
        """The line the next row starts on."""
        self.row_chars = 0
        return self.line_num + 1

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_ROW_CHARS + 1)
        if not line:
            raise StopIteration
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW_CHARS:
            while line and line[-1] not in "\r\n":  # the rest of this line goes with the refused row
                line = self.text.readline(MAX_ROW_CHARS + 1)
            self.line_num += 1
            raise _RowTooLong()
        self.line_num += 1
        return line


class Importer:
    """One import into one brand: `run` reads a CSV text stream and fills `report`."""

    def __init__(self, kind: str, service: CustomerService | EventService, brand_id: int,
                 progress: Optional[Callable[[Report], None]] = None) -> None:
        if kind not in KINDS:
            raise InvalidRequest(f"imports are of {' or '.join(KINDS)}", kind=kind)
        self.kind, self.service, self.brand_id, self.progress = kind, service, brand_id, progress
        self.layout = CUSTOMERS if kind == "customers" else EVENTS
        self.report = Report()

    async def run(self, text: TextIO) -> Report:
        lines_in = _Lines(text)
        reader = csv.reader(lines_in)
        try:
            header = next(reader, None)
        except (csv.Error, _RowTooLong) as exc:
            raise InvalidRequest(f"the header row is not valid CSV: {exc or 'too long'}") from None
        if not header:
            raise InvalidRequest("the file has no header row", expected=list(self.layout.fields))
        columns = self.layout.columns(header)
        lines: list[int] = []
        items: list = []
        for line, item in self._items(lines_in, reader, columns):
            lines.append(line)
            items.append(item)
            if len(items) == CHUNK_ROWS:
                await self._submit(lines, items)
                lines, items = [], []
        if items:
            await self._submit(lines, items)
        return self.report

    def _items(self, lines_in: _Lines, reader: Any, columns: list[Column]) -> Iterator[tuple[int, Any]]:
        """(first line, the row's service item or its error) for each non-blank record."""
        make = customer_row if self.kind == "customers" else event_row
        while True:
            line = lines_in.start_row()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a cell past csv's size limit: the reader goes on after it
                yield line, InvalidRequest(f"the row is not valid CSV: {exc}")
                continue
            except _RowTooLong:  # the reader starts afresh on the next line
                yield line, LimitExceeded(f"the row is longer than {MAX_ROW_CHARS} characters",
                                          max_row_chars=MAX_ROW_CHARS)
                continue
            if not cells:
                continue  # a blank line
            if len(cells) != len(columns):
                yield line, InvalidRequest(f"the row has {len(cells)} cells; the header has {len(columns)}",
                                           cells=len(cells), columns=len(columns))
                continue
            try:
                yield line, make(self.layout.raw(columns, cells))
            except LedgerError as exc:
                yield line, exc

    async def _submit(self, lines: list[int], items: list) -> None:
        if self.kind == "customers":
            outcomes = await self.service.upsert_many(self.brand_id, items)
        else:
            outcomes = await self.service.ingest_batch(self.brand_id, items)
        report = self.report
        for line, outcome in zip(lines, outcomes):
            report.rows += 1
            if isinstance(outcome, LedgerError):
                report.fail(line, outcome)
            elif isinstance(outcome, EventAnswer):
                if outcome.replayed:
                    report.duplicates += 1
                else:
                    report.created += 1
            elif outcome == "unchanged":
                report.duplicates += 1
            elif outcome == "created":
                report.created += 1
            else:
                report.updated += 1
        if self.progress is not None:
            self.progress(report)
