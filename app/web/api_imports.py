"""Brand routes of CSV imports: `POST /v1/imports/customers` and `POST /v1/imports/events`.

The body is CSV (`Content-Type: text/csv`, UTF-8) up to IMPORT_MAX_BYTES: it is spooled to a
temporary file as it arrives (in memory up to MAX_BODY_BYTES), checked for UTF-8 on the way,
and read back row by row once it is in; `app.imports` does the rest. The answer is 200 with
the report whenever the file could be read, even if rows failed: each failed row is listed.
"""
from __future__ import annotations

import io
from tempfile import SpooledTemporaryFile
from typing import Any, Optional

from pydantic import Field

from ..imports import MAX_ERRORS_LISTED, Importer, Utf8Check
from .base import BODY_READ_FACTOR, ApiHandler, Op
from .errors import ApiError
from .models import Out

_CSV_TYPES = ("text/csv",)
_CHARSETS = (None, "utf-8", "utf8")


class ImportErrorOut(Out):
    row: int = Field(description="the row's line in the file (the header is line 1)")
    field: Optional[str] = Field(description="the column (or payload path) at fault; null: the row as a whole")
    code: str
    message: str


class ImportReportOut(Out):
    rows: int = Field(description="data rows read (blank lines are skipped)")
    created: int
    updated: int = Field(description="customers whose stored profile changed (events: always 0)")
    duplicates: int = Field(description="events replayed (same event_id, same row); customers already so")
    failed: int
    errors: list[ImportErrorOut] = Field(description=f"each problem of each failed row, the first {MAX_ERRORS_LISTED}")
    errors_omitted: int = Field(description="problems past the listed ones")


def _charset(content_type: str) -> tuple[str, Optional[str]]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


class _ImportHandler(ApiHandler):
    KIND = ""

    def initialize(self) -> None:
        super().initialize()
        self._spool: Optional[Any] = None
        self._utf8 = Utf8Check()
        self._importing = False

    def body_limit_bytes(self) -> int:
        return self.runtime.config.import_max_bytes

    async def prepare(self) -> None:
        await super().prepare()
        if self._refusal is None:  # admitted: let Tornado read past the server-wide body limit
            self.request.connection.set_max_body_size(self.body_limit_bytes() * BODY_READ_FACTOR)

    async def _admit(self) -> None:
        await super()._admit()
        media, charset = _charset(self.request.headers.get("Content-Type", ""))
        if media not in _CSV_TYPES or charset not in _CHARSETS:
            raise ApiError("unsupported_media_type", "the body must be CSV: Content-Type: text/csv (UTF-8)",
                           content_type=self.request.headers.get("Content-Type", "")[:100])

    def data_received(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._refusal is not None or self._body_bytes > self.body_limit_bytes():
            return  # counted and dropped: answered 413 (or the refusal) once it is all in
        if self._spool is None:
            self._spool = SpooledTemporaryFile(max_size=self.runtime.config.max_body_bytes)
        self._spool.write(chunk)
        self._utf8.feed(chunk)

    async def post(self) -> None:
        if self._body_bytes > self.body_limit_bytes():
            raise self._too_large()
        self._utf8.check()
        if self._spool is None:
            self._spool = SpooledTemporaryFile()
        self._spool.seek(0)
        self._importing = True
        text = io.TextIOWrapper(self._spool, encoding="utf-8-sig", newline="")
        service = self.web.customers if self.KIND == "customers" else self.runtime.events
        try:
            report = await Importer(self.KIND, service, self.brand_id).run(text)
        finally:
            text.detach()  # the spool is closed once, by _close_spool
        self.reply(200, report.as_json())

    def on_finish(self) -> None:
        self._close_spool()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if not self._importing:  # a client gone mid-import: the import still runs to its end
            self._close_spool()

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def _op(what: str, columns: str) -> Op:
    return Op(f"Import {what} from a CSV body (Content-Type: text/csv, UTF-8, header row: {columns});"
              " each row goes through the same checks and service as the single call; a failed row is"
              " listed with its line and field and does not stop the others",
              response=ImportReportOut, errors=(400, 413, 415), text_body="text/csv")


class CustomersImportHandler(_ImportHandler):
    KIND = "customers"
    OPS = {"post": _op("customers (upserts, as PUT /v1/customers/{customer_id})",
                       "customer_id,name,email,status,tags,birthdate,attr.<key>; tags separated by |")}


class EventsImportHandler(_ImportHandler):
    KIND = "events"
    OPS = {"post": _op("events (as POST /v1/events, idempotent on event_id: a re-import replays)",
                       "event_id,event_type,customer_id,occurred_at,payload.<path>")}
